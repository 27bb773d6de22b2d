/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-hlt: HLT sleeps until an interrupt comes and returns only after
 * its handler ran (SDM Vol. 2A HLT: "an enabled interrupt (including NMI and
 * SMI) ... will resume execution"), run with --cpus 2:
 *  - one-shot: rounds of "arm the LAPIC timer (11.5.4) for 500 us; sti;
 *    hlt": each HLT returns with the handler's count up by exactly one, the
 *    frame's EIP past the HLT, and no earlier than the timer asked; the
 *    wake-up latency (expiry to handler, by the TSC) is printed and bounded
 *    loosely;
 *  - periodic: rounds of "sti; hlt" under a 1 ms periodic timer, each woken
 *    by a tick that ran its handler;
 *  - TSC-deadline (11.5.4.1), one wake-up, past the deadline (skipped
 *    without CPUID.1:ECX[24]);
 *  - NMI: vCPU 0 in "cli; hlt" is woken by an NMI that vCPU 1 sends it
 *    through its ICR (delivery mode NMI, 11.6.1), which IF does not mask;
 *    the frame's EIP is past the HLT, IF still clear. (A self-IPI cannot
 *    do it: an NMI sent to oneself is taken at once, before any HLT.) The
 *    runtime returns without IRET, so NMIs stay blocked (6.7.1): it is the
 *    last check.
 * A "cli; hlt" that nothing wakes would hang the run, so it is not tried.
 */
#include <x86/cpuid.h>
#include <x86/trapnr.h>

#include "irq.h"

#define VEC_TIMER    0x40
#define VEC_GO       0x41 /* vCPU 0 to vCPU 1: send the NMI */
#define VEC_DELAY    0x42 /* vCPU 1's timer */
#define ONESHOT_US   500
#define ONESHOT_RUNS 16
#define PERIOD_US    1000
#define PERIOD_RUNS  16
#define NMI_DELAY_US 2000 /* vCPU 1 waits this long after VEC_GO: vCPU 0 is halted by then */
#define LATE_US      50000 /* latest a wake-up may come after its time, on a loaded host */
#define WAIT_US      200000

/* halt_sti: "sti; hlt". halt_cli: "cli; hlt", unless the NMI already came
 * (the flag is tested after CLI: an NMI between the test and the HLT is
 * sent past the HLT by its handler). Both return with IF clear. */
extern const char halt_sti_after[], halt_cli_hlt[], halt_cli_after[];
extern volatile uint32_t nmi_count;
__asm__(".text\n"
	"halt_sti:\n"
	"	sti\n"
	"	hlt\n"
	"halt_sti_after:\n"
	"	cli\n"
	"	ret\n"
	"halt_cli:\n"
	"	cli\n"
	"	cmpl $0, nmi_count\n"
	"	jne halt_cli_after\n"
	"halt_cli_hlt:\n"
	"	hlt\n"
	"halt_cli_after:\n"
	"	ret\n");
void halt_sti(void);
void halt_cli(void);

static volatile uint32_t fired, go, delayed, timer_per_ms;
static volatile uint32_t fired_eip;
static volatile uint64_t fired_tsc;
volatile uint32_t nmi_count;
static volatile uint32_t nmi_eip, nmi_eflags, nmi_early;
static volatile uint64_t nmi_tsc, nmi_sent_tsc;

static void timer_irq(struct trap_frame *f)
{
	fired_tsc = rdtsc();
	fired_eip = f->eip;
	fired++;
	lapic_eoi();
}

static void go_irq(struct trap_frame *f)
{
	(void)f;
	go = 1;
	lapic_eoi();
}

static void delay_irq(struct trap_frame *f)
{
	(void)f;
	delayed = 1;
	lapic_eoi();
}

static void nmi(struct trap_frame *f)
{
	nmi_tsc = rdtsc();
	nmi_eip = f->eip;
	nmi_eflags = f->eflags;
	if (f->eip == (uint32_t)(uintptr_t)halt_cli_hlt) {
		/* Came between the flag's test and the HLT: nothing else would wake it. */
		nmi_early = 1;
		f->eip = (uint32_t)(uintptr_t)halt_cli_after;
	}
	nmi_count++;
}

