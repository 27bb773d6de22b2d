/* SPDX-License-Identifier: MIT */
/*
 * Exception and interrupt vectors (SDM Vol. 3 6.3.1, Table 6-1), named as
 * Linux KVM names them (arch/x86/include/uapi/asm/kvm.h). Usable from C and
 * assembly.
 */
#ifndef KVMLABS_X86_TRAPNR_H
#define KVMLABS_X86_TRAPNR_H

#include <x86/const.h>

#define DE_VECTOR   0   /* divide error */
#define DB_VECTOR   1   /* debug */
#define NMI_VECTOR  2
#define BP_VECTOR   3   /* INT3 */
#define OF_VECTOR   4   /* INTO */
#define BR_VECTOR   5   /* BOUND */
#define UD_VECTOR   6   /* invalid opcode */
#define NM_VECTOR   7   /* device not available */
#define DF_VECTOR   8   /* double fault */
#define OLD_MF_VECTOR 9 /* coprocessor segment overrun (386 only; Linux X86_TRAP_OLD_MF) */
#define TS_VECTOR   10  /* invalid TSS */
#define NP_VECTOR   11  /* segment not present */
#define SS_VECTOR   12  /* stack-segment fault */
#define GP_VECTOR   13  /* general protection */
#define PF_VECTOR   14  /* page fault */
#define MF_VECTOR   16  /* x87 floating point */
#define AC_VECTOR   17  /* alignment check */
#define MC_VECTOR   18  /* machine check */
#define XM_VECTOR   19  /* SIMD floating point */
#define VE_VECTOR   20  /* virtualization exception */
#define CP_VECTOR   21  /* control protection */
/* AMD only (APM Vol. 2 8.2, Table 8-1). */
#define VC_VECTOR   29  /* VMM communication (SEV-ES) */
#define SX_VECTOR   30  /* security exception */

/* Bit n set: exception n pushes an error code (SDM Vol. 3 6.13 and Table 6-1;
 * APM Vol. 2 8.2 for #VC and #SX). Linux KVM tests the Intel ones in
 * x86_exception_has_error_code(). */
#define EXCEPTION_ERROR_CODE_MASK \
	(X86_BIT(DF_VECTOR) | X86_BIT(TS_VECTOR) | X86_BIT(NP_VECTOR) | X86_BIT(SS_VECTOR) | \
	 X86_BIT(GP_VECTOR) | X86_BIT(PF_VECTOR) | X86_BIT(AC_VECTOR) | X86_BIT(CP_VECTOR) | \
	 X86_BIT(VC_VECTOR) | X86_BIT(SX_VECTOR))

/* Vectors 0-31 are the processor's; external interrupts use 32-255. */
#define FIRST_EXTERNAL_VECTOR 32
#define NR_VECTORS  256

#endif
