/* SPDX-License-Identifier: MIT */
/*
 * Exception stubs for long-mode guests (trap64.h) and the two run-and-catch
 * entries. Each stub makes every frame alike (SDM Vol. 3 6.13, table 6-1:
 * EXCEPTION_ERROR_CODE_MASK names the vectors whose error code the CPU
 * pushes), saves the GPRs and calls trap64_handler(frame), which either
 * resumes a trap64_run*() through trap64_resume or ends the guest.
 */
#include "trap64.h"
#include <x86/trapnr.h>

	.code64
	.text

.macro trap64_stub vec
	.balign 16
trap64_stub_\vec:
	.if !((EXCEPTION_ERROR_CODE_MASK >> \vec) & 1)
	pushq $0
	.endif
	pushq $\vec
	jmp trap64_common
.endm

.altmacro
.macro trap64_stubs from, to
	trap64_stub %from
	.if \to-\from
	trap64_stubs %(from+1), \to
	.endif
.endm

	trap64_stubs 0, %(TRAP64_VECTORS-1)

trap64_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	/* The SysV ABI wants DF clear at a call; a fault may come with it set
	 * (the frame keeps the interrupted RFLAGS). */
	cld
	/* 64-bit delivery aligns RSP to 16 before the CPU's pushes; 22 quadwords keep it so. */
	call trap64_handler
1:	hlt		/* trap64_handler never returns */
	jmp 1b

/* Saves what the SysV ABI says a callee keeps, plus the stack to come back to. */
.macro trap64_save
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	subq $8, %rsp
	movq %rsp, trap64_catch_rsp(%rip)
.endm

	/* int trap64_run(void (*fn)(uint64_t), uint64_t arg) */
	.globl trap64_run
trap64_run:
	trap64_save
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	movl $1, %eax
	jmp trap64_done

	/* int trap64_run_user(uint64_t rip, uint64_t rsp, uint64_t arg) */
	.globl trap64_run_user
trap64_run_user:
	trap64_save
	movq %rdx, %rax
	/* IRETQ to CPL 3 (SDM Vol. 3 6.14.3): SS, RSP, RFLAGS (IF stays 0), CS, RIP. */
	pushq $TRAP64_SEL_UDATA
	pushq %rsi
	pushq $2
	pushq $TRAP64_SEL_UCODE
	pushq %rdi
	movq %rax, %rdi
	iretq

	/* void trap64_resume(uint64_t rsp): back into the trap64_run*() whose
	 * trap64_save left rsp, returning 0. */
	.globl trap64_resume
trap64_resume:
	movq %rdi, %rsp
	xorl %eax, %eax
trap64_done:
	movq $0, trap64_catch_rsp(%rip)
	addq $8, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.section .rodata
	.balign 8
	.globl trap64_stub_table
trap64_stub_table:
.macro trap64_addr vec
	.quad trap64_stub_\vec
.endm
.macro trap64_addrs from, to
	trap64_addr %from
	.if \to-\from
	trap64_addrs %(from+1), \to
	.endif
.endm
	trap64_addrs 0, %(TRAP64_VECTORS-1)

	.bss
	.balign 8
	.globl trap64_catch_rsp
trap64_catch_rsp:
	.quad 0
