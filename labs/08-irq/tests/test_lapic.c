/* SPDX-License-Identifier: MIT */
/*
 * The local APIC (lapic.c) through its register page and its entries, on
 * the fake host's clock: reset values (SDM Vol. 3A 11.4.7.1), IRR/ISR/TMR
 * as bit arrays, PPR classes (11.8.3.1), EOI, software disable, LVT masks,
 * the timer's divide, one-shot, periodic and TSC-deadline modes (11.5.4),
 * IPIs by ICR with each shorthand and physical, flat and cluster
 * destinations over four vCPUs (11.6), INIT and SIPI.
 */
#include <errno.h>
#include <string.h>

#include <x86/apicdef.h>
#include <x86/const.h>
#include <x86/msr-index.h>
#include "fake_irq_host.h"
#include "kvm/ioapic.h"
#include "kvm/irq.h"
#include "kvm/lapic.h"
#include "lab08_tests.h"

#define APIC_BASE APIC_DEFAULT_PHYS_BASE
#define NV 4

/* The IOAPIC, when the real one is linked with these tests: level EOIs are
 * then checked at its Remote IRR instead of the fake's record. */
#pragma weak kvm_ioapic_init
#pragma weak kvm_ioapic_destroy
#pragma weak kvm_ioapic_set_irq
#pragma weak kvm_get_ioapic
#pragma weak kvm_set_ioapic

/* ---- what x86.c would do: the CS a SIPI loads, the reset an INIT asks ---- */

static struct kvm_segment test_cs[KVM_MAX_VCPUS > NV ? KVM_MAX_VCPUS : NV];
static unsigned test_resets[KVM_MAX_VCPUS > NV ? KVM_MAX_VCPUS : NV];

static void test_get_segment(struct kvm_vcpu *vcpu, struct kvm_segment *var, int seg)
{
	ck_assert_int_eq(seg, VCPU_SREG_CS);
	*var = test_cs[vcpu->vcpu_id];
}

static void test_set_segment(struct kvm_vcpu *vcpu, const struct kvm_segment *var, int seg)
{
	ck_assert_int_eq(seg, VCPU_SREG_CS);
	test_cs[vcpu->vcpu_id] = *var;
}

__attribute__((weak)) struct kvm_x86_ops kvm_x86_ops = {
	.get_segment = test_get_segment,
	.set_segment = test_set_segment,
};

/* INIT's reset (SDM Vol. 3A table 10-1): CS f000 at base ffff0000, RIP fff0. */
__attribute__((weak)) void kvm_vcpu_reset(struct kvm_vcpu *vcpu, bool init_event)
{
	test_resets[vcpu->vcpu_id]++;
	test_cs[vcpu->vcpu_id] = (struct kvm_segment){ .selector = 0xf000, .base = 0xffff0000, .limit = 0xffff };
	vcpu->arch.regs[VCPU_REGS_RIP] = 0xfff0;
	kvm_lapic_reset(vcpu, init_event);
}

/* ---- helpers ---------------------------------------------------------------- */

static struct kvm *vm;

static struct kvm_vcpu *V(int i)
{
	return vm->vcpus[i];
}

/* A VM of n vCPUs with a LAPIC each, at power-on. */
static struct kvm *make_vm(int n)
{
	ck_assert_msg(n <= KVM_MAX_VCPUS, "these tests need %d vCPUs: KVM_MAX_VCPUS is %d (kvm_host.h)", n,
		      KVM_MAX_VCPUS);
	fake_irq_reset();
	memset(test_cs, 0, sizeof(test_cs));
	memset(test_resets, 0, sizeof(test_resets));
	vm = fake_irq_vm(n);
	for (int i = 0; i < n; i++) {
		V(i)->arch.apic_base = APIC_BASE | MSR_IA32_APICBASE_ENABLE | (i == 0 ? MSR_IA32_APICBASE_BSP : 0);
		ck_assert_msg(kvm_create_lapic(V(i)) == 0, "kvm_create_lapic(vCPU %d) failed", i);
		ck_assert_msg(V(i)->arch.apic, "kvm_create_lapic(vCPU %d) left vcpu->arch.apic NULL", i);
	}
	return vm;
}

static void free_vm(void)
{
	for (int i = 0; i < vm->nr_vcpus; i++)
		kvm_free_lapic(V(i));
	fake_irq_vm_free(vm);
	vm = NULL;
}

static uint32_t rd(int v, unsigned reg)
{
	uint32_t val = 0xdeadbeef;
	int r = kvm_lapic_mmio_read(V(v), APIC_BASE + reg, 4, &val);
	ck_assert_msg(r == 0, "vCPU %d: a 4-byte read of APIC register 0x%03x returned %d, not 0 (the LAPIC's page)", v,
		      reg, r);
	return val;
}

static void wr(int v, unsigned reg, uint32_t val)
{
	int r = kvm_lapic_mmio_write(V(v), APIC_BASE + reg, 4, &val);
	ck_assert_msg(r == 0, "vCPU %d: a 4-byte write of APIC register 0x%03x returned %d, not 0 (the LAPIC's page)", v,
		      reg, r);
}

static void sw_enable(int v)
{
	wr(v, APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);
}

static bool bit_in(int v, unsigned base, int vec)
{
	return (rd(v, base + 0x10 * (unsigned)(vec / 32)) >> (vec % 32)) & 1;
}

static int fixed(int v, int vec, bool level)
{
	struct kvm_lapic_irq irq = {
		.vector = (uint32_t)vec, .delivery_mode = APIC_DM_FIXED, .level = true,
		.trig_mode = level ? APIC_LEVEL_TRIG : APIC_EDGE_TRIG,
	};
	return kvm_apic_set_irq(V(v), &irq);
}

static void eoi(int v)
{
	wr(v, APIC_EOI, 0);
}

/* Put vec in service: in IRR, then INTA. */
static void in_service(int v, int vec)
{
	ck_assert_msg(fixed(v, vec, false) == 1, "vCPU %d: fixed vector 0x%02x not accepted by an enabled LAPIC", v,
		      vec);
	int got = kvm_get_apic_interrupt(V(v));
	ck_assert_msg(got == vec, "vCPU %d: kvm_get_apic_interrupt gave %d, expected 0x%02x (highest IRR above PPR)", v,
		      got, vec);
}

