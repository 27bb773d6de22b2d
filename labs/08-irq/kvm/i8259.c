/* SPDX-License-Identifier: MIT */
/*
 * The 8259A PIC pair of a PC (Linux: arch/x86/kvm/i8259.c; Intel 8259A
 * datasheet, order no. 231468).
 *
 * Two chips: the master at ports 0x20/0x21 takes IRQ0-7, the slave at
 * 0xa0/0xa1 takes IRQ8-15 and drives the master's IR2 (the cascade). Each
 * chip keeps three 8-bit registers, one bit per input IRn:
 *
 *   IRR  requests latched from the pins, not yet acknowledged
 *   ISR  requests acknowledged (INTA) and being served, until their EOI
 *   IMR  masked inputs: they are latched into IRR but never delivered
 *
 * Priority resolution: the input with the highest priority in IRR & ~IMR
 * interrupts the processor if its priority is higher than that of every
 * input in service (the fully nested mode). Priorities rotate: priority_add
 * is the input of highest priority, IR(priority_add - 1) the lowest
 * (datasheet "Priority Rotation"). The master's INTR output (pic->output)
 * goes to the BSP's LINT0; the processor's INTA cycle is kvm_pic_read_irq().
 *
 * A pin is edge-triggered (a low-to-high transition latches IRR, last_irr
 * remembers the level) or, when its bit is set in the chipset's ELCR (ports
 * 0x4d0/0x4d1, PIIX), level-triggered (IRR follows the line: it stays set
 * while the line is high, even after INTA).
 *
 * Programming (datasheet "Programming the 8259A"): ICW1 (port 0, bit 4 set)
 * starts initialization, then ICW2 (vector base), ICW3 (cascade wiring) and,
 * if ICW1 asked for it, ICW4 (8086 mode, AEOI, special fully nested) on
 * port 1. Afterwards port 1 is OCW1 (the IMR); port 0 is OCW2 (bit 3 clear:
 * EOI and rotation commands) or OCW3 (bit 3 set: read IRR/ISR, poll, special
 * mask mode).
 *
 * Not modelled, as Linux: single mode and the level-triggered mode of ICW1
 * (LTIM; the ELCR does it per pin on a PC), buffered mode, a cascade other
 * than the slave on IR2.
 */
#include <errno.h>

#include "kvmlabs/lab.h"
#include "irq.h"
#include "lapic.h"

#define PIC_MASTER_PORT 0x20
#define PIC_SLAVE_PORT  0xa0
#define PIC_ELCR_PORT   0x4d0
#define PIC_CASCADE_IR  2

/* ICW1 bits (port 0, bit 4 set). */
#define ICW1_IC4   0x01   /* an ICW4 follows */
#define ICW1_INIT  0x10
/* ICW4 bits. */
#define ICW4_AEOI  0x02
#define ICW4_SFNM  0x10
/* OCW3 bits (port 0, bits 4:3 = 01). */
#define OCW3_SEL   0x08
#define OCW3_RIS   0x01   /* with RR: read ISR (1) or IRR (0) */
#define OCW3_RR    0x02
#define OCW3_POLL  0x04
#define OCW3_SMM   0x20   /* with ESMM: set (1) or reset (0) the special mask mode */
#define OCW3_ESMM  0x40

static bool pic_is_master(const struct kvm_kpic_state *s)
{
	return s == &s->pics_state->pics[0];
}

/* An in-service bit cleared by an EOI (specific, non-specific, automatic). */
static void pic_clear_isr(struct kvm_kpic_state *s, int irq)
{
	s->isr &= ~(1u << irq);
}

// @lab 08 i8259_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/*
 * A pin's new level on one chip (datasheet "Edge and Level Triggered
 * Modes"). Returns -1 if the input is masked, 0 if the request was already
 * latched (coalesced with the one before), 1 if it is a new request: Linux's
 * KVM_IRQ_LINE_STATUS convention.
 */
static int pic_set_irq1(struct kvm_kpic_state *s, int irq, int level)
{
	// @lab 08 pic_set_irq1: Latch a request into IRR: a rising edge on an edge pin, the line's level on an ELCR (level) pin.
	(void)s, (void)irq, (void)level;
	lab_todo(8, "pic_set_irq1");
	// @end
}

