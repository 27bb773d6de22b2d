/* SPDX-License-Identifier: MIT */
/*
 * 64-bit entry of the host kernel and the interrupt/exception stubs.
 */
#include <x86/pgtable.h>
#include <x86/trapnr.h>
#include "trap.h"

	.section .text.entry, "ax"
	.code64
	.globl	kernel_entry
kernel_entry:
	/* From boot/boot.S: long mode, interrupts off, RDI = &boot_info. */
	cli
	cld
	mov	%rdi, %r12
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%rdi, %rcx
	xor	%eax, %eax
	rep	stosb
	mov	$kernel_stack_top, %esp
	xor	%ebp, %ebp
	mov	%r12, %rdi
	call	kmain
1:	hlt
	jmp	1b

/*
 * One ISR_STUB_SIZE-byte stub per vector: vectors without a CPU-pushed error
 * code push a zero so every frame has the same layout (SDM Vol. 3 6.13, 6.14.2).
 */
	.text
	.balign	ISR_STUB_SIZE
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	NR_VECTORS
	.balign	ISR_STUB_SIZE
	.set	has_error_code, 0
	.if	vec < FIRST_EXTERNAL_VECTOR
	.set	has_error_code, (EXCEPTION_ERROR_CODE_MASK >> vec) & 1
	.endif
	.if	!has_error_code
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr
	/* Fails to assemble ("attempt to move .org backwards") when a stub
	 * outgrows ISR_STUB_SIZE: idt_init() expects them at fixed strides. */
	.org	isr_stubs + NR_VECTORS * ISR_STUB_SIZE

isr_common:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	cld
	mov	%rsp, %rdi
	mov	%rsp, %rbx
	and	$-16, %rsp
	call	host_trap
	mov	%rbx, %rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	add	$(TRAP_FRAME_RIP_OFF - TRAP_FRAME_VECTOR_OFF), %rsp	/* vector, error code */
	iretq

/* Stacks: the kernel stack sits above an unmapped guard page (memory.c
 * unmaps it), so an overflow faults; faults that cannot use the current stack
 * (#DF, NMI, #MC) switch to a stack of their own through the TSS IST (SDM
 * Vol. 3 6.14.5). */
	.section .bss.stack, "aw", @nobits
	.balign	PAGE_SIZE
	.globl	kernel_stack_guard, kernel_stack_top, ist_stack_top
kernel_stack_guard:
	.skip	PAGE_SIZE
	.skip	KERNEL_STACK_SIZE
kernel_stack_top:
	.skip	IST_STACK_SIZE
ist_stack_top:

	.section .note.GNU-stack, "", @progbits