/* Which of the NV vCPUs have vec in IRR, as a bit mask. */
static unsigned irr_mask(int vec)
{
	unsigned m = 0;
	for (int i = 0; i < NV; i++)
		m |= (unsigned)bit_in(i, APIC_IRR, vec) << i;
	return m;
}

/* ---- reset and the register page ----------------------------------------------- */

START_TEST(lapic_reset_values)
{
	make_vm(2);
	for (int v = 0; v < 2; v++) {
		ck_assert_msg(rd(v, APIC_ID) == (uint32_t)v << 24, "vCPU %d: APIC ID 0x%08x, expected vcpu_id << 24", v,
			      rd(v, APIC_ID));
		ck_assert_msg((rd(v, APIC_LVR) & 0xff00ff) == 0x050014,
			      "vCPU %d: version register 0x%08x; expected 0x00050014 (xAPIC 0x14, max LVT entry 5)", v,
			      rd(v, APIC_LVR));
		ck_assert_msg(rd(v, APIC_SPIV) == 0xff, "vCPU %d: SVR 0x%x after reset, expected 0xff (software-disabled)",
			      v, rd(v, APIC_SPIV));
		ck_assert_msg(rd(v, APIC_DFR) == 0xffffffff, "vCPU %d: DFR 0x%08x after reset, expected all ones (flat)", v,
			      rd(v, APIC_DFR));
		ck_assert_msg(rd(v, APIC_TASKPRI) == 0 && rd(v, APIC_PROCPRI) == 0 && rd(v, APIC_LDR) == 0 &&
				      rd(v, APIC_TMICT) == 0 && rd(v, APIC_TMCCT) == 0 && rd(v, APIC_TDCR) == 0,
			      "vCPU %d: TPR, PPR, LDR, TMICT, TMCCT and TDCR are 0 after reset (SDM 11.4.7.1)", v);
		for (unsigned lvt = APIC_LVTT; lvt <= APIC_LVTERR; lvt += 0x10) {
			if (v == 0 && lvt == APIC_LVT0)
				continue;
			ck_assert_msg(rd(v, lvt) == APIC_LVT_MASKED, "vCPU %d: LVT 0x%03x is 0x%x after reset, expected masked",
				      v, lvt, rd(v, lvt));
		}
		for (int i = 0; i < 8; i++)
			ck_assert_msg(!rd(v, APIC_IRR + 0x10 * i) && !rd(v, APIC_ISR + 0x10 * i) && !rd(v, APIC_TMR + 0x10 * i),
				      "vCPU %d: IRR/ISR/TMR register %d not 0 after reset", v, i);
		uint64_t want = APIC_BASE | MSR_IA32_APICBASE_ENABLE | (v == 0 ? MSR_IA32_APICBASE_BSP : 0);
		ck_assert_msg(V(v)->arch.apic_base == want,
			      "vCPU %d: IA32_APIC_BASE 0x%llx after reset, expected 0x%llx (EN, BSP on vCPU 0 only)", v,
			      (unsigned long long)V(v)->arch.apic_base, (unsigned long long)want);
	}
	ck_assert_msg(rd(0, APIC_LVT0) == APIC_MODE_EXTINT << 8,
		      "BSP: LVT0 0x%x after power-on; expected 0x700 (ExtINT, unmasked: the PIC's virtual wire, as KVM)",
		      rd(0, APIC_LVT0));
	free_vm();
}
END_TEST

START_TEST(lapic_mmio_rules)
{
	make_vm(1);
	uint32_t val = 0x12345678;
	ck_assert_msg(rd(0, 0x040) == 0, "reserved register 0x040 reads 0x%x, expected 0", rd(0, 0x040));
	wr(0, 0x040, 0xffffffff);
	ck_assert_msg(rd(0, 0x040) == 0, "a write to reserved register 0x040 must be ignored");
	wr(0, APIC_LVR, 0);
	ck_assert_msg((rd(0, APIC_LVR) & 0xff) == 0x14, "the version register is read-only");
	ck_assert_msg(rd(0, APIC_EOI) == 0, "EOI is write-only: reads 0");

	wr(0, APIC_ID, 0x05abcdef);
	ck_assert_msg(rd(0, APIC_ID) == 0x05000000, "APIC ID write 0x05abcdef reads 0x%08x; expected bits 31:24 only",
		      rd(0, APIC_ID));
	uint16_t half = 0;
	ck_assert_int_eq(kvm_lapic_mmio_read(V(0), APIC_BASE + APIC_ID + 2, 2, &half), 0);
	ck_assert_msg(half == 0x0500, "a 2-byte read at ID+2 gave 0x%04x, expected the upper half 0x0500", half);

	/* Registers are 32 bits at 16-byte alignment (11.4.1). */
	wr(0, APIC_TASKPRI, 0x20);
	ck_assert_int_eq(kvm_lapic_mmio_write(V(0), APIC_BASE + APIC_TASKPRI + 4, 4, &val), 0);
	ck_assert_int_eq(kvm_lapic_mmio_write(V(0), APIC_BASE + APIC_TASKPRI, 1, &val), 0);
	ck_assert_msg(rd(0, APIC_TASKPRI) == 0x20, "TPR 0x%x: a 1-byte or unaligned write must be ignored",
		      rd(0, APIC_TASKPRI));

	ck_assert_msg(kvm_lapic_mmio_read(V(0), APIC_BASE + 0x1000, 4, &val) == -EOPNOTSUPP &&
			      kvm_lapic_mmio_write(V(0), APIC_BASE - 4, 4, &val) == -EOPNOTSUPP,
		      "an address outside the LAPIC's page is not the LAPIC's: -EOPNOTSUPP");
	/* IA32_APIC_BASE moves the page (11.4.4). */
	kvm_lapic_set_base(V(0), 0xfed00000ull | MSR_IA32_APICBASE_ENABLE | MSR_IA32_APICBASE_BSP);
	ck_assert_msg(kvm_lapic_mmio_read(V(0), APIC_BASE + APIC_ID, 4, &val) == -EOPNOTSUPP,
		      "after IA32_APIC_BASE moved to 0xfed00000 the old page is not the LAPIC's");
	ck_assert_msg(kvm_lapic_mmio_read(V(0), 0xfed00000ull + APIC_ID, 4, &val) == 0 && val == 0x05000000,
		      "after IA32_APIC_BASE moved to 0xfed00000 its ID is read there");
	free_vm();
}
END_TEST