/*
 * The priority (0 = highest, 7 = lowest) of the highest-priority input set
 * in mask, counting from priority_add, the input that rotation has made the
 * highest; 8 if mask is empty.
 */
static int get_priority(const struct kvm_kpic_state *s, uint8_t mask)
{
	// @lab 08 get_priority: The priority (0 highest) of the best input in mask, with IR(priority_add) at priority 0; 8 if none.
	(void)s, (void)mask;
	lab_todo(8, "get_priority");
	// @end
}

/*
 * The input this chip asks the processor to serve, or -1: the best unmasked
 * request, if its priority is above that of every input in service (fully
 * nested mode). In the special mask mode, a masked input in service does
 * not hold back the others (datasheet "Special Mask Mode"); in the special
 * fully nested mode, the master does not count the slave's IR2 as in
 * service, so a higher-priority request of the slave gets through while a
 * lower one is served ("Special Fully Nest Mode").
 */
static int pic_get_irq(const struct kvm_kpic_state *s)
{
	// @lab 08 pic_get_irq: The input to signal: the best request in IRR & ~IMR if it beats everything in ISR (special mask, special fully nested); else -1.
	(void)s;
	lab_todo(8, "pic_get_irq");
	// @end
}

/*
 * Re-evaluate the outputs after any change of IRR, ISR, IMR or the modes:
 * the slave's INT is the master's IR2 (an edge each time the slave has a
 * request to signal, as Linux), and the master's INT is the BSP's INTR.
 * A rising INTR asks for a wake-up, done by pic_kick() once the state is
 * final (Linux: pic_irq_request, then pic_unlock).
 */
static void pic_update_irq(struct kvm_pic *pic)
{
	if (pic_get_irq(&pic->pics[1]) >= 0) {
		pic_set_irq1(&pic->pics[0], PIC_CASCADE_IR, 1);
		pic_set_irq1(&pic->pics[0], PIC_CASCADE_IR, 0);
	}
	int output = pic_get_irq(&pic->pics[0]) >= 0;
	if (output && !pic->output)
		pic->wakeup_needed = true;
	pic->output = output;
}

/* INTR rose: the vCPU whose LAPIC takes the PIC's interrupts (LVT0 in ExtINT
 * mode: the BSP on a PC) looks at its events again, and wakes if it sleeps
 * in HLT (Linux: pic_unlock). */
static void pic_kick(struct kvm_pic *pic)
{
	if (!pic->wakeup_needed)
		return;
	pic->wakeup_needed = false;
	struct kvm *kvm = pic->kvm;
	for (int i = 0; i < kvm->nr_vcpus; i++) {
		struct kvm_vcpu *vcpu = kvm->vcpus[i];
		if (vcpu && kvm_apic_accept_pic_intr(vcpu)) {
			kvm_make_request(KVM_REQ_EVENT, vcpu);
			kvm_vcpu_kick(vcpu);
			return;
		}
	}
}

int kvm_pic_set_irq(struct kvm_pic *pic, int irq, int level)
{
	if (irq < 0 || irq >= PIC_NUM_PINS)
		return -1;
	pic->irq_states[irq] = !!level;
	int ret = pic_set_irq1(&pic->pics[irq >> 3], irq & 7, !!level);
	pic_update_irq(pic);
	pic_kick(pic);
	return ret;
}

/*
 * The first INTA pulse: the request moves from IRR to ISR (a level request
 * stays in IRR: the line is still high, and it is the line that IRR
 * reflects); in AEOI mode the second pulse ends it at once, rotating first
 * if rotate-in-AEOI is set (datasheet "Automatic End of Interrupt Mode",
 * "Automatic Rotation").
 */
static void pic_intack(struct kvm_kpic_state *s, int irq)
{
	// @lab 08 pic_intack: Acknowledge irq: IRR -> ISR (edge requests only leave IRR); AEOI: clear it from ISR at once, rotating if asked.
	(void)s, (void)irq;
	lab_todo(8, "pic_intack");
	// @end
}

