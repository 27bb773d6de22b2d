/* SPDX-License-Identifier: MIT */
/*
 * VMX architecture definitions: VMCS field encodings (SDM Vol. 3 Appendix B),
 * control bits (SDM Vol. 3 25.6-25.8), the bit layouts of the capability MSRs
 * (Appendix A; their indices are in <x86/msr-index.h>), basic exit reasons
 * (Appendix C), event-injection and access-rights formats. Only what is
 * VMX's: CR, RFLAGS, EFER bits and vectors come from solution/include/x86/.
 * Pure definitions: included hosted by the unit tests too. Names follow
 * Linux's arch/x86/include/asm/vmx.h and arch/x86/kvm/vmx/vmcs.h.
 */
#ifndef KVMLABS_KVM_VMX_VMCS_H
#define KVMLABS_KVM_VMX_VMCS_H

#include <stdint.h>

// @region vmcs_fields
enum vmcs_field {
	VIRTUAL_PROCESSOR_ID            = 0x00000000,
	GUEST_ES_SELECTOR               = 0x00000800,
	GUEST_CS_SELECTOR               = 0x00000802,
	GUEST_SS_SELECTOR               = 0x00000804,
	GUEST_DS_SELECTOR               = 0x00000806,
	GUEST_FS_SELECTOR               = 0x00000808,
	GUEST_GS_SELECTOR               = 0x0000080a,
	GUEST_LDTR_SELECTOR             = 0x0000080c,
	GUEST_TR_SELECTOR               = 0x0000080e,
	HOST_ES_SELECTOR                = 0x00000c00,
	HOST_CS_SELECTOR                = 0x00000c02,
	HOST_SS_SELECTOR                = 0x00000c04,
	HOST_DS_SELECTOR                = 0x00000c06,
	HOST_FS_SELECTOR                = 0x00000c08,
	HOST_GS_SELECTOR                = 0x00000c0a,
	HOST_TR_SELECTOR                = 0x00000c0c,
	IO_BITMAP_A                     = 0x00002000,
	IO_BITMAP_B                     = 0x00002002,
	MSR_BITMAP                      = 0x00002004,
	VM_EXIT_MSR_STORE_ADDR          = 0x00002006,
	VM_EXIT_MSR_LOAD_ADDR           = 0x00002008,
	VM_ENTRY_MSR_LOAD_ADDR          = 0x0000200a,
	TSC_OFFSET                      = 0x00002010,
	VIRTUAL_APIC_PAGE_ADDR          = 0x00002012,
	APIC_ACCESS_ADDR                = 0x00002014,
	EPT_POINTER                     = 0x0000201a,
	GUEST_PHYSICAL_ADDRESS          = 0x00002400,
	VMCS_LINK_POINTER               = 0x00002800,
	GUEST_IA32_DEBUGCTL             = 0x00002802,
	GUEST_IA32_PAT                  = 0x00002804,
	GUEST_IA32_EFER                 = 0x00002806,
	GUEST_IA32_PERF_GLOBAL_CTRL     = 0x00002808,
	GUEST_PDPTR0                    = 0x0000280a,
	GUEST_PDPTR1                    = 0x0000280c,
	GUEST_PDPTR2                    = 0x0000280e,
	GUEST_PDPTR3                    = 0x00002810,
	HOST_IA32_PAT                   = 0x00002c00,
	HOST_IA32_EFER                  = 0x00002c02,
	HOST_IA32_PERF_GLOBAL_CTRL      = 0x00002c04,
	PIN_BASED_VM_EXEC_CONTROL       = 0x00004000,
	CPU_BASED_VM_EXEC_CONTROL       = 0x00004002,
	EXCEPTION_BITMAP                = 0x00004004,
	PAGE_FAULT_ERROR_CODE_MASK      = 0x00004006,
	PAGE_FAULT_ERROR_CODE_MATCH     = 0x00004008,
	CR3_TARGET_COUNT                = 0x0000400a,
	VM_EXIT_CONTROLS                = 0x0000400c,
	VM_EXIT_MSR_STORE_COUNT         = 0x0000400e,
	VM_EXIT_MSR_LOAD_COUNT          = 0x00004010,
	VM_ENTRY_CONTROLS               = 0x00004012,
	VM_ENTRY_MSR_LOAD_COUNT         = 0x00004014,
	VM_ENTRY_INTR_INFO_FIELD        = 0x00004016,
	VM_ENTRY_EXCEPTION_ERROR_CODE   = 0x00004018,
	VM_ENTRY_INSTRUCTION_LEN        = 0x0000401a,
	TPR_THRESHOLD                   = 0x0000401c,
	SECONDARY_VM_EXEC_CONTROL       = 0x0000401e,
	VM_INSTRUCTION_ERROR            = 0x00004400,
	VM_EXIT_REASON                  = 0x00004402,
	VM_EXIT_INTR_INFO               = 0x00004404,
	VM_EXIT_INTR_ERROR_CODE         = 0x00004406,
	IDT_VECTORING_INFO_FIELD        = 0x00004408,
	IDT_VECTORING_ERROR_CODE        = 0x0000440a,
	VM_EXIT_INSTRUCTION_LEN         = 0x0000440c,
	VMX_INSTRUCTION_INFO            = 0x0000440e,
	GUEST_ES_LIMIT                  = 0x00004800,
	GUEST_CS_LIMIT                  = 0x00004802,
	GUEST_SS_LIMIT                  = 0x00004804,
	GUEST_DS_LIMIT                  = 0x00004806,
	GUEST_FS_LIMIT                  = 0x00004808,
	GUEST_GS_LIMIT                  = 0x0000480a,
	GUEST_LDTR_LIMIT                = 0x0000480c,
	GUEST_TR_LIMIT                  = 0x0000480e,
	GUEST_GDTR_LIMIT                = 0x00004810,
	GUEST_IDTR_LIMIT                = 0x00004812,
	GUEST_ES_AR_BYTES               = 0x00004814,
	GUEST_CS_AR_BYTES               = 0x00004816,
	GUEST_SS_AR_BYTES               = 0x00004818,
	GUEST_DS_AR_BYTES               = 0x0000481a,
	GUEST_FS_AR_BYTES               = 0x0000481c,
	GUEST_GS_AR_BYTES               = 0x0000481e,
	GUEST_LDTR_AR_BYTES             = 0x00004820,
	GUEST_TR_AR_BYTES               = 0x00004822,
	GUEST_INTERRUPTIBILITY_INFO     = 0x00004824,
	GUEST_ACTIVITY_STATE            = 0x00004826,
	GUEST_SYSENTER_CS               = 0x0000482a,
	VMX_PREEMPTION_TIMER_VALUE      = 0x0000482e,
	HOST_IA32_SYSENTER_CS           = 0x00004c00,
	CR0_GUEST_HOST_MASK             = 0x00006000,
	CR4_GUEST_HOST_MASK             = 0x00006002,
	CR0_READ_SHADOW                 = 0x00006004,
	CR4_READ_SHADOW                 = 0x00006006,
	CR3_TARGET_VALUE0               = 0x00006008,
	EXIT_QUALIFICATION              = 0x00006400,
	GUEST_LINEAR_ADDRESS            = 0x0000640a,
	GUEST_CR0                       = 0x00006800,
	GUEST_CR3                       = 0x00006802,
	GUEST_CR4                       = 0x00006804,
	GUEST_ES_BASE                   = 0x00006806,
	GUEST_CS_BASE                   = 0x00006808,
	GUEST_SS_BASE                   = 0x0000680a,
	GUEST_DS_BASE                   = 0x0000680c,
	GUEST_FS_BASE                   = 0x0000680e,
	GUEST_GS_BASE                   = 0x00006810,
	GUEST_LDTR_BASE                 = 0x00006812,
	GUEST_TR_BASE                   = 0x00006814,
	GUEST_GDTR_BASE                 = 0x00006816,
	GUEST_IDTR_BASE                 = 0x00006818,
	GUEST_DR7                       = 0x0000681a,
	GUEST_RSP                       = 0x0000681c,
	GUEST_RIP                       = 0x0000681e,
	GUEST_RFLAGS                    = 0x00006820,
	GUEST_PENDING_DBG_EXCEPTIONS    = 0x00006822,
	GUEST_SYSENTER_ESP              = 0x00006824,
	GUEST_SYSENTER_EIP              = 0x00006826,
	HOST_CR0                        = 0x00006c00,
	HOST_CR3                        = 0x00006c02,
	HOST_CR4                        = 0x00006c04,
	HOST_FS_BASE                    = 0x00006c06,
	HOST_GS_BASE                    = 0x00006c08,
	HOST_TR_BASE                    = 0x00006c0a,
	HOST_GDTR_BASE                  = 0x00006c0c,
	HOST_IDTR_BASE                  = 0x00006c0e,
	HOST_IA32_SYSENTER_ESP          = 0x00006c10,
	HOST_IA32_SYSENTER_EIP          = 0x00006c12,
	HOST_RSP                        = 0x00006c14,
	HOST_RIP                        = 0x00006c16,
};
// @end