static void test_oneshot(uint32_t per_ms)
{
	uint32_t count = per_ms * ONESHOT_US / 1000;
	uint64_t want = tsc_us(ONESHOT_US), early = tsc_us(ONESHOT_US * 9 / 10);
	uint32_t bad_count = 0, bad_eip = 0, too_early = 0, lat_min = ~0u, lat_max = 0, lat_sum = 0;
	uint32_t first_bad = 0, first_eip = 0;
	lapic_write(APIC_TDCR, APIC_TDR_DIV_1);
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_ONESHOT | VEC_TIMER);
	for (unsigned i = 0; i < ONESHOT_RUNS; i++) {
		uint32_t before = fired;
		fired_eip = 0;
		uint64_t t0 = rdtsc();
		lapic_write(APIC_TMICT, count);
		halt_sti();
		uint32_t got = fired - before;
		if (got != 1 && !bad_count++)
			first_bad = got;
		if (got && fired_eip != (uint32_t)(uintptr_t)halt_sti_after && !bad_eip++)
			first_eip = fired_eip;
		if (!got)
			continue;
		uint64_t took = fired_tsc - t0;
		if (took < early)
			too_early++;
		uint32_t lat = took > want ? tsc_to_us(took - want) : 0;
		lat_min = lat < lat_min ? lat : lat_min;
		lat_max = lat > lat_max ? lat : lat_max;
		lat_sum += lat;
	}
	printf("hlt one-shot wake-up latency: min %u us, mean %u us, max %u us over %u runs of %u us\n", lat_min,
	       lat_sum / ONESHOT_RUNS, lat_max, ONESHOT_RUNS, ONESHOT_US);
	report(!bad_count, "hlt-oneshot-handler-ran",
	       "%u of %u HLTs returned with the handler run other than once (first: %u times), want once each",
	       bad_count, ONESHOT_RUNS, first_bad);
	report(!bad_eip, "hlt-oneshot-eip", "%u handler frames with EIP 0x%x, want 0x%x (past the HLT)", bad_eip,
	       first_eip, (uint32_t)(uintptr_t)halt_sti_after);
	report(!too_early, "hlt-oneshot-not-early", "%u of %u wake-ups before 90%% of the %u us asked", too_early,
	       ONESHOT_RUNS, ONESHOT_US);
	report(!bad_count && lat_max <= LATE_US, "hlt-oneshot-latency",
	       "a wake-up came %u us after its time, want <= %u us", lat_max, LATE_US);
}

static void test_periodic(uint32_t per_ms)
{
	uint32_t idle = 0, bad_eip = 0, first_eip = 0;
	lapic_write(APIC_TDCR, APIC_TDR_DIV_1);
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_PERIODIC | VEC_TIMER);
	lapic_write(APIC_TMICT, per_ms * PERIOD_US / 1000);
	uint64_t t0 = rdtsc();
	for (unsigned i = 0; i < PERIOD_RUNS; i++) {
		uint32_t before = fired;
		halt_sti();
		/* Two are possible: a tick may nest in the handler's POPF; RET. */
		if (fired == before)
			idle++;
		else if (fired_eip != (uint32_t)(uintptr_t)halt_sti_after && !bad_eip++)
			first_eip = fired_eip;
	}
	uint32_t us = tsc_to_us(rdtsc() - t0);
	lapic_write(APIC_TMICT, 0);
	printf("hlt periodic: %u wake-ups in %u us (period %u us)\n", PERIOD_RUNS, us, PERIOD_US);
	report(!idle, "hlt-periodic-handler-ran", "%u of %u HLTs returned without a tick's handler having run", idle,
	       PERIOD_RUNS);
	report(!bad_eip, "hlt-periodic-eip", "%u tick frames with EIP 0x%x, want 0x%x (past the HLT)", bad_eip,
	       first_eip, (uint32_t)(uintptr_t)halt_sti_after);
	report(us >= (PERIOD_RUNS - 1) * PERIOD_US * 9 / 10, "hlt-periodic-slept",
	       "%u wake-ups took %u us, want >= %u (one a period)", PERIOD_RUNS, us,
	       (PERIOD_RUNS - 1) * PERIOD_US * 9 / 10);
}

