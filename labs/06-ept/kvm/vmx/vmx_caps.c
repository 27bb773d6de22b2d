/* SPDX-License-Identifier: MIT */
/*
 * VMX control adjustment from the capability MSRs (SDM Vol. 3 Appendix A.3-A.5)
 * and the hypervisor's base VMCS configuration (Linux: setup_vmcs_config()).
 * Pure logic, no VMX instructions: also compiled hosted for the unit tests.
 */
#include <errno.h>
#include <stdio.h>

#include <x86/const.h>

#include "kvmlabs/lab.h"
#include "vmcs.h"
#include "vmx_caps.h"

// @lab 04 vmx_caps_helpers: Your own types and static helpers for this file.
// @end

uint64_t vmx_control_msr(const struct vmx_capability_msrs *caps, enum vmx_ctl_kind kind)
{
	/* SDM Vol. 3 A.2: with BASIC bit 55 set, the TRUE_ MSRs report which
	 * default-1 controls may in fact be 0 (e.g. CR3-load exiting). */
	bool use_true = caps->basic & VMX_BASIC_TRUE_CTLS;
	switch (kind) {
	case VMX_CTL_PIN:   return use_true ? caps->true_pinbased_ctls : caps->pinbased_ctls;
	case VMX_CTL_PROC:  return use_true ? caps->true_procbased_ctls : caps->procbased_ctls;
	case VMX_CTL_PROC2: return caps->procbased_ctls2;
	case VMX_CTL_EXIT:  return use_true ? caps->true_exit_ctls : caps->exit_ctls;
	case VMX_CTL_ENTRY: return use_true ? caps->true_entry_ctls : caps->entry_ctls;
	}
	return 0;
}

const char *vmx_control_msr_name(const struct vmx_capability_msrs *caps, enum vmx_ctl_kind kind)
{
	bool use_true = caps->basic & VMX_BASIC_TRUE_CTLS;
	switch (kind) {
	case VMX_CTL_PIN:   return use_true ? "IA32_VMX_TRUE_PINBASED_CTLS" : "IA32_VMX_PINBASED_CTLS";
	case VMX_CTL_PROC:  return use_true ? "IA32_VMX_TRUE_PROCBASED_CTLS" : "IA32_VMX_PROCBASED_CTLS";
	case VMX_CTL_PROC2: return "IA32_VMX_PROCBASED_CTLS2";
	case VMX_CTL_EXIT:  return use_true ? "IA32_VMX_TRUE_EXIT_CTLS" : "IA32_VMX_EXIT_CTLS";
	case VMX_CTL_ENTRY: return use_true ? "IA32_VMX_TRUE_ENTRY_CTLS" : "IA32_VMX_ENTRY_CTLS";
	}
	return "?";
}

int vmx_adjust_controls(uint32_t required, uint32_t optional, uint64_t cap_msr, uint32_t *result)
{
	// @lab 04 vmx_adjust_controls: Fit required|optional controls to a capability MSR (SDM Vol. 3 A.3).
	uint32_t allowed0 = (uint32_t)cap_msr;         /* a 1 here: the control must be 1 */
	uint32_t allowed1 = (uint32_t)(cap_msr >> 32); /* a 0 here: the control must be 0 */
	uint32_t ctl = (required | optional) & allowed1;
	ctl |= allowed0;
	if (required & ~ctl)
		return -EIO;
	*result = ctl;
	return 0;
	// @end
}

struct vmx_control_request {
	enum vmx_ctl_kind kind;
	const char *what;
	uint32_t required, optional;
	uint32_t *out;
};

static int lowest_bit(uint32_t v)
{
	for (int i = 0; i < 32; i++)
		if (v & (1u << i))
			return i;
	return -1;
}

