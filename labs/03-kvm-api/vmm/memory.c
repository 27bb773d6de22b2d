/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: several memslots. Each region of guest-physical memory the VMM
 * backs is one KVM memslot; a slot flagged KVM_MEM_READONLY behaves as ROM,
 * its writes coming back as MMIO exits (api.rst 4.35). The VMM's own
 * GPA -> HVA lookup mirrors KVM's gfn_to_memslot()/gfn_to_hva().
 */
#include <errno.h>

#include "vmm.h"

// @lab 03 memory_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* Before lab 03 the memory map is fixed — RAM at 0, then the ROM — and each
 * region becomes the next memslot through lab 01's vm_set_memslot() as it is,
 * unchecked; the only look-up the VMM needs then is "is it RAM". */
static int region_append(struct vm *vm, const char *name, uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	if (vm->nr_regions == VMM_MAX_REGIONS)
		return -ENOSPC;
	struct mem_region *region = &vm->regions[vm->nr_regions];
	*region = (struct mem_region){
		.gpa = gpa, .size = size, .hva = hva, .slot = (uint32_t)vm->nr_regions, .flags = flags, .name = name,
	};
	int r = vm_set_memslot(vm, region);
	if (r == 0)
		vm->nr_regions++;
	return r;
}

int vm_add_region(struct vm *vm, const char *name, uint64_t gpa, uint64_t size, void *hva, uint32_t flags)
{
	if (!LAB_ENABLED(3))
		return region_append(vm, name, gpa, size, hva, flags);
	// @lab 03 vm_add_region: Record a page-aligned, non-overlapping region and register it as the next memslot.
	lab_todo(3, "vm_add_region");
	// @end
}

const struct mem_region *gpa_to_region(const struct vm *vm, uint64_t gpa)
{
	if (!LAB_ENABLED(3))
		return vm->nr_regions && gpa < vm->regions[0].size ? &vm->regions[0] : NULL; /* RAM only */
	// @lab 03 gpa_to_region: Find the region holding gpa (KVM: __gfn_to_memslot), or NULL.
	lab_todo(3, "gpa_to_region");
	// @end
}

void *gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!LAB_ENABLED(3)) { /* RAM only, as gpa_to_region() */
		const struct mem_region *ram = gpa_to_region(vm, gpa);
		return ram && len <= ram->size - gpa ? (uint8_t *)ram->hva + gpa : NULL;
	}
	// @lab 03 gpa_to_hva: Translate [gpa, gpa + len) inside one region to a host pointer, or NULL.
	lab_todo(3, "gpa_to_hva");
	// @end
}

/* The "memory" subsystem: guest RAM at GPA 0 as region and slot 0. */
int guest_memory_init(struct vm *vm)
{
	uint64_t size = vm->opt->mem_size;
	vm->ram = host_alloc_guest_ram(size);
	if (!vm->ram) {
		vm_stop(vm, VMM_EXIT_KVM_SETUP, "cannot allocate %llu bytes of guest RAM", (unsigned long long)size);
		return -ENOMEM;
	}
	int r = vm_add_region(vm, "ram", 0, size, vm->ram, 0);
	if (r < 0) {
		vm_stop(vm, VMM_EXIT_KVM_SETUP, "guest RAM as memslot 0: %s", vmm_strerror(r));
		guest_memory_exit(vm);
	}
	return r;
}

/* Delete every slot (memory_size 0, api.rst 4.35), then free the RAM. */
void guest_memory_exit(struct vm *vm)
{
	while (vm->nr_regions > 0) {
		struct mem_region gone = vm->regions[--vm->nr_regions];
		gone.size = 0;
		vm_set_memslot(vm, &gone);
	}
	if (vm->ram)
		host_free_guest_ram(vm->ram, vm->opt->mem_size);
	vm->ram = NULL;
}
