/* SPDX-License-Identifier: MIT */
/*
 * bench-emu: what one emulated MMIO access costs, timed by the guest with the
 * TSC as bench-vmexit times single exits, and run by make bench on minikvm
 * and on Linux KVM (grader/bench/README.md, "The instruction emulator").
 * The figures, each a 4-byte MOV at CPL 0 through the guest's own 4 KiB
 * mapping of the test window (rt/emu64.h):
 *
 *   ram         a load from the RAM page beside the window: no exit, the
 *               baseline the other two carry too (the loop, the compare)
 *   mmio-load   a load from the window: an exit (under EPT a
 *               misconfiguration on the window's MMIO spte, Linux's
 *               handle_ept_misconfig), the instruction fetched and decoded,
 *               KVM_EXIT_MMIO to the VMM, and on the next KVM_RUN the
 *               instruction run again with the data the VMM supplied
 *               (complete_emulated_mmio)
 *   mmio-store  a store to the window: the exit and the decode, then
 *               KVM_EXIT_MMIO carrying the data; the instruction completes
 *               before the exit, so the next KVM_RUN only resumes
 *
 * Every load must read what the guest stored there before, and the test
 * device's MMIO_ACCESSES must count each timed access once: the guest's own
 * proof that every access went out to the VMM, not to RAM.
 *
 * Output as bench-mmu's: bench <figure> start, stop (around all its timed
 * samples), then bench <figure> iterations <N> cycles <C>, REPS samples,
 * N and C zero-padded (a timed run prints what its twin prints, as long).
 * The figure is chosen by the RAM size read from fw_cfg, as in bench-mmu:
 * the pages past a multiple of 64 KiB, SEL, are 2f for figure f (1: ram,
 * 2: mmio-load, 3: mmio-store) and 2f - 1 for its twin, which does the same
 * set-up, warm-up and output with 0 iterations per sample; SEL 0 runs
 * everything. The timed run's exit counters less its twin's (minikvm prints
 * them when the VM ends) are then exactly the timed accesses' exits.
 */
#include "emu64.h"
#include "bench.h"
#include <stdbool.h>

#define REPS        15
#define ITERATIONS  40
#define WARM        4
#define WIN_OFF     0x100              /* a dword of the window, and of emu_ram_b */
#define PATTERN     0x5a17c0deu

static unsigned bad_loads;

/* RDTSC, not RDTSCP: the PVM host KVM cannot run RDTSCP at CPL0 (HOST-KVM.md). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void ram_run(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bad_loads += mmio_read32(EMU_RAM_B + WIN_OFF) != PATTERN;
}

static void mmio_load_run(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bad_loads += mmio_read32(EMU_WIN + WIN_OFF) != PATTERN;
}

static void mmio_store_run(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		mmio_write32(EMU_WIN + WIN_OFF, PATTERN);
}

static const struct figure {
	const char *name;
	void (*run)(unsigned n);
	bool mmio;                      /* each iteration is one MMIO access */
} figures[] = {
	{ "ram", ram_run, false },
	{ "mmio-load", mmio_load_run, true },
	{ "mmio-store", mmio_store_run, true },
};
#define NFIGURES (sizeof(figures) / sizeof(figures[0]))

/* The warm-up leaves first-use costs out (under EPT the window's first
 * access makes its MMIO spte, bench-ept's mmio-new), and is counted apart
 * from the timed accesses. */
static void time_figure(const struct figure *f, unsigned n)
{
	uint64_t cycles[REPS];
	f->run(WARM);
	uint32_t before = emu_mmio_accesses();
	printf("bench %s start\n", f->name);
	for (unsigned rep = 0; rep < REPS; rep++) {
		uint64_t t0 = rdtsc();
		f->run(n);
		cycles[rep] = rdtsc() - t0;
	}
	printf("bench %s stop\n", f->name);
	uint32_t counted = emu_mmio_accesses() - before, want = f->mmio ? REPS * n : 0;
	char it[4], cy[16];
	for (unsigned rep = 0; rep < REPS; rep++)
		printf("bench %s iterations %s cycles %s\n", f->name, bench_padded(it, 3, n), bench_padded(cy, 15, cycles[rep]));
	report(counted == want, f->mmio ? "mmio-accesses-counted" : "ram-not-mmio",
	       "%s: the test device counted %u MMIO accesses for %u timed ones", f->name, counted, want);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	unsigned sel = bench_selector("emu-figures", (unsigned)NFIGURES);
	trap64_init();
	emu_map_window();
	mmio_write32(EMU_RAM_B + WIN_OFF, PATTERN);
	mmio_write32(EMU_WIN + WIN_OFF, PATTERN);
	for (unsigned f = 0; f < NFIGURES; f++)
		if (!sel || (sel + 1) / 2 == f + 1)
			time_figure(&figures[f], sel % 2 ? 0 : ITERATIONS);
	report(bad_loads == 0, "loads-read-stores", "%u loads did not read 0x%x, stored there before", bad_loads,
	       PATTERN);
	end();
}
