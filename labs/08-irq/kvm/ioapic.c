/* SPDX-License-Identifier: MIT */
/*
 * The I/O APIC (Linux: arch/x86/kvm/ioapic.c; Intel 82093AA datasheet).
 *
 * 24 input pins, each with a 64-bit redirection table entry (RTE) that says
 * where its interrupt goes: vector, delivery mode, physical or logical
 * destination, edge or level trigger, mask. The guest reaches the registers
 * through two MMIO words (82093AA 3.1): it writes a register index into
 * IOREGSEL (base + 0x00) and reads or writes that register through IOWIN
 * (base + 0x10). The indexed registers (82093AA 3.2):
 *
 *   0x00        IOAPICID   bits 27:24 the ID
 *   0x01        IOAPICVER  read-only: max RTE index (23) in 23:16, version 0x11
 *   0x02        IOAPICARB  read-only: arbitration ID, bits 27:24
 *   0x10 + 2n   RTE n, low dword (vector, modes, status, mask)
 *   0x11 + 2n   RTE n, high dword (destination in 31:24)
 *
 * A pin becomes an interrupt message to the LAPICs (kvm_irq_delivery_to_apic)
 * in two ways, by its RTE's trigger mode:
 *
 *   edge   a rising edge sends one message; while the pin is masked an edge
 *          is dropped, not held (82093AA 3.2.4, bit 16);
 *   level  while the pin is asserted a message is sent whenever Remote IRR is
 *          clear; sending sets Remote IRR, and the EOI of that vector by a
 *          LAPIC clears it (kvm_ioapic_update_eoi), so a line still asserted
 *          after the handler's EOI is delivered again (82093AA 3.2.4, bit 14).
 *
 * The level the devices and KVM_IRQ_LINE give is the line's logical state
 * (1: asserted), whatever the RTE's polarity bit says: as in KVM, the
 * polarity is stored for the guest to read back and not applied, since the
 * board wiring it describes does not exist here.
 *
 * Not done (Linux does them): the 0x20 IOAPIC's EOI register, the RTC's
 * coalescing on pin 8, the interrupt-storm deferral after many successive
 * level re-deliveries, and one level per interrupt source (a pin here has one
 * level, set by whoever spoke last).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <x86/apicdef.h>
#include "kvmlabs/lab.h"
#include "ioapic.h"
#include "irq.h"
#include "kvm_host.h"
#include "lapic.h"

/* Indexed registers (82093AA 3.2) and the window (3.1). */
#define IOAPIC_REG_SELECT   0x00
#define IOAPIC_REG_WINDOW   0x10
#define IOAPIC_REG_APIC_ID  0x00
#define IOAPIC_REG_VERSION  0x01
#define IOAPIC_REG_ARB_ID   0x02
#define IOAPIC_REG_REDIRTBL 0x10

#define IOAPIC_VERSION_ID   0x11
/* IOAPICVER: the highest RTE index in 23:16, the version in 7:0: 0x00170011. */
#define IOAPIC_VERSION_VAL  (((uint32_t)(IOAPIC_NUM_PINS - 1) << 16) | IOAPIC_VERSION_ID)

static struct kvm_ioapic *to_ioapic(struct kvm_io_device *dev)
{
	return container_of(dev, struct kvm_ioapic, dev);
}

/* Send pin irq's interrupt to the LAPICs its RTE names (Linux:
 * ioapic_service). Nothing is sent while the pin is masked, or, for a level
 * pin, while Remote IRR says the last message is not yet EOI'd. Returns the
 * number of LAPICs that took it, or -1. */
static int ioapic_service(struct kvm_ioapic *ioapic, int irq)
{
	union kvm_ioapic_redirect_entry *entry = &ioapic->redirtbl[irq];

	if (entry->fields.mask || (entry->fields.trig_mode == APIC_LEVEL_TRIG && entry->fields.remote_irr))
		return -1;

	/* The RTE's fields are the ICR's at other places: delivery mode is
	 * ICR bits 10:8 (APIC_DM_*), destination mode bit 11 (82093AA 3.2.4). */
	struct kvm_lapic_irq irqe = {
		.vector = entry->fields.vector,
		.delivery_mode = (uint32_t)entry->fields.delivery_mode << 8,
		.dest_mode = entry->fields.dest_mode ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL,
		.level = true,
		.trig_mode = entry->fields.trig_mode,
		.shorthand = APIC_DEST_NOSHORT,
		.dest_id = entry->fields.dest_id,
	};

	/* An edge sent is done with; KVM_GET_IRQCHIP must not report it as
	 * still pending, or a restore would send it twice (kvm_get_ioapic). */
	if (irqe.trig_mode == APIC_EDGE_TRIG)
		ioapic->irr_delivered |= 1u << irq;

	int ret = kvm_irq_delivery_to_apic(ioapic->kvm, NULL, &irqe);
	/* Remote IRR: "set when the local APIC(s) accept the level interrupt
	 * sent by the IOAPIC" (82093AA 3.2.4, bit 14). */
	if (ret > 0 && irqe.trig_mode == APIC_LEVEL_TRIG)
		entry->fields.remote_irr = 1;
	return ret;
}

