/* SPDX-License-Identifier: MIT */
/*
 * Local APIC registers (offsets from APIC_DEFAULT_PHYS_BASE, msr-index.h)
 * and the interrupt command register's fields kvmlabs uses (SDM Vol. 3A
 * 11.4.1 table 11-1, 11.6.1 figure 11-12). Linux: arch/x86/include/asm/apicdef.h.
 * Usable from C and assembly.
 */
#ifndef KVMLABS_X86_APICDEF_H
#define KVMLABS_X86_APICDEF_H

#define APIC_ID                 0x020   /* bits 31:24 the APIC ID */
#define APIC_EOI                0x0b0   /* end of interrupt: write 0 */
#define APIC_SPIV               0x0f0   /* spurious-interrupt vector register */
#define APIC_SPIV_APIC_ENABLED  0x100   /* APIC software enable */
#define APIC_ICR                0x300   /* interrupt command, low half: writing it sends */
#define APIC_ICR2               0x310   /* interrupt command, high half: destination in 31:24 */
#define APIC_DEST_SELF          0x40000 /* destination shorthand: self */
#define APIC_DEST_ALLBUT        0xc0000 /* destination shorthand: all excluding self */
#define APIC_ICR_BUSY           0x1000  /* delivery status: send pending */
#define APIC_INT_ASSERT         0x4000  /* level: assert */
#define APIC_DM_INIT            0x500   /* delivery mode INIT */
#define APIC_DM_STARTUP         0x600   /* delivery mode start-up (SIPI): vector = page number */

#endif
