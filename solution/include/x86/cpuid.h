/* SPDX-License-Identifier: MIT */
/*
 * CPUID feature bits kvmlabs reads or masks (SDM Vol. 2A CPUID, Tables 3-8
 * to 3-10; AMD APM Vol. 3 for Fn8000_0001_ECX.SVM). Named CPUID_<leaf>_<reg>_<feature>.
 */
#ifndef KVMLABS_X86_CPUID_H
#define KVMLABS_X86_CPUID_H

#define CPUID_1_ECX_SSE3        (1u << 0)
#define CPUID_1_ECX_PCLMULQDQ   (1u << 1)
#define CPUID_1_ECX_VMX         (1u << 5)
#define CPUID_1_ECX_SSSE3       (1u << 9)
#define CPUID_1_ECX_CX16        (1u << 13)
#define CPUID_1_ECX_SSE4_1      (1u << 19)
#define CPUID_1_ECX_SSE4_2      (1u << 20)
#define CPUID_1_ECX_MOVBE       (1u << 22)
#define CPUID_1_ECX_POPCNT      (1u << 23)
#define CPUID_1_ECX_AES         (1u << 25)
#define CPUID_1_ECX_XSAVE       (1u << 26)
#define CPUID_1_ECX_RDRAND      (1u << 30)
#define CPUID_1_ECX_HYPERVISOR  (1u << 31)  /* set by hypervisors for their guests */

#define CPUID_1_EDX_FPU         (1u << 0)
#define CPUID_1_EDX_VME         (1u << 1)
#define CPUID_1_EDX_DE          (1u << 2)
#define CPUID_1_EDX_PSE         (1u << 3)
#define CPUID_1_EDX_TSC         (1u << 4)
#define CPUID_1_EDX_MSR         (1u << 5)
#define CPUID_1_EDX_PAE         (1u << 6)
#define CPUID_1_EDX_MCE         (1u << 7)
#define CPUID_1_EDX_CX8         (1u << 8)
#define CPUID_1_EDX_APIC        (1u << 9)
#define CPUID_1_EDX_SEP         (1u << 11)
#define CPUID_1_EDX_MTRR        (1u << 12)
#define CPUID_1_EDX_PGE         (1u << 13)
#define CPUID_1_EDX_MCA         (1u << 14)
#define CPUID_1_EDX_CMOV        (1u << 15)
#define CPUID_1_EDX_PAT         (1u << 16)
#define CPUID_1_EDX_PSE36       (1u << 17)
#define CPUID_1_EDX_CLFLUSH     (1u << 19)
#define CPUID_1_EDX_MMX         (1u << 23)
#define CPUID_1_EDX_FXSR        (1u << 24)
#define CPUID_1_EDX_SSE         (1u << 25)
#define CPUID_1_EDX_SSE2        (1u << 26)

#define CPUID_7_EBX_BMI1        (1u << 3)
#define CPUID_7_EBX_BMI2        (1u << 8)
#define CPUID_7_EBX_ERMS        (1u << 9)
#define CPUID_7_EBX_ADX         (1u << 19)
#define CPUID_7_EBX_CLFLUSHOPT  (1u << 23)

#define CPUID_80000001_ECX_LAHF_LM (1u << 0)
#define CPUID_80000001_ECX_SVM  (1u << 2)
#define CPUID_80000001_ECX_ABM  (1u << 5)
#define CPUID_80000001_ECX_PREFETCHW (1u << 8)
#define CPUID_80000001_EDX_SYSCALL (1u << 11)
#define CPUID_80000001_EDX_NX   (1u << 20)
#define CPUID_80000001_EDX_LM   (1u << 29)

/* Leaf ranges: basic, hypervisor (0x40000000-0x4fffffff, by convention), extended. */
#define CPUID_HYPERVISOR_BASE   0x40000000u
#define CPUID_EXTENDED_BASE     0x80000000u

#endif
