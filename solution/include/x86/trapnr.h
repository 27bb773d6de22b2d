/* SPDX-License-Identifier: MIT */
/*
 * Exception and interrupt vectors (SDM Vol. 3 6.3.1, Table 6-1), named as
 * Linux KVM names them (arch/x86/include/uapi/asm/kvm.h).
 */
#ifndef KVMLABS_X86_TRAPNR_H
#define KVMLABS_X86_TRAPNR_H

#define DE_VECTOR   0   /* divide error */
#define DB_VECTOR   1   /* debug */
#define NMI_VECTOR  2
#define BP_VECTOR   3   /* INT3 */
#define OF_VECTOR   4   /* INTO */
#define BR_VECTOR   5   /* BOUND */
#define UD_VECTOR   6   /* invalid opcode */
#define NM_VECTOR   7   /* device not available */
#define DF_VECTOR   8   /* double fault */
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

/* Vectors 0-31 are the processor's; external interrupts use 32-255. */
#define FIRST_EXTERNAL_VECTOR 32
#define NR_VECTORS  256

#endif