/*
 * The processor's INTA cycle. The master answers with its vector, unless the
 * request is the slave's (IR2): then the slave answers. A request that went
 * away before INTA (its line dropped, or it was masked) gets IR7's vector
 * of the chip asked: the spurious interrupt (datasheet "Interrupt
 * Sequence"), which a guest recognises by its clear ISR bit.
 */
int kvm_pic_read_irq(struct kvm *kvm)
{
	struct kvm_pic *pic = kvm->arch.vpic;
	int irq = pic_get_irq(&pic->pics[0]);
	int vector;
	if (irq < 0) {
		vector = pic->pics[0].irq_base + 7;
	} else {
		pic_intack(&pic->pics[0], irq);
		if (irq == PIC_CASCADE_IR) {
			int irq2 = pic_get_irq(&pic->pics[1]);
			if (irq2 >= 0)
				pic_intack(&pic->pics[1], irq2);
			else
				irq2 = 7;
			vector = pic->pics[1].irq_base + irq2;
		} else {
			vector = pic->pics[0].irq_base + irq;
		}
	}
	pic_update_irq(pic);
	pic_kick(pic);
	return vector;
}

/*
 * ICW1: initialization starts (datasheet "Initialization Command Words"):
 * the edge sense is reset, so an edge pin must go low-to-high again after
 * it (last_irr keeps the line's level: a pin held high does not count as
 * a new edge), edge requests go; IMR and ISR are cleared, IR7 gets the
 * lowest priority, the special mask mode ends and OCW3 reads go to IRR. If
 * no ICW4 follows, its modes are cleared.
 */
static void pic_icw1(struct kvm_kpic_state *s, uint8_t val)
{
	s->init4 = val & ICW1_IC4;
	s->irr &= s->elcr;
	s->isr = 0;
	s->imr = 0;
	s->priority_add = 0;
	s->special_mask = 0;
	s->read_reg_select = 0;
	s->poll = 0;
	s->rotate_on_auto_eoi = 0;
	if (!s->init4) {
		s->special_fully_nested_mode = 0;
		s->auto_eoi = 0;
	}
	s->init_state = 1;
}

/*
 * OCW2 (port 0, bits 4:3 = 00): bits 7:5 are R, SL, EOI (datasheet, the
 * OCW2 table):
 *   001 non-specific EOI        the highest-priority input in service ends
 *   011 specific EOI            input L2-L0 ends
 *   101 rotate on non-spec. EOI that one ends and becomes the lowest priority
 *   111 rotate on specific EOI  L2-L0 ends and becomes the lowest priority
 *   110 set priority            L2-L0 becomes the lowest priority
 *   100 / 000                   set / clear rotate in AEOI mode
 *   010                         no operation
 */
static void pic_ocw2(struct kvm_kpic_state *s, uint8_t val)
{
	// @lab 08 pic_ocw2: EOI and rotation commands: non-specific (highest in ISR) and specific EOI, rotate on EOI, set priority, rotate in AEOI.
	(void)s, (void)val;
	lab_todo(8, "pic_ocw2");
	// @end
}

/*
 * A write to a chip's port 0 (port & 1 == 0) or port 1. Port 0: ICW1 (bit 4),
 * OCW3 (bit 3) or OCW2 (pic_ocw2). Port 1: the next ICW while initializing
 * (init_state 1: ICW2, the vector base, its low three bits being the input's
 * number; 2: ICW3, the cascade, fixed on a PC and ignored; 3: ICW4), else
 * OCW1, the IMR. OCW3 sets only what its enable bits select: RR for the
 * register read, ESMM for the special mask mode; P asks for a poll on the
 * next read.
 */
static void pic_ioport_write(struct kvm_kpic_state *s, unsigned int port, uint8_t val)
{
	// @lab 08 pic_ioport_write: The register state machine: ICW1 (pic_icw1) and ICW2-ICW4 in sequence, OCW1 (IMR), OCW2 (pic_ocw2), OCW3 (read select, poll, special mask).
	(void)s, (void)port, (void)val;
	lab_todo(8, "pic_ioport_write");
	// @end
}