/* Pin-based VM-execution controls (SDM Vol. 3 25.6.1). */
#define PIN_BASED_EXT_INTR_MASK                 (1u << 0)
#define PIN_BASED_NMI_EXITING                   (1u << 3)
#define PIN_BASED_VIRTUAL_NMIS                  (1u << 5)
#define PIN_BASED_VMX_PREEMPTION_TIMER          (1u << 6)
#define PIN_BASED_POSTED_INTR                   (1u << 7)

/* Primary processor-based VM-execution controls (SDM Vol. 3 25.6.2). */
#define CPU_BASED_INTR_WINDOW_EXITING           (1u << 2)
#define CPU_BASED_USE_TSC_OFFSETTING            (1u << 3)
#define CPU_BASED_HLT_EXITING                   (1u << 7)
#define CPU_BASED_INVLPG_EXITING                (1u << 9)
#define CPU_BASED_MWAIT_EXITING                 (1u << 10)
#define CPU_BASED_RDPMC_EXITING                 (1u << 11)
#define CPU_BASED_RDTSC_EXITING                 (1u << 12)
#define CPU_BASED_CR3_LOAD_EXITING              (1u << 15)
#define CPU_BASED_CR3_STORE_EXITING             (1u << 16)
#define CPU_BASED_CR8_LOAD_EXITING              (1u << 19)
#define CPU_BASED_CR8_STORE_EXITING             (1u << 20)
#define CPU_BASED_TPR_SHADOW                    (1u << 21)
#define CPU_BASED_NMI_WINDOW_EXITING            (1u << 22)
#define CPU_BASED_MOV_DR_EXITING                (1u << 23)
#define CPU_BASED_UNCOND_IO_EXITING             (1u << 24)
#define CPU_BASED_USE_IO_BITMAPS                (1u << 25)
#define CPU_BASED_MONITOR_TRAP_FLAG             (1u << 27)
#define CPU_BASED_USE_MSR_BITMAPS               (1u << 28)
#define CPU_BASED_MONITOR_EXITING               (1u << 29)
#define CPU_BASED_PAUSE_EXITING                 (1u << 30)
#define CPU_BASED_ACTIVATE_SECONDARY_CONTROLS   (1u << 31)

