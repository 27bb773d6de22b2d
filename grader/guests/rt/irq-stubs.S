/* SPDX-License-Identifier: MIT */
/*
 * IDT entry stubs for all 256 vectors (irq.h), 16 bytes apart so that the
 * gate of vector v points at irq_stubs + 16 * v. Each builds the runtime's
 * struct trap_frame (trap.h): an error code of 0 where the CPU pushes none
 * (SDM Vol. 3A 6.13, table 6-1: EXCEPTION_ERROR_CODE_MASK), then the vector.
 */
#include "trap.h"

	.code32
	.text
	.balign 16
	.globl irq_stubs
irq_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.set has_error_code, 0
	.if vec < 32
	.set has_error_code, (EXCEPTION_ERROR_CODE_MASK >> vec) & 1
	.endif
	.if !has_error_code
	pushl $0
	.endif
	pushl $vec
	jmp irq_common
	.set vec, vec + 1
	.endr

irq_common:
	pushal
	pushl %esp
	call irq_dispatch
	addl $4, %esp
	popal
	addl $(TRAP_FRAME_EIP_OFF - TRAP_FRAME_VECTOR_OFF), %esp	/* vector, error code */
	/* As trap-stubs.S: POPF; RET $8 in place of IRET (same CS and CPL),
	 * which a host KVM that emulates CPL0 code cannot run. An interrupt
	 * taken between the two nests on this stack. */
	pushl (TRAP_FRAME_EFLAGS_OFF - TRAP_FRAME_EIP_OFF)(%esp)
	popfl
	ret $8