int vmx_setup_vmcs_config(const struct vmx_capability_msrs *caps, const struct vmx_config_request *req,
			  struct vmcs_config *conf, char *err, size_t errlen)
{
	/*
	 * The trap set every stage needs. HLT, MWAIT/MONITOR and RDPMC must not
	 * reach the physical CPU; every port goes to the VMM; the TSC offset lets
	 * a guest's TSC start at its own zero. MOV to and from CR8 exit because
	 * minikvm uses no TPR shadow: once a 64-bit guest runs (labs 05-06) a
	 * MOV CR8 would otherwise reach the physical TPR (SDM Vol. 3 26.1.3;
	 * Linux sets the same two bits in setup_vmcs_config() without a TPR
	 * shadow). handle_cr() keeps CR8 virtual.
	 */
	uint32_t proc_required = CPU_BASED_HLT_EXITING | CPU_BASED_UNCOND_IO_EXITING |
				 CPU_BASED_MWAIT_EXITING | CPU_BASED_MONITOR_EXITING |
				 CPU_BASED_RDPMC_EXITING | CPU_BASED_USE_TSC_OFFSETTING |
				 CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING;
	/* Without EPT the hypervisor owns the paging structures the processor
	 * walks (the nonpaging and shadow MMUs), so it must see every CR3 access
	 * and every INVLPG (Linux drops these three when enable_ept is set). */
	if (!req->ept)
		proc_required |= CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING | CPU_BASED_INVLPG_EXITING;
	uint32_t proc2_required = 0, proc2_optional = 0;
	if (req->ept)
		proc2_required |= SECONDARY_EXEC_ENABLE_EPT;
	if (req->unrestricted_guest)
		proc2_required |= SECONDARY_EXEC_UNRESTRICTED_GUEST;
	if (req->vpid)
		proc2_optional |= SECONDARY_EXEC_ENABLE_VPID;
	uint32_t proc_optional = 0;
	if (proc2_required)
		proc_required |= CPU_BASED_ACTIVATE_SECONDARY_CONTROLS;
	else if (proc2_optional)
		proc_optional |= CPU_BASED_ACTIVATE_SECONDARY_CONTROLS;
	uint32_t exit_required = VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_IA32_EFER |
				 (req->host_64bit ? VM_EXIT_HOST_ADDR_SPACE_SIZE : 0);

	struct vmcs_config c = { 0 };
	struct vmx_control_request reqs[] = {
		/* The preemption timer bounds a KVM_RUN that never exits (x86.c). */
		{ VMX_CTL_PIN, "pin-based", PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING,
		  PIN_BASED_VMX_PREEMPTION_TIMER, &c.pin_based_exec_ctrl },
		{ VMX_CTL_PROC, "primary processor-based", proc_required, proc_optional, &c.cpu_based_exec_ctrl },
		{ VMX_CTL_EXIT, "VM-exit", exit_required, 0, &c.vmexit_ctrl },
		{ VMX_CTL_ENTRY, "VM-entry", VM_ENTRY_LOAD_IA32_EFER, 0, &c.vmentry_ctrl },
		{ VMX_CTL_PROC2, "secondary processor-based", proc2_required, proc2_optional,
		  &c.cpu_based_2nd_exec_ctrl },
	};
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		struct vmx_control_request *r = &reqs[i];
		if (r->kind == VMX_CTL_PROC2 && !(c.cpu_based_exec_ctrl & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS))
			continue;
		uint64_t msr = vmx_control_msr(caps, r->kind);
		if (vmx_adjust_controls(r->required, r->optional, msr, r->out) < 0) {
			uint32_t missing = r->required & ~(uint32_t)(msr >> 32);
			if (err)
				snprintf(err, errlen, "%s control bit %d is required but %s = 0x%016llx does not allow it",
					 r->what, lowest_bit(missing ? missing : r->required),
					 vmx_control_msr_name(caps, r->kind), (unsigned long long)msr);
			return -EIO;
		}
	}
	/* Entering IA-32e mode is a per-guest choice made at each KVM_SET_SREGS. */
	c.vmentry_ctrl &= ~VM_ENTRY_IA32E_MODE;
	c.revision_id = (uint32_t)(caps->basic & VMX_BASIC_REVISION_MASK);
	c.vmcs_size = VMX_BASIC_VMCS_SIZE(caps->basic);
	*conf = c;
	return 0;
}

const char *vmx_ept_unusable_reason(uint64_t cap)
{
	if (!(cap & VMX_EPT_PAGE_WALK_4_BIT))
		return "IA32_VMX_EPT_VPID_CAP bit 6: no 4-level EPT walks";
	if (!(cap & VMX_EPTP_WB_BIT))
		return "IA32_VMX_EPT_VPID_CAP bit 14: EPT paging structures cannot be write-back";
	if (!(cap & VMX_EPT_INVEPT_BIT) || !(cap & VMX_EPT_EXTENT_CONTEXT_BIT))
		return "IA32_VMX_EPT_VPID_CAP bits 20 and 25: no single-context INVEPT";
	return NULL;
}

uint64_t vmx_construct_eptp(uint64_t root_hpa, int root_level, uint64_t cap)
{
	// @lab 06 vmx_construct_eptp: Root address, memory type WB, page-walk length - 1 in bits 5:3, A/D enable when the CPU has it (SDM Vol. 3 25.6.11).
	(void)root_hpa, (void)root_level, (void)cap;
	lab_todo(6, "vmx_construct_eptp");
	// @end
}
