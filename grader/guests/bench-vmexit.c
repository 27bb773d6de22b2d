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
 *   ipi      kvm-unit-tests' "ipi" (x86/vmexit.c, on_cpu() of lib/x86/smp.c):
 *            vCPU 0 sends a fixed IPI to vCPU 1, which waits in STI; HLT,
 *            and spins until vCPU 1's handler says it ran: one round trip
 *            per iteration (the send, the wake-up of a halted vCPU, its
 *            handler and EOI, and vCPU 0 seeing the flag)
 * The ipi figure needs a second vCPU (run with --cpus 2, QEMU -smp 2) and
 * the in-kernel local APIC; the guest starts it itself by INIT-SIPI
 * (rt/ap.h), as a standard kernel does. Without one it prints
 *
 *   bench ipi unavailable: <reason>
 */
#include <x86/apicdef.h>
#include <x86/msr-index.h>

#include "ap.h"
#include "kut.h"
#include "trap.h"

/* Many short samples rather than a few long ones: the host's load slows a
 * sample, never speeds it up, and the shorter the sample the likelier some
 * samples of a boot ran undisturbed, so the host takes each boot's fastest. */
#define REPS        15
#define ITERATIONS  400
#define PIO_PORT    ABI_PC_TESTDEV_PORT
#define MMIO_GPA    ABI_TESTMMIO_GPA
#define HLT_IRQ     15                       /* the last PIC gate of the runtime's IDT */
#define HLT_VECTOR  (TRAP_IRQ_BASE + HLT_IRQ)
#define IPI_IRQ     14
#define IPI_VECTOR  (TRAP_IRQ_BASE + IPI_IRQ)
#define APIC        ((uintptr_t)APIC_DEFAULT_PHYS_BASE)
#define AP_WAIT     500000                   /* port exits (>= 0.5 s on any host) to wait for the AP to check in */
#define IPI_TIMEOUT (1ull << 32)             /* TSC cycles (> 1 s) a round trip may take before it is lost */

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

static volatile uint32_t ap_up, ap_apic_id, ipi_done, ipi_lost;

/* vCPU 1: its own local APIC on, then the idle loop of kvm-unit-tests'
 * APs: halted with interrupts on, woken by each IPI. */
static void bench_ap(void)
{
	apic_sw_enable();
	ap_apic_id = apic_read(APIC_ID) >> 24;
	atomic_inc(&ap_up);
	for (;;)
		__asm__ volatile("sti; hlt; cli" ::: "memory");
}

static void ipi_irq(struct trap_frame *f)
{
	(void)f;
	ipi_done = 1;
	apic_write(APIC_EOI, 0);
}

static void do_ipi(void)
{
	ipi_done = 0;
	/* Fixed delivery, physical destination: both encode as 0 in the ICR
	 * (SDM Vol. 3A 11.6.1, figure 11-12). */
	apic_send_ipi(ap_apic_id, APIC_INT_ASSERT | IPI_VECTOR);
	uint64_t deadline = 0;
	for (unsigned n = 0; !ipi_done; n++) {
		if (n % 1024)
			continue;
		uint64_t now = rdtsc();
		if (!deadline) {
			deadline = now + IPI_TIMEOUT;
		} else if (now > deadline) {
			ipi_lost++;
			return;
		}
	}
}

/* Start vCPU 1 by INIT-SIPI; why not, when it cannot be (NULL: it is up). */
static const char *start_ap(void)
{
	/* fw_cfg, where there is one, says how many vCPUs there are: with one
	 * there is nothing to wait for. The bare loop has none: wait and see. */
	uint32_t sig = (uint32_t)fw_cfg_read(ABI_FW_CFG_SIGNATURE_KEY, 4);
	if (!memcmp(&sig, ABI_FW_CFG_SIGNATURE, 4) && fw_cfg_read(ABI_FW_CFG_NB_CPUS, 2) < 2)
		return "one vCPU (fw_cfg NB_CPUS is 1)";
	ap_start_all(bench_ap);
	for (unsigned i = 0; i < AP_WAIT && !ap_up; i++)
		(void)inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID);
	return ap_up ? NULL : "no second vCPU checked in after INIT-SIPI (waited 500000 port exits)";
}

static const struct figure {
	const char *name;
	void (*fn)(void);
} figures[] = {
	{ "loop", do_loop }, { "cpuid", do_cpuid }, { "pio", do_pio }, { "mmio", do_mmio }, { "hlt", do_hlt },
	{ "ipi", do_ipi },
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
	trap_irq_handler[IPI_IRQ] = ipi_irq;
	apic_sw_enable();
	const char *no_ipi = start_ap();

	for (unsigned f = 0; f < sizeof(figures) / sizeof(figures[0]); f++) {
		if (figures[f].fn == do_ipi && no_ipi) {
			printf("bench ipi unavailable: %s\n", no_ipi);
			continue;
		}
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
	if (!no_ipi)
		report(ipi_lost == 0 && trap_irq_count[IPI_IRQ] == want, "ipi-round-trips",
		       "%u IPIs handled by vCPU 1, %u lost (no answer within 2^32 cycles), want %u",
		       trap_irq_count[IPI_IRQ], ipi_lost, want);
	else
		skip("ipi-round-trips", no_ipi);
	end();
}
