/* SPDX-License-Identifier: MIT */
/*
 * Lab 01: the KVM API objects. /dev/kvm gives a system handle, KVM_CREATE_VM a
 * VM handle, KVM_CREATE_VCPU a vCPU handle whose shared kvm_run area is mapped
 * into the VMM (Documentation/virt/kvm/api.rst, sections 4.1-4.8, 4.35, 5).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm.h"

/* KVM_GET_API_VERSION has returned 12 since Linux 2.6.22; anything else is
 * an ABI this VMM does not speak (api.rst 4.1). */
#define KVM_EXPECTED_API_VERSION 12

int kvm_open_checked(void)
{
	// @lab 01 kvm_open_checked: Open the KVM device and check KVM_GET_API_VERSION is 12.
	int fd = kvm_seam_open();
	if (fd < 0) {
		vmm_error("cannot open /dev/kvm: %s", kvm_strerror(fd));
		return fd;
	}
	long version = kvm_ioctl(fd, KVM_GET_API_VERSION, NULL);
	if (version != KVM_EXPECTED_API_VERSION) {
		vmm_error("KVM API version %ld, expected %d", version, KVM_EXPECTED_API_VERSION);
		kvm_seam_close(fd);
		return -EINVAL;
	}
	return fd;
	// @stub lab_todo(1, "kvm_open_checked");
	// @end
}

int vm_create(struct vm *vm)
{
	// @lab 01 vm_create: Create the VM and learn the size of a vCPU's kvm_run area.
	long fd = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (fd < 0) {
		vmm_error("KVM_CREATE_VM: %s", kvm_strerror(fd));
		return (int)fd;
	}
	vm->vm_fd = (int)fd;
	long size = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (size < (long)sizeof(struct kvm_run)) {
		vmm_error("KVM_GET_VCPU_MMAP_SIZE: %s", size < 0 ? kvm_strerror(size) : "too small");
		kvm_seam_close(vm->vm_fd);
		vm->vm_fd = -1;
		return size < 0 ? (int)size : -EINVAL;
	}
	vm->run_size = (size_t)size;
	return 0;
	// @stub lab_todo(1, "vm_create");
	// @end
}

int vm_set_memslot(struct vm *vm, const struct mem_region *region)
{
	// @lab 01 vm_set_memslot: Tell KVM that guest-physical region->gpa is backed by region->hva.
	struct kvm_userspace_memory_region mr = {
		.slot = region->slot,
		.flags = region->flags,
		.guest_phys_addr = region->gpa,
		.memory_size = region->size,
		.userspace_addr = (uint64_t)(uintptr_t)region->hva,
	};
	long r = kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr);
	if (r < 0)
		vmm_error("KVM_SET_USER_MEMORY_REGION slot %u (%s at 0x%llx): %s", region->slot,
			  region->name, (unsigned long long)region->gpa, kvm_strerror(r));
	return (int)r;
	// @stub lab_todo(1, "vm_set_memslot");
	// @end
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, int id)
{
	// @lab 01 vcpu_create: Create vCPU `id` and map its kvm_run area.
	long fd = kvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)id);
	if (fd < 0) {
		vmm_error("KVM_CREATE_VCPU %d: %s", id, kvm_strerror(fd));
		return (int)fd;
	}
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = (int)fd;
	vcpu->run = kvm_seam_map_run(vcpu->fd, vm->run_size);
	if (!vcpu->run) {
		vmm_error("cannot map kvm_run of vCPU %d", id);
		return -ENOMEM;
	}
	return 0;
	// @stub lab_todo(1, "vcpu_create");
	// @end
}

int vcpu_setup_real(struct vcpu *vcpu, uint64_t entry)
{
	// @lab 01 vcpu_setup_real: Start the vCPU in real mode at physical address `entry`.
	struct kvm_sregs sregs;
	long r = kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		return (int)r;
	/* Real mode: linear = selector * 16 + offset (SDM Vol. 3, "Address Translation
	 * in Real-Address Mode"). A reset vCPU has CS.base 0xffff0000; point every
	 * segment at 0 and let RIP carry the entry. */
	struct kvm_segment *segs[] = { &sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss };
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
		segs[i]->selector = 0;
		segs[i]->base = 0;
	}
	/* IP is 16 bits wide: reach an entry above 64 KiB through CS. */
	sregs.cs.selector = (uint16_t)((entry >> 4) & 0xf000);
	sregs.cs.base = (uint64_t)sregs.cs.selector << 4;
	r = kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs);
	if (r < 0)
		return (int)r;
	struct kvm_regs regs = {
		.rip = entry - sregs.cs.base,
		.rsp = entry & 0xffff, /* stack grows down below the image, as below a boot sector */
		.rflags = 0x2,         /* bit 1 is reserved and always 1 */
		.rdi = (uint64_t)vcpu->id,
		.rsi = (uint64_t)vcpu->vm->nr_vcpus,
	};
	return (int)kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs);
	// @stub lab_todo(1, "vcpu_setup_real");
	// @end
}