/* ---- IRR, ISR, PPR, EOI ----------------------------------------------------------- */

START_TEST(lapic_vector_bits)
{
	static const int vecs[] = { 16, 31, 32, 63, 64, 127, 128, 254, 255 };
	make_vm(1);
	sw_enable(0);
	for (unsigned i = 0; i < ARRAY_SIZE(vecs); i++) {
		ck_assert_int_eq(fixed(0, vecs[i], false), 1);
		for (int r = 0; r < 8; r++) {
			uint32_t want = 0;
			for (unsigned j = 0; j <= i; j++)
				if (vecs[j] / 32 == r)
					want |= 1u << (vecs[j] % 32);
			ck_assert_msg(rd(0, APIC_IRR + 0x10 * r) == want,
				      "after vectors up to 0x%02x, IRR register %d (0x%03x) = 0x%08x, expected 0x%08x "
				      "(vector v is bit v%%32 of register v/32, registers 0x10 apart)",
				      vecs[i], r, APIC_IRR + 0x10 * r, rd(0, APIC_IRR + 0x10 * r), want);
		}
	}
	/* INTA moves the highest to ISR; EOI takes it out again. */
	for (int i = (int)ARRAY_SIZE(vecs) - 1; i >= 0; i--) {
		int got = kvm_get_apic_interrupt(V(0));
		ck_assert_msg(got == vecs[i], "kvm_get_apic_interrupt gave %d, expected 0x%02x (the highest IRR vector)", got,
			      vecs[i]);
		ck_assert_msg(bit_in(0, APIC_ISR, got) && !bit_in(0, APIC_IRR, got),
			      "vector 0x%02x after INTA: must be in ISR (0x%03x bit %d) and out of IRR", got,
			      APIC_ISR + 0x10 * (got / 32), got % 32);
		eoi(0);
		ck_assert_msg(!bit_in(0, APIC_ISR, got), "vector 0x%02x still in ISR after its EOI", got);
	}
	ck_assert_int_eq(kvm_apic_has_interrupt(V(0)), -1);
	/* Class 0 (vectors 0-15) never beats a PPR of 0 (11.8.4). */
	fixed(0, 15, false);
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == -1,
		      "vector 15 is deliverable; a vector's class must be ABOVE PPR's (class 0 never is)");
	free_vm();
}
END_TEST

START_TEST(lapic_ppr_classes)
{
	static const struct { uint32_t tpr; int isr; uint32_t ppr; } c[] = {
		{ 0x00, -1, 0x00 }, { 0x35, -1, 0x35 }, { 0x35, 0x41, 0x40 }, { 0x45, 0x41, 0x45 },
		{ 0x4f, 0x4a, 0x4f }, { 0x30, 0x4a, 0x40 }, { 0xff, 0xfe, 0xff }, { 0x10, 0xfe, 0xf0 },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(c); i++) {
		make_vm(1);
		sw_enable(0);
		if (c[i].isr >= 0)
			in_service(0, c[i].isr);
		wr(0, APIC_TASKPRI, c[i].tpr);
		ck_assert_msg(rd(0, APIC_PROCPRI) == c[i].ppr,
			      "TPR 0x%02x, highest ISR %d: PPR 0x%02x, expected 0x%02x (TPR if TPR[7:4] >= ISRV[7:4], else "
			      "ISRV[7:4]:0, SDM 11.8.3.1)", c[i].tpr, c[i].isr, rd(0, APIC_PROCPRI), c[i].ppr);
		free_vm();
	}
}
END_TEST

START_TEST(lapic_tpr_blocks_class)
{
	make_vm(1);
	sw_enable(0);
	wr(0, APIC_TASKPRI, 0x5f);
	fixed(0, 0x55, false);
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == -1, "TPR 0x5f must hold vector 0x55 (class 5 is not above 5)");
	fixed(0, 0x60, false);
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == 0x60, "TPR 0x5f lets 0x60 through (class 6 > 5): got %d",
		      kvm_apic_has_interrupt(V(0)));
	wr(0, APIC_TASKPRI, 0x60);
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == -1, "TPR 0x60 must hold 0x60 and 0x55");
	kvm_lapic_set_tpr(V(0), 0x4);
	ck_assert_msg(rd(0, APIC_TASKPRI) == 0x40 && kvm_lapic_get_cr8(V(0)) == 0x4,
		      "MOV CR8, 4 must make TPR 0x40 (CR8 is TPR[7:4]): TPR 0x%x", rd(0, APIC_TASKPRI));
	ck_assert_msg(kvm_get_apic_interrupt(V(0)) == 0x60, "TPR 0x40: 0x60 first");
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == -1, "0x55 waits while 0x60 is in service (PPR 0x60)");
	eoi(0);
	ck_assert_msg(kvm_get_apic_interrupt(V(0)) == 0x55, "after 0x60's EOI, 0x55 (class 5 > TPR class 4)");
	free_vm();
}
END_TEST

START_TEST(lapic_many_pending)
{
	static const int vecs[] = { 0x31, 0xe0, 0x45, 0x46, 0x9f, 0x20, 0x80, 0xff, 0x7e, 0x44, 0xa1, 0x3f };
	make_vm(1);
	sw_enable(0);
	for (unsigned i = 0; i < ARRAY_SIZE(vecs); i++)
		fixed(0, vecs[i], false);
	int last = 256;
	for (unsigned i = 0; i < ARRAY_SIZE(vecs); i++) {
		int got = kvm_get_apic_interrupt(V(0));
		ck_assert_msg(got >= 0 && got < last, "pending #%u: got %d after %d; expected strictly falling vectors", i,
			      got, last);
		/* One in service holds its own class and those below. */
		int next = kvm_apic_has_interrupt(V(0));
		ck_assert_msg(next == -1, "with 0x%02x in service, %d is offered; nothing at or below class %d may be", got,
			      next, got >> 4);
		eoi(0);
		last = got;
	}
	ck_assert_int_eq(kvm_apic_has_interrupt(V(0)), -1);
	free_vm();
}
END_TEST