/* Secondary processor-based VM-execution controls (SDM Vol. 3 25.6.2). */
#define SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES (1u << 0)
#define SECONDARY_EXEC_ENABLE_EPT               (1u << 1)
#define SECONDARY_EXEC_DESC                     (1u << 2)
#define SECONDARY_EXEC_ENABLE_RDTSCP            (1u << 3)
#define SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE   (1u << 4)
#define SECONDARY_EXEC_ENABLE_VPID              (1u << 5)
#define SECONDARY_EXEC_WBINVD_EXITING           (1u << 6)
#define SECONDARY_EXEC_UNRESTRICTED_GUEST       (1u << 7)
#define SECONDARY_EXEC_APIC_REGISTER_VIRT       (1u << 8)
#define SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY    (1u << 9)
#define SECONDARY_EXEC_PAUSE_LOOP_EXITING       (1u << 10)
#define SECONDARY_EXEC_ENABLE_INVPCID           (1u << 12)
#define SECONDARY_EXEC_ENABLE_VMFUNC            (1u << 13)
#define SECONDARY_EXEC_SHADOW_VMCS              (1u << 14)
#define SECONDARY_EXEC_ENABLE_PML               (1u << 17)
#define SECONDARY_EXEC_EPT_VIOLATION_VE         (1u << 18)
#define SECONDARY_EXEC_XSAVES                   (1u << 20)

