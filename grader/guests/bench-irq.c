/* SPDX-License-Identifier: MIT */
/*
 * bench-irq: what interrupt delivery costs, timed by the guest with the TSC,
 * run by make bench on minikvm and on Linux KVM side by side
 * (grader/bench/README.md, "Interrupts"). Run with --cpus 2
 * --ap-start=sipi: the guest starts vCPU 1 itself by INIT-SIPI (rt/ap.h).
 * The figures, each per iteration:
 *
 *   timer  the LAPIC timer in TSC-deadline mode (SDM Vol. 3A 11.5.4.1) armed
 *          for a deadline LEAD_US ahead while vCPU 0 runs with IF set: the
 *          handler's TSC less the deadline, the delivery latency from the
 *          timer's expiry to the guest's handler. TSC-deadline mode makes the
 *          deadline exact: the guest wrote it, in the very clock it reads
 *   hlt    the same with vCPU 0 in "sti; hlt": the wake-up latency of a
 *          halted vCPU, which the hypervisor put to sleep and must wake
 *   ipi    vCPU 0 sends a fixed IPI to vCPU 1 (halted in "sti; hlt"), whose
 *          handler sends a fixed IPI back; vCPU 0 waits in "sti; hlt" too:
 *          the answer's handler's TSC less the TSC before the ICR write, one
 *          round trip with two wake-ups. Both sides halt so that on a host
 *          with one CPU for both vCPU threads (minikvm on Bochs) each gives
 *          the CPU to the other, as a kernel's idle loop would
 *
 * The three handlers are stubs of their own (below) that read the TSC as
 * their third instruction: the runtime's C dispatch would put some twenty
 * instructions before the reading, each about 1 us on a host KVM that
 * emulates CPL0 code (HOST-KVM.md).
 *
 * Output as bench-emu's: bench <figure> start, stop (around all its timed
 * samples), then bench <figure> iterations <N> cycles <C>, REPS samples, C
 * the sum of the N iterations' latencies, N and C zero-padded (a timed run
 * prints what its twin prints, as long). The figure is chosen by the RAM size
 * read from fw_cfg: the pages past a multiple of 64 KiB, SEL, are 2f for
 * figure f (1: timer, 2: hlt, 3: ipi) and 2f - 1 for its twin, which does the
 * same set-up, warm-up and output with 0 iterations per sample; SEL 0 runs
 * everything. minikvm's exit counters of the timed run less its twin's are
 * then exactly the timed iterations' exits. Also printed: bench tsc-khz <K>,
 * the TSC's rate against the 8254 (rt/irq.h), a cross-check of the host's.
 */
#include <x86/cpuid.h>

#include "ap.h"
#include "irq.h"
#include "bench.h"

#define REPS        15
#define ITERATIONS  8
#define WARM        1
#define LEAD_US     1000               /* the deadline's distance from its WRMSR: past any exit's cost */
#define SPIN_US     1000000            /* longest a spin for the timer waits past the deadline */
#define GUARD_US    500000             /* an ipi sample's guard: a lost answer ends it */
#define AP_WAIT_US  1000000

/* Vectors: vCPU 0's timer, the IPI to vCPU 1 and its answer. */
#define VEC_TICK    0x40
#define VEC_PING    0x41
#define VEC_PONG    0x42
#define STR_(x)     #x
#define STR(x)      STR_(x)
/* The xAPIC's EOI and ICR at the default base (11.4.1), for the stubs. */
#define LAPIC_EOI   0xfee000b0
#define LAPIC_ICR   0xfee00300
/* The answer: fixed, physical, assert (11.6.1), to ICR2's APIC ID, 0. */
#define PONG_ICR    0x4042

volatile uint32_t ticks, pongs, pings;
volatile uint64_t tick_tsc, pong_tsc;

/*
 * The handlers, entered through 32-bit interrupt gates (IF clear). Each
 * returns as the runtime's stubs do, with POPF; RET $8 in place of IRET,
 * which a host KVM that emulates CPL0 code cannot run (rt/trap-stubs.S).
 * tick (vCPU 0): the TSC, a count, EOI (11.8.5).
 * pong (vCPU 0): the same for the answer.
 * ping (vCPU 1): a count, EOI, then the answer through the ICR.
 */
