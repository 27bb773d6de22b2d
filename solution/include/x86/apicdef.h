/* SPDX-License-Identifier: MIT */
/*
 * Local APIC registers (offsets from APIC_DEFAULT_PHYS_BASE, msr-index.h),
 * their fields, and the interrupt command register's (SDM Vol. 3A 11.4.1
 * table 11-1, 11.5.1 figure 11-8, 11.6.1 figure 11-12). xAPIC only.
 * Linux: arch/x86/include/asm/apicdef.h, same names and values.
 * Usable from C and assembly.
 */
#ifndef KVMLABS_X86_APICDEF_H
#define KVMLABS_X86_APICDEF_H

/* ---- the register page (table 11-1): each register 16-byte aligned -------- */
#define APIC_ID                 0x020   /* bits 31:24 the APIC ID */
#define APIC_LVR                0x030   /* version: 7:0 version, 23:16 max LVT entry */
#define APIC_TASKPRI            0x080   /* task priority (TPR) */
#define APIC_TPRI_MASK          0xff
#define APIC_ARBPRI             0x090   /* arbitration priority (not on xAPICs since P4: reads 0) */
#define APIC_PROCPRI            0x0a0   /* processor priority (PPR), read-only */
#define APIC_EOI                0x0b0   /* end of interrupt: write 0 */
#define APIC_EOI_ACK            0x0
#define APIC_RRR                0x0c0   /* remote read (not on xAPICs) */
#define APIC_LDR                0x0d0   /* logical destination: bits 31:24 */
#define APIC_LDR_MASK           0xff000000
#define GET_APIC_LOGICAL_ID(x)  (((x) >> 24) & 0xff)
#define APIC_DFR                0x0e0   /* destination format: 31:28 model, the rest ones */
#define APIC_DFR_CLUSTER        0x0fffffff
#define APIC_DFR_FLAT           0xffffffff
#define APIC_SPIV               0x0f0   /* spurious-interrupt vector register */
#define APIC_SPIV_FOCUS_DISABLED 0x200  /* focus processor checking off */
#define APIC_SPIV_APIC_ENABLED  0x100   /* APIC software enable */
#define APIC_ISR                0x100   /* in-service: 8 x 32 bits, stride 0x10 */
#define APIC_TMR                0x180   /* trigger mode: 8 x 32 bits, stride 0x10 */
#define APIC_IRR                0x200   /* interrupt request: 8 x 32 bits, stride 0x10 */
#define APIC_ESR                0x280   /* error status */
#define APIC_LVTCMCI            0x2f0   /* corrected machine-check LVT (not modelled) */
#define APIC_ICR                0x300   /* interrupt command, low half: writing it sends */
#define APIC_ICR2               0x310   /* interrupt command, high half: destination in 31:24 */
#define SET_APIC_DEST_FIELD(x)  ((x) << 24)
#define GET_APIC_DEST_FIELD(x)  (((x) >> 24) & 0xff)
#define APIC_LVTT               0x320   /* LVT timer */
#define APIC_LVTTHMR            0x330   /* LVT thermal sensor */
#define APIC_LVTPC              0x340   /* LVT performance counters */
#define APIC_LVT0               0x350   /* LVT LINT0 (the PIC's INTR as ExtINT) */
#define APIC_LVT1               0x360   /* LVT LINT1 (NMI) */
#define APIC_LVTERR             0x370   /* LVT error */
#define APIC_TMICT              0x380   /* timer initial count */
#define APIC_TMCCT              0x390   /* timer current count, read-only */
#define APIC_TDCR               0x3e0   /* timer divide configuration */

/* ---- the interrupt command register (figure 11-12) ------------------------- */
#define APIC_VECTOR_MASK        0x000ff
#define APIC_DM_FIXED           0x00000 /* delivery modes, bits 10:8 */
#define APIC_DM_FIXED_MASK      0x00700
#define APIC_DM_LOWEST          0x00100 /* lowest priority */
#define APIC_DM_SMI             0x00200
#define APIC_DM_REMRD           0x00300 /* remote read (not on xAPICs) */
#define APIC_DM_NMI             0x00400
#define APIC_DM_INIT            0x00500 /* delivery mode INIT */
#define APIC_DM_STARTUP         0x00600 /* delivery mode start-up (SIPI): vector = page number */
#define APIC_DM_EXTINT          0x00700
#define APIC_DEST_PHYSICAL      0x00000 /* destination mode, bit 11 */
#define APIC_DEST_LOGICAL       0x00800
#define APIC_DEST_MASK          0x00800
#define APIC_ICR_BUSY           0x01000 /* delivery status: send pending */
#define APIC_INT_ASSERT         0x04000 /* level: assert */
#define APIC_INT_LEVELTRIG      0x08000 /* trigger mode: level */
#define APIC_DEST_NOSHORT       0x00000 /* destination shorthand, bits 19:18 */
#define APIC_DEST_SELF          0x40000 /* destination shorthand: self */
#define APIC_DEST_ALLINC        0x80000 /* all including self */
#define APIC_DEST_ALLBUT        0xc0000 /* destination shorthand: all excluding self */
#define APIC_SHORT_MASK         0xc0000
#define APIC_BROADCAST          0xff    /* xAPIC destination that names every APIC */

/* ---- local vector table entries (figure 11-8) ----------------------------- */
#define APIC_MODE_MASK          0x700   /* delivery mode (LINT0/1, thermal, PMC) */
#define GET_APIC_DELIVERY_MODE(x) (((x) >> 8) & 0x7)
#define APIC_MODE_FIXED         0x0
#define APIC_MODE_NMI           0x4
#define APIC_MODE_EXTINT        0x7
#define APIC_SEND_PENDING       0x1000  /* delivery status, read-only */
#define APIC_INPUT_POLARITY     0x2000
#define APIC_LVT_REMOTE_IRR     0x4000
#define APIC_LVT_LEVEL_TRIGGER  0x8000
#define APIC_LVT_MASKED         0x10000
#define APIC_LVT_TIMER_ONESHOT  (0 << 17)   /* timer mode, bits 18:17 */
#define APIC_LVT_TIMER_PERIODIC (1 << 17)
#define APIC_LVT_TIMER_TSCDEADLINE (2 << 17)
#define APIC_LVT_TIMER_MASK     (3 << 17)

/* ---- the timer's divide configuration (figure 11-10): bits 3, 1:0 --------- */
#define APIC_TDR_DIV_MASK       0xb
#define APIC_TDR_DIV_1          0xb
#define APIC_TDR_DIV_2          0x0
#define APIC_TDR_DIV_4          0x1
#define APIC_TDR_DIV_8          0x2
#define APIC_TDR_DIV_16         0x3
#define APIC_TDR_DIV_32         0x8
#define APIC_TDR_DIV_64         0x9
#define APIC_TDR_DIV_128        0xa

#endif
