/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-nested: the local APIC's priorities (SDM Vol. 3A 11.8.3), by
 * self-IPIs:
 *  - a higher-class vector (0x8a) sent from the handler of 0x40 with IF set
 *    interrupts it at once; one of the same class as 0x40 (0x41) waits for
 *    0x40's EOI (PPR = the class of the highest in-service vector);
 *  - EOI ordering (11.8.5): with 0x40 and 0x8a in service, the first EOI
 *    clears 0x8a's ISR bit, not 0x40's; the order of the handlers' entries
 *    and exits is recorded;
 *  - TPR (11.8.3.1): TPR 0x50 keeps 0x45 pending in IRR while 0x60 is taken;
 *    TPR back to 0 lets 0x45 in; PPR reads the TPR when nothing is in service.
 */
#include "irq.h"

#define WAIT_US 20000

static volatile uint32_t log[16], nlog;
static volatile uint32_t isr40_in_80, isr80_after_eoi = ~0u, isr40_after_eoi80 = ~0u;
static volatile uint32_t ppr_in_80, ppr_after_eoi80;

#define ENTER(v) ((v) << 8 | 1)
#define LEAVE(v) ((v) << 8 | 2)

static void record(uint32_t what)
{
	if (nlog < 16)
		log[nlog++] = what;
}

static void vec80(struct trap_frame *f)
{
	(void)f;
	record(ENTER(0x8a));
	isr40_in_80 = lapic_bit(APIC_ISR, 0x40);
	ppr_in_80 = lapic_read(APIC_PROCPRI);
	/* Same class as the one in service below: must wait. */
	lapic_self_ipi(0x41);
	sti();
	irq_delay_us(2000);
	cli();
	lapic_eoi();
	ppr_after_eoi80 = lapic_read(APIC_PROCPRI);
	isr80_after_eoi = lapic_bit(APIC_ISR, 0x8a);
	isr40_after_eoi80 = lapic_bit(APIC_ISR, 0x40);
	record(LEAVE(0x8a));
}

static void vec40(struct trap_frame *f)
{
	(void)f;
	record(ENTER(0x40));
	sti();
	lapic_self_ipi(0x8a);
	irq_delay_us(2000);
	cli();
	record(LEAVE(0x40));
	lapic_eoi();
}

static void vec_plain(struct trap_frame *f)
{
	record(ENTER(f->vector));
	lapic_eoi();
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
	irq_handler[0x40] = vec40;
	irq_handler[0x8a] = vec80;
	irq_handler[0x41] = irq_handler[0x45] = irq_handler[0x60] = vec_plain;

	lapic_self_ipi(0x40);
	sti();
	irq_wait_count(&nlog, 5, WAIT_US);
	irq_delay_us(1000);
	cli();
	const uint32_t want[5] = { ENTER(0x40), ENTER(0x8a), LEAVE(0x8a), LEAVE(0x40), ENTER(0x41) };
	int same = nlog == 5;
	for (unsigned i = 0; same && i < 5; i++)
		same = log[i] == want[i];
	report(same, "nested-by-priority",
	       "%u events: 0x%x 0x%x 0x%x 0x%x 0x%x; want enter 40, enter 8a, leave 8a, leave 40, enter 41 (v << 8 | 1 enter, 2 leave)",
	       nlog, log[0], log[1], log[2], log[3], log[4]);
	report(isr40_in_80 == 1, "nested-isr-both", "ISR bit 0x40 %u inside 0x8a's handler, want 1", isr40_in_80);
	/* PPR[3:0] is 0 when the in-service class is above TPR's (SDM Vol. 3A 11.8.3.1). */
	report(ppr_in_80 == 0x80, "nested-ppr", "PPR 0x%x inside 0x8a's handler, want 0x80 (class 8, bits 3:0 clear)",
	       ppr_in_80);
	report(ppr_after_eoi80 == 0x40, "eoi-ppr", "PPR 0x%x right after 0x8a's EOI with 0x40 still in service, want 0x40 "
	       "(the EOI lowers PPR at once)", ppr_after_eoi80);
	report(isr80_after_eoi == 0 && isr40_after_eoi80 == 1, "eoi-highest-first",
	       "after one EOI with 0x40 and 0x8a in service: ISR 0x8a %u, 0x40 %u; want 0, 1", isr80_after_eoi,
	       isr40_after_eoi80);

	nlog = 0;
	lapic_write(APIC_TASKPRI, 0x50);
	uint32_t ppr = lapic_read(APIC_PROCPRI);
	report(ppr == 0x50, "tpr-ppr", "PPR 0x%x with TPR 0x50 and nothing in service, want 0x50", ppr);
	lapic_self_ipi(0x45);
	lapic_self_ipi(0x60);
	sti();
	irq_delay_us(2000);
	cli();
	int irr45 = lapic_bit(APIC_IRR, 0x45);
	report(nlog == 1 && log[0] == ENTER(0x60) && irr45, "tpr-masks-class",
	       "with TPR 0x50: %u taken (first 0x%x), IRR bit 0x45 %d; want only 0x60, 0x45 pending", nlog, log[0] >> 8,
	       irr45);
	lapic_write(APIC_TASKPRI, 0);
	sti();
	irq_wait_count(&nlog, 2, WAIT_US);
	cli();
	report(nlog == 2 && log[1] == ENTER(0x45), "tpr-lowered", "after TPR 0: %u taken, want 0x45 as well", nlog);
	int isr_left = 0;
	for (unsigned r = 0; r < 8; r++)
		isr_left |= lapic_read(APIC_ISR + 0x10 * r) != 0;
	report(!isr_left, "isr-clear", "an ISR bit left set after every EOI");
	end();
}