/* The pin's new level (Linux: ioapic_set_irq). Returns what ioapic_service
 * returned if a message went out, 0 when nothing was to be sent (an edge pin
 * already high), 1 for a level lowered. */
static int ioapic_set_irq(struct kvm_ioapic *ioapic, int irq, int level)
{
	// @lab 08 ioapic_set_irq: track the pin's level in irr; send on a rising edge (edge pins) or while asserted (level pins).
	(void)ioapic, (void)irq, (void)level;
	lab_todo(8, "ioapic_set_irq");
	// @end
}

int kvm_ioapic_set_irq(struct kvm_ioapic *ioapic, int irq, int level)
{
	if (!ioapic || irq < 0 || irq >= IOAPIC_NUM_PINS)
		return -1;
	return ioapic_set_irq(ioapic, irq, level);
}

void kvm_ioapic_update_eoi(struct kvm_vcpu *vcpu, int vector, int trigger_mode)
{
	struct kvm_ioapic *ioapic = vcpu->kvm->arch.vioapic;
	if (!ioapic)
		return;

	// @lab 08 kvm_ioapic_update_eoi: for each level pin with this vector, clear Remote IRR and send again if still asserted.
	(void)ioapic, (void)vector, (void)trigger_mode;
	lab_todo(8, "kvm_ioapic_update_eoi");
	// @end
}

/* ---- the registers ----------------------------------------------------- */

static uint32_t ioapic_read_indirect(struct kvm_ioapic *ioapic)
{
	switch (ioapic->ioregsel) {
	case IOAPIC_REG_VERSION:
		return IOAPIC_VERSION_VAL;
	case IOAPIC_REG_APIC_ID:
	case IOAPIC_REG_ARB_ID:
		/* The arbitration ID is loaded from the ID (82093AA 3.2.3). */
		return (ioapic->id & 0xf) << 24;
	default: {
		uint32_t index = (ioapic->ioregsel - IOAPIC_REG_REDIRTBL) >> 1;
		if (ioapic->ioregsel < IOAPIC_REG_REDIRTBL || index >= IOAPIC_NUM_PINS)
			return ~0u;       /* no register there: the bus floats (Linux: ~0) */
		uint64_t rte = ioapic->redirtbl[index].bits;
		return (ioapic->ioregsel & 1) ? (uint32_t)(rte >> 32) : (uint32_t)rte;
	}
	}
}

static void ioapic_write_indirect(struct kvm_ioapic *ioapic, uint32_t val)
{
	switch (ioapic->ioregsel) {
	case IOAPIC_REG_VERSION:
	case IOAPIC_REG_ARB_ID:
		return;               /* read-only */
	case IOAPIC_REG_APIC_ID:
		ioapic->id = (val >> 24) & 0xf;
		return;
	default:
		break;
	}

	uint32_t index = (ioapic->ioregsel - IOAPIC_REG_REDIRTBL) >> 1;
	if (ioapic->ioregsel < IOAPIC_REG_REDIRTBL || index >= IOAPIC_NUM_PINS)
		return;
	union kvm_ioapic_redirect_entry *e = &ioapic->redirtbl[index];
	/* Delivery Status and Remote IRR are read-only (82093AA 3.2.4, bits
	 * 12 and 14): the guest's values for them are dropped. */
	unsigned int remote_irr = e->fields.remote_irr, delivery_status = e->fields.delivery_status;
	if (ioapic->ioregsel & 1)
		e->bits = (e->bits & 0xffffffffull) | ((uint64_t)val << 32);
	else
		e->bits = (e->bits & ~0xffffffffull) | val;
	e->fields.remote_irr = remote_irr & 1;
	e->fields.delivery_status = delivery_status & 1;
	/* Remote IRR means nothing for an edge pin; guests (Linux, Xen) switch
	 * a pin to edge and back to clear a stuck one, and KVM lets them. */
	if (e->fields.trig_mode == APIC_EDGE_TRIG)
		e->fields.remote_irr = 0;
	/* Unmasking (or retargeting) a level pin that is asserted and not
	 * waiting for an EOI sends it now: a level request is not lost while
	 * masked, the line still holds it (Linux: ioapic_service on write). */
	if (e->fields.trig_mode == APIC_LEVEL_TRIG && (ioapic->irr & (1u << index)))
		ioapic_service(ioapic, (int)index);
}

static bool ioapic_in_range(struct kvm_ioapic *ioapic, uint64_t addr)
{
	return addr >= ioapic->base_address && addr < ioapic->base_address + IOAPIC_MEM_LENGTH;
}