void tick_entry(void);
void pong_entry(void);
void ping_entry(void);
__asm__(".text\n"
	"	.balign 16\n"
	"tick_entry:\n"
	"	pushl %eax\n"
	"	pushl %edx\n"
	"	rdtsc\n"
	"	movl %eax, tick_tsc\n"
	"	movl %edx, tick_tsc+4\n"
	"	incl ticks\n"
	"	jmp stub_return\n"
	"	.balign 16\n"
	"pong_entry:\n"
	"	pushl %eax\n"
	"	pushl %edx\n"
	"	rdtsc\n"
	"	movl %eax, pong_tsc\n"
	"	movl %edx, pong_tsc+4\n"
	"	incl pongs\n"
	"stub_return:\n"
	"	movl $0, " STR(LAPIC_EOI) "\n"
	"	popl %edx\n"
	"	popl %eax\n"
	"	pushl 8(%esp)\n"
	"	popfl\n"
	"	ret $8\n"
	"	.balign 16\n"
	"ping_entry:\n"
	"	incl pings\n"
	"	movl $0, " STR(LAPIC_EOI) "\n"
	"	movl $" STR(PONG_ICR) ", " STR(LAPIC_ICR) "\n"
	"	pushl 8(%esp)\n"
	"	popfl\n"
	"	ret $8\n");

/* The gate of `vector` in the IDT loaded (the runtime's, shared by every
 * CPU) pointed at `entry`: a 32-bit interrupt gate, present, DPL 0 (6.11). */
static void set_gate(unsigned vector, void (*entry)(void))
{
	struct dt_reg r;
	sidt(&r);
	uint32_t off = (uint32_t)(uintptr_t)entry;
	volatile uint64_t *idt = (volatile uint64_t *)(uintptr_t)r.base;
	idt[vector] = (off & 0xffffull) | ((uint64_t)read_cs() << 16) | (0x8e00ull << 32) |
		      ((uint64_t)(off >> 16) << 48);
}

static uint64_t lead;               /* LEAD_US in TSC ticks */
static uint32_t armed_late, bad_ticks, early;

/* Arm the TSC deadline LEAD ahead (IF clear); returns the deadline. */
static uint64_t arm(void)
{
	uint64_t deadline = rdtsc() + lead;
	wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
	if (rdtsc() >= deadline)
		armed_late++;
	return deadline;
}

/* One tick's latency: the handler's TSC less the deadline, once it came. */
static uint64_t tick_latency(uint32_t before, uint64_t deadline)
{
	if (ticks != before + 1)
		bad_ticks++;
	if (tick_tsc < deadline) {
		early++;
		return 0;
	}
	return tick_tsc - deadline;
}

static uint64_t timer_one(void)
{
	cli();
	uint32_t before = ticks;
	uint64_t deadline = arm();
	uint64_t give_up = deadline + tsc_us(SPIN_US);
	sti();
	while (ticks == before && rdtsc() < give_up)
		pause();
	cli();
	return tick_latency(before, deadline);
}

static uint64_t hlt_one(void)
{
	cli();
	uint32_t before = ticks;
	uint64_t deadline = arm();
	/* STI's shadow (SDM Vol. 2B, STI) keeps the tick out until HLT has begun. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
	return tick_latency(before, deadline);
}

static uint32_t lost;
static uint32_t guard_at;           /* ticks when the sample's guard was armed */

/* An ipi sample's guard: the TSC deadline GUARD_US ahead, its tick taken
 * for a lost answer. Armed once a sample, so no iteration carries its WRMSR. */
static void guard_arm(void)
{
	cli();
	guard_at = ticks;
	wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tsc_us(GUARD_US));
}

static uint64_t ipi_one(void)
{
	if (lost)
		return 0;
	cli();
	uint32_t want = pongs + 1;
	uint64_t t0 = rdtsc();
	lapic_write(APIC_ICR, APIC_DEST_PHYSICAL | APIC_INT_ASSERT | APIC_DM_FIXED | VEC_PING);
	/* The answer's handler may run at any instruction boundary once IF is
	 * set: tested with IF clear, then STI; HLT inside STI's shadow. */
	while (pongs < want && ticks == guard_at)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	if (pongs < want) {
		lost++;
		return 0;
	}
	return pong_tsc - t0;
}

