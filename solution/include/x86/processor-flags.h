/* SPDX-License-Identifier: MIT */
/*
 * Control-register and RFLAGS bits (SDM Vol. 3 2.5 "Control Registers",
 * Vol. 1 3.4.3 "EFLAGS Register"). Linux: arch/x86/include/uapi/asm/processor-flags.h.
 * Usable from C and assembly.
 */
#ifndef KVMLABS_X86_PROCESSOR_FLAGS_H
#define KVMLABS_X86_PROCESSOR_FLAGS_H

#include <x86/const.h>

#define X86_EFLAGS_CF        X86_BIT(0)
#define X86_EFLAGS_FIXED     X86_BIT(1)   /* always 1 */
#define X86_EFLAGS_PF        X86_BIT(2)
#define X86_EFLAGS_AF        X86_BIT(4)
#define X86_EFLAGS_ZF        X86_BIT(6)
#define X86_EFLAGS_SF        X86_BIT(7)
#define X86_EFLAGS_TF        X86_BIT(8)
#define X86_EFLAGS_IF        X86_BIT(9)
#define X86_EFLAGS_DF        X86_BIT(10)
#define X86_EFLAGS_OF        X86_BIT(11)
#define X86_EFLAGS_IOPL      (X86_AC(3, ull) << 12)
#define X86_EFLAGS_NT        X86_BIT(14)
#define X86_EFLAGS_RF        X86_BIT(16)
#define X86_EFLAGS_VM        X86_BIT(17)
#define X86_EFLAGS_AC        X86_BIT(18)
#define X86_EFLAGS_VIF       X86_BIT(19)
#define X86_EFLAGS_VIP       X86_BIT(20)
#define X86_EFLAGS_ID        X86_BIT(21)
/* Bits 63:22, 15, 5 and 3 are reserved (must be 0). */
#define X86_EFLAGS_RESERVED  X86_AC(0xffffffffffc08028, ull)

#define X86_CR0_PE           X86_BIT(0)   /* protection enable */
#define X86_CR0_MP           X86_BIT(1)
#define X86_CR0_EM           X86_BIT(2)
#define X86_CR0_TS           X86_BIT(3)
#define X86_CR0_ET           X86_BIT(4)   /* hard-wired to 1 from the P6 on */
#define X86_CR0_NE           X86_BIT(5)
#define X86_CR0_WP           X86_BIT(16)
#define X86_CR0_AM           X86_BIT(18)
#define X86_CR0_NW           X86_BIT(29)
#define X86_CR0_CD           X86_BIT(30)
#define X86_CR0_PG           X86_BIT(31)

#define X86_CR3_PCD          X86_BIT(4)
#define X86_CR3_PWT          X86_BIT(3)

#define X86_CR4_VME          X86_BIT(0)
#define X86_CR4_PVI          X86_BIT(1)
#define X86_CR4_TSD          X86_BIT(2)
#define X86_CR4_DE           X86_BIT(3)
#define X86_CR4_PSE          X86_BIT(4)
#define X86_CR4_PAE          X86_BIT(5)
#define X86_CR4_MCE          X86_BIT(6)
#define X86_CR4_PGE          X86_BIT(7)
#define X86_CR4_PCE          X86_BIT(8)
#define X86_CR4_OSFXSR       X86_BIT(9)
#define X86_CR4_OSXMMEXCPT   X86_BIT(10)
#define X86_CR4_UMIP         X86_BIT(11)
#define X86_CR4_LA57         X86_BIT(12)
#define X86_CR4_VMXE         X86_BIT(13)
#define X86_CR4_SMXE         X86_BIT(14)
#define X86_CR4_FSGSBASE     X86_BIT(16)
#define X86_CR4_PCIDE        X86_BIT(17)
#define X86_CR4_OSXSAVE      X86_BIT(18)
#define X86_CR4_SMEP         X86_BIT(20)
#define X86_CR4_SMAP         X86_BIT(21)
#define X86_CR4_PKE          X86_BIT(22)

/* CR8 holds the task-priority class, TPR[7:4] (SDM Vol. 3 11.8.6). */
#define X86_CR8_TPR_MASK     X86_AC(0xf, ull)

#endif