static int ioapic_mmio_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	(void)vcpu;
	struct kvm_ioapic *ioapic = to_ioapic(dev);
	if (!ioapic_in_range(ioapic, addr))
		return -EOPNOTSUPP;

	uint64_t result = 0;
	switch (addr & 0xff) {
	case IOAPIC_REG_SELECT:
		result = ioapic->ioregsel;
		break;
	case IOAPIC_REG_WINDOW:
		result = ioapic_read_indirect(ioapic);
		break;
	default:
		break;                /* the rest of the page reads as 0 */
	}
	if (len == 1 || len == 2 || len == 4 || len == 8)
		memcpy(val, &result, (size_t)len);
	return 0;
}

static int ioapic_mmio_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len,
			     const void *val)
{
	(void)vcpu;
	struct kvm_ioapic *ioapic = to_ioapic(dev);
	if (!ioapic_in_range(ioapic, addr))
		return -EOPNOTSUPP;
	/* The registers are 32 bits and "must be accessed as dwords"
	 * (82093AA 3.1): a narrower write is dropped, as KVM drops it; of a
	 * qword the low dword counts. */
	if (len != 4 && len != 8)
		return 0;
	uint32_t data;
	memcpy(&data, val, sizeof(data));

	switch (addr & 0xff) {
	case IOAPIC_REG_SELECT:
		ioapic->ioregsel = data & 0xff;   /* an 8-bit register */
		break;
	case IOAPIC_REG_WINDOW:
		ioapic_write_indirect(ioapic, data);
		break;
	default:
		break;
	}
	return 0;
}

static const struct kvm_io_device_ops ioapic_mmio_ops = {
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
};

/* Power-on state (82093AA 3.2.4: "mask bit set after reset"; Linux:
 * kvm_ioapic_reset). */
static void kvm_ioapic_reset(struct kvm_ioapic *ioapic)
{
	for (int i = 0; i < IOAPIC_NUM_PINS; i++) {
		ioapic->redirtbl[i].bits = 0;
		ioapic->redirtbl[i].fields.mask = 1;
	}
	ioapic->base_address = IOAPIC_DEFAULT_BASE_ADDRESS;
	ioapic->ioregsel = 0;
	ioapic->irr = 0;
	ioapic->irr_delivered = 0;
	ioapic->id = 0;
}

int kvm_ioapic_init(struct kvm *kvm)
{
	struct kvm_ioapic *ioapic = kvm_zalloc(sizeof(*ioapic));
	if (!ioapic)
		return -ENOMEM;
	ioapic->kvm = kvm;
	ioapic->dev.ops = &ioapic_mmio_ops;
	kvm_ioapic_reset(ioapic);
	int r = kvm_io_bus_register_dev(kvm, KVM_MMIO_BUS, ioapic->base_address, IOAPIC_MEM_LENGTH, &ioapic->dev);
	if (r < 0) {
		kvm_free(ioapic, sizeof(*ioapic));
		return r;
	}
	kvm->arch.vioapic = ioapic;
	return 0;
}

void kvm_ioapic_destroy(struct kvm *kvm)
{
	struct kvm_ioapic *ioapic = kvm->arch.vioapic;
	if (!ioapic)
		return;
	kvm_io_bus_unregister_dev(kvm, KVM_MMIO_BUS, &ioapic->dev);
	kvm->arch.vioapic = NULL;
	kvm_free(ioapic, sizeof(*ioapic));
}

/* ---- KVM_GET_IRQCHIP / KVM_SET_IRQCHIP ----------------------------------- */

void kvm_get_ioapic(struct kvm *kvm, struct kvm_ioapic_state *state)
{
	struct kvm_ioapic *ioapic = kvm->arch.vioapic;
	memset(state, 0, sizeof(*state));
	state->base_address = ioapic->base_address;
	state->ioregsel = ioapic->ioregsel;
	state->id = ioapic->id;
	/* Edges already sent are not pending any more (see ioapic_service). */
	state->irr = ioapic->irr & ~ioapic->irr_delivered;
	for (int i = 0; i < IOAPIC_NUM_PINS; i++)
		state->redirtbl[i].bits = ioapic->redirtbl[i].bits;
}

void kvm_set_ioapic(struct kvm *kvm, const struct kvm_ioapic_state *state)
{
	struct kvm_ioapic *ioapic = kvm->arch.vioapic;
	ioapic->base_address = state->base_address;
	ioapic->ioregsel = state->ioregsel;
	ioapic->id = state->id;
	for (int i = 0; i < IOAPIC_NUM_PINS; i++)
		ioapic->redirtbl[i].bits = state->redirtbl[i].bits;
	/* The saved lines are raised again through the normal path, so a
	 * pending edge or an asserted level pin with Remote IRR clear is
	 * delivered now (Linux: kvm_ioapic_inject_all). */
	ioapic->irr = 0;
	ioapic->irr_delivered = 0;
	for (int i = 0; i < IOAPIC_NUM_PINS; i++)
		if (state->irr & (1u << i))
			ioapic_set_irq(ioapic, i, 1);
}
