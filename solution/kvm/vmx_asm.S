/* SPDX-License-Identifier: MIT */
/*
 * The world switch (Linux: arch/x86/kvm/vmx/vmenter.S, __vmx_vcpu_run).
 *
 * int __vmx_vcpu_run(struct vmx_guest_regs *regs, int launched)
 *   Loads the guest GPRs and CR2 from *regs, enters the guest with VMLAUNCH
 *   (launched == 0) or VMRESUME, and on the VM exit saves them back.
 *   Returns 0 after a VM exit, 1 for VMfailInvalid (CF=1), 2 for VMfailValid
 *   (ZF=1: the reason is in the VM-instruction error field) (SDM Vol. 3 31.2).
 *
 * The VMCS's HOST_RIP is vmx_vmexit and HOST_RSP is written here, pointing at
 * the saved regs pointer, so the exit path finds *regs at (%rsp).
 */
	.set HOST_RSP, 0x6c14
	.set GPR_RAX, 0
	.set GPR_RCX, 8
	.set GPR_RDX, 16
	.set GPR_RBX, 24
	.set GPR_RBP, 40
	.set GPR_RSI, 48
	.set GPR_RDI, 56
	.set GPR_R8, 64
	.set GPR_R9, 72
	.set GPR_R10, 80
	.set GPR_R11, 88
	.set GPR_R12, 96
	.set GPR_R13, 104
	.set GPR_R14, 112
	.set GPR_R15, 120
	.set GUEST_CR2, 128

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

	mov $HOST_RSP, %eax
	vmwrite %rsp, %rax
	jbe .Lvmwrite_failed

	mov GUEST_CR2(%rdi), %rax
	mov %rax, %cr2

	test %esi, %esi			/* the flags survive the MOVs below */
	mov GPR_RAX(%rdi), %rax
	mov GPR_RCX(%rdi), %rcx
	mov GPR_RDX(%rdi), %rdx
	mov GPR_RBX(%rdi), %rbx
	mov GPR_RBP(%rdi), %rbp
	mov GPR_RSI(%rdi), %rsi
	mov GPR_R8(%rdi), %r8
	mov GPR_R9(%rdi), %r9
	mov GPR_R10(%rdi), %r10
	mov GPR_R11(%rdi), %r11
	mov GPR_R12(%rdi), %r12
	mov GPR_R13(%rdi), %r13
	mov GPR_R14(%rdi), %r14
	mov GPR_R15(%rdi), %r15
	mov GPR_RDI(%rdi), %rdi

	jnz .Lresume
	vmlaunch
	jmp .Lvmfail
.Lresume:
	vmresume
.Lvmfail:
	/* Still in the host: CF=1 VMfailInvalid, ZF=1 VMfailValid. */
	mov $1, %eax
	jc .Lout
	mov $2, %eax
	jmp .Lout

.Lvmwrite_failed:
	mov $2, %eax
	jmp .Lout

	.globl vmx_vmexit
	.type vmx_vmexit, @function
vmx_vmexit:
	push %rdi			/* guest RDI */
	mov 8(%rsp), %rdi		/* regs */
	mov %rax, GPR_RAX(%rdi)
	mov %rcx, GPR_RCX(%rdi)
	mov %rdx, GPR_RDX(%rdi)
	mov %rbx, GPR_RBX(%rdi)
	mov %rbp, GPR_RBP(%rdi)
	mov %rsi, GPR_RSI(%rdi)
	mov %r8, GPR_R8(%rdi)
	mov %r9, GPR_R9(%rdi)
	mov %r10, GPR_R10(%rdi)
	mov %r11, GPR_R11(%rdi)
	mov %r12, GPR_R12(%rdi)
	mov %r13, GPR_R13(%rdi)
	mov %r14, GPR_R14(%rdi)
	mov %r15, GPR_R15(%rdi)
	popq GPR_RDI(%rdi)
	mov %cr2, %rax
	mov %rax, GUEST_CR2(%rdi)
	xor %eax, %eax

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
