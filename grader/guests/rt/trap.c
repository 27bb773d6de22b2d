/* SPDX-License-Identifier: MIT */
#include "rt.h"
#include "trap.h"

extern const uint32_t trap_stub_table[TRAP_GATES];

irq_handler_t trap_irq_handler[16];
trap_handler_t trap_exception_handler[FIRST_EXTERNAL_VECTOR];
volatile uint32_t trap_irq_count[16];
struct fault_record trap_fault;

/* 32-bit interrupt gates (SDM Vol. 3 6.11, figure 6-2): IF is cleared on entry.
 * The gates name the code segment the guest runs in: ABI_SEL_CODE32 under the
 * kvmlabs VMM, whatever the boot loader chose for a multiboot guest. */
static uint64_t idt[TRAP_GATES] __attribute__((aligned(8)));

void idt_init(void)
{
	uint16_t cs = read_cs();
	for (unsigned v = 0; v < TRAP_GATES; v++) {
		uint32_t off = trap_stub_table[v];
		idt[v] = (off & 0xffffull) | ((uint64_t)cs << 16) |
			 (0x8e00ull << 32) | ((uint64_t)(off >> 16) << 48);
	}
	struct dt_reg r = { .limit = sizeof(idt) - 1, .base = (unsigned long)idt };
	lidt(&r);
}

void rt_trap(struct trap_frame *f);
void rt_trap(struct trap_frame *f)
{
	if (f->vector >= TRAP_IRQ_BASE) {
		unsigned irq = f->vector - TRAP_IRQ_BASE;
		trap_irq_count[irq]++;
		if (trap_irq_handler[irq]) {
			trap_irq_handler[irq](f);
		} else { /* unclaimed line: non-specific EOI (8259A OCW2) so it cannot stall the PIC */
			if (irq >= 8)
				outb(PIC2_CMD, PIC_EOI);
			outb(PIC1_CMD, PIC_EOI);
		}
		return;
	}
	if (trap_exception_handler[f->vector]) {
		trap_exception_handler[f->vector](f);
		return;
	}
	if (f->vector == trap_fault.vector && trap_fault.resume) {
		trap_fault.caught++;
		trap_fault.error = f->error;
		trap_fault.eip = f->eip;
		f->eip = trap_fault.resume;
		trap_fault.resume = 0;
		return;
	}
	/* Through report(), so the line is covered by the report's MAC. */
	report(0, "unexpected-exception", "vector %u error 0x%x at eip 0x%x", f->vector, f->error, f->eip);
	end();
}
