/* SPDX-License-Identifier: MIT */
/*
 * The world switch (Linux: arch/x86/kvm/vmx/vmenter.S, __vmx_vcpu_run).
 *
 * int __vmx_vcpu_run(uint64_t *regs, int launched)
 *   Loads the guest GPRs from regs[] (vcpu->arch.regs, indexed by
 *   __VCPU_REGS_*), enters the guest with VMLAUNCH (launched == 0) or
 *   VMRESUME, and on the VM exit saves them back. Returns VMENTER_EXITED
 *   after a VM exit, VMENTER_FAIL_INVALID for VMfailInvalid (CF=1) and
 *   VMENTER_FAIL_VALID for VMfailValid (ZF=1: the reason is in the
 *   VM-instruction error field) (SDM Vol. 3 31.2). RSP and RIP travel in the
 *   VMCS; CR2 is loaded and saved by the C caller with interrupts off, as in
 *   Linux's vmx_vcpu_enter_exit().
 *
 * HOST_RIP is vmx_vmexit; HOST_RSP is written here, pointing at the saved
 * regs pointer, so the exit path finds regs at (%rsp). The offsets come from
 * vmenter.h, which vmx.c checks against the C structures.
 */
#include "vmenter.h"

	.text
	.globl __vmx_vcpu_run
	.type __vmx_vcpu_run, @function
__vmx_vcpu_run:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi			/* regs, found at (%rsp) after the exit */

	mov $VMENTER_HOST_RSP_FIELD, %eax
	vmwrite %rsp, %rax
	jbe .Lvmwrite_failed

	test %esi, %esi			/* the flags survive the MOVs below */
	mov VCPU_RAX(%rdi), %rax
	mov VCPU_RCX(%rdi), %rcx
	mov VCPU_RDX(%rdi), %rdx
	mov VCPU_RBX(%rdi), %rbx
	mov VCPU_RBP(%rdi), %rbp
	mov VCPU_RSI(%rdi), %rsi
	mov VCPU_R8(%rdi), %r8
	mov VCPU_R9(%rdi), %r9
	mov VCPU_R10(%rdi), %r10
	mov VCPU_R11(%rdi), %r11
	mov VCPU_R12(%rdi), %r12
	mov VCPU_R13(%rdi), %r13
	mov VCPU_R14(%rdi), %r14
	mov VCPU_R15(%rdi), %r15
	mov VCPU_RDI(%rdi), %rdi

	jnz .Lresume
	vmlaunch
	jmp .Lvmfail
.Lresume:
	vmresume
.Lvmfail:
	/* Still in the host: CF=1 VMfailInvalid, ZF=1 VMfailValid. */
	mov $VMENTER_FAIL_INVALID, %eax
	jc .Lout
	mov $VMENTER_FAIL_VALID, %eax
	jmp .Lout

.Lvmwrite_failed:
	/* HOST_RSP could not be written: as if the entry had failed the same way. */
	mov $VMENTER_FAIL_INVALID, %eax
	jc .Lout
	mov $VMENTER_FAIL_VALID, %eax
	jmp .Lout

	.globl vmx_vmexit
	.type vmx_vmexit, @function
vmx_vmexit:
	push %rdi			/* guest RDI */
	mov 8(%rsp), %rdi		/* regs */
	mov %rax, VCPU_RAX(%rdi)
	mov %rcx, VCPU_RCX(%rdi)
	mov %rdx, VCPU_RDX(%rdi)
	mov %rbx, VCPU_RBX(%rdi)
	mov %rbp, VCPU_RBP(%rdi)
	mov %rsi, VCPU_RSI(%rdi)
	mov %r8, VCPU_R8(%rdi)
	mov %r9, VCPU_R9(%rdi)
	mov %r10, VCPU_R10(%rdi)
	mov %r11, VCPU_R11(%rdi)
	mov %r12, VCPU_R12(%rdi)
	mov %r13, VCPU_R13(%rdi)
	mov %r14, VCPU_R14(%rdi)
	mov %r15, VCPU_R15(%rdi)
	popq VCPU_RDI(%rdi)
	mov $VMENTER_EXITED, %eax

.Lout:
	add $8, %rsp			/* regs */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.size __vmx_vcpu_run, . - __vmx_vcpu_run

	.section .note.GNU-stack, "", @progbits