/*
 * The poll command (OCW3 P): the read that follows is an INTA of its own
 * (datasheet "The Poll Command"): 0x80 | the input's number if a request is
 * there (acknowledged: into ISR, which the guest ends with an EOI), 0 if
 * none. A poll of the slave also takes the request it had forwarded to the
 * master's IR2. (Linux returns the bare number and ends it at once: a
 * guest that polls behaves the same on both as long as it sends its EOI.)
 */
static uint8_t pic_poll_read(struct kvm_pic *pic, struct kvm_kpic_state *s)
{
	int irq = pic_get_irq(s);
	if (irq < 0)
		return 0;
	pic_intack(s, irq);
	if (!pic_is_master(s))
		pic->pics[0].irr &= ~(1u << PIC_CASCADE_IR);
	return (uint8_t)(0x80 | irq);
}

static uint8_t pic_ioport_read(struct kvm_pic *pic, struct kvm_kpic_state *s, unsigned int port)
{
	if (s->poll) {
		s->poll = 0;
		uint8_t val = pic_poll_read(pic, s);
		pic_update_irq(pic);
		return val;
	}
	if (port & 1)
		return s->imr;
	return s->read_reg_select ? s->isr : s->irr;
}

/* ---- the I/O bus ---------------------------------------------------------- */

/* The PIC's registers are bytes: a wider access is ignored (reads give 0),
 * as Linux (picdev_write/picdev_read). */
static int pic_chip_write(struct kvm_pic *pic, int chip, uint64_t addr, int len, const void *val)
{
	if ((addr & ~1ull) != (chip ? PIC_SLAVE_PORT : PIC_MASTER_PORT))
		return -EOPNOTSUPP;
	if (len == 1) {
		pic_ioport_write(&pic->pics[chip], (unsigned int)addr, *(const uint8_t *)val);
		pic_update_irq(pic);
		pic_kick(pic);
	}
	return 0;
}

static int pic_chip_read(struct kvm_pic *pic, int chip, uint64_t addr, int len, void *val)
{
	if ((addr & ~1ull) != (chip ? PIC_SLAVE_PORT : PIC_MASTER_PORT))
		return -EOPNOTSUPP;
	uint8_t *out = val;
	for (int i = 0; i < len; i++)
		out[i] = 0;
	if (len == 1) {
		out[0] = pic_ioport_read(pic, &pic->pics[chip], (unsigned int)addr);
		pic_kick(pic);
	}
	return 0;
}

static int pic_master_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, const void *val)
{
	(void)vcpu;
	return pic_chip_write(container_of(dev, struct kvm_pic, dev_master), 0, addr, len, val);
}

static int pic_master_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	(void)vcpu;
	return pic_chip_read(container_of(dev, struct kvm_pic, dev_master), 0, addr, len, val);
}

static int pic_slave_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, const void *val)
{
	(void)vcpu;
	return pic_chip_write(container_of(dev, struct kvm_pic, dev_slave), 1, addr, len, val);
}

static int pic_slave_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	(void)vcpu;
	return pic_chip_read(container_of(dev, struct kvm_pic, dev_slave), 1, addr, len, val);
}

/* ELCR (PIIX4 datasheet 4.1.10): port 0x4d0 for IRQ0-7, 0x4d1 for IRQ8-15,
 * a bit set = level. IRQ0-2 (timer, keyboard, cascade), 8 (RTC) and 13
 * (FPU) are edge on a PC, whatever is written: elcr_mask. */
static int pic_elcr_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, const void *val)
{
	(void)vcpu;
	struct kvm_pic *pic = container_of(dev, struct kvm_pic, dev_elcr);
	if ((addr & ~1ull) != PIC_ELCR_PORT)
		return -EOPNOTSUPP;
	if (len == 1) {
		struct kvm_kpic_state *s = &pic->pics[addr & 1];
		s->elcr = *(const uint8_t *)val & s->elcr_mask;
	}
	return 0;
}

static int pic_elcr_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	(void)vcpu;
	struct kvm_pic *pic = container_of(dev, struct kvm_pic, dev_elcr);
	if ((addr & ~1ull) != PIC_ELCR_PORT)
		return -EOPNOTSUPP;
	uint8_t *out = val;
	for (int i = 0; i < len; i++)
		out[i] = 0;
	if (len == 1)
		out[0] = pic->pics[addr & 1].elcr;
	return 0;
}

