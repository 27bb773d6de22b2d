/* SPDX-License-Identifier: MIT */
/*
 * The irqchip as a whole (kvm/irq.c) with the real controllers behind it
 * (kvm/i8259.c, kvm/ioapic.c, kvm/lapic.c): KVM_CREATE_IRQCHIP's rules,
 * KVM's default GSI routing to the PIC and the IOAPIC, KVM_SIGNAL_MSI's
 * decoding (SDM Vol. 3A 11.11), and which interrupt a vCPU takes next: the
 * PIC's (ExtINT through LINT0) before the LAPIC's own, as KVM's
 * kvm_cpu_get_interrupt.
 *
 * The VM has one vCPU, the BSP: APIC ID 0, logical ID 0x40 (flat model),
 * software-enabled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <x86/apicdef.h>
#include <x86/msr-index.h>
#include "fake_irq_host.h"
#include "kvm/ioapic.h"
#include "kvm/irq.h"
#include "kvm/lapic.h"
#include "lab08_tests.h"

#define LOGICAL_ID 0x40

static struct kvm *vm;
static struct kvm_vcpu *bsp;

/* A VM as kvm_arch_init_vm leaves it: no irqchip, no vCPU. */
static struct kvm *bare_vm(void)
{
	struct kvm *kvm = fake_irq_vm(0);
	kvm->arch.irqchip_mode = KVM_IRQCHIP_NONE;
	return kvm;
}

static void lapic_write(unsigned int reg, uint32_t val)
{
	int r = kvm_lapic_mmio_write(bsp, APIC_DEFAULT_PHYS_BASE + reg, 4, &val);
	ck_assert_msg(r == 0, "test setup: the LAPIC refused a write of 0x%x to its register 0x%x", val, reg);
}

/* The vCPU kvm_main.c would create after KVM_CREATE_IRQCHIP, with its LAPIC. */
static struct kvm_vcpu *add_vcpu(struct kvm *kvm)
{
	struct kvm_vcpu *v = calloc(1, sizeof(*v));
	v->kvm = kvm;
	v->vcpu_id = kvm->nr_vcpus;
	v->arch.mp_state = KVM_MP_STATE_RUNNABLE;
	kvm->vcpus[kvm->nr_vcpus++] = v;
	if (irqchip_in_kernel(kvm))
		ck_assert_int_eq(kvm_create_lapic(v), 0);
	return v;
}

static void setup(void)
{
	fake_irq_reset();
	vm = bare_vm();
	int r = kvm_irqchip_create(vm);
	ck_assert_msg(r == 0, "kvm_irqchip_create() on a VM without vCPUs returned %d: expected 0", r);
	bsp = add_vcpu(vm);
	lapic_write(APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);
	lapic_write(APIC_DFR, APIC_DFR_FLAT);
	lapic_write(APIC_LDR, SET_APIC_DEST_FIELD(LOGICAL_ID));
	lapic_write(APIC_LVT0, APIC_MODE_EXTINT << 8);   /* virtual wire: the PIC reaches the BSP */
}

static void teardown(void)
{
	for (int i = 0; i < vm->nr_vcpus; i++)
		kvm_free_lapic(vm->vcpus[i]);
	kvm_ioapic_destroy(vm);
	kvm_destroy_pic(vm->arch.vpic);
	fake_irq_vm_free(vm);
	vm = NULL;
	bsp = NULL;
}

static struct kvm_io_device *bus_dev(enum kvm_bus bus, uint64_t addr)
{
	return fake_irq_bus_dev(vm, bus, addr);
}

static void pic_out(uint16_t port, uint8_t val)
{
	struct kvm_io_device *dev = bus_dev(KVM_PIO_BUS, port);
	ck_assert_msg(dev, "no device on the PIO bus at port 0x%x", port);
	ck_assert_int_eq(dev->ops->write(bsp, dev, port, 1, &val), 0);
}

/* The BIOS's (and Linux's) PIC initialization: ICW1 0x11 (edge, cascade,
 * ICW4 follows), ICW2 the vector base, ICW3 the cascade on IR2, ICW4 0x01
 * (8086 mode); then every input unmasked. */
