/* SPDX-License-Identifier: MIT */
/* bad-loop: spins forever in real mode; only the VMM's --timeout ends it (status 16). */
	.code16
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
1:	jmp 1b
