/* SPDX-License-Identifier: MIT */
/*
 * Entry of a multiboot image (mb-*.elf), Multiboot Specification 0.6.96
 * section 3.2: EAX = 0x2BADB002, EBX = physical address of the multiboot
 * information, flat 32-bit protected mode, no valid stack. The header asks
 * for nothing but page-aligned modules and memory information (flags bits 0
 * and 1) and leaves the load addresses to the ELF program headers. The entry
 * records EFLAGS as the boot loader left them (rt_mb_entry_eflags) before its
 * own cli; rt_mb_header is the header, for guests that check their segments.
 */
#define MB_HEADER_MAGIC 0x1badb002
#define MB_HEADER_FLAGS 0x00000003

	.section .multiboot, "a"
	.balign 4
	.globl rt_mb_header
rt_mb_header:
	.long MB_HEADER_MAGIC
	.long MB_HEADER_FLAGS
	.long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

	.code32
	.section .text.entry, "ax"
	.globl _start
_start:
	movl $rt_stack_top, %esp	/* MOV changes no flag: EFLAGS is still the loader's */
	pushfl
	popl rt_mb_entry_eflags
	cli
	cld
	pushl %ebx
	pushl %eax
	call guest_main
1:	cli
	hlt
	jmp 1b

	.section .data
	.balign 4
	.globl rt_mb_entry_eflags
rt_mb_entry_eflags:
	.long 0xffffffff

	.section .bss
	.balign 16
	.skip 4096
rt_stack_top:
