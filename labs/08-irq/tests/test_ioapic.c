/* SPDX-License-Identifier: MIT */
/*
 * The IOAPIC (kvm/ioapic.c): its registers through IOREGSEL and IOWIN
 * (82093AA 3.1, 3.2), masked pins, an edge pin's one message per rising edge,
 * a level pin's Remote IRR and its re-delivery after the EOI while the line
 * is still asserted, the message built from the redirection entry, and the
 * state KVM_GET/SET_IRQCHIP saves.
 *
 * What the IOAPIC sends is seen where it lands: vCPU 0's LAPIC (kvm/lapic.c,
 * its provided delivery path: kvm_irq_delivery_to_apic, __apic_accept_irq),
 * enabled, APIC ID 0, logical ID 0x01 (flat). A message reached it when its
 * vector is in IRR (level: with the TMR bit), or NMI pending; the tests clear
 * IRR themselves, as the processor taking the interrupt would, so each
 * message is seen once.
 */
#include <stdio.h>
#include <string.h>

#include <x86/apicdef.h>
#include <x86/msr-index.h>
#include "fake_irq_host.h"
#include "kvm/ioapic.h"
#include "kvm/lapic.h"
#include "lab08_tests.h"

#define IOREGSEL 0x00
#define IOWIN    0x10

/* Redirection entry, low dword (82093AA 3.2.4). */
#define RTE_DM_NMI      (4u << 8)
#define RTE_LOGICAL     (1u << 11)
#define RTE_DELIVS      (1u << 12)
#define RTE_POLARITY    (1u << 13)
#define RTE_REMOTE_IRR  (1u << 14)
#define RTE_LEVEL       (1u << 15)
#define RTE_MASKED      (1u << 16)
#define RTE_DEST(id)    ((uint32_t)(id) << 24)   /* high dword */

static struct kvm *vm;

static void lapic_write(struct kvm_vcpu *vcpu, unsigned int reg, uint32_t val)
{
	int r = kvm_lapic_mmio_write(vcpu, APIC_DEFAULT_PHYS_BASE + reg, 4, &val);
	ck_assert_msg(r == 0, "test setup: the LAPIC refused a write of 0x%x to its register 0x%x", val, reg);
}

/* vCPU 0's LAPIC, enabled (SVR bit 8), APIC ID 0, logical ID 0x01 (flat). */
static void add_lapic(struct kvm_vcpu *vcpu)
{
	ck_assert_int_eq(kvm_create_lapic(vcpu), 0);
	lapic_write(vcpu, APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);
	lapic_write(vcpu, APIC_DFR, APIC_DFR_FLAT);
	lapic_write(vcpu, APIC_LDR, SET_APIC_DEST_FIELD(0x01));
}

static struct kvm *new_vm(void)
{
	struct kvm *kvm = fake_irq_vm(1);
	add_lapic(kvm->vcpus[0]);
	int r = kvm_ioapic_init(kvm);
	ck_assert_msg(r == 0 && kvm->arch.vioapic, "kvm_ioapic_init() returned %d, vioapic %p: expected 0 and the "
		      "IOAPIC in kvm->arch.vioapic", r, (void *)kvm->arch.vioapic);
	return kvm;
}

static void free_vm(struct kvm *kvm)
{
	kvm_ioapic_destroy(kvm);
	ck_assert_msg(kvm->arch.vioapic == NULL && kvm->buses[KVM_MMIO_BUS].dev_count == 0,
		      "kvm_ioapic_destroy() must take the device off the MMIO bus and clear kvm->arch.vioapic");
	kvm_free_lapic(kvm->vcpus[0]);
	fake_irq_vm_free(kvm);
}

static void setup(void)
{
	fake_irq_reset();
	vm = new_vm();
}

static void teardown(void)
{
	free_vm(vm);
	vm = NULL;
}

/* The device the IOAPIC put on the MMIO bus at its base. */
static struct kvm_io_device *ioapic_dev(void)
{
	struct kvm_io_device *dev = fake_irq_bus_dev(vm, KVM_MMIO_BUS, IOAPIC_DEFAULT_BASE_ADDRESS);
	if (!dev)
		ck_abort_msg("no device on KVM_MMIO_BUS at 0xfec00000: kvm_ioapic_init() must register it there");
	return dev;
}

