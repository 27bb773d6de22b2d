/* SPDX-License-Identifier: MIT */
/*
 * bench-vmexit: the cost of one VM exit, timed by the guest itself, in the
 * manner of kvm-unit-tests' x86/vmexit.c: read the TSC, run N iterations of
 * one exiting instruction, read the TSC again, print the cycles. Start-up and
 * tear-down of the VMM never enter the figure. A multiboot kernel, so the
 * bare KVM_RUN loop (grader/bench/kvm_floor.c), the kit's VMM and QEMU -kernel
 * run the very same image. For each figure it prints, REPS times,
 *
 *   bench <figure> iterations <N> cycles <C>
 *
 * and the host divides. The figures:
 *   loop     the timed loop with nothing in it: what an iteration costs
 *            without an exit (guest CPL0 code may itself be emulated)
 *   cpuid    CPUID leaf 0: an exit the kernel serves (SDM Vol. 3C 25.1.2:
 *            CPUID always exits)
 *   pio      OUT to port 0xe0: an exit to user space (the kit's VMM serves
 *            its pc-testdev there; QEMU without -device pc-testdev has
 *            nothing there, and its unassigned-port handler answers)
 *   mmio     a 4-byte write to 0xd0000000: an MMIO exit to user space (the
 *            kit's test MMIO window; unassigned in QEMU)
 *   hlt      a self-IPI (local APIC ICR, destination shorthand self) sent
 *            with interrupts off, then STI; HLT: the halt and its wake-up by
 *            the interrupt, all in the kernel's local APIC, plus the handler's
 *            EOI (SDM Vol. 3A 11.6.1, 11.8.5)
 * An IPI to another vCPU (kvm-unit-tests' "ipi") is not measured: the guest
 * would need its second vCPU started by INIT-SIPI on every peer.
 */
#include <x86/apicdef.h>
#include <x86/msr-index.h>

#include "rt.h"
#include "trap.h"

#define REPS        5
#define ITERATIONS  2000
#define PIO_PORT    0xe0
#define MMIO_GPA    ABI_TESTMMIO_GPA
#define HLT_IRQ     15                       /* the last PIC gate of the runtime's IDT */
#define HLT_VECTOR  (TRAP_IRQ_BASE + HLT_IRQ)
#define APIC        ((uintptr_t)APIC_DEFAULT_PHYS_BASE)

/* RDTSC, not RDTSCP: the host KVM's emulator cannot run RDTSCP at CPL0
 * (HOST-KVM.md). The exiting instructions around it serialize enough for
 * loops of thousands of iterations. */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void do_loop(void)
{
	__asm__ volatile("" ::: "memory");
}

static void do_cpuid(void)
{
	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
}

static void do_pio(void)
{
	outb(PIO_PORT, 0);
}

static void do_mmio(void)
{
	mmio_write32(MMIO_GPA, 0);
}

static void hlt_irq(struct trap_frame *f)
{
	(void)f;
	mmio_write32(APIC + APIC_EOI, 0);
}

static void do_hlt(void)
{
	mmio_write32(APIC + APIC_ICR, APIC_DEST_SELF | HLT_VECTOR);
	/* STI's one-instruction shadow (SDM Vol. 2B, STI) delivers the pending
	 * interrupt only once HLT has started: the wake-up is what is timed. */
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}

static const struct figure {
	const char *name;
	void (*fn)(void);
} figures[] = {
	{ "loop", do_loop }, { "cpuid", do_cpuid }, { "pio", do_pio }, { "mmio", do_mmio }, { "hlt", do_hlt },
};

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	(void)magic, (void)mbi_gpa;
	begin(GUEST_NAME);
	idt_init();
	trap_irq_handler[HLT_IRQ] = hlt_irq;
	/* No 8259 line may reach the CPU once interrupts are on: a boot loader
	 * (QEMU's SeaBIOS) leaves the timer at vectors that are exceptions here. */
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	mmio_write32(APIC + APIC_SPIV, APIC_SPIV_APIC_ENABLED | 0xff);

	for (unsigned f = 0; f < sizeof(figures) / sizeof(figures[0]); f++) {
		figures[f].fn(); /* warm-up: first-touch costs stay out of the figure */
		for (unsigned rep = 0; rep < REPS; rep++) {
			uint64_t t0 = rdtsc();
			for (unsigned i = 0; i < ITERATIONS; i++)
				figures[f].fn();
			uint64_t t1 = rdtsc();
			printf("bench %s iterations %u cycles %llu\n", figures[f].name, ITERATIONS,
			       (unsigned long long)(t1 - t0));
		}
	}
	uint32_t woken = trap_irq_count[HLT_IRQ];
	uint32_t want = ITERATIONS * REPS + 1;
	report(woken == want, "hlt-woken-by-self-ipi", "%u wake-ups, want %u", woken, want);
	end();
}
