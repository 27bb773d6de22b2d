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

#include "vmm.h"

#define CPUID_MAX_ENTRIES 256
#define CPUID_1_ECX_VMX         (1u << 5) /* SDM Vol. 2A, CPUID leaf 1, table 3-10 */
#define CPUID_80000001_ECX_SVM  (1u << 2) /* AMD APM Vol. 3, CPUID Fn8000_0001_ECX */

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
	lab_todo(3, "vcpu_setup_cpuid");
	// @end
}

int vcpu_setup_cpuid(struct vcpu *vcpu)
{
	struct kvm_cpuid2 *cpuid =
		calloc(1, sizeof(*cpuid) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!cpuid)
		return -ENOMEM;
	int r = cpuid_install(vcpu, cpuid);
	free(cpuid);
	return r;
}

int vcpu_setup_msrs(struct vcpu *vcpu)
{
	// @lab 03 vcpu_setup_msrs: Set the SYSENTER_CS/ESP values of guest_abi.h with one KVM_SET_MSRS.
	lab_todo(3, "vcpu_setup_msrs");
	// @end
}