static uint32_t mmio_read(uint64_t off, int len)
{
	uint64_t v = 0;
	struct kvm_io_device *dev = ioapic_dev();
	int r = dev->ops->read(vm->vcpus[0], dev, IOAPIC_DEFAULT_BASE_ADDRESS + off, len, &v);
	ck_assert_msg(r == 0, "a %d-byte read at 0xfec00000 + 0x%llx returned %d: the IOAPIC takes every access "
		      "in its page", len, (unsigned long long)off, r);
	return (uint32_t)v;
}

static void mmio_write(uint64_t off, int len, uint32_t val)
{
	uint64_t v = val;
	struct kvm_io_device *dev = ioapic_dev();
	int r = dev->ops->write(vm->vcpus[0], dev, IOAPIC_DEFAULT_BASE_ADDRESS + off, len, &v);
	ck_assert_msg(r == 0, "a %d-byte write at 0xfec00000 + 0x%llx returned %d: the IOAPIC takes every access "
		      "in its page", len, (unsigned long long)off, r);
}

/* The guest's way: the index into IOREGSEL, then the data through IOWIN. */
static uint32_t reg_read(uint32_t index)
{
	mmio_write(IOREGSEL, 4, index);
	return mmio_read(IOWIN, 4);
}

static void reg_write(uint32_t index, uint32_t val)
{
	mmio_write(IOREGSEL, 4, index);
	mmio_write(IOWIN, 4, val);
}

/* Program pin's entry as an OS does: destination first, then the low dword
 * (which may unmask it). */
static void set_rte(int pin, uint32_t lo, uint32_t hi)
{
	reg_write(0x11 + 2 * (uint32_t)pin, hi);
	reg_write(0x10 + 2 * (uint32_t)pin, lo);
}

static uint32_t rte_lo(int pin)
{
	return reg_read(0x10 + 2 * (uint32_t)pin);
}

/* Bit vec of the LAPIC's 256-bit array at base (IRR, TMR; SDM 11.8.4). */
static bool apic_bit(struct kvm *kvm, unsigned int base, int vec)
{
	uint32_t w;
	memcpy(&w, kvm->vcpus[0]->arch.apic->regs + base + ((unsigned int)vec >> 5) * 0x10, sizeof(w));
	return (w >> (vec & 31)) & 1;
}

/* Did a message of vector vec reach vCPU 0's LAPIC since the last look?
 * Taken out of IRR, as the processor would, so the next one shows. */
static bool got_in(struct kvm *kvm, int vec)
{
	if (!apic_bit(kvm, APIC_IRR, vec))
		return false;
	unsigned int reg = APIC_IRR + ((unsigned int)vec >> 5) * 0x10;
	uint32_t w;
	memcpy(&w, kvm->vcpus[0]->arch.apic->regs + reg, sizeof(w));
	w &= ~(1u << (vec & 31));
	memcpy(kvm->vcpus[0]->arch.apic->regs + reg, &w, sizeof(w));
	return true;
}

static bool got(int vec)
{
	return got_in(vm, vec);
}

/* Nothing at all in IRR. */
static bool irr_empty(void)
{
	for (int vec = 0; vec < 256; vec++)
		if (apic_bit(vm, APIC_IRR, vec))
			return false;
	return true;
}

static void set_irq(int pin, int level)
{
	kvm_ioapic_set_irq(vm->arch.vioapic, pin, level);
}

/* An EOI of vector from vCPU 0's LAPIC; level: its TMR bit was set. */
static void eoi(int vector, bool level)
{
	kvm_ioapic_update_eoi(vm->vcpus[0], vector, level ? APIC_LEVEL_TRIG : APIC_EDGE_TRIG);
}

/* ---- registers --------------------------------------------------------------- */