static void pic_init(uint8_t master_base, uint8_t slave_base)
{
	pic_out(0x20, 0x11);
	pic_out(0x21, master_base);
	pic_out(0x21, 0x04);
	pic_out(0x21, 0x01);
	pic_out(0xa0, 0x11);
	pic_out(0xa1, slave_base);
	pic_out(0xa1, 0x02);
	pic_out(0xa1, 0x01);
	pic_out(0x21, 0x00);
	pic_out(0xa1, 0x00);
}

/* A pulse on a GSI, as a device's edge interrupt. */
static void pulse(int gsi)
{
	kvm_set_irq(vm, gsi, 1);
	kvm_set_irq(vm, gsi, 0);
}

/* A pulse on a PIC pin only (the tests of the next interrupt do not need
 * the IOAPIC's half of the route). */
static void pic_pulse(int pin)
{
	kvm_pic_set_irq(vm->arch.vpic, pin, 1);
	kvm_pic_set_irq(vm->arch.vpic, pin, 0);
}

/* A fixed interrupt into the LAPIC's IRR, as an IPI or MSI would put it. */
static void lapic_irq(int vector)
{
	struct kvm_lapic_irq irq = {
		.vector = (uint32_t)vector, .delivery_mode = APIC_DM_FIXED, .dest_mode = APIC_DEST_PHYSICAL,
		.level = true, .trig_mode = APIC_EDGE_TRIG, .shorthand = APIC_DEST_NOSHORT, .dest_id = 0,
	};
	ck_assert_int_eq(kvm_apic_set_irq(bsp, &irq), 1);
}

static bool apic_bit(unsigned int base, int vec)
{
	uint32_t w;
	memcpy(&w, bsp->arch.apic->regs + base + ((unsigned int)vec >> 5) * 0x10, sizeof(w));
	return (w >> (vec & 31)) & 1;
}

/* ---- KVM_CREATE_IRQCHIP ------------------------------------------------------ */

START_TEST(irq_create)
{
	ck_assert_msg(kvm_irqchip_supported(), "kvm_irqchip_supported() is false at stage 08: KVM_CAP_IRQCHIP must be "
		      "offered once lab 08 is in (LAB_ENABLED(8))");
	ck_assert_msg(irqchip_in_kernel(vm) && vm->arch.vpic && vm->arch.vioapic,
		      "after kvm_irqchip_create(): irqchip_mode %d, vpic %p, vioapic %p; expected KVM_IRQCHIP_KERNEL and "
		      "both controllers", vm->arch.irqchip_mode, (void *)vm->arch.vpic, (void *)vm->arch.vioapic);
	ck_assert_msg(bus_dev(KVM_PIO_BUS, 0x20) && bus_dev(KVM_PIO_BUS, 0xa0) &&
		      bus_dev(KVM_MMIO_BUS, IOAPIC_DEFAULT_BASE_ADDRESS),
		      "after kvm_irqchip_create() the PIC must answer at ports 0x20 and 0xa0 and the IOAPIC at 0xfec00000");
	int r = kvm_irqchip_create(vm);
	ck_assert_msg(r == -EEXIST, "a second KVM_CREATE_IRQCHIP returned %d: expected -EEXIST, as KVM", r);

	/* With a vCPU already there: too late, that vCPU has no LAPIC. */
	struct kvm *late = bare_vm();
	struct kvm_vcpu *v = add_vcpu(late);
	(void)v;
	r = kvm_irqchip_create(late);
	ck_assert_msg(r == -EINVAL && !irqchip_in_kernel(late) && !late->arch.vpic && !late->arch.vioapic &&
		      late->buses[KVM_PIO_BUS].dev_count == 0 && late->buses[KVM_MMIO_BUS].dev_count == 0,
		      "KVM_CREATE_IRQCHIP after KVM_CREATE_VCPU returned %d: expected -EINVAL and nothing created, as "
		      "KVM (a vCPU made without a LAPIC cannot get one later)", r);

	/* Without an irqchip the lines and MSIs are refused. */
	struct kvm_irq_level line = { .irq = 4, .level = 1 };
	r = kvm_vm_ioctl_irq_line(late, &line);
	ck_assert_msg(r == -ENXIO, "KVM_IRQ_LINE without KVM_CREATE_IRQCHIP returned %d: expected -ENXIO, as KVM", r);
	struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0x40 };
	r = kvm_set_msi(late, &msi);
	ck_assert_msg(r == -EINVAL, "KVM_SIGNAL_MSI without KVM_CREATE_IRQCHIP returned %d: expected -EINVAL, as KVM",
		      r);
	ck_assert_msg(!kvm_cpu_has_interrupt(v) && kvm_cpu_get_interrupt(v) == -1,
		      "a vCPU without an in-kernel irqchip has no interrupt from it");
	fake_irq_vm_free(late);
}
END_TEST

