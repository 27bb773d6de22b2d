/* SPDX-License-Identifier: MIT */
/*
 * Entry of a long-mode image (long-*.elf): 64-bit mode, CS=0x18, CR3=0x2000
 * identity-mapping 4 GiB, EDI = vCPU index, ESI = vCPU count, interrupts
 * disabled. Each vCPU takes its own 4 KiB stack and calls guest_main(cpu,
 * ncpus); EDI/ESI already are the first two SysV arguments.
 */
#define RT_MAX_CPUS 8
#define RT_STACK_SIZE 4096

	.code64
	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	cld
	cmpl $RT_MAX_CPUS, %edi
	jae 2f
	movl %edi, %eax
	incl %eax
	shlq $12, %rax
	leaq rt_stacks(%rax), %rsp
	call guest_main
2:	cli
	hlt
	jmp 2b

	.section .bss
	.balign 4096
	.globl rt_stacks
rt_stacks:
	.skip RT_MAX_CPUS * RT_STACK_SIZE