/* VM-exit controls (SDM Vol. 3 25.7.1). */
#define VM_EXIT_SAVE_DEBUG_CONTROLS             (1u << 2)
#define VM_EXIT_HOST_ADDR_SPACE_SIZE            (1u << 9)
#define VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL      (1u << 12)
#define VM_EXIT_ACK_INTR_ON_EXIT                (1u << 15)
#define VM_EXIT_SAVE_IA32_PAT                   (1u << 18)
#define VM_EXIT_LOAD_IA32_PAT                   (1u << 19)
#define VM_EXIT_SAVE_IA32_EFER                  (1u << 20)
#define VM_EXIT_LOAD_IA32_EFER                  (1u << 21)
#define VM_EXIT_SAVE_VMX_PREEMPTION_TIMER       (1u << 22)

/* VM-entry controls (SDM Vol. 3 25.8.1). */
#define VM_ENTRY_LOAD_DEBUG_CONTROLS            (1u << 2)
#define VM_ENTRY_IA32E_MODE                     (1u << 9)
#define VM_ENTRY_SMM                            (1u << 10)
#define VM_ENTRY_DEACT_DUAL_MONITOR             (1u << 11)
#define VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL     (1u << 13)
#define VM_ENTRY_LOAD_IA32_PAT                  (1u << 14)
#define VM_ENTRY_LOAD_IA32_EFER                 (1u << 15)

/* Fields of the VMX capability MSRs (SDM Vol. 3 A.1, A.6). */
#define VMX_BASIC_REVISION_MASK                 0x7fffffffull
#define VMX_BASIC_VMCS_SIZE(basic)              ((uint32_t)(((basic) >> 32) & 0x1fff))
#define VMX_BASIC_32BIT_PHYS_ADDR_ONLY          (1ull << 48)
#define VMX_BASIC_TRUE_CTLS                     (1ull << 55)
#define VMX_MISC_ACTIVITY_HLT                   (1ull << 6)
#define VMX_MISC_ACTIVITY_SHUTDOWN              (1ull << 7)
#define VMX_MISC_ACTIVITY_WAIT_SIPI             (1ull << 8)
#define VMX_MISC_ZERO_LEN_INS                   (1ull << 30)
#define VMX_MISC_CR3_TARGETS(misc)              ((uint32_t)(((misc) >> 16) & 0x1ff))

