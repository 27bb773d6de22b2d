/* SPDX-License-Identifier: MIT */
/*
 * Entry of a protected-mode image (prot-*.elf): flat 32-bit protected mode,
 * paging off, CS=0x08, data segments 0x10, EDI = vCPU index, ESI = vCPU count,
 * interrupts disabled. Each vCPU takes its own 4 KiB stack and calls
 * guest_main(cpu, ncpus).
 */
#define RT_MAX_CPUS 8
#define RT_STACK_SIZE 4096

	.code32
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	cld
	cmpl $RT_MAX_CPUS, %edi
	jae 2f
	movl %edi, %eax
	incl %eax
	shll $12, %eax
	leal rt_stacks(%eax), %esp
	pushl %esi
	pushl %edi
	call guest_main
2:	cli
	hlt
	jmp 2b

	.section .bss
	.balign 4096
	.globl rt_stacks
rt_stacks:
	.skip RT_MAX_CPUS * RT_STACK_SIZE