/* ---- GSI routing ------------------------------------------------------------------ */

START_TEST(irq_gsi_routing)
{
	static const struct {
		int gsi;
		int pic_chip, pic_pin;   /* -1: not on the PIC */
		bool ioapic;
	} routes[] = {
		{ 0, 0, 0, true }, { 1, 0, 1, true }, { 4, 0, 4, true }, { 7, 0, 7, true },
		{ 8, 1, 0, true }, { 11, 1, 3, true }, { 15, 1, 7, true },
		{ 16, -1, -1, true }, { 23, -1, -1, true }, { 24, -1, -1, false },
	};
	struct kvm_pic *pic = vm->arch.vpic;
	struct kvm_ioapic *ioapic = vm->arch.vioapic;
	pic_init(0x20, 0x28);
	for (unsigned int i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		int gsi = routes[i].gsi;
		uint8_t irr0 = pic->pics[0].irr, irr1 = pic->pics[1].irr;
		struct kvm_irq_level line = { .irq = (uint32_t)gsi, .level = 1 };
		int r = kvm_vm_ioctl_irq_line(vm, &line);
		ck_assert_msg(r == 0, "KVM_IRQ_LINE GSI %d returned %d: the ioctl succeeds whatever the line did", gsi, r);
		ck_assert_msg(line.irq == (uint32_t)gsi && line.level == 1, "KVM_IRQ_LINE GSI %d changed the caller's "
			      "struct (irq now %u): it only reads it; irq and status share their bits, and a VMM lowers "
			      "the line with the same struct", gsi, line.irq);

		if (routes[i].pic_chip >= 0) {
			uint8_t irr = pic->pics[routes[i].pic_chip].irr;
			ck_assert_msg(irr & (1u << routes[i].pic_pin), "GSI %d raised: the %s PIC's IRR is 0x%02x, expected "
				      "bit %d set (KVM's default routing: GSI n is PIC pin n for n < 16, 8-15 on the slave)",
				      gsi, routes[i].pic_chip ? "slave" : "master", irr, routes[i].pic_pin);
		} else {
			ck_assert_msg(pic->pics[0].irr == irr0 && pic->pics[1].irr == irr1, "GSI %d raised changed the PIC's "
				      "IRR (master 0x%02x -> 0x%02x, slave 0x%02x -> 0x%02x): the PIC has 16 pins only", gsi,
				      irr0, pic->pics[0].irr, irr1, pic->pics[1].irr);
		}
		if (routes[i].ioapic)
			ck_assert_msg(ioapic->irr & (1u << gsi), "GSI %d raised: the IOAPIC's irr is 0x%06x, expected bit %d "
				      "(GSI n is IOAPIC pin n for n < 24, with the PIC's pin as well)", gsi, ioapic->irr, gsi);
		else
			ck_assert_msg(ioapic->irr == 0 && pic->pics[0].irr == irr0 && pic->pics[1].irr == irr1,
				      "GSI %d has no route, yet a controller changed", gsi);

		line.level = 0;
		ck_assert_int_eq(kvm_vm_ioctl_irq_line(vm, &line), 0);
		ck_assert_msg(!(ioapic->irr & (1u << gsi)), "GSI %d lowered: the IOAPIC's pin %d still shows asserted "
			      "(irr 0x%06x)", gsi, gsi, ioapic->irr);
	}

	/* kvm_set_irq's answer (what KVM_IRQ_LINE_STATUS reports). */
	int r = kvm_set_irq(vm, 3, 1);
	ck_assert_msg(r > 0, "kvm_set_irq(GSI 3) on an unmasked PIC pin returned %d: expected > 0 (a new request)", r);
	r = kvm_set_irq(vm, 24, 1);
	ck_assert_msg(r == -1, "kvm_set_irq(GSI 24) returned %d: no controller has that pin, expected -1", r);
	r = kvm_set_irq(vm, -1, 1);
	ck_assert_msg(r == -1, "kvm_set_irq(GSI -1) returned %d: expected -1", r);
	struct kvm_irq_level far = { .irq = 0x80000000u, .level = 1 };
	ck_assert_int_eq(kvm_vm_ioctl_irq_line(vm, &far), 0);
	ck_assert_msg(ioapic->irr == (1u << 3), "KVM_IRQ_LINE GSI 0x80000000 reached a controller (IOAPIC irr 0x%06x)",
		      ioapic->irr);
}
END_TEST