/* vCPU 1: its local APIC on, then halted with interrupts on, answering
 * each ping; its first answer says it is up. */
static void ap_main(void)
{
	lapic_enable();
	lapic_write(APIC_ICR2, SET_APIC_DEST_FIELD(0));
	lapic_write(APIC_ICR, PONG_ICR);
	for (;;)
		__asm__ volatile("sti; hlt" ::: "memory");
}

/* Start vCPU 1 and wait for its first answer, under a guard deadline; why
 * not, when it did not come (NULL: it is up). */
static const char *start_ap(uint32_t ncpus)
{
	if (ncpus < 2)
		return "one vCPU (run with --cpus 2 --ap-start=sipi)";
	ap_start_all(ap_main);
	cli();
	uint32_t t = ticks;
	wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tsc_us(AP_WAIT_US));
	while (!pongs && ticks == t)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
	wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	return pongs ? NULL : "vCPU 1 did not answer within 1 s of its INIT-SIPI";
}

static const struct figure {
	const char *name;
	uint64_t (*one)(void);
} figures[] = {
	{ "timer", timer_one },
	{ "hlt", hlt_one },
	{ "ipi", ipi_one },
};
#define NFIGURES (sizeof(figures) / sizeof(figures[0]))

static void time_figure(const struct figure *f, unsigned n)
{
	uint64_t cycles[REPS + 1];
	/* Round 0 is the warm-up: first-use costs stay out of the figure. */
	for (unsigned rep = 0; rep <= REPS; rep++) {
		if (rep == 1)
			printf("bench %s start\n", f->name);
		if (f->one == ipi_one)
			guard_arm();
		cycles[rep] = 0;
		for (unsigned i = 0, iters = rep ? n : WARM; i < iters; i++)
			cycles[rep] += f->one();
		if (f->one == ipi_one)
			wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	}
	printf("bench %s stop\n", f->name);
	char it[4], cy[16];
	for (unsigned rep = 0; rep < REPS; rep++)
		printf("bench %s iterations %s cycles %s\n", f->name, bench_padded(it, 3, n), bench_padded(cy, 15, cycles[rep + 1]));
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	begin_alone(cpu, GUEST_NAME);
	unsigned sel = bench_selector("irq-figures", (unsigned)NFIGURES);
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID_1_ECX_TSC_DEADLINE_TIMER)) {
		for (unsigned f = 0; f < NFIGURES; f++)
			printf("bench %s unavailable: CPUID.1:ECX[24] (TSC-deadline timer) clear\n", figures[f].name);
		skip("irq-figures", "CPUID.1:ECX[24] (TSC-deadline timer) clear");
		end();
	}
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	set_gate(VEC_TICK, tick_entry);
	set_gate(VEC_PONG, pong_entry);
	set_gate(VEC_PING, ping_entry);
	irq_tsc_require();
	char khz[11];
	printf("bench tsc-khz %s\n", bench_padded(khz, 10, irq_tsc_per_ms));
	lead = tsc_us(LEAD_US);
	lapic_enable();
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_TSCDEADLINE | VEC_TICK);
	const char *no_ipi = start_ap(ncpus);
	lapic_write(APIC_ICR2, SET_APIC_DEST_FIELD(1));

	for (unsigned f = 0; f < NFIGURES; f++) {
		if (sel && (sel + 1) / 2 != f + 1)
			continue;
		if (figures[f].one == ipi_one && no_ipi) {
			printf("bench ipi unavailable: %s\n", no_ipi);
			continue;
		}
		time_figure(&figures[f], sel % 2 ? 0 : ITERATIONS);
	}
	report(!armed_late, "deadline-ahead", "%u deadlines had passed when their WRMSR returned (lead %u us)",
	       armed_late, LEAD_US);
	report(!bad_ticks && !early, "tick-once-each",
	       "%u waits ended with other than one tick, %u ticks came before their deadline", bad_ticks, early);
	if (no_ipi)
		skip("ipi-answered", no_ipi);
	else
		report(!lost && pings == pongs - 1, "ipi-answered",
		       "%u round trips lost (no answer within %u us), vCPU 1 took %u pings and answered %u",
		       lost, GUARD_US, pings, pongs - 1);
	end();
}
