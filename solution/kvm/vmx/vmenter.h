/* SPDX-License-Identifier: MIT */
/*
 * The world switch's interface, for vmenter.S and for C (Linux: the
 * declarations around __vmx_vcpu_run in vmx/vmx.h and vmx/run_flags.h).
 * vmx.c asserts that these offsets match struct kvm_vcpu_arch and vmcs.h.
 */
#ifndef KVMLABS_KVM_VMX_VMENTER_H
#define KVMLABS_KVM_VMX_VMENTER_H

#include "../kvm_vcpu_regs.h"

/* Byte offsets into the regs array __vmx_vcpu_run gets (uint64_t each). */
#define VMENTER_WORD_SIZE 8
#define VCPU_RAX (__VCPU_REGS_RAX * VMENTER_WORD_SIZE)
#define VCPU_RCX (__VCPU_REGS_RCX * VMENTER_WORD_SIZE)
#define VCPU_RDX (__VCPU_REGS_RDX * VMENTER_WORD_SIZE)
#define VCPU_RBX (__VCPU_REGS_RBX * VMENTER_WORD_SIZE)
#define VCPU_RBP (__VCPU_REGS_RBP * VMENTER_WORD_SIZE)
#define VCPU_RSI (__VCPU_REGS_RSI * VMENTER_WORD_SIZE)
#define VCPU_RDI (__VCPU_REGS_RDI * VMENTER_WORD_SIZE)
#define VCPU_R8  (__VCPU_REGS_R8 * VMENTER_WORD_SIZE)
#define VCPU_R9  (__VCPU_REGS_R9 * VMENTER_WORD_SIZE)
#define VCPU_R10 (__VCPU_REGS_R10 * VMENTER_WORD_SIZE)
#define VCPU_R11 (__VCPU_REGS_R11 * VMENTER_WORD_SIZE)
#define VCPU_R12 (__VCPU_REGS_R12 * VMENTER_WORD_SIZE)
#define VCPU_R13 (__VCPU_REGS_R13 * VMENTER_WORD_SIZE)
#define VCPU_R14 (__VCPU_REGS_R14 * VMENTER_WORD_SIZE)
#define VCPU_R15 (__VCPU_REGS_R15 * VMENTER_WORD_SIZE)

/* The VMCS encoding of HOST_RSP (SDM Vol. 3 Appendix B.4), which the world
 * switch writes itself just before entering. */
#define VMENTER_HOST_RSP_FIELD 0x6c14

/* What __vmx_vcpu_run returns. */
#define VMENTER_EXITED        0  /* a VM exit (or a failed entry with exit reason bit 31) */
#define VMENTER_FAIL_INVALID  1  /* VMfailInvalid, CF=1: no current VMCS */
#define VMENTER_FAIL_VALID    2  /* VMfailValid, ZF=1: see VM_INSTRUCTION_ERROR */

#ifndef __ASSEMBLER__
#include <stdint.h>
/* Load the guest GPRs from regs[], VMLAUNCH (launched == 0) or VMRESUME, and
 * on the VM exit save them back; RSP and RIP are the VMCS's, CR2 the caller's. */
int __vmx_vcpu_run(uint64_t *regs, int launched);
/* HOST_RIP: where the processor resumes the host after a VM exit. */
void vmx_vmexit(void);
#endif

#endif