/* A GSI through the IOAPIC to the LAPIC, and through the PIC to INTA. */
START_TEST(irq_gsi_end_to_end)
{
	pic_init(0x20, 0x28);
	pic_out(0x21, 0x20);              /* the PIC's IRQ5 masked: GSI 5 takes the IOAPIC's path only */
	struct kvm_io_device *io = bus_dev(KVM_MMIO_BUS, IOAPIC_DEFAULT_BASE_ADDRESS);
	uint32_t v;
	v = 0x10 + 2 * 5;                 /* pin 5: edge, vector 0x65, APIC ID 0 */
	io->ops->write(bsp, io, IOAPIC_DEFAULT_BASE_ADDRESS, 4, &v);
	v = 0x65;
	io->ops->write(bsp, io, IOAPIC_DEFAULT_BASE_ADDRESS + 0x10, 4, &v);
	pulse(5);
	ck_assert_msg(apic_bit(APIC_IRR, 0x65), "GSI 5 pulsed with IOAPIC pin 5 unmasked (vector 0x65, APIC ID 0): "
		      "vector 0x65 is not in the LAPIC's IRR");
	ck_assert_msg(kvm_cpu_has_interrupt(bsp) && kvm_cpu_get_interrupt(bsp) == 0x65, "GSI 5 through the IOAPIC: "
		      "kvm_cpu_get_interrupt() must give the LAPIC's 0x65 (the PIC's IRQ5 is masked)");

	/* GSI 6: IOAPIC pin 6 is masked (reset), the PIC's IRQ6 is not. */

	pulse(6);
	ck_assert_msg(vm->arch.vpic->output, "GSI 6 pulsed with the PIC's IRQ6 unmasked: its INTR output is low");
	int vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == 0x26, "GSI 6 through the PIC (vector base 0x20): kvm_cpu_get_interrupt() gave %d, "
		      "expected 0x26", vec);
}
END_TEST

/* ---- MSI --------------------------------------------------------------------------- */

