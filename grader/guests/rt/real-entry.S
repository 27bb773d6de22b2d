/* SPDX-License-Identifier: MIT */
/*
 * Entry of a real-mode image (real-*.bin): loaded and entered at 0x7c00 with
 * CS=DS=ES=SS=0 and SP=0x7c00. Records EDI and ESI (the vCPU's index and the
 * vCPU count), which the code below uses, and the entry segments and SP for the guest
 * to check, and the three words at SS:SP (if the vCPU took an exception before
 * this code ran, they are its frame: IP, CS, FLAGS), sets up the C environment
 * gcc -m16 expects (flat 64 KiB, zero segments, 32-bit ESP with a zero high
 * half), clears .bss and calls guest_main().
 */
	.code16
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	/* CS-relative stores: nothing but CS is known to be valid yet. */
	movl %edi, %cs:rt_entry_edi
	movl %esi, %cs:rt_entry_esi
	movw %sp, %cs:rt_entry_sp
	movw %ss, %cs:rt_entry_ss
	movw %ds, %cs:rt_entry_ds
	movw %es, %cs:rt_entry_es
	movw %cs, %cs:rt_entry_cs
	call 1f
1:	popw %cs:rt_entry_ip
	subw $(1b - _start), %cs:rt_entry_ip
	movw %sp, %bp			/* BP addresses through SS */
	movw 0(%bp), %ax
	movw %ax, %cs:rt_entry_frame
	movw 2(%bp), %ax
	movw %ax, %cs:rt_entry_frame + 2
	movw 4(%bp), %ax
	movw %ax, %cs:rt_entry_frame + 4
	ljmp $0, $2f
2:	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $0x7c00, %esp /* ABI_REAL_LOAD_GPA */
	cld
	movw $__bss_start, %di
	movw $__bss_end, %cx
	subw %di, %cx
	rep stosb
	calll guest_main
3:	cli
	hlt
	jmp 3b

	.section .data
	.globl rt_entry_sp, rt_entry_ss, rt_entry_ds, rt_entry_es, rt_entry_cs, rt_entry_ip, rt_entry_frame
	.balign 2
rt_entry_sp:	.word 0xffff
rt_entry_ss:	.word 0xffff
rt_entry_ds:	.word 0xffff
rt_entry_es:	.word 0xffff
rt_entry_cs:	.word 0xffff
rt_entry_ip:	.word 0xffff
rt_entry_frame:	.word 0xffff, 0xffff, 0xffff
	.globl rt_entry_edi, rt_entry_esi
	.balign 4
rt_entry_edi:	.long 0xffffffff
rt_entry_esi:	.long 0xffffffff
