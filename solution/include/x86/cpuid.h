/* SPDX-License-Identifier: MIT */
/*
 * CPUID feature bits kvmlabs reads or masks (SDM Vol. 2A CPUID, Tables 3-8
 * to 3-10; AMD APM Vol. 3 for Fn8000_0001_ECX.SVM). Named CPUID_<leaf>_<reg>_<feature>.
 * 32-bit unsigned in C, like the registers they test; usable from assembly.
 */
#ifndef KVMLABS_X86_CPUID_H
#define KVMLABS_X86_CPUID_H

#include <x86/const.h>

#define CPUID_1_ECX_SSE3        (X86_AC(1, u) << 0)
#define CPUID_1_ECX_PCLMULQDQ   (X86_AC(1, u) << 1)
#define CPUID_1_ECX_VMX         (X86_AC(1, u) << 5)
#define CPUID_1_ECX_SSSE3       (X86_AC(1, u) << 9)
#define CPUID_1_ECX_CX16        (X86_AC(1, u) << 13)
#define CPUID_1_ECX_SSE4_1      (X86_AC(1, u) << 19)
#define CPUID_1_ECX_SSE4_2      (X86_AC(1, u) << 20)
#define CPUID_1_ECX_MOVBE       (X86_AC(1, u) << 22)
#define CPUID_1_ECX_POPCNT      (X86_AC(1, u) << 23)
#define CPUID_1_ECX_TSC_DEADLINE_TIMER (X86_AC(1, u) << 24)  /* the LAPIC timer's TSC-deadline mode */
#define CPUID_1_ECX_AES         (X86_AC(1, u) << 25)
#define CPUID_1_ECX_XSAVE       (X86_AC(1, u) << 26)
#define CPUID_1_ECX_RDRAND      (X86_AC(1, u) << 30)
#define CPUID_1_ECX_HYPERVISOR  (X86_AC(1, u) << 31)  /* set by hypervisors for their guests */

#define CPUID_1_EDX_FPU         (X86_AC(1, u) << 0)
#define CPUID_1_EDX_VME         (X86_AC(1, u) << 1)
#define CPUID_1_EDX_DE          (X86_AC(1, u) << 2)
#define CPUID_1_EDX_PSE         (X86_AC(1, u) << 3)
#define CPUID_1_EDX_TSC         (X86_AC(1, u) << 4)
#define CPUID_1_EDX_MSR         (X86_AC(1, u) << 5)
#define CPUID_1_EDX_PAE         (X86_AC(1, u) << 6)
#define CPUID_1_EDX_MCE         (X86_AC(1, u) << 7)
#define CPUID_1_EDX_CX8         (X86_AC(1, u) << 8)
#define CPUID_1_EDX_APIC        (X86_AC(1, u) << 9)
#define CPUID_1_EDX_SEP         (X86_AC(1, u) << 11)
#define CPUID_1_EDX_MTRR        (X86_AC(1, u) << 12)
#define CPUID_1_EDX_PGE         (X86_AC(1, u) << 13)
#define CPUID_1_EDX_MCA         (X86_AC(1, u) << 14)
#define CPUID_1_EDX_CMOV        (X86_AC(1, u) << 15)
#define CPUID_1_EDX_PAT         (X86_AC(1, u) << 16)
#define CPUID_1_EDX_PSE36       (X86_AC(1, u) << 17)
#define CPUID_1_EDX_CLFLUSH     (X86_AC(1, u) << 19)
#define CPUID_1_EDX_MMX         (X86_AC(1, u) << 23)
#define CPUID_1_EDX_FXSR        (X86_AC(1, u) << 24)
#define CPUID_1_EDX_SSE         (X86_AC(1, u) << 25)
#define CPUID_1_EDX_SSE2        (X86_AC(1, u) << 26)

#define CPUID_7_EBX_BMI1        (X86_AC(1, u) << 3)
#define CPUID_7_EBX_BMI2        (X86_AC(1, u) << 8)
#define CPUID_7_EBX_ERMS        (X86_AC(1, u) << 9)
#define CPUID_7_EBX_ADX         (X86_AC(1, u) << 19)
#define CPUID_7_EBX_CLFLUSHOPT  (X86_AC(1, u) << 23)

#define CPUID_80000001_ECX_LAHF_LM (X86_AC(1, u) << 0)
#define CPUID_80000001_ECX_SVM  (X86_AC(1, u) << 2)
#define CPUID_80000001_ECX_ABM  (X86_AC(1, u) << 5)
#define CPUID_80000001_ECX_PREFETCHW (X86_AC(1, u) << 8)
#define CPUID_80000001_EDX_SYSCALL (X86_AC(1, u) << 11)
#define CPUID_80000001_EDX_NX   (X86_AC(1, u) << 20)
#define CPUID_80000001_EDX_GBPAGES (X86_AC(1, u) << 26)  /* 1 GiB pages */
#define CPUID_80000001_EDX_LM   (X86_AC(1, u) << 29)

/* Leaf ranges: basic, hypervisor (0x40000000-0x4fffffff, by convention), extended. */
#define CPUID_HYPERVISOR_BASE   X86_AC(0x40000000, u)
#define CPUID_EXTENDED_BASE     X86_AC(0x80000000, u)
#define CPUID_TSC_LEAF          0x00000015u /* SDM Vol. 2A CPUID: TSC/crystal ratio, crystal Hz */

#endif
