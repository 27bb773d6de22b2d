/* SPDX-License-Identifier: MIT */
/*
 * Application processors started the standard way, as the kvm-unit-tests do
 * (lib/x86/smp.c, x86/trampolines.S): the BSP copies a real-mode trampoline
 * to a page below 1 MiB, software-enables its local APIC and sends INIT, then
 * a start-up IPI, to all but itself (SDM Vol. 3A 9.4.4.1, "Typical BSP
 * Initialization Sequence"; 11.6.1, the ICR). Each AP wakes in real mode at
 * CS:IP = vector << 8 : 0, records its CS, switches to protected mode on the
 * BSP's GDT, loads the BSP's IDT, takes a stack of its own and calls the
 * entry given to ap_start_all() with interrupts off. For multiboot guests
 * (linked into every mb-*.elf).
 */
#ifndef RT_AP_H
#define RT_AP_H

#include <x86/apicdef.h>
#include <x86/msr-index.h>

#include "rt.h"

#define AP_TRAMPOLINE_GPA 0x8000 /* SIPI vector 0x08: a free page below 1 MiB (guest_abi.h map) */
#define AP_SIPI_VECTOR    (AP_TRAMPOLINE_GPA >> 12)
#define AP_MAX            7
#define AP_STACK          4096
#define AP_ICR_WAIT       500000 /* rounds of polling the ICR's delivery status */

static inline uint32_t apic_read(uint32_t reg) { return mmio_read32(APIC_DEFAULT_PHYS_BASE + reg); }
static inline void apic_write(uint32_t reg, uint32_t v) { mmio_write32(APIC_DEFAULT_PHYS_BASE + reg, v); }

/* Send an IPI: the destination's APIC ID into ICR2, then the command into
 * ICR, which sends it; wait (bounded) while the delivery status says pending. */
void apic_send_ipi(uint32_t dest_apic_id, uint32_t icr);

/* Software-enable this CPU's local APIC (SPIV bit 8, spurious vector 0xff). */
void apic_sw_enable(void);

/* Copy the trampoline, enable the local APIC and send INIT then SIPI to all
 * but this CPU; each AP that starts calls entry(). Returns at once: the
 * caller waits for its APs to check in, in its own way. */
void ap_start_all(void (*entry)(void));

/* The CS the trampoline recorded in real mode (0 until an AP ran it). */
uint16_t ap_trampoline_cs(void);

#endif
