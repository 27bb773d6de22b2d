/* SPDX-License-Identifier: MIT */
/*
 * The local APIC of each vCPU (Linux: arch/x86/kvm/lapic.h). xAPIC mode
 * only: the 4 KiB register page at IA32_APIC_BASE (default 0xfee00000),
 * reached through the emulator's MMIO path (the page has no memslot), SDM
 * Vol. 3A chapter 11.
 */
#ifndef KVMLABS_KVM_LAPIC_H
#define KVMLABS_KVM_LAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "iodev.h"

struct kvm;
struct kvm_vcpu;

/* kvm_lapic_irq.trig_mode (Linux: IOAPIC_EDGE_TRIG / IOAPIC_LEVEL_TRIG). */
#define APIC_EDGE_TRIG  0
#define APIC_LEVEL_TRIG 1

/* Register offsets, delivery modes (APIC_DM_*), LVT bits and the like are
 * in x86/apicdef.h (SDM Vol. 3A 11.4-11.6; Linux: asm/apicdef.h). */

/* An interrupt on its way to LAPICs (Linux: struct kvm_lapic_irq): from the
 * IOAPIC's redirection table, an MSI, or a LAPIC's ICR. */
struct kvm_lapic_irq {
	uint32_t vector;
	uint32_t delivery_mode;   /* APIC_DM_FIXED, _LOWEST, _SMI, _NMI, _INIT, _STARTUP, _EXTINT */
	uint32_t dest_mode;       /* APIC_DEST_PHYSICAL or APIC_DEST_LOGICAL */
	bool level;               /* assert (INIT level de-assert is ignored) */
	uint32_t trig_mode;       /* APIC_EDGE_TRIG (0) or APIC_LEVEL_TRIG (1) */
	uint32_t shorthand;       /* APIC_DEST_NOSHORT, _SELF, _ALLINC, _ALLBUT */
	uint32_t dest_id;         /* 8-bit xAPIC destination */
};

/* The LAPIC timer (Linux: struct kvm_timer). Times are host_clock_ns(). */
struct kvm_timer {
	uint64_t target_ns;       /* when it fires next; 0: not armed */
	uint64_t period_ns;       /* periodic mode: the reload, in ns */
	uint64_t tscdeadline;     /* TSC-deadline mode: the guest TSC value */
	uint32_t timer_mode;      /* APIC_LVT_TIMER_ONESHOT, _PERIODIC, _TSCDEADLINE */
	uint32_t timer_mode_mask;
	bool pending;             /* expired, its interrupt not yet in IRR */
};

struct kvm_lapic {
	uint64_t base_address;    /* IA32_APIC_BASE[51:12] << 12 */
	struct kvm_io_device dev; /* on the vCPU's own MMIO path, not the VM's bus */
	struct kvm_timer lapic_timer;
	uint32_t divide_count;    /* from TDCR: 1, 2, 4, ..., 128 */
	struct kvm_vcpu *vcpu;
	bool sw_enabled;          /* SVR bit 8 */
	bool irr_pending;
	int isr_count;
	int highest_isr_cache;    /* -1: unknown */
	/* INIT and SIPI wait here until the target vCPU takes them
	 * (kvm_apic_accept_events; Linux: pending_events). */
	unsigned long pending_events;
	unsigned int sipi_vector;
	uint8_t regs[4096];       /* the register page, as the guest sees it (KVM_GET_LAPIC's first 1 KiB) */
};

#define KVM_APIC_INIT 0
#define KVM_APIC_SIPI 1

int kvm_create_lapic(struct kvm_vcpu *vcpu);
void kvm_free_lapic(struct kvm_vcpu *vcpu);
/* Reset (power-on, or INIT when init_event). */
void kvm_lapic_reset(struct kvm_vcpu *vcpu, bool init_event);
/* WRMSR IA32_APIC_BASE (never clear EN in the host: BOCHS-VMX.md 4). */
void kvm_lapic_set_base(struct kvm_vcpu *vcpu, uint64_t value);
/* MMIO: the vCPU's LAPIC page, if addr is in it (vcpu_mmio_read/write ask first). */
int kvm_lapic_mmio_read(struct kvm_vcpu *vcpu, uint64_t addr, int len, void *val);
int kvm_lapic_mmio_write(struct kvm_vcpu *vcpu, uint64_t addr, int len, const void *val);