START_TEST(lapic_eoi_highest_isr)
{
	make_vm(1);
	sw_enable(0);
	in_service(0, 0x40);
	in_service(0, 0x90);   /* nested: class 9 > PPR 0x40 */
	fixed(0, 0x85, false);
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == -1, "0x85 must wait for 0x90's EOI (PPR 0x90)");
	eoi(0);
	ck_assert_msg(!bit_in(0, APIC_ISR, 0x90) && bit_in(0, APIC_ISR, 0x40),
		      "EOI must clear the highest ISR bit (0x90) and only it");
	ck_assert_msg(rd(0, APIC_PROCPRI) == 0x40, "PPR after 0x90's EOI: 0x%x, expected 0x40 (0x40 still in service)",
		      rd(0, APIC_PROCPRI));
	ck_assert_msg(kvm_get_apic_interrupt(V(0)) == 0x85, "0x85 (class 8 > 4) goes once 0x90 is done");
	eoi(0);
	eoi(0);
	ck_assert_msg(!bit_in(0, APIC_ISR, 0x40) && rd(0, APIC_PROCPRI) == 0, "three EOIs: ISR empty, PPR 0");
	eoi(0);   /* with nothing in service: nothing happens */
	ck_assert_msg(fake_irq_calls.update_eoi == 0, "edge vectors' EOIs must not reach the IOAPIC");
	free_vm();
}
END_TEST

START_TEST(lapic_level_eoi_to_ioapic)
{
	make_vm(1);
	sw_enable(0);
	if (!kvm_ioapic_init) {
		/* The fake records kvm_ioapic_update_eoi. */
		fixed(0, 0x71, true);
		ck_assert_msg(bit_in(0, APIC_TMR, 0x71), "a level-triggered fixed interrupt must set its TMR bit");
		fixed(0, 0x62, false);
		ck_assert_msg(!bit_in(0, APIC_TMR, 0x62), "an edge-triggered one must leave TMR clear");
		ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x71);
		eoi(0);
		ck_assert_msg(fake_irq_calls.update_eoi == 1 && fake_irq_calls.eoi_vector[0] == 0x71 &&
				      fake_irq_calls.eoi_trigger[0] == APIC_LEVEL_TRIG,
			      "EOI of level vector 0x71: kvm_ioapic_update_eoi called %u times (vector %d, trigger %d); "
			      "expected once with (0x71, level)", fake_irq_calls.update_eoi, fake_irq_calls.eoi_vector[0],
			      fake_irq_calls.eoi_trigger[0]);
		ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x62);
		eoi(0);
		ck_assert_msg(fake_irq_calls.update_eoi == 1, "EOI of edge vector 0x62 must not reach the IOAPIC");
	} else {
		/* The real IOAPIC: pin 5, level, vector 0x71 to APIC 0. */
		ck_assert_int_eq(kvm_ioapic_init(vm), 0);
		struct kvm_ioapic_state st;
		kvm_get_ioapic(vm, &st);
		st.redirtbl[5].bits = 0x71 | (1ull << 15);   /* fixed, physical, level, unmasked, dest 0 */
		kvm_set_ioapic(vm, &st);
		kvm_ioapic_set_irq(vm->arch.vioapic, 5, 1);
		ck_assert_msg(bit_in(0, APIC_IRR, 0x71) && bit_in(0, APIC_TMR, 0x71),
			      "IOAPIC level pin 5 -> vector 0x71: must be in IRR with its TMR bit");
		ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x71);
		kvm_ioapic_set_irq(vm->arch.vioapic, 5, 0);
		eoi(0);
		kvm_get_ioapic(vm, &st);
		ck_assert_msg(!st.redirtbl[5].fields.remote_irr,
			      "EOI of level vector 0x71 must reach the IOAPIC (kvm_ioapic_update_eoi): Remote IRR still set");
		kvm_ioapic_destroy(vm);
	}
	free_vm();
}
END_TEST

START_TEST(lapic_software_disable)
{
	make_vm(1);
	ck_assert_msg(fixed(0, 0x50, false) == 0 && !bit_in(0, APIC_IRR, 0x50),
		      "a software-disabled LAPIC (SVR bit 8 clear) must refuse fixed interrupts");
	sw_enable(0);
	ck_assert_msg(rd(0, APIC_SPIV) == 0x1ff, "SVR 0x1ff reads 0x%x", rd(0, APIC_SPIV));
	wr(0, APIC_LVTT, 0x20);
	wr(0, APIC_LVT0, 0x30);
	ck_assert_int_eq(fixed(0, 0x50, false), 1);
	wr(0, APIC_SPIV, 0x0ef);
	ck_assert_msg(rd(0, APIC_SPIV) == 0xef, "SVR keeps its vector: 0x%x", rd(0, APIC_SPIV));
	for (unsigned lvt = APIC_LVTT; lvt <= APIC_LVTERR; lvt += 0x10)
		ck_assert_msg(rd(0, lvt) & APIC_LVT_MASKED, "software disable must mask every LVT: 0x%03x is 0x%x", lvt,
			      rd(0, lvt));
	wr(0, APIC_LVTT, 0x20);
	ck_assert_msg(rd(0, APIC_LVTT) == (APIC_LVT_MASKED | 0x20),
		      "while software-disabled an LVT write keeps the mask: 0x%x", rd(0, APIC_LVTT));
	ck_assert_msg(kvm_apic_has_interrupt(V(0)) == 0x50,
		      "IRR bits held before the disable are still delivered (SDM 11.4.7.2)");
	free_vm();
}
END_TEST

START_TEST(lapic_lvt_masks)
{
	make_vm(2);
	sw_enable(0);
	sw_enable(1);
	static const struct { unsigned reg; uint32_t reads; } c[] = {
		{ APIC_LVTT, 0x700ff }, { APIC_LVTTHMR, 0x107ff }, { APIC_LVTPC, 0x107ff },
		{ APIC_LVT0, 0x1a7ff }, { APIC_LVT1, 0x1a7ff }, { APIC_LVTERR, 0x100ff },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(c); i++) {
		wr(0, c[i].reg, 0xffffffff);
		ck_assert_msg(rd(0, c[i].reg) == c[i].reads,
			      "LVT 0x%03x written all ones reads 0x%x, expected 0x%x (only its writable bits, figure 11-8)",
			      c[i].reg, rd(0, c[i].reg), c[i].reads);
	}
	/* The PIC's INTR reaches a LAPIC through LINT0 as ExtINT. */
	wr(0, APIC_LVT0, APIC_MODE_EXTINT << 8);
	ck_assert_msg(kvm_apic_accept_pic_intr(V(0)) == 1, "LVT0 ExtINT unmasked: the PIC's interrupt is accepted");
	wr(0, APIC_LVT0, APIC_LVT_MASKED | APIC_MODE_EXTINT << 8);
	ck_assert_msg(kvm_apic_accept_pic_intr(V(0)) == 0, "LVT0 masked: the PIC's interrupt must not be accepted");
	ck_assert_msg(kvm_apic_accept_pic_intr(V(1)) == 0, "an AP's LVT0 is masked at reset: no PIC interrupt");
	kvm_lapic_set_base(V(1), APIC_BASE);
	ck_assert_msg(kvm_apic_accept_pic_intr(V(1)) == 1, "a globally disabled APIC passes INTR through (SDM 11.4.3)");
	free_vm();
}
END_TEST

