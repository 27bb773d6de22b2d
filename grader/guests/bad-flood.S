/* SPDX-License-Identifier: MIT */
/* bad-flood: writes to the UART's THR forever without looking at LSR; the
 * VMM's --max-output must end it (status 18). */
	.code16
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	movw $0x3f8, %dx	/* ABI_COM1_PORT, THR */
	movb $'x', %al
1:	outb %al, %dx
	jmp 1b