START_TEST(ioapic_registers)
{
	const struct kvm_io_bus *b = &vm->buses[KVM_MMIO_BUS];
	ck_assert_msg(b->dev_count == 1 && b->range[0].addr == 0xfec00000 && b->range[0].len == IOAPIC_MEM_LENGTH,
		      "kvm_ioapic_init() must register one MMIO device at 0xfec00000, length 0x%x (IOAPIC_MEM_LENGTH)",
		      IOAPIC_MEM_LENGTH);

	uint32_t ver = reg_read(0x01);
	ck_assert_msg(ver == 0x00170011, "IOAPICVER (index 1) reads 0x%08x: expected 0x00170011, the highest "
		      "redirection entry (23) in bits 23:16 and version 0x11 (82093AA 3.2.2)", ver);
	reg_write(0x01, 0);
	ck_assert_msg(reg_read(0x01) == 0x00170011, "IOAPICVER is read-only: a write changed it to 0x%08x",
		      reg_read(0x01));

	uint32_t id = reg_read(0x00);
	ck_assert_msg(id == 0, "IOAPICID (index 0) reads 0x%08x after reset: expected 0", id);
	reg_write(0x00, 0xffffffff);
	id = reg_read(0x00);
	ck_assert_msg(id == 0x0f000000, "IOAPICID after writing 0xffffffff reads 0x%08x: the ID is bits 27:24 only, "
		      "the rest read 0 (82093AA 3.2.1): expected 0x0f000000", id);
	uint32_t arb = reg_read(0x02);
	ck_assert_msg(arb == 0x0f000000, "IOAPICARB (index 2) reads 0x%08x: it is loaded from the ID, bits 27:24 "
		      "(82093AA 3.2.3): expected 0x0f000000", arb);
	reg_write(0x02, 0);
	ck_assert_msg(reg_read(0x02) == 0x0f000000, "IOAPICARB is read-only: a write changed it to 0x%08x",
		      reg_read(0x02));

	mmio_write(IOREGSEL, 4, 0x1234);
	uint32_t sel = mmio_read(IOREGSEL, 4);
	ck_assert_msg(sel == 0x34, "IOREGSEL after writing 0x1234 reads 0x%x: it is an 8-bit register "
		      "(82093AA 3.1.1): expected 0x34", sel);
	uint32_t none = reg_read(0x40);
	ck_assert_msg(none == 0xffffffff, "index 0x40 (past redirection entry 23) reads 0x%08x: expected "
		      "0xffffffff, no register answers there", none);
	ck_assert_msg(mmio_read(0x20, 4) == 0, "offset 0x20 of the IOAPIC's page is neither IOREGSEL nor IOWIN: "
		      "it must read 0");
}
END_TEST

START_TEST(ioapic_redirection_table)
{
	for (int pin = 0; pin < IOAPIC_NUM_PINS; pin++) {
		uint32_t lo = rte_lo(pin), hi = reg_read(0x11 + 2 * (uint32_t)pin);
		ck_assert_msg(lo == RTE_MASKED && hi == 0, "redirection entry %d after reset reads 0x%08x_%08x: expected "
			      "0x00000000_00010000, masked and all else 0 (82093AA 3.2.4)", pin, hi, lo);
	}

	/* Each dword on its own; Delivery Status (12) and Remote IRR (14) are
	 * the IOAPIC's to set, not the guest's. */
	uint32_t want = 0x000000a5 | RTE_LOGICAL | RTE_POLARITY | RTE_LEVEL | RTE_MASKED;
	set_rte(5, want | RTE_DELIVS | RTE_REMOTE_IRR, RTE_DEST(0x42));
	uint32_t lo = rte_lo(5), hi = reg_read(0x11 + 2 * 5);
	ck_assert_msg(lo == want && hi == RTE_DEST(0x42), "redirection entry 5 reads 0x%08x_%08x: expected "
		      "0x%08x_%08x; bits 12 (Delivery Status) and 14 (Remote IRR) are read-only: a guest's write of "
		      "them is dropped", hi, lo, RTE_DEST(0x42), want);
	reg_write(0x11 + 2 * 5, RTE_DEST(0x07));
	ck_assert_msg(rte_lo(5) == want, "writing the high dword of entry 5 changed its low dword to 0x%08x",
		      rte_lo(5));
	ck_assert_msg(rte_lo(4) == RTE_MASKED && rte_lo(6) == RTE_MASKED,
		      "writing entry 5 (indexes 0x1a, 0x1b) changed entry 4 or 6: entry n is at 0x10 + 2n and 0x11 + 2n");

	/* A dword register takes dword writes (82093AA 3.1): a byte write to
	 * IOREGSEL does not select. */
	mmio_write(IOREGSEL, 4, 0x01);
	mmio_write(IOREGSEL, 1, 0x10);
	ck_assert_msg(mmio_read(IOREGSEL, 4) == 0x01, "a 1-byte write to IOREGSEL changed it to 0x%x: the IOAPIC's "
		      "registers take 32-bit accesses only (82093AA 3.1), a narrower write is dropped",
		      mmio_read(IOREGSEL, 4));
	ck_assert_msg(irr_empty(), "programming masked entries sent an interrupt");
}
END_TEST

