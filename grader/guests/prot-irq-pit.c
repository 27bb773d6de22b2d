/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-pit: the 8259A pair and the 8254 PIT, timed by the guest's TSC
 * (calibrated against channel 0's count, rt/irq.h).
 *  - channel 0 in mode 2 (rate generator) at 1193 counts: ~1000.15 IRQ0
 *    ticks a second; the ticks over 200 ms of TSC time, each EOIed by the
 *    handler, ISR bit 0 set while in it; channel 0's latched count stays in
 *    1..1193;
 *  - IRQ0 masked (OCW1): no tick in 30 ms; unmasked: they resume at the
 *    same rate, with no burst for the ticks missed (a masked 8259A line keeps
 *    at most its one IRR bit);
 *  - priority resolution across the cascade: IRQ 3, 6 and 10 raised with
 *    IF clear are taken 10 (through IRQ 2), 3, 6 (8259A datasheet, fully
 *    nested mode);
 *  - edge and level (ELCR): an edge pulse is latched in IRR; a level line
 *    held high is taken again after its EOI, lowered it is not; a level
 *    request removed before the CPU takes it delivers nothing, or a
 *    spurious IRQ7 with ISR bit 7 clear (8259A datasheet, "interrupt
 *    sequence"), which needs no EOI.
 * Lines 3, 6 and 10 are driven through pc-testdev's interrupt ports
 * (KVM_IRQ_LINE).
 */
#include "irq.h"

#define TICK_COUNT   1193  /* PIT_FREQ_HZ / 1193 = 1000.15 Hz */
#define RUN_MS       200
#define MASK_MS      30
#define LINE_A       3
#define LINE_B       6
#define LINE_SLAVE   10
#define VEC(irq)     (TRAP_IRQ_BASE + (irq))

static volatile uint32_t ticks, tick_isr0 = ~0u;
static volatile uint32_t order[8], norder;
static volatile uint32_t level_seen, level_isr, spurious7, spurious7_isr = ~0u;

static void tick_irq(struct trap_frame *f)
{
	(void)f;
	if (ticks++ == 0)
		tick_isr0 = pic_read_isr(PIC1_CMD) & 1;
	outb(PIC1_CMD, PIC_EOI);
}

static void order_irq(struct trap_frame *f)
{
	unsigned irq = f->vector - TRAP_IRQ_BASE;
	if (norder < 8)
		order[norder++] = irq;
	pic_eoi(irq);
}

/* Level line B held high: EOI once with it still high (taken again), then
 * lower it and EOI with a specific EOI (OCW2 0x60 | level). */
static void level_irq(struct trap_frame *f)
{
	(void)f;
	if (level_seen++ == 0)
		level_isr = pic_read_isr(PIC1_CMD);
	else
		testdev_irq_line(LINE_B, 0);
	outb(PIC1_CMD, 0x60 | LINE_B);
}

/* IRQ7 taken: real only if ISR bit 7 is set; a spurious one gets no EOI. */
static void irq7(struct trap_frame *f)
{
	(void)f;
	spurious7++;
	spurious7_isr = pic_read_isr(PIC1_CMD) & 0x80;
	if (spurious7_isr)
		outb(PIC1_CMD, PIC_EOI);
}

static uint32_t ticks_over(uint32_t ms)
{
	uint32_t t0 = ticks;
	irq_delay_us(ms * 1000);
	return ticks - t0;
}

static void test_ticks(void)
{
	irq_handler[VEC(0)] = tick_irq;
	pic_init(TRAP_IRQ_BASE, (uint8_t)~((1u << 0) | (1u << 2)), 0xff);
	pit_ch0_start(2, TICK_COUNT);
	uint16_t lo = 0xffff, hi = 0;
	for (int i = 0; i < 8; i++) {
		uint16_t c = pit_ch0_read();
		lo = c < lo ? c : lo;
		hi = c > hi ? c : hi;
	}
	report(lo >= 1 && hi <= TICK_COUNT, "pit-latched-count", "channel 0 read %u..%u, want within 1..%u",
	       lo, hi, TICK_COUNT);

	sti();
	uint32_t n = ticks_over(RUN_MS);
	/* +-15%: a tick late by the host's scheduling is still counted. */
	report(n >= RUN_MS * 85 / 100 && n <= RUN_MS * 115 / 100, "pit-irq0-rate",
	       "%u IRQ0 ticks in %u ms of TSC time, want %u +-15%%", n, RUN_MS, RUN_MS);
	/* Many periods on, mode 2 has reloaded each time: the count is still
	 * within 1..N (8254 datasheet, mode 2 "rate generator"). */
	lo = 0xffff, hi = 0;
	for (int i = 0; i < 8; i++) {
		uint16_t c = pit_ch0_read();
		lo = c < lo ? c : lo;
		hi = c > hi ? c : hi;
		irq_delay_us(300);
	}
	report(lo >= 1 && hi <= TICK_COUNT, "pit-count-reloads", "channel 0 read %u..%u after %u ms of ticks, want within "
	       "1..%u: the count reloads at the end of each period", lo, hi, RUN_MS, TICK_COUNT);
	report(tick_isr0 == 1, "pic-isr-in-handler", "ISR bit 0 in the IRQ0 handler %u, want 1", tick_isr0);

	cli();
	outb(PIC1_DATA, (uint8_t)~(1u << 2));
	sti();
	uint32_t masked = ticks_over(MASK_MS);
	report(masked == 0, "pic-mask-irq0", "%u ticks with IRQ0 masked in IMR, want 0", masked);
	outb(PIC1_DATA, (uint8_t)~((1u << 0) | (1u << 2)));
	uint32_t back = ticks_over(MASK_MS);
	report(back >= MASK_MS * 2 / 3 && back <= MASK_MS * 4 / 3 + 1, "pic-unmask-irq0",
	       "%u ticks in %u ms after unmasking, want %u +-33%% (no burst for the masked ones)", back, MASK_MS,
	       MASK_MS);
	cli();
	outb(PIC1_DATA, 0xff);
	pit_ch0_stop();
	pic_eoi(0);
}

static void test_priority(void)
{
	irq_handler[VEC(LINE_A)] = irq_handler[VEC(LINE_B)] = irq_handler[VEC(LINE_SLAVE)] = order_irq;
	outb(PIC1_DATA, (uint8_t)~((1u << LINE_A) | (1u << LINE_B) | (1u << 2)));
	outb(PIC2_DATA, (uint8_t)~(1u << (LINE_SLAVE - 8)));
	/* Edge pulses, in the reverse of the expected order, with IF clear. */
	const unsigned lines[3] = { LINE_B, LINE_A, LINE_SLAVE };
	for (int i = 0; i < 3; i++) {
		testdev_irq_line(lines[i], 1);
		testdev_irq_line(lines[i], 0);
	}
	uint8_t isr_pending = pic_read_isr(PIC1_CMD);
	report(isr_pending == 0, "pic-read-isr", "OCW3 read-ISR gave 0x%x with requests pending and none in service, "
	       "want 0 (the command port reads ISR after OCW3 0x0b, IRR after 0x0a)", isr_pending);
	uint8_t irr1 = pic_read_irr(PIC1_CMD), irr2 = pic_read_irr(PIC2_CMD);
	report((irr1 & 0x4c) == 0x4c && (irr2 & 0x04) == 0x04, "pic-edge-latched",
	       "IRR 0x%x/0x%x after pulses on IRQ 3, 6, 10 with IF clear, want bits 2,3,6 / 2 set", irr1, irr2);
	sti_nop();
	irq_wait_count(&norder, 3, 20000);
	cli();
	report(norder == 3 && order[0] == LINE_SLAVE && order[1] == LINE_A && order[2] == LINE_B,
	       "pic-priority-cascade", "taken %u: IRQ %u, %u, %u; want IRQ 10, 3, 6", norder, order[0], order[1],
	       order[2]);
	uint8_t isr1 = pic_read_isr(PIC1_CMD), isr2 = pic_read_isr(PIC2_CMD);
	report(isr1 == 0 && isr2 == 0, "pic-isr-clear", "ISR 0x%x/0x%x after the EOIs, want 0", isr1, isr2);
	outb(PIC2_DATA, 0xff);
}

/* The fully nested mode (8259A datasheet, "fully nested mode"): while IRQ 3
 * is in service, a request on IRQ 6 (lower) and a new one on IRQ 3 itself
 * wait for its EOI, even with IF set in the handler; then 3 comes again
 * before 6. */
static volatile uint32_t nest_log[8], nnest;

static void nest_irq(struct trap_frame *f)
{
	unsigned irq = f->vector - TRAP_IRQ_BASE;
	int first = nnest == 0;
	if (nnest < 8)
		nest_log[nnest++] = irq << 8 | 1;
	if (first) {
		testdev_irq_line(LINE_B, 1);
		testdev_irq_line(LINE_B, 0);
		testdev_irq_line(LINE_A, 1);
		testdev_irq_line(LINE_A, 0);
		sti();
		irq_delay_us(2000);
		cli();
	}
	if (nnest < 8)
		nest_log[nnest++] = irq << 8 | 2;
	pic_eoi(irq);
}

static void test_nesting(void)
{
	irq_handler[VEC(LINE_A)] = irq_handler[VEC(LINE_B)] = nest_irq;
	outb(PIC1_DATA, (uint8_t)~((1u << LINE_A) | (1u << LINE_B) | (1u << 2)));
	testdev_irq_line(LINE_A, 1);
	testdev_irq_line(LINE_A, 0);
	sti_nop();
	irq_wait_count(&nnest, 6, 20000);
	cli();
	const uint32_t want[6] = { LINE_A << 8 | 1, LINE_A << 8 | 2, LINE_A << 8 | 1, LINE_A << 8 | 2,
				   LINE_B << 8 | 1, LINE_B << 8 | 2 };
	int same = nnest == 6;
	for (unsigned i = 0; same && i < 6; i++)
		same = nest_log[i] == want[i];
	report(same, "pic-fully-nested", "%u events 0x%x 0x%x 0x%x 0x%x 0x%x 0x%x (irq << 8 | 1 enter, 2 leave); want "
	       "3 in, 3 out, 3 in, 3 out, 6 in, 6 out: with IRQ 3 in service, 6 and 3 again wait for its EOI", nnest,
	       nest_log[0], nest_log[1], nest_log[2], nest_log[3], nest_log[4], nest_log[5]);
	outb(PIC1_DATA, (uint8_t)~(1u << 2));
}

static void test_level(void)
{
	irq_handler[VEC(LINE_B)] = level_irq;
	irq_handler[VEC(7)] = irq7;
	outb(PIC_ELCR1, (uint8_t)(inb(PIC_ELCR1) | (1u << LINE_B)));
	uint8_t elcr = inb(PIC_ELCR1);
	report(elcr & (1u << LINE_B), "pic-elcr", "ELCR1 0x%x, want bit %u set", elcr, LINE_B);
	outb(PIC1_DATA, (uint8_t)~((1u << LINE_B) | (1u << 7) | (1u << 2)));

	testdev_irq_line(LINE_B, 1);
	sti_nop();
	irq_wait_count(&level_seen, 2, 20000);
	cli();
	report(level_seen == 2, "pic-level-redelivered",
	       "a level line held high through one EOI was taken %u times, want 2", level_seen);
	report(level_isr & (1u << LINE_B), "pic-level-isr", "ISR 0x%x in the handler, want bit %u", level_isr,
	       LINE_B);

	/* A level request withdrawn while IF is clear. */
	uint32_t before = level_seen;
	testdev_irq_line(LINE_B, 1);
	testdev_irq_line(LINE_B, 0);
	uint8_t irr = pic_read_irr(PIC1_CMD);
	sti_nop();
	irq_delay_us(2000);
	cli();
	report(level_seen == before && !(irr & (1u << LINE_B)), "pic-level-withdrawn",
	       "a level request raised and lowered with IF clear: IRR 0x%x, taken %u times, want neither", irr,
	       level_seen - before);
	report(spurious7 == 0 || spurious7_isr == 0, "pic-spurious-irq7",
	       "IRQ7 taken %u times with ISR bit 7 0x%x: a spurious IRQ7 has ISR bit 7 clear", spurious7,
	       spurious7_isr);
	uint8_t isr = pic_read_isr(PIC1_CMD);
	report(isr == 0, "pic-isr-after-level", "ISR 0x%x at the end, want 0", isr);
	outb(PIC_ELCR1, (uint8_t)(inb(PIC_ELCR1) & ~(1u << LINE_B)));
	outb(PIC1_DATA, 0xff);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	uint8_t imr1 = inb(PIC1_DATA), imr2 = inb(PIC2_DATA);
	report(imr1 == 0xff && imr2 == 0xff, "pic-imr-read-back", "IMR 0x%x/0x%x, want 0xff/0xff", imr1, imr2);
	uint32_t khz = irq_tsc_calibrate();
	report(khz != 0, "pit-ch0-calibrates-tsc", "channel 0's latched count did not move by 10 ms");
	if (!khz)
		end();
	printf("tsc: %u kHz\n", khz);
	test_ticks();
	test_priority();
	test_nesting();
	test_level();
	end();
}
