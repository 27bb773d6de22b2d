/* SPDX-License-Identifier: MIT */
/*
 * VMX capabilities and the VMCS configuration derived from them: the hosted,
 * testable half of Linux's setup_vmcs_config()/adjust_vmx_controls().
 */
#ifndef KVMLABS_KVM_VMX_CAPS_H
#define KVMLABS_KVM_VMX_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Raw values of the VMX capability MSRs (SDM Vol. 3 Appendix A). The TRUE_
 * fields are meaningful only when IA32_VMX_BASIC bit 55 is set. */
struct vmx_capability_msrs {
	uint64_t basic;
	uint64_t pinbased_ctls, procbased_ctls, exit_ctls, entry_ctls;
	uint64_t true_pinbased_ctls, true_procbased_ctls, true_exit_ctls, true_entry_ctls;
	uint64_t procbased_ctls2;
	uint64_t misc;
	uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
	uint64_t ept_vpid_cap;
	unsigned int phys_addr_bits; /* CPUID.80000008H:EAX[7:0] (MAXPHYADDR) */
};

enum vmx_ctl_kind { VMX_CTL_PIN, VMX_CTL_PROC, VMX_CTL_PROC2, VMX_CTL_EXIT, VMX_CTL_ENTRY };

/* What the hypervisor asks of the CPU beyond its fixed trap set; stage-
 * dependent, like kvm_intel's module parameters (ept=0 below lab 06). */
struct vmx_config_request {
	bool host_64bit;          /* the host runs in IA-32e mode */
	bool ept;                 /* lab 06: required; drops CR3 and INVLPG exiting */
	bool unrestricted_guest;  /* lab 06: required (needs ept) */
	bool vpid;                /* lab 06: used when the CPU has it */
};

/* The controls every VMCS of this hypervisor starts from (Linux: struct vmcs_config). */
struct vmcs_config {
	uint32_t revision_id;
	uint32_t vmcs_size;
	uint32_t pin_based_exec_ctrl;
	uint32_t cpu_based_exec_ctrl;
	uint32_t cpu_based_2nd_exec_ctrl;
	uint32_t vmexit_ctrl;
	uint32_t vmentry_ctrl;
};

/* The capability MSR that governs a control kind: TRUE_ when BASIC bit 55 says so. */
uint64_t vmx_control_msr(const struct vmx_capability_msrs *caps, enum vmx_ctl_kind kind);
const char *vmx_control_msr_name(const struct vmx_capability_msrs *caps, enum vmx_ctl_kind kind);

/* Adjust a control word to what the capability MSR allows (SDM Vol. 3 A.3-A.5).
 * Bits 31:0 are the allowed 0-settings: a bit set there means the control
 * must be 1. Bits 63:32 are the allowed 1-settings: a bit clear there means
 * the control must be 0. The result has every control the MSR forces to 1,
 * and those of required | optional that the MSR lets be 1.
 * Returns 0 and the value in *result, or -EIO when a required control cannot
 * be 1 on this CPU (then *result is untouched). */
int vmx_adjust_controls(uint32_t required, uint32_t optional, uint64_t cap_msr, uint32_t *result);

/* Fill *conf from the capabilities. Returns 0, or -EIO with a one-line reason
 * naming the missing control in err. */
int vmx_setup_vmcs_config(const struct vmx_capability_msrs *caps, const struct vmx_config_request *req,
			  struct vmcs_config *conf, char *err, size_t errlen);

/* Does `value` satisfy the fixed-bit MSR pair (SDM Vol. 3 A.7, A.8)? Bits set
 * in fixed0 must be 1, bits clear in fixed1 must be 0. */
static inline bool vmx_fixed_bits_ok(uint64_t value, uint64_t fixed0, uint64_t fixed1)
{
	return (value & fixed0) == fixed0 && (value & ~fixed1) == 0;
}

/* Whether this CPU's EPT can carry minikvm's tables (Linux: the checks of
 * hardware_setup that turn enable_ept off): 4-level walks, write-back
 * paging structures, INVEPT of one context. NULL when it can, else why not. */
const char *vmx_ept_unusable_reason(uint64_t ept_vpid_cap);

/* The EPT pointer for a table of root_level levels at root_hpa (SDM Vol. 3
 * 25.6.11; Linux: construct_eptp): memory type write-back, the page-walk
 * length, and the accessed/dirty flags when the CPU has them. */
uint64_t vmx_construct_eptp(uint64_t root_hpa, int root_level, uint64_t ept_vpid_cap);

#endif