/* ---- edge pins ---------------------------------------------------------------- */

START_TEST(ioapic_masked_pin)
{
	set_irq(3, 1);
	set_irq(3, 0);
	ck_assert_msg(irr_empty(), "pin 3 is masked after reset, yet an edge on it sent an interrupt");
	set_rte(3, 0x33, RTE_DEST(0));
	ck_assert_msg(irr_empty(), "unmasking edge pin 3 after its edge sent an interrupt: an edge that comes while "
		      "the pin is masked is dropped, not held (82093AA 3.2.4, bit 16)");
	set_rte(3, 0x33 | RTE_MASKED, RTE_DEST(0));
	set_irq(3, 1);
	ck_assert_msg(irr_empty(), "an edge on pin 3, masked again, sent an interrupt");
	set_irq(3, 0);
	set_rte(3, 0x33, RTE_DEST(0));
	set_irq(3, 1);
	ck_assert_msg(got(0x33), "unmasked pin 3 with vector 0x33: a rising edge must send vector 0x33 to APIC ID 0");
}
END_TEST

START_TEST(ioapic_edge)
{
	unsigned kicks = fake_irq_calls.kicks[0];
	set_rte(1, 0x41, RTE_DEST(0));
	set_irq(1, 1);
	ck_assert_msg(apic_bit(vm, APIC_IRR, 0x41) && !apic_bit(vm, APIC_TMR, 0x41),
		      "a rising edge on edge pin 1 (vector 0x41, APIC ID 0): expected 0x41 in the LAPIC's IRR with its "
		      "TMR bit clear (an edge message: trig_mode APIC_EDGE_TRIG); IRR %d, TMR %d",
		      apic_bit(vm, APIC_IRR, 0x41), apic_bit(vm, APIC_TMR, 0x41));
	ck_assert_msg(fake_irq_calls.kicks[0] > kicks, "the interrupt reached vCPU 0's IRR but the vCPU was not kicked");
	ck_assert(got(0x41));

	set_irq(1, 1);
	set_irq(1, 1);
	ck_assert_msg(!got(0x41), "edge pin 1 held high sent again: a line that stays high makes no new edge (keep "
		      "the last level in irr and send only on 0 -> 1)");
	set_irq(1, 0);
	ck_assert_msg(!got(0x41), "edge pin 1 going low sent an interrupt");
	set_irq(1, 1);
	ck_assert_msg(got(0x41), "the second rising edge on pin 1 sent nothing: each 0 -> 1 is one message");
	ck_assert_msg(rte_lo(1) == 0x41, "edge pin 1's entry reads 0x%08x after delivery: Remote IRR (bit 14) is for "
		      "level pins only", rte_lo(1));

	/* An EOI of an edge vector has nothing to do at the IOAPIC. */
	eoi(0x41, false);
	ck_assert_msg(irr_empty(), "an EOI of edge vector 0x41 made the IOAPIC send again");

	/* Out of range pins are refused, not written past the table. */
	ck_assert_int_lt(kvm_ioapic_set_irq(vm->arch.vioapic, IOAPIC_NUM_PINS, 1), 0);
	ck_assert_int_lt(kvm_ioapic_set_irq(vm->arch.vioapic, -1, 1), 0);
}
END_TEST

/* ---- level pins and Remote IRR --------------------------------------------------- */

