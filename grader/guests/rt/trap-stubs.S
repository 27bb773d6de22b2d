/* SPDX-License-Identifier: MIT */
/*
 * IDT entry stubs for vectors 0 to TRAP_GATES - 1 (trap.h). Exceptions that
 * push an error code (EXCEPTION_ERROR_CODE_MASK, SDM Vol. 3 6.13, table 6-1)
 * get none pushed here, the rest a 0, so every frame has the same layout.
 */
#include "trap.h"

	.code32
	.text

.macro trap_stub vec
	.balign 8
trap_stub_\vec:
	.set has_error_code, 0
	.if \vec < FIRST_EXTERNAL_VECTOR
	.set has_error_code, (EXCEPTION_ERROR_CODE_MASK >> \vec) & 1
	.endif
	.if !has_error_code
	pushl $0
	.endif
	pushl $\vec
	jmp trap_common
.endm

.altmacro
.macro trap_stubs from, to
	trap_stub %from
	.if \to-\from
	trap_stubs %(from+1), \to
	.endif
.endm

	trap_stubs 0, %(TRAP_GATES-1)

trap_common:
	pushal
	pushl %esp
	call rt_trap
	addl $4, %esp
	popal
	addl $(TRAP_FRAME_EIP_OFF - TRAP_FRAME_VECTOR_OFF), %esp	/* vector, error code */
	/* Return without IRET: KVM's instruction emulator implements IRET for
	 * real mode only (em_iret), and a host KVM that emulates CPL0 code
	 * (HOST-KVM.md) stops with an emulation failure on a protected-mode one.
	 * For a return to the same CS at the same privilege level IRET only
	 * restores EFLAGS and EIP, which popfl and "ret $8" (dropping CS and
	 * EFLAGS) do as well; an interrupt taken between them nests correctly. */
	pushl (TRAP_FRAME_EFLAGS_OFF - TRAP_FRAME_EIP_OFF)(%esp)
	popfl
	ret $8

.macro trap_addr vec
	.long trap_stub_\vec
.endm
.macro trap_addrs from, to
	trap_addr %from
	.if \to-\from
	trap_addrs %(from+1), \to
	.endif
.endm

	.section .rodata
	.balign 4
	.globl trap_stub_table
trap_stub_table:
	trap_addrs 0, %(TRAP_GATES-1)
