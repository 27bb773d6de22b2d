/* SPDX-License-Identifier: MIT */
/*
 * real-entry-regs: the general registers of the real-mode entry state
 * (guest_abi.h): EDI = the vCPU's index, 0, and ESI = the number of vCPUs, 1
 * (run without --cpus). In assembly: the runtime's C entry uses DI and SI
 * before guest_main() could look at them. Reports on COM1 like every guest
 * (README.md, "Output protocol") and ends through the debug-exit port.
 */
	.code16
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	/* CS-relative stores first: nothing but CS is known to be valid yet. */
	movl %edi, %cs:entry_edi
	movl %esi, %cs:entry_esi
	ljmp $0, $1f
1:	xorw %ax, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $0x7c00, %esp		/* ABI_REAL_LOAD_GPA */
	cld
	movw $begin_line, %si
	call puts

	movl entry_edi, %eax
	xorl %ecx, %ecx			/* want 0: the vCPU's index */
	movw $edi_name, %si
	call check
	movl entry_esi, %eax
	movl $1, %ecx			/* want 1: the number of vCPUs */
	movw $esi_name, %si
	call check

	movw $end_line, %si
	call puts
	movb passed, %al
	addb $'0', %al
	call putc
	movw $end_failed, %si
	call puts
	movb failed, %al
	addb $'0', %al
	call putc
	movw $end_skipped, %si
	call puts
	movzbl failed, %eax		/* 0: every check passed (VMM status 1), else 1 (status 3) */
	testl %eax, %eax
	setnz %al
	outl %eax, $0xf4		/* ABI_EXIT_PORT */
2:	hlt
	jmp 2b

/* check: EAX = what the register held, ECX = what it should hold, SI = its
 * check name; prints "ok NAME" or "not ok NAME: got 0x..., want 0x...". */
check:
	cmpl %ecx, %eax
	jne 1f
	incb passed
	pushw %si
	movw $ok_prefix, %si
	call puts
	popw %si
	call puts
	movb $'\n', %al
	jmp putc
1:	incb failed
	pushl %ecx
	pushl %eax
	pushw %si
	movw $not_ok_prefix, %si
	call puts
	popw %si
	call puts
	movw $got, %si
	call puts
	popl %eax
	call puthex
	movw $want, %si
	call puts
	popl %eax
	call puthex
	movb $'\n', %al
	jmp putc

/* puthex: EAX as 0x and eight hex digits. */
puthex:
	pushl %eax
	movw $hex_prefix, %si
	call puts
	popl %edx
	movw $8, %cx
1:	roll $4, %edx
	movb %dl, %al
	andb $0xf, %al
	addb $'0', %al
	cmpb $'9', %al
	jbe 2f
	addb $('a' - '9' - 1), %al
2:	pushw %cx
	pushl %edx
	call putc
	popl %edx
	popw %cx
	loop 1b
	ret

/* puts: the NUL-terminated string at SI. */
puts:
	lodsb
	testb %al, %al
	jz 1f
	call putc
	jmp puts
1:	ret

/* putc: AL to COM1 once its transmitter holding register is empty (LSR.THRE). */
putc:
	movb %al, %ah
	movw $0x3fd, %dx		/* ABI_COM1_PORT + 5, LSR */
1:	inb %dx, %al
	testb $0x20, %al
	jz 1b
	movb %ah, %al
	movw $0x3f8, %dx		/* THR */
	outb %al, %dx
	ret

	.section .rodata
begin_line:	.asciz "kvmlabs: begin real-entry-regs\n"
edi_name:	.asciz "entry-edi-vcpu-index"
esi_name:	.asciz "entry-esi-vcpu-count"
ok_prefix:	.asciz "ok "
not_ok_prefix:	.asciz "not ok "
got:		.asciz ": got "
want:		.asciz ", want "
hex_prefix:	.asciz "0x"
end_line:	.asciz "kvmlabs: end passed="
end_failed:	.asciz " failed="
end_skipped:	.asciz " skipped=0\n"

	.section .data
	.balign 4
entry_edi:	.long 0xffffffff
entry_esi:	.long 0xffffffff
passed:		.byte 0
failed:		.byte 0