START_TEST(ioapic_level_remote_irr)
{
	set_rte(10, 0x5a | RTE_LEVEL, RTE_DEST(0));
	set_irq(10, 1);
	ck_assert_msg(apic_bit(vm, APIC_IRR, 0x5a) && apic_bit(vm, APIC_TMR, 0x5a),
		      "asserting level pin 10 (vector 0x5a): expected 0x5a in the LAPIC's IRR with its TMR bit set (a "
		      "level message: trig_mode APIC_LEVEL_TRIG, so the LAPIC's EOI comes back); IRR %d, TMR %d",
		      apic_bit(vm, APIC_IRR, 0x5a), apic_bit(vm, APIC_TMR, 0x5a));
	ck_assert(got(0x5a));
	ck_assert_msg(rte_lo(10) & RTE_REMOTE_IRR, "level pin 10 was delivered but its entry reads 0x%08x: Remote IRR "
		      "(bit 14) must be set until the EOI (82093AA 3.2.4)", rte_lo(10));

	set_irq(10, 1);
	ck_assert_msg(!got(0x5a), "level pin 10 asserted again while Remote IRR is set sent an interrupt: nothing "
		      "goes out until the EOI");

	eoi(0x5b, true);
	ck_assert_msg((rte_lo(10) & RTE_REMOTE_IRR) && !got(0x5a), "an EOI of vector 0x5b cleared pin 10's Remote "
		      "IRR or sent it: only an EOI of its own vector (0x5a) does");
	eoi(0x5a, false);
	ck_assert_msg((rte_lo(10) & RTE_REMOTE_IRR) && !got(0x5a), "an EOI of 0x5a with the LAPIC's TMR bit clear "
		      "(edge) touched level pin 10: only a level EOI reaches the IOAPIC (SDM Vol. 3A 11.8.5)");

	/* The handler EOIs but the device still holds the line: again. */
	eoi(0x5a, true);
	ck_assert_msg(got(0x5a), "EOI of 0x5a while pin 10 is still asserted: expected the interrupt sent again");
	ck_assert_msg(rte_lo(10) & RTE_REMOTE_IRR, "after the re-delivery pin 10's Remote IRR must be set again "
		      "(entry 0x%08x)", rte_lo(10));

	/* The device is quiet now: the EOI just clears Remote IRR. */
	set_irq(10, 0);
	ck_assert_msg(!got(0x5a) && (rte_lo(10) & RTE_REMOTE_IRR), "lowering level pin 10 must neither send nor "
		      "clear Remote IRR (only the EOI does)");
	eoi(0x5a, true);
	ck_assert_msg(!got(0x5a) && !(rte_lo(10) & RTE_REMOTE_IRR), "EOI of 0x5a with pin 10 low: expected Remote "
		      "IRR clear and nothing sent (entry 0x%08x)", rte_lo(10));
	set_irq(10, 1);
	ck_assert_msg(got(0x5a), "pin 10 asserted again after its EOI: expected it sent");
}
END_TEST

/* Two level pins sharing a vector (a shared PCI interrupt): one EOI serves
 * both, and each still asserted is sent again. */
START_TEST(ioapic_level_shared_vector)
{
	set_rte(16, 0x70 | RTE_LEVEL, RTE_DEST(0));
	set_rte(17, 0x70 | RTE_LEVEL, RTE_DEST(0));
	set_irq(16, 1);
	ck_assert(got(0x70));
	set_irq(17, 1);
	ck_assert_msg(got(0x70) && (rte_lo(16) & RTE_REMOTE_IRR) && (rte_lo(17) & RTE_REMOTE_IRR),
		      "level pins 16 and 17 (both vector 0x70) asserted: expected each sent, each with Remote IRR set");
	set_irq(16, 0);
	eoi(0x70, true);
	ck_assert_msg(!(rte_lo(16) & RTE_REMOTE_IRR) && (rte_lo(17) & RTE_REMOTE_IRR) && got(0x70),
		      "EOI of vector 0x70 with pin 16 low and pin 17 high: expected Remote IRR clear on 16, pin 17 sent "
		      "again (Remote IRR set); entries 0x%08x 0x%08x", rte_lo(16), rte_lo(17));
}
END_TEST

START_TEST(ioapic_unmask_asserted_level)
{
	set_rte(9, 0x39 | RTE_LEVEL | RTE_MASKED, RTE_DEST(0));
	set_irq(9, 1);
	ck_assert_msg(irr_empty(), "masked level pin 9 asserted sent an interrupt");
	set_rte(9, 0x39 | RTE_LEVEL, RTE_DEST(0));
	ck_assert_msg(got(0x39), "unmasking level pin 9 while its line is asserted sent nothing: expected it sent at "
		      "once, the line still requests it (Linux: ioapic_service on the write of the entry)");

	/* Masked while waiting for its EOI: the EOI clears Remote IRR but a
	 * masked pin sends nothing; unmasking it does. */
	set_rte(9, 0x39 | RTE_LEVEL | RTE_MASKED, RTE_DEST(0));
	eoi(0x39, true);
	ck_assert_msg(!got(0x39) && !(rte_lo(9) & RTE_REMOTE_IRR), "EOI of 0x39 with pin 9 masked: expected Remote "
		      "IRR clear and nothing sent (entry 0x%08x)", rte_lo(9));
	set_rte(9, 0x39 | RTE_LEVEL, RTE_DEST(0));
	ck_assert_msg(got(0x39), "unmasking asserted level pin 9 after its EOI: expected it sent again");

	/* Rewriting the entry while Remote IRR is set is no new request. */
	set_rte(9, 0x39 | RTE_LEVEL, RTE_DEST(0));
	ck_assert_msg(!got(0x39), "rewriting level pin 9's entry while its Remote IRR is set sent it again: it waits "
		      "for the EOI");

	/* Switching the pin to edge clears Remote IRR, as KVM does for guests
	 * that use it to unstick a pin. */
	set_rte(9, 0x39 | RTE_MASKED, RTE_DEST(0));
	ck_assert_msg(!(rte_lo(9) & RTE_REMOTE_IRR), "pin 9 switched to edge still shows Remote IRR (0x%08x): it "
		      "means nothing for an edge pin and is cleared", rte_lo(9));
}
END_TEST