/* ---- the timer ----------------------------------------------------------------------- */

START_TEST(lapic_timer_divide)
{
	static const struct { uint32_t tdcr; uint32_t div; } c[] = {
		{ APIC_TDR_DIV_1, 1 }, { APIC_TDR_DIV_2, 2 }, { APIC_TDR_DIV_4, 4 }, { APIC_TDR_DIV_8, 8 },
		{ APIC_TDR_DIV_16, 16 }, { APIC_TDR_DIV_32, 32 }, { APIC_TDR_DIV_64, 64 }, { APIC_TDR_DIV_128, 128 },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(c); i++) {
		make_vm(1);
		sw_enable(0);
		fake_now_ns = 1000000;
		wr(0, APIC_LVTT, 0x40);
		wr(0, APIC_TDCR, c[i].tdcr);
		wr(0, APIC_TMICT, 1000);
		uint64_t end = 1000000 + 1000ull * c[i].div;   /* 1 ns per bus cycle */
		ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == end,
			      "TDCR 0x%x (divide by %u), TMICT 1000 at t=1ms: next event %llu, expected %llu", c[i].tdcr,
			      c[i].div, (unsigned long long)kvm_lapic_next_event_ns(V(0)), (unsigned long long)end);
		fake_now_ns += 100ull * c[i].div;
		ck_assert_msg(rd(0, APIC_TMCCT) == 900, "TDCR 0x%x: TMCCT %u after 100 divided cycles, expected 900",
			      c[i].tdcr, rd(0, APIC_TMCCT));
		fake_now_ns = end - 1;
		kvm_lapic_check_timer(V(0));
		ck_assert_msg(!bit_in(0, APIC_IRR, 0x40), "TDCR 0x%x: the timer fired 1 ns early", c[i].tdcr);
		fake_now_ns = end;
		kvm_lapic_check_timer(V(0));
		ck_assert_msg(bit_in(0, APIC_IRR, 0x40), "TDCR 0x%x: the timer did not fire at TMICT x %u ns", c[i].tdcr,
			      c[i].div);
		free_vm();
	}
}
END_TEST

START_TEST(lapic_timer_oneshot)
{
	make_vm(1);
	sw_enable(0);
	fake_now_ns = 5000;
	wr(0, APIC_TDCR, APIC_TDR_DIV_4);
	wr(0, APIC_LVTT, 0x41);
	wr(0, APIC_TMICT, 1000000);
	ck_assert_msg(rd(0, APIC_TMCCT) == 1000000, "TMCCT right after TMICT 1000000: %u", rd(0, APIC_TMCCT));
	fake_now_ns += 400000;
	ck_assert_msg(rd(0, APIC_TMCCT) == 900000, "TMCCT 400 us later at divide 4: %u, expected 900000",
		      rd(0, APIC_TMCCT));
	fake_now_ns = 5000 + 4000000;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(bit_in(0, APIC_IRR, 0x41), "one-shot: LVTT's vector 0x41 in IRR at expiry");
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == UINT64_MAX && rd(0, APIC_TMCCT) == 0,
		      "one-shot: after expiry, no next event and TMCCT 0");
	ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x41);
	eoi(0);
	fake_now_ns += 10000000;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(!bit_in(0, APIC_IRR, 0x41), "one-shot fired twice");
	/* Masked: the count runs out, no interrupt. */
	wr(0, APIC_LVTT, APIC_LVT_MASKED | 0x41);
	wr(0, APIC_TMICT, 10);
	fake_now_ns += 100;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(!bit_in(0, APIC_IRR, 0x41), "a masked LVTT must not raise its vector");
	/* TMICT 0 stops the timer. */
	wr(0, APIC_LVTT, 0x41);
	wr(0, APIC_TMICT, 1000);
	wr(0, APIC_TMICT, 0);
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == UINT64_MAX, "TMICT 0 must stop the timer");
	free_vm();
}
END_TEST

START_TEST(lapic_timer_periodic)
{
	const uint64_t P = 500000;   /* TMICT 500000 at divide 1: 500 us */
	make_vm(1);
	sw_enable(0);
	fake_now_ns = 1000;
	wr(0, APIC_TDCR, APIC_TDR_DIV_1);
	wr(0, APIC_LVTT, APIC_LVT_TIMER_PERIODIC | 0x42);
	wr(0, APIC_TMICT, (uint32_t)P);
	uint64_t t0 = 1000;
	fake_now_ns = t0 + P + 100;   /* the period is over, the run loop has not looked yet */
	ck_assert_msg(rd(0, APIC_TMCCT) == P - 100,
		      "periodic: TMCCT %u 100 ns past the first period, before the expiry is handled; expected %llu "
		      "(the count reloads at each period)", rd(0, APIC_TMCCT), (unsigned long long)(P - 100));
	fake_now_ns = t0 + P + 123;   /* the vCPU looks 123 ns late */
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(bit_in(0, APIC_IRR, 0x42), "periodic: no interrupt after the first period");
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == t0 + 2 * P,
		      "periodic: next target %llu, expected %llu = start + 2 periods (re-arm from the previous target, "
		      "not from now, or the guest's clock drifts)",
		      (unsigned long long)kvm_lapic_next_event_ns(V(0)), (unsigned long long)(t0 + 2 * P));
	ck_assert_msg(rd(0, APIC_TMCCT) == P - 123, "periodic: TMCCT %u 123 ns into period 2, expected %llu",
		      rd(0, APIC_TMCCT), (unsigned long long)(P - 123));
	ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x42);
	eoi(0);
	/* 3.5 periods late: one interrupt, the next target on the same beat. */
	fake_now_ns = t0 + 5 * P + P / 2;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(bit_in(0, APIC_IRR, 0x42), "periodic: no interrupt after being late");
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == t0 + 6 * P,
		      "periodic, 3.5 periods late: next target %llu, expected %llu (the first beat after now)",
		      (unsigned long long)kvm_lapic_next_event_ns(V(0)), (unsigned long long)(t0 + 6 * P));
	/* Too fast a period is raised to 200 us, as KVM's. */
	wr(0, APIC_TMICT, 10);
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == fake_now_ns + 200000,
		      "periodic TMICT 10: next event in %lld ns, expected 200000 (the minimum period)",
		      (long long)(kvm_lapic_next_event_ns(V(0)) - fake_now_ns));
	free_vm();
}
END_TEST