START_TEST(irq_msi_decoding)
{
	static const struct {
		uint32_t addr, data;
		int vector;          /* -1: not in IRR */
		bool level;          /* its TMR bit */
		const char *what;
	} cases[] = {
		{ 0xfee00000, 0x0041, 0x41, false, "fixed, edge, physical APIC ID 0" },
		{ 0xfee00000, 0x00ef, 0xef, false, "vector 0xef (data bits 7:0)" },
		{ 0xfee00000, 0xc042, 0x42, true, "level-triggered, asserted (data bits 15, 14)" },
		{ 0xfeeff000, 0x0043, 0x43, false, "physical broadcast 0xff (address bits 19:12)" },
		{ 0xfee01000, 0x0044, -1, false, "physical APIC ID 1: no such LAPIC" },
		{ 0xfee40000, 0x0045, -1, false, "physical APIC ID 0x40: no such LAPIC (our logical ID is 0x40)" },
		{ 0xfee40004, 0x0046, 0x46, false, "logical 0x40 (DM, address bit 2): our LDR" },
		{ 0xfee04004, 0x0047, -1, false, "logical 0x04: not ours" },
		{ 0xfee40004, 0x0148, 0x48, false, "lowest priority (delivery mode 001) to logical 0x40" },
		{ 0xfee4000c, 0x0049, 0x49, false, "redirection hint (RH, bit 3) with logical 0x40" },
		{ 0xfee00ff3, 0x004a, 0x4a, false, "address bits 11:4 and 1:0 are not the destination" },
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kvm_msi msi = { .address_lo = cases[i].addr, .data = cases[i].data };
		int r = kvm_set_msi(vm, &msi);
		int vec = (int)(cases[i].data & 0xff);
		bool in_irr = apic_bit(APIC_IRR, vec), in_tmr = apic_bit(APIC_TMR, vec);
		if (cases[i].vector >= 0) {
			ck_assert_msg(r > 0 && in_irr && in_tmr == cases[i].level, "MSI address 0x%08x data 0x%04x (%s): "
				      "returned %d, IRR bit of 0x%x %d, TMR bit %d; expected > 0, IRR set, TMR %d (SDM Vol. 3A "
				      "11.11: destination ID = address bits 19:12, DM bit 2, RH bit 3; vector = data 7:0, "
				      "delivery mode 10:8, level 14, trigger 15)", cases[i].addr, cases[i].data,
				      cases[i].what, r, vec, in_irr, in_tmr, cases[i].level);
		} else {
			ck_assert_msg(r < 0 && !in_irr, "MSI address 0x%08x data 0x%04x (%s): returned %d, IRR bit of 0x%x "
				      "%d; expected < 0 (no LAPIC took it) and nothing in IRR", cases[i].addr, cases[i].data,
				      cases[i].what, r, vec, in_irr);
		}
		memset(bsp->arch.apic->regs + APIC_IRR, 0, 0x80);   /* as if taken */
	}

	/* Delivery modes without a vector in IRR. */
	struct kvm_msi nmi = { .address_lo = 0xfee00000, .data = 0x0400 };
	ck_assert_msg(kvm_set_msi(vm, &nmi) > 0 && bsp->arch.nmi_pending, "MSI data 0x0400 (delivery mode NMI, 100b "
		      "in bits 10:8): the vCPU's NMI must be pending");
	struct kvm_msi init_deassert = { .address_lo = 0xfee00000, .data = 0x8500 };
	kvm_set_msi(vm, &init_deassert);
	ck_assert_msg(bsp->arch.apic->pending_events == 0, "MSI data 0x8500 (INIT, level-triggered, level bit 14 "
		      "clear: a de-assert) made an INIT pending: with trigger level, bit 14 is the level, and a "
		      "de-asserted INIT does nothing (SDM Vol. 3A 11.11.2)");
	struct kvm_msi init = { .address_lo = 0xfee00000, .data = 0xc500 };
	kvm_set_msi(vm, &init);
	ck_assert_msg(bsp->arch.apic->pending_events & (1ul << KVM_APIC_INIT), "MSI data 0xc500 (INIT, level, "
		      "asserted): the vCPU must have an INIT pending");
}
END_TEST

START_TEST(irq_msi_bad)
{
	static const struct {
		uint32_t lo, hi, flags;
		const char *what;
	} bad[] = {
		{ 0xfed00000, 0, 0, "0xfed00000: bits 31:20 are not 0xfee" },
		{ 0x00000000, 0, 0, "0: a memory write, not an interrupt" },
		{ 0xffe00000, 0, 0, "0xffe00000" },
		{ 0xfee00000, 1, 0, "address_hi 1: the message is at 0x1_fee00000, above the APIC's window" },
		{ 0xfee00000, 0, 1, "flags 1: KVM_MSI_VALID_DEVID is not offered" },
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kvm_msi msi = { .address_lo = bad[i].lo, .address_hi = bad[i].hi, .data = 0x0051,
				       .flags = bad[i].flags };
		int r = kvm_set_msi(vm, &msi);
		ck_assert_msg(r == -EINVAL && !apic_bit(APIC_IRR, 0x51), "KVM_SIGNAL_MSI with address_lo 0x%08x, "
			      "address_hi 0x%x, flags 0x%x (%s): returned %d, IRR bit %d; expected -EINVAL and nothing "
			      "delivered", bad[i].lo, bad[i].hi, bad[i].flags, bad[i].what, r, apic_bit(APIC_IRR, 0x51));
	}
}
END_TEST

