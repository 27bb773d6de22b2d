/* SPDX-License-Identifier: MIT */
#include "irq.h"

extern const char irq_stubs[];
void rt_trap(struct trap_frame *f);
void irq_dispatch(struct trap_frame *f);

irq_handler_t irq_handler[IRQ_VECTORS];
volatile uint32_t irq_count[IRQ_VECTORS];
uint32_t irq_tsc_per_ms;

/* 32-bit interrupt gates (SDM Vol. 3A 6.11): IF is clear in every handler
 * until it sets it. */
static uint64_t irq_idt[IRQ_VECTORS] __attribute__((aligned(8)));

void irq_idt_init(void)
{
	uint16_t cs = read_cs();
	if (!irq_idt[0]) {
		for (unsigned v = 0; v < IRQ_VECTORS; v++) {
			uint32_t off = (uint32_t)(uintptr_t)irq_stubs + 16 * v;
			irq_idt[v] = (off & 0xffffull) | ((uint64_t)cs << 16) | (0x8e00ull << 32) |
				     ((uint64_t)(off >> 16) << 48);
		}
	}
	struct dt_reg r = { .limit = sizeof(irq_idt) - 1, .base = (unsigned long)irq_idt };
	lidt(&r);
}

void irq_dispatch(struct trap_frame *f)
{
	unsigned v = f->vector & 0xff;
	/* Locked: several vCPUs may take one vector at once (a broadcast IPI). */
	atomic_inc(&irq_count[v]);
	if (irq_handler[v]) {
		irq_handler[v](f);
	} else if (v < TRAP_GATES) {
		rt_trap(f);
	} else {
		report(0, "unexpected-interrupt", "vector 0x%x at eip 0x%x", v, f->eip);
		end();
	}
}

uint64_t udiv64(uint64_t n, uint64_t d)
{
	if (!d)
		return ~0ull;
	uint64_t q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = r << 1 | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= 1ull << i;
		}
	}
	return q;
}

#define CAL_COUNTS (PIT_FREQ_HZ / 100) /* 10 ms of the 8254's input clock */

/* Channel 0 in mode 2 from 65536, its count latched and read (three port
 * accesses a read) until 10 ms of counts have gone by. Port 0x61's OUT2 would
 * be the classic way, but a VMM may leave that port out (KVM creates it only
 * with KVM_PIT_SPEAKER_DUMMY). The caller keeps IRQ0 masked. */
static uint64_t pit_ch0_ticks(void)
{
	pit_ch0_start(2, 0);
	uint64_t t0 = rdtsc();
	uint16_t c0 = pit_ch0_read();
	for (uint32_t i = 0; i < 200000; i++) {
		uint16_t c = pit_ch0_read();
		uint64_t t1 = rdtsc();
		uint32_t gone = (uint16_t)(c0 - c);
		if (gone >= CAL_COUNTS)
			return udiv64((t1 - t0) * CAL_COUNTS, gone);
	}
	return 0;
}

uint32_t irq_tsc_calibrate(void)
{
	uint64_t a = pit_ch0_ticks(), b = pit_ch0_ticks();
	pit_ch0_stop();
	uint64_t best = a && b ? (a < b ? a : b) : 0;
	irq_tsc_per_ms = (uint32_t)udiv64(best, 10);
	return irq_tsc_per_ms;
}

void irq_tsc_require(void)
{
	if (!irq_tsc_calibrate()) {
		report(0, "pit-ch0-calibrates-tsc", "channel 0's latched count did not move by 10 ms");
		end();
	}
}

int irq_wait_count(volatile uint32_t *flag, uint32_t want, uint32_t us)
{
	uint64_t end = rdtsc() + tsc_us(us);
	while (*flag < want)
		if (rdtsc() > end)
			return *flag >= want;
	return 1;
}

void irq_delay_us(uint32_t us)
{
	uint64_t end = rdtsc() + tsc_us(us);
	while (rdtsc() < end)
		;
}

int irq_halt_until(volatile uint32_t *flag, uint32_t want, uint32_t us)
{
	uint64_t end = rdtsc() + tsc_us(us);
	for (;;) {
		cli();
		if (*flag >= want)
			return 1;
		if (rdtsc() > end)
			return 0;
		__asm__ volatile("sti; hlt" : : : "memory");
	}
}

void pic_init(uint8_t base, uint8_t mask1, uint8_t mask2)
{
	outb(PIC1_CMD, 0x11);   /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC1_DATA, base);  /* ICW2: vector base */
	outb(PIC1_DATA, 0x04);  /* ICW3: slave on IRQ 2 */
	outb(PIC1_DATA, 0x01);  /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_CMD, 0x11);
	outb(PIC2_DATA, (uint8_t)(base + 8));
	outb(PIC2_DATA, 0x02);  /* ICW3: cascade identity 2 */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, mask1); /* OCW1 */
	outb(PIC2_DATA, mask2);
}

void lapic_enable(void)
{
	lapic_write(APIC_LVTT, APIC_LVT_MASKED);
	lapic_write(APIC_LVT0, APIC_LVT_MASKED);
	lapic_write(APIC_LVT1, APIC_LVT_MASKED);
	lapic_write(APIC_TASKPRI, 0);
	lapic_write(APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);
}

void lapic_ipi(uint32_t apic_id, uint32_t icr_low)
{
	lapic_write(APIC_ICR2, SET_APIC_DEST_FIELD(apic_id));
	lapic_write(APIC_ICR, icr_low);
	for (unsigned i = 0; i < 100000 && (lapic_read(APIC_ICR) & APIC_ICR_BUSY); i++)
		pause();
}

uint32_t lapic_timer_per_ms(void)
{
	lapic_write(APIC_LVTT, APIC_LVT_MASKED | APIC_LVT_TIMER_ONESHOT);
	lapic_write(APIC_TDCR, APIC_TDR_DIV_1);
	lapic_write(APIC_TMICT, 0xffffffffu);
	uint64_t t0 = rdtsc();
	uint32_t c0 = lapic_read(APIC_TMCCT);
	irq_delay_us(10000);
	uint32_t c1 = lapic_read(APIC_TMCCT);
	uint64_t t1 = rdtsc();
	lapic_write(APIC_TMICT, 0);
	uint32_t us = tsc_to_us(t1 - t0);
	return us ? (uint32_t)udiv64((uint64_t)(c0 - c1) * 1000, us) : 0;
}
