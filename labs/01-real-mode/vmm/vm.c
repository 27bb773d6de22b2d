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
	lab_todo(1, "kvm_open_checked");
	// @end
}

int vm_create(struct vm *vm)
{
	// @lab 01 vm_create: Create the VM and learn the size of a vCPU's kvm_run area.
	lab_todo(1, "vm_create");
	// @end
}

int vm_set_memslot(struct vm *vm, const struct mem_region *region)
{
	// @lab 01 vm_set_memslot: Tell KVM that guest-physical region->gpa is backed by region->hva.
	lab_todo(1, "vm_set_memslot");
	// @end
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, int id)
{
	// @lab 01 vcpu_create: Create vCPU `id` and map its kvm_run area.
	lab_todo(1, "vcpu_create");
	// @end
}

int vcpu_setup_real(struct vcpu *vcpu, uint64_t entry)
{
	// @lab 01 vcpu_setup_real: Start the vCPU in real mode at physical address `entry`.
	lab_todo(1, "vcpu_setup_real");
	// @end
}