/* ---- which interrupt next ---------------------------------------------------------- */

START_TEST(irq_nothing_pending)
{
	pic_init(0x20, 0x28);
	ck_assert_msg(!kvm_cpu_has_interrupt(bsp), "kvm_cpu_has_interrupt() is true with nothing pending anywhere");
	int vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == -1, "kvm_cpu_get_interrupt() with nothing pending gave %d: expected -1", vec);
}
END_TEST

START_TEST(irq_pic_before_lapic)
{
	pic_init(0x20, 0x28);
	lapic_irq(0xe0);
	lapic_irq(0x50);
	pic_pulse(1);
	ck_assert_msg(kvm_cpu_has_interrupt(bsp), "kvm_cpu_has_interrupt() is false with the PIC's IRQ1 and the "
		      "LAPIC's 0xe0 and 0x50 pending");
	int vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == 0x21, "PIC IRQ1 (vector 0x21) and LAPIC 0xe0 pending: kvm_cpu_get_interrupt() gave 0x%x; "
		      "expected the PIC's 0x21 first: the ExtINT comes before the LAPIC's own (Linux: "
		      "kvm_cpu_get_extint first)", vec);
	ck_assert_msg(vm->arch.vpic->pics[0].isr == 0x02 && !vm->arch.vpic->output, "after taking the PIC's vector "
		      "the master's ISR is 0x%02x and its output %d: expected the INTA done (kvm_pic_read_irq: IRQ1 in "
		      "service, INTR low)", vm->arch.vpic->pics[0].isr, vm->arch.vpic->output);
	vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == 0xe0 && apic_bit(APIC_ISR, 0xe0) && !apic_bit(APIC_IRR, 0xe0), "then the LAPIC's "
		      "highest: kvm_cpu_get_interrupt() gave 0x%x, expected 0xe0 moved from IRR to ISR "
		      "(kvm_get_apic_interrupt)", vec);
	ck_assert_msg(!kvm_cpu_has_interrupt(bsp) && kvm_cpu_get_interrupt(bsp) == -1, "with 0xe0 in service, "
		      "0x50 (a lower class) must wait for the EOI, and the PIC's INTR is low: nothing to take");
	ck_assert_msg(apic_bit(APIC_IRR, 0x50), "0x50 left the LAPIC's IRR though nothing took it");
}
END_TEST

/* LINT0 masked (or not ExtINT): the PIC's INTR does not reach this vCPU. */
START_TEST(irq_pic_refused_by_lint0)
{
	pic_init(0x20, 0x28);
	lapic_write(APIC_LVT0, APIC_LVT_MASKED | (APIC_MODE_EXTINT << 8));
	pic_pulse(3);
	ck_assert_msg(vm->arch.vpic->output, "the PIC's IRQ3 pulsed: its output should be high (PIC setup)");
	ck_assert_msg(!kvm_cpu_has_interrupt(bsp), "the PIC's INTR is high but LINT0 is masked: "
		      "kvm_cpu_has_interrupt() must be false (kvm_apic_accept_pic_intr says no)");
	int vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == -1 && vm->arch.vpic->pics[0].isr == 0, "LINT0 masked: kvm_cpu_get_interrupt() gave %d "
		      "and the PIC's ISR is 0x%02x; expected -1 and no INTA (the PIC's request stays pending)", vec,
		      vm->arch.vpic->pics[0].isr);
	lapic_irq(0x50);
	vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == 0x50 && vm->arch.vpic->pics[0].isr == 0, "LINT0 masked, PIC IRQ3 and LAPIC 0x50 "
		      "pending: kvm_cpu_get_interrupt() gave 0x%x, expected the LAPIC's 0x50 and the PIC untouched", vec);

	/* LINT0 in virtual wire mode again: the request still waiting comes. */
	lapic_write(APIC_LVT0, APIC_MODE_EXTINT << 8);
	ck_assert_msg(kvm_cpu_has_interrupt(bsp), "LINT0 unmasked (ExtINT) with the PIC's IRQ3 pending: "
		      "kvm_cpu_has_interrupt() must be true");
	vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == 0x23, "LINT0 unmasked: kvm_cpu_get_interrupt() gave 0x%x, expected the PIC's 0x23", vec);
}
END_TEST