START_TEST(lapic_timer_tsc_deadline)
{
	make_vm(1);
	sw_enable(0);
	fake_now_ns = 1000000;
	kvm_set_lapic_tscdeadline_msr(V(0), fake_now_ns + 10);
	ck_assert_msg(kvm_get_lapic_tscdeadline_msr(V(0)) == 0 && kvm_lapic_next_event_ns(V(0)) == UINT64_MAX,
		      "IA32_TSC_DEADLINE outside TSC-deadline mode: the write is ignored, reads 0");
	wr(0, APIC_LVTT, APIC_LVT_TIMER_TSCDEADLINE | 0x43);
	wr(0, APIC_TMICT, 1000);
	ck_assert_msg(rd(0, APIC_TMICT) == 0 && kvm_lapic_next_event_ns(V(0)) == UINT64_MAX,
		      "TSC-deadline mode ignores TMICT writes");
	/* A deadline already past fires at once (11.5.4.1). */
	kvm_set_lapic_tscdeadline_msr(V(0), kvm_read_l1_tsc(V(0)) - 1);
	ck_assert_msg(bit_in(0, APIC_IRR, 0x43), "a TSC deadline in the past must fire at once");
	ck_assert_msg(kvm_get_lapic_tscdeadline_msr(V(0)) == 0, "IA32_TSC_DEADLINE reads 0 once the timer fired");
	ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x43);
	eoi(0);
	kvm_set_lapic_tscdeadline_msr(V(0), kvm_read_l1_tsc(V(0)));
	ck_assert_msg(bit_in(0, APIC_IRR, 0x43), "a TSC deadline equal to the guest's TSC now must fire at once");
	ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x43);
	eoi(0);
	/* 5000 ticks at 3 GHz are 1666.7 ns: not yet at 1666 (rounding up). */
	fake_tsc_khz = 3000000;
	kvm_set_lapic_tscdeadline_msr(V(0), kvm_read_l1_tsc(V(0)) + 5000);
	fake_now_ns += 1666;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(!bit_in(0, APIC_IRR, 0x43),
		      "deadline 5000 ticks ahead at 3 GHz fired after 1666 ns, when the guest's TSC is 4998 ticks on "
		      "(round the distance in ns up)");
	fake_now_ns += 1;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(bit_in(0, APIC_IRR, 0x43), "deadline 5000 ticks ahead at 3 GHz: not fired after 1667 ns");
	ck_assert_int_eq(kvm_get_apic_interrupt(V(0)), 0x43);
	eoi(0);
	/* The future: 5000 TSC ticks at 2 GHz are 2500 ns. */
	fake_tsc_khz = 2000000;
	uint64_t tsc = kvm_read_l1_tsc(V(0));
	kvm_set_lapic_tscdeadline_msr(V(0), tsc + 5000);
	ck_assert_msg(kvm_get_lapic_tscdeadline_msr(V(0)) == tsc + 5000, "IA32_TSC_DEADLINE reads what was written");
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == fake_now_ns + 2500,
		      "deadline 5000 TSC ticks ahead at 2 GHz: next event in %lld ns, expected 2500",
		      (long long)(kvm_lapic_next_event_ns(V(0)) - fake_now_ns));
	ck_assert_msg(rd(0, APIC_TMCCT) == 0, "TMCCT reads 0 in TSC-deadline mode");
	fake_now_ns += 2499;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(!bit_in(0, APIC_IRR, 0x43), "the TSC deadline fired before the guest's TSC reached it");
	fake_now_ns += 1;
	kvm_lapic_check_timer(V(0));
	ck_assert_msg(bit_in(0, APIC_IRR, 0x43) && kvm_get_lapic_tscdeadline_msr(V(0)) == 0,
		      "the TSC deadline did not fire when the guest's TSC reached it");
	kvm_set_lapic_tscdeadline_msr(V(0), kvm_read_l1_tsc(V(0)) + 100);
	kvm_set_lapic_tscdeadline_msr(V(0), 0);
	ck_assert_msg(kvm_lapic_next_event_ns(V(0)) == UINT64_MAX, "IA32_TSC_DEADLINE 0 disarms the timer");
	free_vm();
}
END_TEST

/* ---- IPIs over four vCPUs ------------------------------------------------------------ */

static void send_ipi(int from, uint32_t dest, uint32_t icr)
{
	wr(from, APIC_ICR2, SET_APIC_DEST_FIELD(dest));
	wr(from, APIC_ICR, icr);
	ck_assert_msg(!(rd(from, APIC_ICR) & APIC_ICR_BUSY), "ICR's delivery status must read idle after the write");
}

