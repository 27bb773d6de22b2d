/* SPDX-License-Identifier: MIT */
/*
 * bad-triple-fault: real mode, IDTR limit 0, then a divide by zero. The #DE
 * vector lies beyond the IDT limit, so the CPU raises #GP, which lies beyond
 * it too, then #DF, then shuts down (SDM Vol. 2 INT n, real-address-mode
 * operation: a vector beyond the IDT limit is #GP): KVM_EXIT_SHUTDOWN, VMM status 8.
 *
 * An emulator that ignores the limit would instead take the real-mode
 * vector at IDTR.base; those entries lead to a second attempt that cannot
 * be mis-delivered: protected mode with the same empty IDT, then UD2.
 */
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

	.code16
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	/* #DE, #DF and #GP in a real-mode table at IDTR.base 0 (4-byte
	 * offset:segment entries) -> in_protected_mode. */
	movw $in_protected_mode, DE_VECTOR * 4
	movw %ax, DE_VECTOR * 4 + 2
	movw $in_protected_mode, DF_VECTOR * 4
	movw %ax, DF_VECTOR * 4 + 2
	movw $in_protected_mode, GP_VECTOR * 4
	movw %ax, GP_VECTOR * 4 + 2
	lidt empty_idt
	xorw %dx, %dx
	divw %ax		/* 0 / 0: #DE */
in_protected_mode:
	movl %cr0, %eax
	orl $X86_CR0_PE, %eax
	movl %eax, %cr0
	ud2
1:	hlt
	jmp 1b

	.balign 8
empty_idt:
	.word 0
	.long 0
