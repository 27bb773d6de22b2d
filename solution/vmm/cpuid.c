/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: what the guest sees of the CPU. KVM_GET_SUPPORTED_CPUID lists what
 * KVM can virtualise; the VMM edits that table and hands it to each vCPU with
 * KVM_SET_CPUID2 (api.rst 4.46, 4.20), as kvmtool's kvm_cpu__setup_cpuid does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>
#include <x86/cpuid.h>

#include "vmm.h"

// @lab 03 cpuid_helpers: Your own types and static helpers for this file.
// @stub /* your helpers */
// @end

#define CPUID_MAX_ENTRIES 256

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if (cpuid->entries[i].function == function && cpuid->entries[i].index == index)
			return &cpuid->entries[i];
	return NULL;
}

/* Take KVM's supported CPUID, put the kvmlabs leaves in, set it on the vCPU. */
static int cpuid_install(struct vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	// @lab 03 vcpu_setup_cpuid: Take KVM's supported CPUID, add the kvmlabs hypervisor leaves, set it on the vCPU.
	cpuid->nent = CPUID_MAX_ENTRIES;
	long r = kvm_ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
	if (r < 0) {
		vmm_error("KVM_GET_SUPPORTED_CPUID: %s", vmm_strerror(r));
		return (int)r;
	}
	/* Hypervisor leaves 0x40000000+ (the range CPUID.1:ECX.HV points guests at):
	 * replace whatever KVM offered there with the kvmlabs signature. */
	uint32_t kept = 0;
	for (uint32_t i = 0; i < cpuid->nent; i++)
		if ((cpuid->entries[i].function & 0xffff0000u) != CPUID_HYPERVISOR_BASE)
			cpuid->entries[kept++] = cpuid->entries[i];
	cpuid->nent = kept;
	if (cpuid->nent + 2 > CPUID_MAX_ENTRIES)
		return -E2BIG;
	struct kvm_cpuid_entry2 *hv = &cpuid->entries[cpuid->nent++];
	*hv = (struct kvm_cpuid_entry2){ .function = ABI_CPUID_HV_LEAF, .eax = ABI_CPUID_HV_FEATURES };
	memcpy(&hv->ebx, ABI_CPUID_HV_SIGNATURE, 4);
	memcpy(&hv->ecx, ABI_CPUID_HV_SIGNATURE + 4, 4);
	memcpy(&hv->edx, ABI_CPUID_HV_SIGNATURE + 8, 4);
	cpuid->entries[cpuid->nent++] = (struct kvm_cpuid_entry2){
		.function = ABI_CPUID_HV_FEATURES, .eax = ABI_HV_FEATURES_EAX,
	};
	/* Leaf 1 EBX[31:24] is the initial APIC ID: each vCPU its own. The guests
	 * are not hypervisors: hide VMX and SVM, so KVM offers no nested virtualization. */
	struct kvm_cpuid_entry2 *leaf1 = cpuid_find(cpuid, 1, 0);
	if (leaf1) {
		leaf1->ebx = (leaf1->ebx & 0x00ffffffu) | ((uint32_t)vcpu->id << 24);
		leaf1->ecx &= ~CPUID_1_ECX_VMX;
	}
	struct kvm_cpuid_entry2 *ext1 = cpuid_find(cpuid, CPUID_EXTENDED_BASE + 1, 0);
	if (ext1)
		ext1->ecx &= ~CPUID_80000001_ECX_SVM;
	r = kvm_ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
	if (r < 0)
		vmm_error("KVM_SET_CPUID2: %s", vmm_strerror(r));
	return (int)r;
	// @stub lab_todo(3, "vcpu_setup_cpuid");
	// @end
}

/* Before lab 03: KVM's supported table as it is, which a vCPU needs for long
 * mode: KVM refuses CR4 and EFER bits the vCPU's CPUID does not offer (PAE,
 * LM; kvm_is_valid_sregs()), and a vCPU starts with an empty table. */
static int cpuid_install_supported(struct vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	cpuid->nent = CPUID_MAX_ENTRIES;
	long r = kvm_ioctl(vcpu->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
	if (r == 0)
		r = kvm_ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid);
	if (r < 0)
		vmm_error("setting KVM's supported CPUID on vCPU %d: %s", vcpu->id, vmm_strerror(r));
	return (int)r;
}

static int cpuid_set(struct vcpu *vcpu, int (*install)(struct vcpu *vcpu, struct kvm_cpuid2 *cpuid))
{
	struct kvm_cpuid2 *cpuid =
		calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return -ENOMEM;
	int r = install(vcpu, cpuid);
	free(cpuid);
	return r;
}

int vcpu_setup_cpuid(struct vcpu *vcpu)
{
	return cpuid_set(vcpu, cpuid_install);
}

int vcpu_setup_msrs(struct vcpu *vcpu)
{
	// @lab 03 vcpu_setup_msrs: Set the SYSENTER_CS/ESP values of guest_abi.h with one KVM_SET_MSRS.
	struct {
		struct kvm_msrs header;
		struct kvm_msr_entry entries[2];
	} msrs = {
		.header.nmsrs = 2,
		.entries = {
			{ .index = MSR_IA32_SYSENTER_CS, .data = ABI_SYSENTER_CS_VALUE },
			{ .index = MSR_IA32_SYSENTER_ESP, .data = ABI_SYSENTER_ESP_VALUE },
		},
	};
	/* KVM_SET_MSRS returns how many entries it set, stopping at the first it refuses. */
	long r = kvm_ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (r != 2) {
		vmm_error("KVM_SET_MSRS set %ld of 2 MSRs%s%s", r < 0 ? 0 : r, r < 0 ? ": " : "",
			  r < 0 ? vmm_strerror(r) : "");
		return r < 0 ? (int)r : -EINVAL;
	}
	return 0;
	// @stub lab_todo(3, "vcpu_setup_msrs");
	// @end
}

/* What the guest sees of the CPU: from lab 03 on the kvmlabs CPUID table and
 * MSRs, before it KVM's CPUID as it is. */
int vcpu_setup_cpu_model(struct vcpu *vcpu)
{
	if (!LAB_ENABLED(3))
		return cpuid_set(vcpu, cpuid_install_supported);
	int r = vcpu_setup_cpuid(vcpu);
	return r < 0 ? r : vcpu_setup_msrs(vcpu);
}