START_TEST(lapic_ipi_shorthands)
{
	make_vm(NV);
	for (int i = 0; i < NV; i++)
		sw_enable(i);
	send_ipi(1, 0, APIC_DEST_SELF | 0x50);
	ck_assert_msg(irr_mask(0x50) == 0x2, "ICR shorthand self from vCPU 1: IRR on vCPUs 0x%x, expected 0x2",
		      irr_mask(0x50));
	ck_assert_msg(fake_irq_calls.kicks[1] >= 1, "the target vCPU must be kicked (kvm_vcpu_kick)");
	send_ipi(1, 0, APIC_DEST_ALLINC | 0x51);
	ck_assert_msg(irr_mask(0x51) == 0xf, "shorthand all-including-self: IRR on vCPUs 0x%x, expected 0xf",
		      irr_mask(0x51));
	send_ipi(1, 0, APIC_DEST_ALLBUT | 0x52);
	ck_assert_msg(irr_mask(0x52) == 0xd, "shorthand all-but-self from vCPU 1: IRR on vCPUs 0x%x, expected 0xd",
		      irr_mask(0x52));
	send_ipi(0, 2, APIC_DEST_PHYSICAL | 0x53);
	ck_assert_msg(irr_mask(0x53) == 0x4, "physical destination 2: IRR on vCPUs 0x%x, expected 0x4", irr_mask(0x53));
	send_ipi(0, 0xff, APIC_DEST_PHYSICAL | 0x54);
	ck_assert_msg(irr_mask(0x54) == 0xf, "physical destination 0xff (broadcast): IRR on vCPUs 0x%x, expected 0xf",
		      irr_mask(0x54));
	send_ipi(0, 3, APIC_DM_NMI);
	ck_assert_msg(V(3)->arch.nmi_pending && !V(2)->arch.nmi_pending, "an NMI IPI to APIC 3 sets its nmi_pending");
	send_ipi(0, 1, APIC_INT_LEVELTRIG | APIC_INT_ASSERT | 0x55);
	ck_assert_msg(bit_in(1, APIC_TMR, 0x55), "a level-triggered fixed IPI sets TMR");
	free_vm();
}
END_TEST

START_TEST(lapic_ipi_logical)
{
	make_vm(NV);
	for (int i = 0; i < NV; i++) {
		sw_enable(i);
		wr(i, APIC_LDR, 1u << (24 + i));   /* flat: a bit each */
	}
	send_ipi(3, 0x05, APIC_DEST_LOGICAL | 0x60);
	ck_assert_msg(irr_mask(0x60) == 0x5, "logical flat destination 0x05: IRR on vCPUs 0x%x, expected 0x5 (LDR & MDA)",
		      irr_mask(0x60));

	static const uint32_t cluster_ldr[NV] = { 0x11, 0x12, 0x21, 0x22 };
	for (int i = 0; i < NV; i++) {
		wr(i, APIC_DFR, APIC_DFR_CLUSTER);
		wr(i, APIC_LDR, cluster_ldr[i] << 24);
	}
	ck_assert_msg(rd(0, APIC_DFR) == 0x0fffffff, "DFR cluster model reads 0x%08x", rd(0, APIC_DFR));
	send_ipi(3, 0x13, APIC_DEST_LOGICAL | 0x61);
	ck_assert_msg(irr_mask(0x61) == 0x3,
		      "cluster destination 0x13 (cluster 1, APICs 1|2): IRR on vCPUs 0x%x, expected 0x3", irr_mask(0x61));
	send_ipi(3, 0x22, APIC_DEST_LOGICAL | 0x62);
	ck_assert_msg(irr_mask(0x62) == 0x8, "cluster destination 0x22: IRR on vCPUs 0x%x, expected 0x8", irr_mask(0x62));
	struct kvm_lapic_irq none = { .vector = 0x63, .delivery_mode = APIC_DM_FIXED, .dest_mode = APIC_DEST_LOGICAL,
				      .level = true, .dest_id = 0x31 };
	ck_assert_msg(kvm_irq_delivery_to_apic(vm, NULL, &none) == -1 && irr_mask(0x63) == 0,
		      "cluster destination 0x31 names nobody: kvm_irq_delivery_to_apic returns -1");

	/* Lowest priority: one of those named, the lowest PPR (11.6.2.4). */
	static const uint32_t tpr[NV] = { 0x30, 0x10, 0x20, 0x10 };
	for (int i = 0; i < NV; i++) {
		wr(i, APIC_DFR, APIC_DFR_FLAT);
		wr(i, APIC_LDR, 1u << (24 + i));
		wr(i, APIC_TASKPRI, tpr[i]);
	}
	send_ipi(0, 0x0f, APIC_DEST_LOGICAL | APIC_DM_LOWEST | 0x64);
	ck_assert_msg(irr_mask(0x64) == 0x2,
		      "lowest priority to 0x0f with TPRs 30 10 20 10: IRR on vCPUs 0x%x, expected 0x2 (one target, the "
		      "first of the lowest)", irr_mask(0x64));
	free_vm();
}
END_TEST

/* The AP did not run between the INIT and the SIPI (one host CPU, or a busy
 * one): both wait together, and the SIPI's vector must survive the reset
 * the INIT makes (kvm_lapic_reset clears sipi_vector). */
START_TEST(lapic_init_sipi_together)
{
	make_vm(NV);
	sw_enable(0);
	send_ipi(0, 1, APIC_INT_ASSERT | APIC_DM_INIT);
	send_ipi(0, 1, APIC_INT_ASSERT | APIC_DM_STARTUP | 0x08);
	ck_assert_msg(V(1)->arch.apic->pending_events == ((1ul << KVM_APIC_INIT) | (1ul << KVM_APIC_SIPI)),
		      "INIT then SIPI with no accept between: pending_events 0x%lx, expected both (0x3)",
		      V(1)->arch.apic->pending_events);
	kvm_apic_accept_events(V(1));
	ck_assert_msg(V(1)->arch.mp_state == KVM_MP_STATE_RUNNABLE && test_cs[1].selector == 0x0800 &&
			      test_cs[1].base == 0x8000 && V(1)->arch.regs[VCPU_REGS_RIP] == 0,
		      "INIT and SIPI 0x08 taken together: mp_state %u, CS %04x base 0x%llx; expected RUNNABLE at "
		      "0800:0000 (base 0x8000): keep the SIPI's vector across the INIT's reset (SDM Vol. 3A 9.4.4)",
		      V(1)->arch.mp_state, test_cs[1].selector, (unsigned long long)test_cs[1].base);
	free_vm();
}
END_TEST

