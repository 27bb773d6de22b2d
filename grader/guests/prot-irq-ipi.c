/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-ipi: interprocessor interrupts (SDM Vol. 3A 11.6), run with
 * --cpus 2..8 --ap-start=sipi:
 *  - no AP runs before the BSP's INIT-SIPI (9.4.4.1); the BSP starts them
 *    through the runtime's trampoline (rt/ap.h), each AP software-enables
 *    its local APIC, takes logical ID 1 << APIC ID in the flat model
 *    (11.6.2.2: DFR flat, LDR bits 31:24), sends itself a fixed IPI by the
 *    SELF shorthand with IF clear and takes it at its STI; HLT;
 *  - the BSP sends fixed IPIs: to each AP by APIC ID (physical), to a
 *    logical flat mask (every odd APIC ID, then every AP), to all excluding
 *    self and to all including self (the destination shorthands, 11.6.1);
 *    each AP counts what it takes and answers each with a fixed IPI to the
 *    BSP on a vector of its own, so that no two answers coalesce in the
 *    BSP's IRR;
 *  - every count is exact: the BSP sends the next IPI only once every
 *    answer to the last one came (an IPI to a vector already pending in IRR
 *    would merge with it, 11.8.4), and nobody gets an IPI not meant for it;
 *  - the round trip BSP -> AP -> BSP is timed by the TSC and printed.
 * The BSP waits in sti; hlt with a 1 ms periodic LAPIC timer as a guard, so
 * its vCPU thread gives way to the APs' on a host with few CPUs.
 */
#include "ap.h"
#include "irq.h"

#define VEC_GUARD   0x30 /* the BSP's 1 ms tick: bounds every wait in HLT */
#define VEC_PHYS    0x40
#define VEC_LOGICAL 0x41
#define VEC_ALLBUT  0x42
#define VEC_ALLINC  0x43
#define VEC_SELF    0x44
#define VEC_REPLY   0x50 /* + the AP's APIC ID */
#define NKIND       5
#define ROUNDS      3
#define MAXCPU      (AP_MAX + 1)
#define WAIT_US     500000
#define EARLY_US    5000 /* an AP wrongly started with the BSP has run its first lines by then */

static volatile uint32_t entries, aps_up, apic_ids;
/* What each CPU took, by APIC ID and kind (vector - VEC_PHYS): each row is
 * written by its own CPU only. */
static volatile uint32_t got[MAXCPU][NKIND];
/* The answers the BSP took, by AP, and all of them. */
static volatile uint32_t replies[MAXCPU], replies_total;
static volatile uint32_t guard_ticks;

static void guard(struct trap_frame *f)
{
	(void)f;
	guard_ticks++;
	lapic_eoi();
}

static void test_vector(struct trap_frame *f)
{
	uint32_t id = lapic_id();
	if (id < MAXCPU)
		got[id][f->vector - VEC_PHYS]++;
	lapic_eoi();
	if (id != 0 && id < MAXCPU && f->vector != VEC_SELF)
		lapic_ipi(0, APIC_DEST_PHYSICAL | APIC_INT_ASSERT | APIC_DM_FIXED | (VEC_REPLY + id));
}

static void reply(struct trap_frame *f)
{
	replies[f->vector - VEC_REPLY]++;
	replies_total++;
	lapic_eoi();
}

/* Flat logical model: this CPU's logical ID is bit `id` of the 8. */
static void lapic_logical_flat(uint32_t id)
{
	lapic_write(APIC_DFR, APIC_DFR_FLAT);
	lapic_write(APIC_LDR, (1u << id) << 24);
}

static void ap_main(void)
{
	uint32_t id = lapic_id();
	lapic_enable();
	lapic_logical_flat(id);
	lapic_self_ipi(VEC_SELF);
	/* Pending with IF clear: taken once STI's shadow ends, in the HLT. */
	__asm__ volatile("sti; hlt; cli" : : : "memory");
	if (id < 32)
		__asm__ volatile("lock orl %1, %0" : "+m"(apic_ids) : "r"(1u << id) : "memory");
	atomic_inc(&aps_up);
	for (;;)
		__asm__ volatile("sti; hlt" : : : "memory");
}

