/* SPDX-License-Identifier: MIT */
/*
 * prot-irq-shadow: where an interrupt may arrive (SDM Vol. 3A 6.8.3; Vol. 2B
 * STI).
 *  - a self-IPI pending with IF clear, then STI; NOP: the interrupt comes
 *    after the NOP (the frame's EIP is the next instruction), not between STI
 *    and NOP;
 *  - sti; hlt with a pending interrupt: HLT is entered and left at once, the
 *    frame's EIP is past the HLT;
 *  - under a periodic LAPIC timer (every 20 us or so) a run of
 *    "mov %dx, %ss; nop" pairs with IF set: no interrupt ever returns to the
 *    NOP right after a MOV SS, the instruction after MOV SS runs first; and
 *    of "cli; sti; nop": none returns between STI and NOP (or after CLI).
 *    Samples landing in the runs are counted; at least a quarter of the
 *    timer's interrupts must, so the check checks something.
 */
#include "irq.h"

#define VEC_IPI    0x50
#define VEC_TIMER  0x51
#define SAMPLES    400
#define SLED_UNITS 256 /* 3-byte units */

extern const char sti_nop_at[], sti_nop_after[], hlt_after[];
extern const char ss_sled[], ss_sled_end[], sti_sled[], sti_sled_end[];

static volatile uint32_t last_eip;
static volatile uint32_t hits_ss[3], hits_sti[3], samples;

static void ipi(struct trap_frame *f)
{
	last_eip = f->eip;
	lapic_eoi();
}

static void timer(struct trap_frame *f)
{
	uint32_t eip = f->eip;
	samples++;
	if (eip >= (uint32_t)(uintptr_t)ss_sled && eip < (uint32_t)(uintptr_t)ss_sled_end)
		hits_ss[(eip - (uint32_t)(uintptr_t)ss_sled) % 3]++;
	if (eip >= (uint32_t)(uintptr_t)sti_sled && eip < (uint32_t)(uintptr_t)sti_sled_end)
		hits_sti[(eip - (uint32_t)(uintptr_t)sti_sled) % 3]++;
	lapic_eoi();
}

/* The runs: each unit is 3 bytes. "mov %dx, %ss" is 8e d2, NOP 90;
 * CLI fa, STI fb, NOP 90. */
__asm__(".text\n"
	"run_ss_sled:\n"
	"	movw %ss, %dx\n"
	"ss_sled:\n"
	"	.rept " "256" "\n"
	"	movw %dx, %ss\n"
	"	nop\n"
	"	.endr\n"
	"ss_sled_end:\n"
	"	ret\n"
	"run_sti_sled:\n"
	"sti_sled:\n"
	"	.rept " "256" "\n"
	"	cli\n"
	"	sti\n"
	"	nop\n"
	"	.endr\n"
	"sti_sled_end:\n"
	"	ret\n");
void run_ss_sled(void);
void run_sti_sled(void);

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	irq_idt_init();
	pic_init(TRAP_IRQ_BASE, 0xff, 0xff);
	irq_tsc_require();
	lapic_enable();
	irq_handler[VEC_IPI] = ipi;
	irq_handler[VEC_TIMER] = timer;
	_Static_assert(SLED_UNITS == 256, "the runs' .rept counts");

	lapic_self_ipi(VEC_IPI);
	for (int i = 0; i < 1000 && !lapic_bit(APIC_IRR, VEC_IPI); i++)
		pause();
	__asm__ volatile("sti_nop_at: sti; nop\n sti_nop_after: cli" : : : "memory");
	report(last_eip == (uint32_t)(uintptr_t)sti_nop_after, "sti-shadow",
	       "interrupt pending at STI came in at eip 0x%x, want 0x%x (after the NOP; 0x%x: inside the shadow)",
	       last_eip, (uint32_t)(uintptr_t)sti_nop_after, (uint32_t)(uintptr_t)sti_nop_at + 1);

	last_eip = 0;
	lapic_self_ipi(VEC_IPI);
	for (int i = 0; i < 1000 && !lapic_bit(APIC_IRR, VEC_IPI); i++)
		pause();
	__asm__ volatile("sti; hlt\n hlt_after: cli" : : : "memory");
	report(last_eip == (uint32_t)(uintptr_t)hlt_after, "sti-hlt-pending", "eip 0x%x in the frame, want 0x%x (past HLT)",
	       last_eip, (uint32_t)(uintptr_t)hlt_after);

	uint32_t per_ms = lapic_timer_per_ms();
	lapic_write(APIC_TDCR, APIC_TDR_DIV_1);
	lapic_write(APIC_LVTT, APIC_LVT_TIMER_PERIODIC | VEC_TIMER);
	lapic_write(APIC_TMICT, per_ms / 50 ? per_ms / 50 : 1);
	sti();
	uint64_t end_tsc = rdtsc() + tsc_us(5000000);
	while (samples < SAMPLES && rdtsc() < end_tsc) {
		run_ss_sled();
		run_sti_sled();
	}
	cli();
	lapic_write(APIC_TMICT, 0);
	uint32_t in_ss = hits_ss[0] + hits_ss[1] + hits_ss[2];
	uint32_t in_sti = hits_sti[0] + hits_sti[1] + hits_sti[2];
	printf("samples %u: mov-ss run %u/%u/%u, sti run %u/%u/%u\n", samples, hits_ss[0], hits_ss[1], hits_ss[2],
	       hits_sti[0], hits_sti[1], hits_sti[2]);
	report(samples >= SAMPLES / 2 && (in_ss + in_sti) * 4 >= samples, "sleds-sampled",
	       "%u timer interrupts, %u in the runs; want >= %u, a quarter in the runs", samples, in_ss + in_sti,
	       SAMPLES / 2);
	report(hits_ss[2] == 0, "mov-ss-blocking", "%u interrupts came in right after a MOV SS (of %u in the run)",
	       hits_ss[2], in_ss);
	report(hits_sti[1] == 0 && hits_sti[2] == 0, "sti-shadow-async",
	       "%u interrupts came in after CLI, %u right after STI (of %u in the run)", hits_sti[1], hits_sti[2],
	       in_sti);
	end();
}
