/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-ioapic: the 82093AA IOAPIC (datasheet 3.2.4, the redirection
 * table) with both 8259s masked. GSIs 10 and 11 are driven through
 * pc-testdev's interrupt ports (KVM_IRQ_LINE), GSI 5 by the doorbell (irqfd):
 *  - version register: version 0x11 or 0x20, at least 24 entries;
 *  - level (pin 10, vector 0x60): Remote IRR set and the LAPIC's TMR bit set
 *    in the handler; held high through the EOI it is delivered again, lowered
 *    it is not; Remote IRR clear after; a masked entry with the line high
 *    delivers when unmasked;
 *  - edge (pin 11, vector 0x61): one pulse, one interrupt, TMR clear;
 *  - the doorbell's GSI 5 (edge, vector 0x62): one per doorbell.
 */
#include "irq.h"

#define PIN_LEVEL 10
#define PIN_EDGE  11
#define VEC_LEVEL 0x60
#define VEC_EDGE  0x61
#define VEC_BELL  0x62
#define WAIT_US   20000

static volatile uint32_t level_n, level_rirr, level_tmr, edge_n, edge_tmr = ~0u, bell_n;

static void level_irq(struct trap_frame *f)
{
	(void)f;
	if (level_n++ == 0) {
		level_rirr = !!(ioapic_read(IOAPIC_REG_REDTBL(PIN_LEVEL)) & IOAPIC_RTE_REMOTE_IRR);
		level_tmr = lapic_bit(APIC_TMR, VEC_LEVEL);
	} else {
		testdev_irq_line(PIN_LEVEL, 0);
	}
	lapic_eoi();
}

static void edge_irq(struct trap_frame *f)
{
	(void)f;
	edge_n++;
	edge_tmr = lapic_bit(APIC_TMR, VEC_EDGE);
	lapic_eoi();
}

static void bell_irq(struct trap_frame *f)
{
	(void)f;
	bell_n++;
	lapic_eoi();
}

static void settle(volatile uint32_t *n, uint32_t want)
{
	sti();
	irq_wait_count(n, want, WAIT_US);
	irq_delay_us(2000);
	cli();
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	irq_tsc_require();
	lapic_enable();
	irq_handler[VEC_LEVEL] = level_irq;
	irq_handler[VEC_EDGE] = edge_irq;
	irq_handler[VEC_BELL] = bell_irq;
	uint32_t ver = ioapic_read(IOAPIC_REG_VER), me = lapic_id();
	report(((ver & 0xff) == 0x11 || (ver & 0xff) == 0x20) && ((ver >> 16) & 0xff) >= 23, "ioapic-version",
	       "version register 0x%x, want version 0x11 or 0x20 and max entry >= 23", ver);

	ioapic_route(PIN_LEVEL, IOAPIC_RTE_LEVEL | VEC_LEVEL, me);
	testdev_irq_line(PIN_LEVEL, 1);
	settle(&level_n, 2);
	report(level_n == 2, "ioapic-level-redelivered", "a level line held through one EOI delivered %u times, want 2",
	       level_n);
	report(level_rirr == 1, "ioapic-remote-irr", "Remote IRR %u in the handler, want 1", level_rirr);
	report(level_tmr == 1, "lapic-tmr-level", "TMR bit 0x%x %u in the handler, want 1", VEC_LEVEL, level_tmr);
	uint32_t rte = ioapic_read(IOAPIC_REG_REDTBL(PIN_LEVEL));
	report(!(rte & IOAPIC_RTE_REMOTE_IRR), "ioapic-remote-irr-eoi", "entry 0x%x after the EOI, want Remote IRR clear",
	       rte);

	level_n = 1;	/* the next one lowers the line */
	ioapic_route(PIN_LEVEL, IOAPIC_RTE_MASKED | IOAPIC_RTE_LEVEL | VEC_LEVEL, me);
	testdev_irq_line(PIN_LEVEL, 1);
	settle(&level_n, 2);
	uint32_t masked = level_n - 1;
	ioapic_route(PIN_LEVEL, IOAPIC_RTE_LEVEL | VEC_LEVEL, me);
	settle(&level_n, 2);
	report(masked == 0 && level_n == 2, "ioapic-level-unmask",
	       "masked with the line high: %u delivered, then %u after unmasking; want 0, 1", masked, level_n - 1 - masked);
	ioapic_route(PIN_LEVEL, IOAPIC_RTE_MASKED | VEC_LEVEL, me);

	ioapic_route(PIN_EDGE, VEC_EDGE, me);
	testdev_irq_line(PIN_EDGE, 1);
	testdev_irq_line(PIN_EDGE, 0);
	settle(&edge_n, 1);
	report(edge_n == 1, "ioapic-edge-once", "one edge delivered %u times, want 1", edge_n);
	report(edge_tmr == 0, "lapic-tmr-edge", "TMR bit 0x%x %u for an edge, want 0", VEC_EDGE, edge_tmr);
	ioapic_route(PIN_EDGE, IOAPIC_RTE_MASKED | VEC_EDGE, me);

	ioapic_route(ABI_DOORBELL_IRQ, VEC_BELL, me);
	for (uint32_t i = 1; i <= 3; i++) {
		outl(ABI_DOORBELL_PORT, 1);
		settle(&bell_n, i);
	}
	report(bell_n == 3, "ioapic-doorbell", "3 doorbells, one at a time, delivered %u interrupts, want 3", bell_n);
	ioapic_route(ABI_DOORBELL_IRQ, IOAPIC_RTE_MASKED | VEC_BELL, me);
	end();
}