START_TEST(lapic_init_sipi)
{
	make_vm(NV);
	sw_enable(0);
	/* INIT, then SIPI vector 0x9a to all the others, as an OS starts APs. */
	send_ipi(0, 0, APIC_DEST_ALLBUT | APIC_INT_ASSERT | APIC_DM_INIT);
	for (int i = 1; i < NV; i++) {
		ck_assert_msg(V(i)->arch.apic->pending_events & (1ul << KVM_APIC_INIT),
			      "INIT to all-but-self: vCPU %d has no pending INIT", i);
		ck_assert_msg(fake_irq_calls.kicks[i] >= 1, "vCPU %d must be kicked for its INIT", i);
	}
	for (int i = 0; i < NV; i++)
		kvm_apic_accept_events(V(i));
	for (int i = 1; i < NV; i++)
		ck_assert_msg(V(i)->arch.mp_state == KVM_MP_STATE_INIT_RECEIVED && test_resets[i] == 1,
			      "vCPU %d after INIT: mp_state %u, %u resets; expected INIT_RECEIVED (%d) after kvm_vcpu_reset",
			      i, V(i)->arch.mp_state, test_resets[i], KVM_MP_STATE_INIT_RECEIVED);
	ck_assert_msg(V(0)->arch.mp_state == KVM_MP_STATE_RUNNABLE && test_resets[0] == 0,
		      "the sender (BSP) must not be INITed by all-but-self");

	send_ipi(0, 0, APIC_DEST_ALLBUT | APIC_INT_ASSERT | APIC_DM_STARTUP | 0x9a);
	for (int i = 1; i < NV; i++) {
		kvm_apic_accept_events(V(i));
		ck_assert_msg(V(i)->arch.mp_state == KVM_MP_STATE_RUNNABLE && test_cs[i].selector == 0x9a00 &&
				      test_cs[i].base == 0x9a000 && V(i)->arch.regs[VCPU_REGS_RIP] == 0,
			      "vCPU %d after SIPI 0x9a: mp_state %u, CS %04x base 0x%llx, RIP 0x%llx; expected RUNNABLE at "
			      "9a00:0000 (base 0x9a000)", i, V(i)->arch.mp_state, test_cs[i].selector,
			      (unsigned long long)test_cs[i].base, (unsigned long long)V(i)->arch.regs[VCPU_REGS_RIP]);
	}
	/* A SIPI to a running processor is dropped (SDM Vol. 3A 9.4.4). */
	send_ipi(0, 1, APIC_INT_ASSERT | APIC_DM_STARTUP | 0x10);
	kvm_apic_accept_events(V(1));
	ck_assert_msg(test_cs[1].selector == 0x9a00 && V(1)->arch.mp_state == KVM_MP_STATE_RUNNABLE,
		      "a SIPI to a running vCPU must be ignored (CS now %04x)", test_cs[1].selector);
	/* INIT level de-assert does nothing; INIT to the BSP resets it, running. */
	send_ipi(1, 2, APIC_INT_LEVELTRIG | APIC_DM_INIT);
	ck_assert_msg(!V(2)->arch.apic->pending_events, "INIT level de-assert (ICR 0x8500) must be ignored");
	sw_enable(1);
	send_ipi(1, 0, APIC_INT_ASSERT | APIC_DM_INIT);
	kvm_apic_accept_events(V(0));
	ck_assert_msg(test_resets[0] == 1 && V(0)->arch.mp_state == KVM_MP_STATE_RUNNABLE,
		      "INIT to the BSP: reset, and it stays RUNNABLE (mp_state %u)", V(0)->arch.mp_state);
	free_vm();
}
END_TEST

START_TEST(lapic_state_roundtrip)
{
	make_vm(2);
	sw_enable(0);
	wr(0, APIC_TASKPRI, 0x20);
	wr(0, APIC_LDR, 0x04000000);
	wr(0, APIC_LVTT, APIC_LVT_TIMER_PERIODIC | 0x44);
	wr(0, APIC_TDCR, APIC_TDR_DIV_8);
	wr(0, APIC_TMICT, 100000);
	in_service(0, 0x70);
	fixed(0, 0x81, false);
	struct kvm_lapic_state s;
	ck_assert_int_eq(kvm_apic_get_state(V(0), &s), 0);
	ck_assert_int_eq(kvm_apic_set_state(V(1), &s), 0);
	static const unsigned regs[] = { APIC_TASKPRI, APIC_LDR, APIC_SPIV, APIC_LVTT, APIC_TDCR, APIC_TMICT,
					 APIC_PROCPRI };
	for (unsigned i = 0; i < ARRAY_SIZE(regs); i++)
		ck_assert_msg(rd(1, regs[i]) == rd(0, regs[i]),
			      "KVM_GET_LAPIC then KVM_SET_LAPIC: register 0x%03x reads 0x%x, was 0x%x", regs[i],
			      rd(1, regs[i]), rd(0, regs[i]));
	ck_assert_msg(kvm_lapic_next_event_ns(V(1)) != UINT64_MAX, "KVM_SET_LAPIC with TMICT set must arm the timer");
	ck_assert_msg(kvm_get_apic_interrupt(V(1)) == 0x81, "KVM_SET_LAPIC: the restored IRR (0x81) is deliverable");
	eoi(1);
	eoi(1);
	ck_assert_msg(!bit_in(1, APIC_ISR, 0x70), "KVM_SET_LAPIC: the restored ISR (0x70) is EOIed like any other");
	free_vm();
}
END_TEST

Suite *lapic_suite(void)
{
	Suite *s = suite_create("lapic");
	TCase *tc = tcase_create("registers");
	tcase_add_test(tc, lapic_reset_values);
	tcase_add_test(tc, lapic_mmio_rules);
	tcase_add_test(tc, lapic_software_disable);
	tcase_add_test(tc, lapic_lvt_masks);
	tcase_add_test(tc, lapic_state_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("priority");
	tcase_add_test(tc, lapic_vector_bits);
	tcase_add_test(tc, lapic_ppr_classes);
	tcase_add_test(tc, lapic_tpr_blocks_class);
	tcase_add_test(tc, lapic_many_pending);
	tcase_add_test(tc, lapic_eoi_highest_isr);
	tcase_add_test(tc, lapic_level_eoi_to_ioapic);
	suite_add_tcase(s, tc);

	tc = tcase_create("timer");
	tcase_add_test(tc, lapic_timer_divide);
	tcase_add_test(tc, lapic_timer_oneshot);
	tcase_add_test(tc, lapic_timer_periodic);
	tcase_add_test(tc, lapic_timer_tsc_deadline);
	suite_add_tcase(s, tc);

	tc = tcase_create("ipi");
	tcase_add_test(tc, lapic_ipi_shorthands);
	tcase_add_test(tc, lapic_ipi_logical);
	tcase_add_test(tc, lapic_init_sipi);
	tcase_add_test(tc, lapic_init_sipi_together);
	suite_add_tcase(s, tc);
	return s;
}
