/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: dirty page logging. With KVM_MEM_LOG_DIRTY_PAGES on a memslot, KVM
 * write-protects its pages and records the first write to each;
 * KVM_GET_DIRTY_LOG returns that bitmap and starts a new round (api.rst 4.8).
 * Live migration is built on this: copy, then re-copy what got dirty.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm.h"

// @lab 03 dirty_helpers: Your own types and static helpers for this file.
// @stub /* your helpers */
// @end

/* "dirty: N gpa gpa ...\n", as guest output: it counts against --max-output
 * (a guest can ask for a report in a loop, and one report of a large RAM is
 * megabytes), so it goes out in pieces and stops once the VM is stopping. */
static void dirty_print(struct vm *vm, const struct mem_region *ram, const uint64_t *bitmap, uint64_t pages,
			long count)
{
	char line[512];
	size_t used = (size_t)snprintf(line, sizeof(line), "dirty: %ld", count);
	for (uint64_t page = 0; page < pages && !vm_stopping(vm); page++) {
		if (!((bitmap[page / 64] >> (page % 64)) & 1))
			continue;
		if (used > sizeof(line) - 24) {
			vmm_output(vm, line, used);
			used = 0;
		}
		used += (size_t)snprintf(line + used, sizeof(line) - used, " 0x%llx",
					 (unsigned long long)(ram->gpa + page * PAGE_SIZE));
	}
	line[used++] = '\n';
	vmm_output(vm, line, used);
}

/* Fetch and clear the RAM slot's dirty log; print "dirty: N gpa..." if asked.
 * Returns the number of dirty pages or -errno. */
long dirty_sync(struct vm *vm, bool print)
{
	const struct mem_region *ram = &vm->regions[0];
	if (!(ram->flags & KVM_MEM_LOG_DIRTY_PAGES)) {
		if (print) {
			static const char off[] = "dirty: logging is off (run with --dirty-log)\n";
			vmm_output(vm, off, sizeof(off) - 1);
		}
		return -EINVAL;
	}
	uint64_t pages = ram->size / PAGE_SIZE;
	/* KVM fills whole 64-bit words of bitmap. */
	uint64_t *bitmap = calloc((pages + 63) / 64, sizeof(uint64_t));
	if (!bitmap)
		return -ENOMEM;
	long count = 0;
	// @lab 03 dirty_sync: KVM_GET_DIRTY_LOG for the RAM slot, then count (and print) the dirty pages.
	struct kvm_dirty_log log = { .slot = ram->slot, .dirty_bitmap = bitmap };
	long r = kvm_ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
	if (r < 0) {
		free(bitmap);
		return r;
	}
	for (uint64_t page = 0; page < pages; page++)
		count += (bitmap[page / 64] >> (page % 64)) & 1;
	// @stub lab_todo(3, "dirty_sync");
	// @end
	if (print)
		dirty_print(vm, ram, bitmap, pages, count);
	free(bitmap);
	return count;
}

/* The "dirty-log" subsystem: --dirty-log turns logging on for the RAM slot
 * by setting it again with KVM_MEM_LOG_DIRTY_PAGES (api.rst 4.35: a slot's
 * flags may change in place), as a VMM starting a migration does. */
int dirty_log_init(struct vm *vm)
{
	if (!vm->opt->dirty_log)
		return 0;
	struct mem_region *ram = &vm->regions[0];
	ram->flags |= KVM_MEM_LOG_DIRTY_PAGES;
	int r = vm_set_memslot(vm, ram);
	if (r < 0) {
		ram->flags &= ~KVM_MEM_LOG_DIRTY_PAGES;
		vm_stop(vm, VMM_EXIT_KVM_SETUP, "dirty logging on the RAM slot: %s", vmm_strerror(r));
	}
	return r;
}

void dirty_log_exit(struct vm *vm)
{
	struct mem_region *ram = &vm->regions[0];
	if (!(ram->flags & KVM_MEM_LOG_DIRTY_PAGES))
		return;
	ram->flags &= ~KVM_MEM_LOG_DIRTY_PAGES;
	vm_set_memslot(vm, ram);
}