/* ---- the message --------------------------------------------------------------------- */

/* Where each entry's message goes. vCPU 0's LAPIC is APIC ID 0, logical
 * 0x01 in the flat model; no other LAPIC exists. (Lowest priority is left
 * to the irq suite's MSIs: choosing among LAPICs asks their PPR, which is
 * the LAPIC's exercise, not the IOAPIC's.) */
START_TEST(ioapic_destinations)
{
	static const struct {
		uint32_t lo, hi;
		bool reaches;
		const char *what;
	} cases[] = {
		{ 0x30, RTE_DEST(0), true, "fixed, physical APIC ID 0" },
		{ 0x31, RTE_DEST(1), false, "fixed, physical APIC ID 1 (no such LAPIC)" },
		{ 0x32, RTE_DEST(0xff), true, "fixed, physical broadcast 0xff" },
		{ 0x33 | RTE_LOGICAL, RTE_DEST(0x01), true, "fixed, logical 0x01 (flat: the LDR's bit 0)" },
		{ 0x34 | RTE_LOGICAL, RTE_DEST(0x06), false, "fixed, logical 0x06 (flat: bits 1 and 2, not ours)" },
		{ 0x35 | RTE_LOGICAL, RTE_DEST(0x00), false, "fixed, logical 0x00 (nobody); physical 0 would be us" },
	};
	for (int i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		int vec = (int)(cases[i].lo & 0xff);
		set_rte(i, cases[i].lo, cases[i].hi);
		set_irq(i, 1);
		bool reached = got(vec);
		ck_assert_msg(reached == cases[i].reaches && irr_empty(), "pin %d, entry 0x%08x_%08x (%s): the LAPIC (APIC "
			      "ID 0, logical 0x01) %s vector 0x%x; expected it %s (the message: vector = bits 7:0, delivery "
			      "mode = bits 10:8 << 8, APIC_DEST_LOGICAL for bit 11, destination = bits 63:56)", i,
			      cases[i].hi, cases[i].lo, cases[i].what, reached ? "got" : "did not get", vec,
			      cases[i].reaches ? "there" : "not there");
	}

	/* An NMI entry: the vector is not used, the vCPU gets an NMI. */
	set_rte(20, RTE_DM_NMI, RTE_DEST(0));
	set_irq(20, 1);
	ck_assert_msg(vm->vcpus[0]->arch.nmi_pending && irr_empty(), "pin 20 with delivery mode NMI (100b) to APIC "
		      "ID 0: expected the vCPU's NMI pending and nothing in IRR (delivery mode APIC_DM_NMI)");

	/* A level pin whose message nobody took has no EOI to wait for. */
	set_rte(21, 0x51 | RTE_LEVEL, RTE_DEST(7));
	set_irq(21, 1);
	ck_assert_msg(!(rte_lo(21) & RTE_REMOTE_IRR), "level pin 21 to APIC ID 7 (no such LAPIC) shows Remote IRR "
		      "(0x%08x): it is set when a LAPIC accepts the message (82093AA 3.2.4)", rte_lo(21));
}
END_TEST

/* ---- KVM_GET_IRQCHIP / KVM_SET_IRQCHIP ----------------------------------------------- */