/* The slave's request comes through the master's IR2 with the slave's vector. */
START_TEST(irq_pic_slave_vector)
{
	pic_init(0x20, 0x70);
	pic_pulse(12);
	int vec = kvm_cpu_get_interrupt(bsp);
	ck_assert_msg(vec == 0x74, "GSI 12 (the slave's IR4, slave base 0x70): kvm_cpu_get_interrupt() gave 0x%x, "
		      "expected 0x74", vec);
}
END_TEST

/* ---- the injection decision: every combination of the six inputs ---------- */

static const char *act_names(unsigned act, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s%s%s", act ? "" : "nothing", act & KVM_EVENT_INJECT_NMI ? "inject-NMI " : "",
		 act & KVM_EVENT_INJECT_IRQ ? "inject-IRQ " : "", act & KVM_EVENT_NMI_WINDOW ? "NMI-window " : "",
		 act & KVM_EVENT_IRQ_WINDOW ? "IRQ-window " : "");
	return buf;
}

START_TEST(irq_event_decide_matrix)
{
	for (unsigned m = 0; m < 64; m++) {
		struct kvm_event_state st = {
			.if_flag = m & 1, .sti_blocking = m & 2, .mov_ss_blocking = m & 4,
			.nmi_blocking = m & 8, .nmi_pending = m & 16, .irq_pending = m & 32,
		};
		bool shadow = st.sti_blocking || st.mov_ss_blocking;
		unsigned want = 0;
		if (st.nmi_pending)
			want |= !st.nmi_blocking && !shadow ? KVM_EVENT_INJECT_NMI : KVM_EVENT_NMI_WINDOW;
		if (st.irq_pending)
			want |= !(want & KVM_EVENT_INJECT_NMI) && st.if_flag && !shadow ? KVM_EVENT_INJECT_IRQ
											  : KVM_EVENT_IRQ_WINDOW;
		unsigned got = kvm_event_decide(&st);
		char a[96], b[96];
		ck_assert_msg(got == want,
			      "IF=%d STI-blocking=%d MOV-SS-blocking=%d NMI-blocking=%d NMI pending=%d IRQ pending=%d: "
			      "%sexpected %s(an NMI goes first unless an NMI, STI or MOV SS blocks it, SDM Vol. 3 "
			      "6.7.1 and 27.3.1.5; an interrupt needs IF=1 and no STI/MOV SS shadow, 6.8.3 and 27.3.1.4; one "
			      "event per entry, the other waits for its window)",
			      st.if_flag, st.sti_blocking, st.mov_ss_blocking, st.nmi_blocking, st.nmi_pending,
			      st.irq_pending, act_names(got, a, sizeof(a)), act_names(want, b, sizeof(b)));
	}
}
END_TEST

Suite *irq_suite(void)
{
	Suite *s = suite_create("irq");
	TCase *tc = tcase_create("create");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, irq_create);
	suite_add_tcase(s, tc);

	tc = tcase_create("routing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, irq_gsi_routing);
	tcase_add_test(tc, irq_gsi_end_to_end);
	suite_add_tcase(s, tc);

	tc = tcase_create("inject");
	tcase_add_test(tc, irq_event_decide_matrix);
	suite_add_tcase(s, tc);

	tc = tcase_create("msi");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, irq_msi_decoding);
	tcase_add_test(tc, irq_msi_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("next");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, irq_nothing_pending);
	tcase_add_test(tc, irq_pic_before_lapic);
	tcase_add_test(tc, irq_pic_refused_by_lint0);
	tcase_add_test(tc, irq_pic_slave_vector);
	suite_add_tcase(s, tc);
	return s;
}
