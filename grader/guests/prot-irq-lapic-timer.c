/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-lapic-timer: the local APIC timer (SDM Vol. 3A 11.5.4), timed by
 * the guest's TSC (calibrated against the PIT, rt/irq.h):
 *  - its rate: TMCCT counted down over 10 ms of TSC time at divide-by-1
 *    (printed; KVM's APIC bus runs at 1 GHz), TMCCT never above TMICT and
 *    strictly decreasing;
 *  - one-shot at divide-by-16: one interrupt, no earlier than the count
 *    asks, TMCCT 0 after it;
 *  - periodic: ticks over 200 ms within 15% of the count, none once TMICT
 *    is written 0;
 *  - TSC-deadline (CPUID.1:ECX[24], 11.5.4.1): the interrupt comes with the
 *    TSC past the deadline, the MSR reads 0 after it, a deadline in the past
 *    fires at once, writing 0 disarms. Skipped where CPUID lacks the bit.
 */
#include <x86/cpuid.h>

#include "irq.h"

#define VEC_ONESHOT  0x40
#define VEC_PERIODIC 0x41
#define VEC_DEADLINE 0x42
#define ONESHOT_MS   5
#define PERIOD_MS    5
#define RUN_MS       200
#define LATE_MS      50   /* latest an interrupt may come after its time, on a loaded host */

static volatile uint32_t fired;
static volatile uint64_t fired_tsc;

static void timer_irq(struct trap_frame *f)
{
	(void)f;
	if (!fired_tsc)
		fired_tsc = rdtsc();
	fired++;
	lapic_eoi();
}

static void arm(uint32_t lvtt, uint32_t tdcr, uint32_t tmict)
{
	fired = 0;
	fired_tsc = 0;
	lapic_write(APIC_TDCR, tdcr);
	lapic_write(APIC_LVTT, lvtt);
	lapic_write(APIC_TMICT, tmict);
}

static void test_countdown(uint32_t per_ms)
{
	arm(APIC_LVT_MASKED | VEC_ONESHOT, APIC_TDR_DIV_1, per_ms * 50);
	uint32_t c[3];
	for (int i = 0; i < 3; i++) {
		c[i] = lapic_read(APIC_TMCCT);
		irq_delay_us(100);
	}
	report(c[0] <= per_ms * 50 && c[0] > c[1] && c[1] > c[2] && c[2] > 0, "lapic-tmcct-counts-down",
	       "TMCCT %u, %u, %u 100 us apart from TMICT %u", c[0], c[1], c[2], per_ms * 50);
	lapic_write(APIC_TMICT, 0);
}

static void test_oneshot(uint32_t per_ms)
{
	uint64_t t0 = rdtsc();
	arm(APIC_LVT_TIMER_ONESHOT | VEC_ONESHOT, APIC_TDR_DIV_16, per_ms * ONESHOT_MS / 16);
	sti();
	irq_delay_us((ONESHOT_MS + LATE_MS) * 1000);
	cli();
	uint32_t us = fired_tsc ? tsc_to_us(fired_tsc - t0) : 0;
	report(fired == 1, "lapic-oneshot-once", "one-shot fired %u times, want 1", fired);
	report(fired && us >= ONESHOT_MS * 900 && us <= (ONESHOT_MS + LATE_MS) * 1000, "lapic-oneshot-time",
	       "fired after %u us, want %u ms (divide by 16) or a little later", us, ONESHOT_MS);
	uint32_t cur = lapic_read(APIC_TMCCT);
	report(cur == 0, "lapic-oneshot-tmcct-zero", "TMCCT %u after the one-shot fired, want 0", cur);
}

static void test_periodic(uint32_t per_ms)
{
	arm(APIC_LVT_TIMER_PERIODIC | VEC_PERIODIC, APIC_TDR_DIV_1, per_ms * PERIOD_MS);
	sti();
	irq_delay_us(RUN_MS * 1000);
	cli();
	uint32_t n = fired, want = RUN_MS / PERIOD_MS;
	report(n >= want * 85 / 100 && n <= want * 115 / 100, "lapic-periodic-rate",
	       "%u periodic ticks in %u ms of TSC time, want %u +-15%%", n, RUN_MS, want);
	uint32_t cur = lapic_read(APIC_TMCCT);
	report(cur > 0 && cur <= per_ms * PERIOD_MS, "lapic-periodic-reload", "TMCCT %u, want in 1..%u (reloaded)",
	       cur, per_ms * PERIOD_MS);
	lapic_write(APIC_TMICT, 0);
	/* A tick already on its way when TMICT was written is taken first. */
	sti();
	irq_delay_us(1000);
	cli();
	uint32_t after = fired;
	sti();
	irq_delay_us(PERIOD_MS * 5 * 1000);
	cli();
	report(fired == after, "lapic-periodic-stop", "%u ticks after TMICT = 0, want 0", fired - after);
}

static void test_deadline(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	if (!(c & CPUID_1_ECX_TSC_DEADLINE_TIMER)) {
		skip("lapic-tscdeadline", "CPUID.1:ECX[24] (TSC-deadline timer) clear");
		return;
	}
	arm(APIC_LVT_TIMER_TSCDEADLINE | VEC_DEADLINE, APIC_TDR_DIV_1, 0);
	uint64_t deadline = rdtsc() + tsc_us(ONESHOT_MS * 1000);
	wrmsr(MSR_IA32_TSC_DEADLINE, deadline);
	sti();
	irq_delay_us((ONESHOT_MS + LATE_MS) * 1000);
	cli();
	report(fired == 1 && fired_tsc >= deadline, "lapic-tscdeadline",
	       "fired %u times, at TSC %s the deadline; want once, past it", fired,
	       fired_tsc >= deadline ? "past" : "before");
	uint32_t late = fired_tsc >= deadline ? tsc_to_us(fired_tsc - deadline) : 0;
	report(fired && late <= LATE_MS * 1000, "lapic-tscdeadline-late", "%u us after the deadline, want <= %u ms",
	       late, LATE_MS);
	uint64_t msr = rdmsr(MSR_IA32_TSC_DEADLINE);
	report(msr == 0, "lapic-tscdeadline-msr-clear", "IA32_TSC_DEADLINE 0x%llx after it fired, want 0",
	       (unsigned long long)msr);

	fired = 0;
	wrmsr(MSR_IA32_TSC_DEADLINE, 1);
	sti();
	irq_wait_count(&fired, 1, LATE_MS * 1000);
	cli();
	report(fired == 1, "lapic-tscdeadline-past", "a deadline in the past fired %u times, want 1 at once", fired);

	fired = 0;
	wrmsr(MSR_IA32_TSC_DEADLINE, rdtsc() + tsc_us(ONESHOT_MS * 1000));
	wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	sti();
	irq_delay_us(ONESHOT_MS * 2 * 1000);
	cli();
	report(fired == 0, "lapic-tscdeadline-disarm", "fired %u times after the MSR was written 0, want 0", fired);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	irq_handler[VEC_ONESHOT] = irq_handler[VEC_PERIODIC] = irq_handler[VEC_DEADLINE] = timer_irq;
	uint32_t khz = irq_tsc_calibrate();
	report(khz != 0, "pit-ch0-calibrates-tsc", "channel 0's latched count did not move by 10 ms");
	if (!khz)
		end();
	lapic_enable();
	uint32_t per_ms = lapic_timer_per_ms();
	printf("tsc: %u kHz, lapic timer: %u kHz\n", khz, per_ms);
	/* At least 1 MHz: every count below stays a whole number of ticks. */
	report(per_ms >= 1000, "lapic-timer-rate", "TMCCT went down %u counts a millisecond, want >= 1000", per_ms);
	if (per_ms < 1000)
		end();
	test_countdown(per_ms);
	test_oneshot(per_ms);
	test_periodic(per_ms);
	test_deadline();
	end();
}
