/* SPDX-License-Identifier: MIT */
/*
 * The VMX vendor's own vCPU (Linux: arch/x86/kvm/vmx/vmx.h). Only vmx/ sees
 * it; generic code holds the struct kvm_vcpu it starts with.
 */
#ifndef KVMLABS_KVM_VMX_VMX_H
#define KVMLABS_KVM_VMX_VMX_H

#include "../kvm_host.h"
#include "vmcs.h"
#include "vmx_caps.h"

/* A VMX instruction that failed outside VM entry (VMREAD, VMWRITE, VMPTRLD,
 * VMCLEAR): the first one of a vCPU is kept and ends its next KVM_RUN. */
enum vmx_insn { VMX_INSN_NONE, VMX_INSN_VMREAD, VMX_INSN_VMWRITE, VMX_INSN_VMPTRLD, VMX_INSN_VMCLEAR, VMX_INSN_INVEPT,
		VMX_INSN_INVVPID };

struct vmx_insn_failure {
	enum vmx_insn insn;       /* VMX_INSN_NONE: nothing failed */
	uint32_t field;           /* the VMCS field (VMREAD/VMWRITE) */
	uint64_t value;           /* the value written, or the VMCS address */
	uint32_t error;           /* VM-instruction error (SDM Vol. 3 31.4); 0 for VMfailInvalid */
};

struct vcpu_vmx {
	struct kvm_vcpu vcpu;     /* first: kvm_main.c allocates vmx_x86_ops.vcpu_size bytes */
	void *vmcs;               /* 4 KiB VMCS region */
	bool launched;            /* VMLAUNCH done: VMRESUME from now on */
	bool checked;             /* the VM-entry checker passed since the guest state last changed */
	int fail;                 /* the last VMLAUNCH/VMRESUME: 0, 1 VMfailInvalid, 2 VMfailValid */
	uint32_t exit_reason;     /* full exit-reason field of the last exit */
	uint64_t exit_qualification;
	uint32_t exit_intr_info;
	uint32_t idt_vectoring_info;
	struct vmcs_config ctls;  /* this vCPU's controls */
	uint16_t vpid;            /* tags its guest's TLB entries (lab 06); 0: none, every entry and exit flushes */
	struct vmx_insn_failure insn_fail;
};

static inline struct vcpu_vmx *to_vmx(struct kvm_vcpu *vcpu)
{
	return container_of(vcpu, struct vcpu_vmx, vcpu);
}

#endif
