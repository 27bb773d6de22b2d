/* SPDX-License-Identifier: MIT */
/*
 * The IOAPIC (Linux: arch/x86/kvm/ioapic.h): 24 pins, a redirection table,
 * its MMIO window at 0xfec00000 (IOREGSEL at +0x00, IOWIN at +0x10), edge and
 * level pins with Remote IRR, EOI from the LAPICs (82093AA datasheet; Linux
 * ioapic.c).
 */
#ifndef KVMLABS_KVM_IOAPIC_H
#define KVMLABS_KVM_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "iodev.h"

struct kvm;
struct kvm_vcpu;

#define IOAPIC_NUM_PINS         KVM_IOAPIC_NUM_PINS   /* 24 */
#define IOAPIC_DEFAULT_BASE_ADDRESS 0xfec00000ull
#define IOAPIC_MEM_LENGTH       0x100

union kvm_ioapic_redirect_entry {
	uint64_t bits;
	struct {
		uint8_t vector;
		uint8_t delivery_mode : 3;
		uint8_t dest_mode : 1;
		uint8_t delivery_status : 1;
		uint8_t polarity : 1;
		uint8_t remote_irr : 1;
		uint8_t trig_mode : 1;
		uint8_t mask : 1;
		uint8_t reserve : 7;
		uint8_t reserved[4];
		uint8_t dest_id;
	} fields;
};

struct kvm_ioapic {
	uint64_t base_address;
	uint32_t ioregsel;
	uint32_t id;
	uint32_t irr;             /* pins asserted (level) or latched (edge) */
	uint32_t irr_delivered;
	union kvm_ioapic_redirect_entry redirtbl[IOAPIC_NUM_PINS];
	struct kvm_io_device dev;
	struct kvm *kvm;
};

int kvm_ioapic_init(struct kvm *kvm);
void kvm_ioapic_destroy(struct kvm *kvm);
/* A pin's level from a device or KVM_IRQ_LINE (Linux: kvm_ioapic_set_irq). */
int kvm_ioapic_set_irq(struct kvm_ioapic *ioapic, int irq, int level);
/* A LAPIC's EOI of vector (level-triggered in its TMR): clear Remote IRR of
 * the pins with that vector, and deliver again if still asserted
 * (Linux: kvm_ioapic_update_eoi). */
void kvm_ioapic_update_eoi(struct kvm_vcpu *vcpu, int vector, int trigger_mode);
/* KVM_GET_IRQCHIP / KVM_SET_IRQCHIP (KVM_IRQCHIP_IOAPIC). */
void kvm_get_ioapic(struct kvm *kvm, struct kvm_ioapic_state *state);
void kvm_set_ioapic(struct kvm *kvm, const struct kvm_ioapic_state *state);

#endif