/* IA32_VMX_EPT_VPID_CAP (SDM Vol. 3 A.10). */
#define VMX_EPT_EXECUTE_ONLY_BIT                (1ull << 0)
#define VMX_EPT_PAGE_WALK_4_BIT                 (1ull << 6)
#define VMX_EPTP_UC_BIT                         (1ull << 8)
#define VMX_EPTP_WB_BIT                         (1ull << 14)
#define VMX_EPT_2MB_PAGE_BIT                    (1ull << 16)
#define VMX_EPT_1GB_PAGE_BIT                    (1ull << 17)
#define VMX_EPT_INVEPT_BIT                      (1ull << 20)
#define VMX_EPT_AD_BIT                          (1ull << 21)
#define VMX_EPT_EXTENT_CONTEXT_BIT              (1ull << 25)
#define VMX_EPT_EXTENT_GLOBAL_BIT               (1ull << 26)
#define VMX_VPID_INVVPID_BIT                    (1ull << 32)
#define VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT      (1ull << 41)
#define VMX_VPID_EXTENT_ALL_CONTEXT_BIT         (1ull << 42)

/* The EPT pointer (SDM Vol. 3 25.6.11). */
#define VMX_EPTP_MT_UC                          0ull
#define VMX_EPTP_MT_WB                          6ull
#define VMX_EPTP_PWL_SHIFT                      3       /* page-walk length - 1 */
#define VMX_EPTP_AD_ENABLE_BIT                  (1ull << 6)

/* EPT paging-structure entries (SDM Vol. 3 29.3.2, Tables 29-1 to 29-6). An
 * entry is present when any of bits 2:0 is set. */
#define VMX_EPT_READABLE_MASK                   (1ull << 0)
#define VMX_EPT_WRITABLE_MASK                   (1ull << 1)
#define VMX_EPT_EXECUTABLE_MASK                 (1ull << 2)
#define VMX_EPT_RWX_MASK                        7ull
#define VMX_EPT_MT_EPTE_SHIFT                   3       /* leaves: bits 5:3, the memory type */
#define VMX_EPT_MT_MASK                         (7ull << VMX_EPT_MT_EPTE_SHIFT)
#define VMX_EPT_IPAT_BIT                        (1ull << 6) /* leaves: ignore the guest's PAT */
#define VMX_EPT_LARGE_PAGE_BIT                  (1ull << 7) /* PDPTE/PDE: maps a 1 GiB/2 MiB page */
#define VMX_EPT_ACCESS_BIT                      (1ull << 8)
#define VMX_EPT_DIRTY_BIT                       (1ull << 9) /* leaves */
#define VMX_EPT_SUPPRESS_VE_BIT                 (1ull << 63)
/* Memory types (SDM Vol. 3 11.11, Table 11-8) as EPT leaves and the EPTP use them. */
#define VMX_EPT_MT_UC                           0ull
#define VMX_EPT_MT_WB                           6ull

/* The exit qualification of an EPT violation (SDM Vol. 3 28.2.1, Table 28-7). */
#define EPT_VIOLATION_ACC_READ                  (1ull << 0)
#define EPT_VIOLATION_ACC_WRITE                 (1ull << 1)
#define EPT_VIOLATION_ACC_INSTR                 (1ull << 2)
#define EPT_VIOLATION_RWX_SHIFT                 3       /* bits 5:3: what the entry allowed */
#define EPT_VIOLATION_RWX_MASK                  (VMX_EPT_RWX_MASK << EPT_VIOLATION_RWX_SHIFT)
#define EPT_VIOLATION_GVA_IS_VALID              (1ull << 7) /* a guest-linear address caused it */
#define EPT_VIOLATION_GVA_TRANSLATED            (1ull << 8) /* ...its final translation, not a table read */
#define EPT_VIOLATION_NMI_UNBLOCKING            (1ull << 12)

/* INVEPT and INVVPID types (SDM Vol. 3 31.3). */
#define VMX_EPT_EXTENT_CONTEXT                  1
#define VMX_EPT_EXTENT_GLOBAL                   2
#define VMX_VPID_EXTENT_INDIVIDUAL_ADDR         0
#define VMX_VPID_EXTENT_SINGLE_CONTEXT          1
#define VMX_VPID_EXTENT_ALL_CONTEXT             2

