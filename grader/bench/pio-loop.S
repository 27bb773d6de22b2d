/* SPDX-License-Identifier: MIT */
/*
 * The exit-cost benchmark guest: ITERATIONS one-byte writes to port 0xe2
 * (nothing listens there on any peer: each is a bare PIO exit to user space;
 * not 0x80, which QEMU serves in the kernel as coalesced PIO), then port 0xf4
 * with 0. A
 * multiboot v1 kernel, so the kvmlabs VMM, the floor loop and QEMU -kernel all
 * run the very same image. Built twice, with 0 and N iterations: the difference
 * of the two run times is the cost of N exits, start-up cancelled out.
 */
	.section .multiboot, "a"
	.align 4
	.long 0x1badb002, 0, -0x1badb002     /* magic, flags, checksum */

	.text
	.code32
	.globl _start
_start:
	mov $ITERATIONS, %ecx
	test %ecx, %ecx
	jz 2f
1:	outb %al, $0xe2
	dec %ecx
	jnz 1b
2:	xor %eax, %eax
	outl %eax, $0xf4
	hlt