static void test_deadline(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID_1_ECX_TSC_DEADLINE_TIMER)) {
		skip("hlt-tscdeadline", "CPUID.1:ECX[24] (TSC-deadline timer) clear");
		return;
	}
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_TSCDEADLINE | VEC_TIMER);
	uint32_t before = fired;
	uint64_t deadline = rdtsc() + tsc_us(ONESHOT_US);
	wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
	halt_sti();
	report(fired == before + 1 && fired_tsc >= deadline && fired_eip == (uint32_t)(uintptr_t)halt_sti_after,
	       "hlt-tscdeadline", "HLT returned with %u handler runs, at TSC %s the deadline, EIP 0x%x; want one, past it, 0x%x",
	       fired - before, fired_tsc >= deadline ? "past" : "before", fired_eip,
	       (uint32_t)(uintptr_t)halt_sti_after);
	lapic_write(APIC_LVTT, APIC_LVT_MASKED);
}

/* vCPU 1: sleep until vCPU 0 says go, then send it an NMI. */
static void nmi_sender(void)
{
	irq_handler[VEC_GO] = go_irq;
	irq_handler[VEC_DELAY] = delay_irq;
	irq_idt_init();
	lapic_enable();
	while (!go)
		halt_sti();
	/* Sleep rather than spin, so that vCPU 0's thread runs on to its HLT
	 * on a host with fewer CPUs than vCPUs. vCPU 0 measured the timer's
	 * rate before it sent VEC_GO. */
	lapic_write(APIC_TDCR, APIC_TDR_DIV_1);
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_ONESHOT | VEC_DELAY);
	lapic_write(APIC_TMICT, timer_per_ms * NMI_DELAY_US / 1000);
	irq_halt_until(&delayed, 1, WAIT_US);
	nmi_sent_tsc = rdtsc();
	lapic_ipi(0, APIC_DEST_PHYSICAL | APIC_INT_ASSERT | APIC_DM_NMI);
	halt_forever();
}

static void test_nmi(uint32_t ncpus)
{
	if (ncpus < 2) {
		skip("nmi-wakes-cli-hlt", "one vCPU: run with --cpus 2");
		return;
	}
	irq_handler[NMI_VECTOR] = nmi;
	uint64_t t0 = rdtsc();
	lapic_ipi(1, APIC_DEST_PHYSICAL | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_GO);
	halt_cli();
	uint32_t us = tsc_to_us(rdtsc() - t0);
	printf("nmi: vCPU 0 woke %u us after vCPU 1 sent it\n",
	       nmi_tsc > nmi_sent_tsc ? tsc_to_us(nmi_tsc - nmi_sent_tsc) : 0);
	report(nmi_count == 1 && !nmi_early && nmi_eip == (uint32_t)(uintptr_t)halt_cli_after, "nmi-wakes-cli-hlt",
	       "%u NMIs, frame EIP 0x%x, want 0x%x (past the HLT)%s", nmi_count, nmi_eip,
	       (uint32_t)(uintptr_t)halt_cli_after, nmi_eip != (uint32_t)(uintptr_t)halt_cli_after ? ": it came before the HLT" : "");
	report(nmi_count && !(nmi_eflags & X86_EFLAGS_IF), "nmi-if-clear", "frame EFLAGS 0x%x: IF set in cli; hlt",
	       nmi_eflags);
	report(us >= NMI_DELAY_US * 9 / 10, "nmi-hlt-slept",
	       "cli; hlt returned %u us after VEC_GO was sent, vCPU 1 waited %u us after it",
	       us, NMI_DELAY_US);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	if (cpu == 1)
		nmi_sender();
	begin_alone(cpu, GUEST_NAME);
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	irq_handler[VEC_TIMER] = timer_irq;
	irq_tsc_require();
	lapic_enable();
	uint32_t per_ms = lapic_timer_per_ms();
	timer_per_ms = per_ms;
	report(per_ms >= 1000, "lapic-timer-rate", "TMCCT went down %u counts a millisecond, want >= 1000", per_ms);
	if (per_ms < 1000)
		end();
	test_oneshot(per_ms);
	test_periodic(per_ms);
	test_deadline();
	test_nmi(ncpus);
	end();
}