/* Basic exit reasons (SDM Vol. 3 Appendix C); bit 31 of the exit-reason field
 * marks a VM-entry failure (SDM Vol. 3 27.8). */
// @region exit_reasons
enum vmx_exit_reason {
	EXIT_REASON_EXCEPTION_NMI       = 0,
	EXIT_REASON_EXTERNAL_INTERRUPT  = 1,
	EXIT_REASON_TRIPLE_FAULT        = 2,
	EXIT_REASON_INIT_SIGNAL         = 3,
	EXIT_REASON_SIPI_SIGNAL         = 4,
	EXIT_REASON_IO_SMI              = 5,
	EXIT_REASON_OTHER_SMI           = 6,
	EXIT_REASON_INTERRUPT_WINDOW    = 7,
	EXIT_REASON_NMI_WINDOW          = 8,
	EXIT_REASON_TASK_SWITCH         = 9,
	EXIT_REASON_CPUID               = 10,
	EXIT_REASON_GETSEC              = 11,
	EXIT_REASON_HLT                 = 12,
	EXIT_REASON_INVD                = 13,
	EXIT_REASON_INVLPG              = 14,
	EXIT_REASON_RDPMC               = 15,
	EXIT_REASON_RDTSC               = 16,
	EXIT_REASON_RSM                 = 17,
	EXIT_REASON_VMCALL              = 18,
	EXIT_REASON_VMCLEAR             = 19,
	EXIT_REASON_VMLAUNCH            = 20,
	EXIT_REASON_VMPTRLD             = 21,
	EXIT_REASON_VMPTRST             = 22,
	EXIT_REASON_VMREAD              = 23,
	EXIT_REASON_VMRESUME            = 24,
	EXIT_REASON_VMWRITE             = 25,
	EXIT_REASON_VMOFF               = 26,
	EXIT_REASON_VMON                = 27,
	EXIT_REASON_CR_ACCESS           = 28,
	EXIT_REASON_DR_ACCESS           = 29,
	EXIT_REASON_IO_INSTRUCTION      = 30,
	EXIT_REASON_MSR_READ            = 31,
	EXIT_REASON_MSR_WRITE           = 32,
	EXIT_REASON_INVALID_STATE       = 33,
	EXIT_REASON_MSR_LOAD_FAIL       = 34,
	EXIT_REASON_MWAIT_INSTRUCTION   = 36,
	EXIT_REASON_MONITOR_TRAP_FLAG   = 37,
	EXIT_REASON_MONITOR_INSTRUCTION = 39,
	EXIT_REASON_PAUSE_INSTRUCTION   = 40,
	EXIT_REASON_MCE_DURING_VMENTRY  = 41,
	EXIT_REASON_TPR_BELOW_THRESHOLD = 43,
	EXIT_REASON_APIC_ACCESS         = 44,
	EXIT_REASON_EOI_INDUCED         = 45,
	EXIT_REASON_GDTR_IDTR           = 46,
	EXIT_REASON_LDTR_TR             = 47,
	EXIT_REASON_EPT_VIOLATION       = 48,
	EXIT_REASON_EPT_MISCONFIG       = 49,
	EXIT_REASON_INVEPT              = 50,
	EXIT_REASON_RDTSCP              = 51,
	EXIT_REASON_PREEMPTION_TIMER    = 52,
	EXIT_REASON_INVVPID             = 53,
	EXIT_REASON_WBINVD              = 54,
	EXIT_REASON_XSETBV              = 55,
	EXIT_REASON_APIC_WRITE          = 56,
	EXIT_REASON_RDRAND              = 57,
	EXIT_REASON_INVPCID             = 58,
	EXIT_REASON_VMFUNC              = 59,
	EXIT_REASON_ENCLS               = 60,
	EXIT_REASON_RDSEED              = 61,
	EXIT_REASON_PML_FULL            = 62,
	EXIT_REASON_XSAVES              = 63,
	EXIT_REASON_XRSTORS             = 64,
	EXIT_REASON_UMWAIT              = 67,
	EXIT_REASON_TPAUSE              = 68,
	EXIT_REASON_BUS_LOCK            = 74,
	EXIT_REASON_NOTIFY              = 75,
	EXIT_REASON_MAX                 = 76,
};
#define VMX_EXIT_REASON_BASIC(full)            ((full) & 0xffffu)
#define VMX_EXIT_REASON_FAILED_VMENTRY         (1u << 31)
// @end

