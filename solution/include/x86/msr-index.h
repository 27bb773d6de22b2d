/* SPDX-License-Identifier: MIT */
/*
 * Model-specific registers (SDM Vol. 4 "Model-Specific Registers") and the
 * bits kvmlabs uses. Linux: arch/x86/include/asm/msr-index.h.
 * Usable from C and assembly.
 */
#ifndef KVMLABS_X86_MSR_INDEX_H
#define KVMLABS_X86_MSR_INDEX_H

#include <x86/const.h>

#define MSR_IA32_TSC                     0x00000010
#define MSR_IA32_TSC_DEADLINE            0x000006e0  /* SDM Vol. 3A 11.5.4.1 */
#define MSR_IA32_FEATURE_CONTROL         0x0000003a
#define MSR_IA32_UCODE_REV               0x0000008b  /* SDM Vol. 4 Table 2-2: BIOS_SIGN_ID */
#define MSR_IA32_APICBASE                0x0000001b
#define MSR_IA32_SYSENTER_CS             0x00000174
#define MSR_IA32_SYSENTER_ESP            0x00000175
#define MSR_IA32_SYSENTER_EIP            0x00000176
#define MSR_IA32_MISC_ENABLE             0x000001a0
#define MSR_IA32_CR_PAT                  0x00000277
#define MSR_IA32_DEBUGCTLMSR             0x000001d9

#define MSR_EFER                         0xc0000080
#define MSR_STAR                         0xc0000081
#define MSR_LSTAR                        0xc0000082
#define MSR_CSTAR                        0xc0000083
#define MSR_SYSCALL_MASK                 0xc0000084
#define MSR_FS_BASE                      0xc0000100
#define MSR_GS_BASE                      0xc0000101
#define MSR_KERNEL_GS_BASE               0xc0000102

/* EFER (SDM Vol. 3 2.2.1). */
#define EFER_SCE                         X86_BIT(0)   /* SYSCALL enable */
#define EFER_LME                         X86_BIT(8)   /* long mode enable */
#define EFER_LMA                         X86_BIT(10)  /* long mode active (read-only) */
#define EFER_NX                          X86_BIT(11)  /* no-execute enable */

/* IA32_APIC_BASE (SDM Vol. 3 11.4.4). */
#define MSR_IA32_APICBASE_BSP            X86_BIT(8)
#define MSR_IA32_APICBASE_ENABLE         X86_BIT(11)
#define APIC_DEFAULT_PHYS_BASE           X86_AC(0xfee00000, ull)

/* IA32_MISC_ENABLE bits set after reset (SDM Vol. 4 Table 2-2). */
#define MSR_IA32_MISC_ENABLE_BTS_UNAVAIL  X86_BIT(11)
#define MSR_IA32_MISC_ENABLE_PEBS_UNAVAIL X86_BIT(12)

/* IA32_PAT after reset: WB, WT, UC-, UC, repeated (SDM Vol. 3 13.12.4). */
#define MSR_IA32_CR_PAT_DEFAULT          X86_AC(0x0007040600070406, ull)

/* IA32_FEATURE_CONTROL (SDM Vol. 3 24.7). */
#define FEAT_CTL_LOCKED                  X86_BIT(0)
#define FEAT_CTL_VMX_ENABLED_INSIDE_SMX  X86_BIT(1)
#define FEAT_CTL_VMX_ENABLED_OUTSIDE_SMX X86_BIT(2)

/* VMX capability MSRs (SDM Vol. 3 Appendix A). */
#define MSR_IA32_VMX_BASIC               0x00000480
#define MSR_IA32_VMX_PINBASED_CTLS       0x00000481
#define MSR_IA32_VMX_PROCBASED_CTLS      0x00000482
#define MSR_IA32_VMX_EXIT_CTLS           0x00000483
#define MSR_IA32_VMX_ENTRY_CTLS          0x00000484
#define MSR_IA32_VMX_MISC                0x00000485
#define MSR_IA32_VMX_CR0_FIXED0          0x00000486
#define MSR_IA32_VMX_CR0_FIXED1          0x00000487
#define MSR_IA32_VMX_CR4_FIXED0          0x00000488
#define MSR_IA32_VMX_CR4_FIXED1          0x00000489
#define MSR_IA32_VMX_VMCS_ENUM           0x0000048a
#define MSR_IA32_VMX_PROCBASED_CTLS2     0x0000048b
#define MSR_IA32_VMX_EPT_VPID_CAP        0x0000048c
#define MSR_IA32_VMX_TRUE_PINBASED_CTLS  0x0000048d
#define MSR_IA32_VMX_TRUE_PROCBASED_CTLS 0x0000048e
#define MSR_IA32_VMX_TRUE_EXIT_CTLS      0x0000048f
#define MSR_IA32_VMX_TRUE_ENTRY_CTLS     0x00000490

#endif