START_TEST(ioapic_state_round_trip)
{
	reg_write(0x00, 0x05000000);
	set_rte(2, 0x22, RTE_DEST(0));                              /* edge, delivered below */
	set_rte(7, 0x27 | RTE_LEVEL | RTE_MASKED, RTE_DEST(0));     /* level, asserted while masked */
	set_rte(8, 0x28 | RTE_LEVEL | RTE_LOGICAL, RTE_DEST(0x01)); /* level, delivered, waiting for EOI */
	set_irq(2, 1);
	set_irq(7, 1);
	set_irq(8, 1);
	ck_assert(got(0x22) && got(0x28) && irr_empty());
	mmio_write(IOREGSEL, 4, 0x13);

	struct kvm_ioapic_state s;
	memset(&s, 0xa5, sizeof(s));
	kvm_get_ioapic(vm, &s);
	ck_assert_msg(s.base_address == IOAPIC_DEFAULT_BASE_ADDRESS && s.id == 5 && s.ioregsel == 0x13,
		      "kvm_get_ioapic: base 0x%llx, id %u, ioregsel 0x%x; expected 0xfec00000, 5, 0x13",
		      (unsigned long long)s.base_address, s.id, s.ioregsel);
	ck_assert_msg(s.irr == ((1u << 7) | (1u << 8)), "kvm_get_ioapic: irr 0x%x; expected 0x180, the asserted level "
		      "pins 7 and 8: pin 2's edge was already sent, a restore must not send it twice", s.irr);
	uint64_t want8 = (uint64_t)RTE_DEST(0x01) << 32 | 0x28 | RTE_LEVEL | RTE_LOGICAL | RTE_REMOTE_IRR;
	ck_assert_msg(s.redirtbl[8].bits == want8, "kvm_get_ioapic: entry 8 is 0x%016llx; expected 0x%016llx, the "
		      "entry as the guest reads it, Remote IRR included", (unsigned long long)s.redirtbl[8].bits,
		      (unsigned long long)want8);

	/* Into a fresh IOAPIC: same registers; the asserted lines are raised
	 * again, but pin 7 is masked and pin 8 waits for its EOI. */
	struct kvm *vm2 = new_vm();
	kvm_set_ioapic(vm2, &s);
	ck_assert_msg(!got_in(vm2, 0x27) && !got_in(vm2, 0x28), "kvm_set_ioapic sent an interrupt for a masked pin "
		      "(7) or one with Remote IRR set (8)");
	struct kvm_ioapic_state s2;
	memset(&s2, 0x5a, sizeof(s2));
	kvm_get_ioapic(vm2, &s2);
	ck_assert_msg(s2.base_address == s.base_address && s2.id == s.id && s2.ioregsel == s.ioregsel &&
		      s2.irr == s.irr && memcmp(s2.redirtbl, s.redirtbl, sizeof(s.redirtbl)) == 0,
		      "kvm_set_ioapic then kvm_get_ioapic does not give back the state saved (irr 0x%x vs 0x%x)", s2.irr,
		      s.irr);

	/* The restored IOAPIC works: pin 8's EOI re-delivers (still asserted). */
	kvm_ioapic_update_eoi(vm2->vcpus[0], 0x28, APIC_LEVEL_TRIG);
	ck_assert_msg(got_in(vm2, 0x28), "EOI of 0x28 on the restored IOAPIC: expected pin 8, still asserted, sent "
		      "again");

	/* A restored level pin asserted, unmasked and not waiting for an EOI
	 * goes out at once. */
	s.redirtbl[7].fields.mask = 0;
	kvm_set_ioapic(vm2, &s);
	ck_assert_msg(got_in(vm2, 0x27), "kvm_set_ioapic with level pin 7 asserted and unmasked: expected it sent at "
		      "once, as the restored line requests it");
	free_vm(vm2);
}
END_TEST

Suite *ioapic_suite(void)
{
	Suite *s = suite_create("ioapic");
	TCase *tc = tcase_create("registers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ioapic_registers);
	tcase_add_test(tc, ioapic_redirection_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("pins");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ioapic_masked_pin);
	tcase_add_test(tc, ioapic_edge);
	tcase_add_test(tc, ioapic_level_remote_irr);
	tcase_add_test(tc, ioapic_level_shared_vector);
	tcase_add_test(tc, ioapic_unmask_asserted_level);
	suite_add_tcase(s, tc);

	tc = tcase_create("messages");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ioapic_destinations);
	tcase_add_test(tc, ioapic_state_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