/* VM-instruction errors a VM entry can end with (SDM Vol. 3 31.4, Table 31-1;
 * Linux: enum vm_instruction_error_number). vmx_names.c names them all. */
#define VMXERR_ENTRY_INVALID_CONTROL_FIELD     7
#define VMXERR_ENTRY_INVALID_HOST_STATE_FIELD  8

/* VM-entry / VM-exit interruption-information fields (SDM Vol. 3 25.8.3, 25.9.2). */
#define INTR_INFO_VECTOR_MASK          0xffu
#define INTR_INFO_INTR_TYPE_MASK       0x700u
#define INTR_INFO_INTR_TYPE_SHIFT      8
#define INTR_INFO_DELIVER_CODE_MASK    (1u << 11)
#define INTR_INFO_UNBLOCK_NMI          (1u << 12)
#define INTR_INFO_VALID_MASK           (1u << 31)
#define INTR_TYPE_EXT_INTR             (0u << 8)
#define INTR_TYPE_RESERVED             (1u << 8)
#define INTR_TYPE_NMI_INTR             (2u << 8)
#define INTR_TYPE_HARD_EXCEPTION       (3u << 8)
#define INTR_TYPE_SOFT_INTR            (4u << 8)
#define INTR_TYPE_PRIV_SW_EXCEPTION    (5u << 8)
#define INTR_TYPE_SOFT_EXCEPTION       (6u << 8)
#define INTR_TYPE_OTHER_EVENT          (7u << 8)

/* Guest interruptibility state (SDM Vol. 3 25.4.2, Table 25-3). */
#define GUEST_INTR_STATE_STI           (1u << 0)
#define GUEST_INTR_STATE_MOV_SS        (1u << 1)
#define GUEST_INTR_STATE_SMI           (1u << 2)
#define GUEST_INTR_STATE_NMI           (1u << 3)
#define GUEST_INTR_STATE_ENCLAVE_INTR  (1u << 4)

/* Guest activity states (SDM Vol. 3 25.4.2). */
#define GUEST_ACTIVITY_ACTIVE          0
#define GUEST_ACTIVITY_HLT             1
#define GUEST_ACTIVITY_SHUTDOWN        2
#define GUEST_ACTIVITY_WAIT_SIPI       3

/* Segment access rights in the VMCS (SDM Vol. 3 25.4.1, Table 25-2). */
#define VMX_AR_TYPE_MASK               0x0fu
#define VMX_AR_TYPE_ACCESSED           (1u << 0)
#define VMX_AR_TYPE_WRITEABLE          (1u << 1)
#define VMX_AR_TYPE_READABLE           (1u << 1)
#define VMX_AR_TYPE_CONFORMING         (1u << 2)
#define VMX_AR_TYPE_CODE               (1u << 3)
#define VMX_AR_S                       (1u << 4)
#define VMX_AR_DPL_SHIFT               5
#define VMX_AR_DPL(ar)                 (((ar) >> 5) & 3u)
#define VMX_AR_P                       (1u << 7)
#define VMX_AR_AVL                     (1u << 12)
#define VMX_AR_L                       (1u << 13)
#define VMX_AR_DB                      (1u << 14)
#define VMX_AR_G                       (1u << 15)
#define VMX_AR_UNUSABLE                (1u << 16)
#define VMX_AR_RESERVED_MASK           0xfffe0f00u

#endif