/* The highest vector in IRR that PPR lets through, or -1 (Linux: kvm_apic_has_interrupt). */
int kvm_apic_has_interrupt(struct kvm_vcpu *vcpu);
/* INTA: move that vector from IRR to ISR and return it, or -1 (Linux: kvm_get_apic_interrupt). */
int kvm_get_apic_interrupt(struct kvm_vcpu *vcpu);
/* Does LVT0 take the PIC's INTR (ExtINT), or is the APIC off (Linux: kvm_apic_accept_pic_intr)? */
int kvm_apic_accept_pic_intr(struct kvm_vcpu *vcpu);
/* Deliver irq to this LAPIC (Linux: kvm_apic_set_irq → __apic_accept_irq): fixed
 * and lowest-priority into IRR (TMR for level), NMI, INIT, SIPI; kicks the vCPU. */
int kvm_apic_set_irq(struct kvm_vcpu *vcpu, struct kvm_lapic_irq *irq);
/* Deliver to every LAPIC irq's destination names (Linux: kvm_irq_delivery_to_apic);
 * src is the sender for shorthands (NULL from the IOAPIC or an MSI). Returns the
 * number of LAPICs that took it, -1 if none matched. */
int kvm_irq_delivery_to_apic(struct kvm *kvm, struct kvm_lapic *src, struct kvm_lapic_irq *irq);
/* Does this LAPIC match a destination (Linux: kvm_apic_match_dest)? */
bool kvm_apic_match_dest(struct kvm_vcpu *vcpu, struct kvm_lapic *src, int shorthand, unsigned int dest,
			 int dest_mode);

/* Timers: when the LAPIC timer fires next (host_clock_ns() time, UINT64_MAX
 * if never), and fire it if that time has come (apic_timer_expired: the LVTT
 * vector into IRR, re-armed when periodic). */
uint64_t kvm_lapic_next_event_ns(struct kvm_vcpu *vcpu);
void kvm_lapic_check_timer(struct kvm_vcpu *vcpu);
/* The guest's TSC now: the host's plus the vCPU's offset (x86.c; its rate is
 * host_tsc_khz()), for TSC-deadline mode. */
uint64_t kvm_read_l1_tsc(struct kvm_vcpu *vcpu);

/* MSR IA32_TSC_DEADLINE (0x6e0, SDM Vol. 3A 11.5.4.1): the guest TSC value
 * at which the timer fires in TSC-deadline mode; 0 disarms it. Outside that
 * mode writes are ignored and reads give 0. */
void kvm_set_lapic_tscdeadline_msr(struct kvm_vcpu *vcpu, uint64_t data);
uint64_t kvm_get_lapic_tscdeadline_msr(struct kvm_vcpu *vcpu);

/* CR8 is TPR[7:4] (SDM Vol. 3A 11.8.6; Linux: kvm_lapic_set_tpr, kvm_lapic_get_cr8). */
void kvm_lapic_set_tpr(struct kvm_vcpu *vcpu, uint64_t cr8);
uint64_t kvm_lapic_get_cr8(struct kvm_vcpu *vcpu);

/* Reset the vCPU's registers to their power-on or, with init_event, their
 * INIT values (SDM Vol. 3A 10.1.1 table 10-1), its LAPIC included through
 * kvm_lapic_reset (x86.c; Linux: kvm_vcpu_reset). kvm_apic_accept_events
 * calls it for an INIT. */
void kvm_vcpu_reset(struct kvm_vcpu *vcpu, bool init_event);

/* INIT and SIPI (Linux: kvm_apic_accept_events): before an entry, a pending
 * INIT resets the vCPU to KVM_MP_STATE_INIT_RECEIVED (the BSP excepted); a
 * SIPI then starts it at vector << 12 in real mode. */
void kvm_apic_accept_events(struct kvm_vcpu *vcpu);

/* KVM_GET_LAPIC / KVM_SET_LAPIC: the first 1 KiB of the register page. */
int kvm_apic_get_state(struct kvm_vcpu *vcpu, struct kvm_lapic_state *s);
int kvm_apic_set_state(struct kvm_vcpu *vcpu, const struct kvm_lapic_state *s);

/* EOI for a level-triggered vector goes to the IOAPIC (ioapic.h). */

#endif