static uint32_t bits(uint32_t m)
{
	uint32_t n = 0;
	for (; m; m &= m - 1)
		n++;
	return n;
}

static uint32_t rtt_min = ~0u, rtt_max, rtt_sum, rtt_n;

/* Send one IPI and wait (in HLT) until `answers` more replies came. */
static int send_and_wait(uint32_t dest, uint32_t icr, uint32_t answers)
{
	uint32_t want = replies_total + answers;
	uint64_t t0 = rdtsc();
	lapic_ipi(dest, icr);
	int ok = irq_halt_until(&replies_total, want, WAIT_US);
	uint32_t us = tsc_to_us(rdtsc() - t0);
	if (ok && answers == 1) {
		rtt_min = us < rtt_min ? us : rtt_min;
		rtt_max = us > rtt_max ? us : rtt_max;
		rtt_sum += us;
		rtt_n++;
	}
	return ok;
}

/* Every CPU's count of `kind` against want[]; the first difference printed. */
static void report_counts(const char *check, unsigned kind, const uint32_t *want, uint32_t ncpus, int waited)
{
	for (uint32_t id = 0; id < ncpus; id++) {
		if (got[id][kind] != want[id]) {
			report(0, check, "APIC ID %u took vector 0x%x %u times, want %u%s", id, VEC_PHYS + kind,
			       got[id][kind], want[id], waited ? "" : " (an answer never came)");
			return;
		}
	}
	report(waited, check, "every count right, but an answer never came");
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	atomic_inc(&entries);
	if (cpu != 0)
		halt_forever(); /* started at the entry: reported below */
	begin(GUEST_NAME);
	report(ncpus >= 2 && ncpus <= MAXCPU, "cpu-count", "ESI says %u vCPUs, want 2..%u (run with --cpus 2..4)", ncpus,
	       MAXCPU);
	if (ncpus < 2 || ncpus > MAXCPU)
		end();
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	irq_tsc_require();
	irq_handler[VEC_GUARD] = guard;
	for (unsigned v = VEC_PHYS; v < VEC_PHYS + NKIND; v++)
		irq_handler[v] = test_vector;
	for (unsigned id = 1; id < MAXCPU; id++)
		irq_handler[VEC_REPLY + id] = reply;
	lapic_enable();
	lapic_logical_flat(0);
	uint32_t per_ms = lapic_timer_per_ms();
	lapic_write(APIC_TDCR, APIC_TDR_DIV_1);
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_PERIODIC | VEC_GUARD);
	lapic_write(APIC_TMICT, per_ms ? per_ms : 1000000);

	/* Before any INIT-SIPI no AP may run (--ap-start=sipi). */
	irq_halt_until(&aps_up, 1, EARLY_US);
	report(entries == 1 && aps_up == 0, "aps-wait-for-sipi",
	       "%u vCPU(s) ran the entry before INIT-SIPI (run with --ap-start=sipi)", entries);
	if (entries != 1)
		end();
	ap_start_all(ap_main);
	irq_halt_until(&aps_up, ncpus - 1, WAIT_US);
	uint32_t want_ids = ((1u << ncpus) - 1) & ~1u;
	report(aps_up == ncpus - 1 && apic_ids == want_ids, "aps-up",
	       "%u of %u APs checked in after INIT-SIPI, APIC IDs 0x%x, want 0x%x", aps_up, ncpus - 1, apic_ids,
	       want_ids);
	if (aps_up != ncpus - 1 || apic_ids != want_ids)
		end();
	report_eq("ap-start-cs", ap_trampoline_cs(), AP_SIPI_VECTOR << 8);

	uint32_t want[MAXCPU] = { 0 }, all_aps = want_ids, odd_aps = want_ids & 0xaa;
	int ok = 1;

	/* Physical destination: ROUNDS to each AP in turn, one answer each. */
	for (unsigned r = 0; r < ROUNDS; r++)
		for (uint32_t id = 1; id < ncpus; id++)
			ok &= send_and_wait(id, APIC_DEST_PHYSICAL | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_PHYS, 1);
	for (uint32_t id = 1; id < ncpus; id++)
		want[id] = ROUNDS;
	report_counts("ipi-physical", VEC_PHYS - VEC_PHYS, want, ncpus, ok);

	/* Logical flat (11.6.2.2): a CPU accepts when its LDR bit is in the mask. */
	ok = send_and_wait(odd_aps, APIC_DEST_LOGICAL | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_LOGICAL,
			   bits(odd_aps));
	ok &= send_and_wait(all_aps, APIC_DEST_LOGICAL | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_LOGICAL, ncpus - 1);
	for (uint32_t id = 0; id < ncpus; id++)
		want[id] = id == 0 ? 0 : (id & 1) ? 2 : 1;
	report_counts("ipi-logical-flat", VEC_LOGICAL - VEC_PHYS, want, ncpus, ok);

	/* All excluding self: every AP, never the sender. */
	ok = 1;
	for (unsigned r = 0; r < ROUNDS; r++)
		ok &= send_and_wait(0, APIC_DEST_ALLBUT | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_ALLBUT, ncpus - 1);
	for (uint32_t id = 0; id < ncpus; id++)
		want[id] = id == 0 ? 0 : ROUNDS;
	report_counts("ipi-all-but-self", VEC_ALLBUT - VEC_PHYS, want, ncpus, ok);

	/* All including self: the sender too (IF is clear here: taken in the wait). */
	ok = send_and_wait(0, APIC_DEST_ALLINC | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_ALLINC, ncpus - 1);
	ok &= irq_halt_until(&got[0][VEC_ALLINC - VEC_PHYS], 1, WAIT_US);
	for (uint32_t id = 0; id < ncpus; id++)
		want[id] = 1;
	report_counts("ipi-all-incl-self", VEC_ALLINC - VEC_PHYS, want, ncpus, ok);

	/* SELF shorthand on the BSP: pending in IRR with IF clear, then taken once. */
	cli();
	lapic_self_ipi(VEC_SELF);
	int pending = 0;
	for (int i = 0; i < 1000 && !(pending = lapic_bit(APIC_IRR, VEC_SELF)); i++)
		pause();
	uint32_t before = got[0][VEC_SELF - VEC_PHYS];
	ok = irq_halt_until(&got[0][VEC_SELF - VEC_PHYS], 1, WAIT_US);
	report(pending && before == 0 && ok, "ipi-self-bsp",
	       "IRR bit 0x%x %d with IF clear, taken %u times before STI; want pending, 0 (then once)", VEC_SELF,
	       pending, before);
	/* Each AP's own, sent before it checked in. */
	for (uint32_t id = 0; id < ncpus; id++)
		want[id] = 1;
	irq_delay_us(1000);
	report_counts("ipi-self", VEC_SELF - VEC_PHYS, want, ncpus, 1);

	/* Each AP answered every IPI it took but its own, and nothing else. */
	int answered = 1;
	uint32_t bad = 0;
	for (uint32_t id = 1; id < ncpus; id++) {
		uint32_t took = 0;
		for (unsigned k = 0; k < NKIND; k++)
			took += k == VEC_SELF - VEC_PHYS ? 0 : got[id][k];
		if (replies[id] != took && answered) {
			answered = 0;
			bad = id;
		}
	}
	report(answered, "ipi-answers", "APIC ID %u: %u answers taken by the BSP for the IPIs it took", bad,
	       replies[bad]);
	lapic_write(APIC_TMICT, 0);
	printf("ipi round trip BSP -> AP -> BSP: min %u us, mean %u us, max %u us over %u\n", rtt_min,
	       rtt_n ? rtt_sum / rtt_n : 0, rtt_max, rtt_n);
	end();
}