static const struct kvm_io_device_ops pic_master_ops = { .read = pic_master_read, .write = pic_master_write };
static const struct kvm_io_device_ops pic_slave_ops = { .read = pic_slave_read, .write = pic_slave_write };
static const struct kvm_io_device_ops pic_elcr_ops = { .read = pic_elcr_read, .write = pic_elcr_write };

/* ---- life cycle and KVM_GET/SET_IRQCHIP ------------------------------------ */

/* A new pair is as after power-on: nothing initialized, every input edge,
 * unmasked, no vector base (the BIOS or the guest sends ICW1-4). The caller
 * makes it kvm->arch.vpic. */
struct kvm_pic *kvm_create_pic(struct kvm *kvm)
{
	struct kvm_pic *pic = kvm_zalloc(sizeof(*pic));
	if (!pic)
		return NULL;
	pic->kvm = kvm;
	pic->pics[0].elcr_mask = 0xf8;
	pic->pics[1].elcr_mask = 0xde;
	pic->pics[0].pics_state = pic;
	pic->pics[1].pics_state = pic;
	pic->dev_master.ops = &pic_master_ops;
	pic->dev_slave.ops = &pic_slave_ops;
	pic->dev_elcr.ops = &pic_elcr_ops;
	if (kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, PIC_MASTER_PORT, 2, &pic->dev_master) < 0)
		goto fail;
	if (kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, PIC_SLAVE_PORT, 2, &pic->dev_slave) < 0)
		goto fail_master;
	if (kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, PIC_ELCR_PORT, 2, &pic->dev_elcr) < 0)
		goto fail_slave;
	return pic;
fail_slave:
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_slave);
fail_master:
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_master);
fail:
	kvm_free(pic, sizeof(*pic));
	return NULL;
}

void kvm_destroy_pic(struct kvm_pic *pic)
{
	if (!pic)
		return;
	struct kvm *kvm = pic->kvm;
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_master);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_slave);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pic->dev_elcr);
	if (kvm->arch.vpic == pic)
		kvm->arch.vpic = NULL;
	kvm_free(pic, sizeof(*pic));
}

void kvm_pic_get_state(struct kvm_pic *pic, int chip, struct kvm_pic_state *state)
{
	const struct kvm_kpic_state *s = &pic->pics[chip & 1];
	*state = (struct kvm_pic_state){
		.last_irr = s->last_irr, .irr = s->irr, .imr = s->imr, .isr = s->isr,
		.priority_add = s->priority_add, .irq_base = s->irq_base,
		.read_reg_select = s->read_reg_select, .poll = s->poll, .special_mask = s->special_mask,
		.init_state = s->init_state, .auto_eoi = s->auto_eoi,
		.rotate_on_auto_eoi = s->rotate_on_auto_eoi,
		.special_fully_nested_mode = s->special_fully_nested_mode, .init4 = s->init4,
		.elcr = s->elcr, .elcr_mask = s->elcr_mask,
	};
}

/* Userspace's values are checked as a guest's would be: the fields that
 * index or select are brought into range, the flags made 0 or 1, and the
 * ELCR keeps the chipset's wiring (elcr_mask is ours, not state). */
void kvm_pic_set_state(struct kvm_pic *pic, int chip, const struct kvm_pic_state *state)
{
	struct kvm_kpic_state *s = &pic->pics[chip & 1];
	s->last_irr = state->last_irr;
	s->irr = state->irr;
	s->imr = state->imr;
	s->isr = state->isr;
	s->priority_add = state->priority_add & 7;
	s->irq_base = state->irq_base & 0xf8;
	s->read_reg_select = !!state->read_reg_select;
	s->poll = !!state->poll;
	s->special_mask = !!state->special_mask;
	s->init_state = state->init_state <= 3 ? state->init_state : 0;
	s->auto_eoi = !!state->auto_eoi;
	s->rotate_on_auto_eoi = !!state->rotate_on_auto_eoi;
	s->special_fully_nested_mode = !!state->special_fully_nested_mode;
	s->init4 = !!state->init4;
	s->elcr = state->elcr & s->elcr_mask;
	pic_update_irq(pic);
	pic_kick(pic);
}
