/* SPDX-License-Identifier: MIT */
/*
 * bench-mmu: what guest paging costs under a hypervisor without EPT, timed by
 * the guest with the TSC, as bench-vmexit times single exits. The figures
 * (make bench, grader/bench/README.md, "Shadow MMU"):
 *
 *   pte      a page-table update as a kernel makes one: write a PTE of one of
 *            its own page tables (not the root), INVLPG the address (SDM Vol. 3
 *            4.10.4.1: the guest may not rely on the old translation being
 *            gone without it), then load through the address. The PTE points
 *            at one of UPD_PAGES pages in turn; each load must read that
 *            page's tag
 *   cr3      a switch among CR3_SPACES address spaces (MOV to CR3, 4.10.4.1),
 *            then a load from a page private to the space just loaded, at the
 *            same virtual address in all of them: a fork-heavy workload
 *   cr3-64   the same among CR3_MANY_SPACES spaces: their tables need more
 *            shadow pages than minikvm keeps for a 32 MiB guest (2 % of its
 *            pages, mmu.c), so it must recycle them as it goes
 *   touch    the first store to a page never touched, through a 4 KiB
 *            mapping never used: the fault a fresh anonymous page costs.
 *            The pages are those from TOUCH_GPA to the end of RAM (at most
 *            TOUCH_PAGES), so more RAM gives longer samples
 *
 * For each it prints
 *
 *   bench <figure> start
 *   bench <figure> stop
 *   bench <figure> iterations <N> cycles <C>     (REPS samples)
 *
 * start and stop enclose all the timed samples, back to back, so that the
 * host can time them on its own clock too (under an emulator the TSC is the
 * emulator's, not the host's).
 *
 * Which figure runs is chosen by the RAM size the guest reads from fw_cfg
 * (item 0x03, the VMM's --mem): the number of whole pages past a multiple of
 * 64 KiB, SEL. SEL 0 (--mem 32M, the default) runs every figure; SEL 2f
 * runs figure f alone (f = 1..4, in the order above: --mem 0x2004000, 32 MiB
 * and 4 pages, the cr3 figure) and SEL 2f - 1 runs it with 0 iterations per
 * sample: the same set-up, warm-up and output, so the difference between
 * the two runs' MMU counters (minikvm prints them when the VM ends) is
 * exactly the timed iterations' work. A few pages more or less leave the
 * shadow bound of mmu.c (2 % of the pages) unchanged.
 *
 * Every table a figure edits is a page of its own, below the root, and the
 * root is written only before it is first loaded: on minikvm at stage 05 a
 * write to the loaded root needs the emulator (lab 07).
 */
#include <x86/pgtable.h>

#include "kut.h"

#define REPS            15
#define UPD_VA          0x8000000000ull   /* PML4 slot 1, PDPT 0, PD 0, PT 0 */
#define UPD_PAGES       8                 /* a power of two: the index is a mask */
#define CR3_SPACES      16
#define CR3_MANY_SPACES 64
#define PRIVATE_VA      0x8000000000ull   /* in each CR3 space: its private page */
#define TOUCH_VA        0x10000000000ull  /* PML4 slot 2 */
#define TOUCH_GPA       0x400000ull       /* 4 MiB, above the image: pages the guest never touches otherwise */
#define TOUCH_PTS       64                /* 128 MiB of fresh pages at most */
#define TOUCH_PAGES     (TOUCH_PTS * PT64_ENT_PER_PAGE)
#define TOUCH_MAX_PER_SAMPLE 4096
#define TOUCH_PROBES    8                 /* pages read back through the identity map */
#define OWN_FLAGS       (PT_PRESENT_MASK | PT_WRITABLE_MASK)
#define SEL_MASK        15                /* pages within 64 KiB */
#define RAM_NEEDED      (32ull << 20)

typedef uint64_t table_t[PT64_ENT_PER_PAGE];

/* The pte and touch figures' address space. */
static struct {
	table_t pml4, upd_pdpt, upd_pd, upd_pt, touch_pdpt, touch_pd, touch_pt[TOUCH_PTS];
} own __attribute__((aligned(PAGE_SIZE)));
static table_t upd_pages[UPD_PAGES] __attribute__((aligned(PAGE_SIZE)));

/* The CR3 figures' spaces: each shares the identity map of the image and
 * has its own tables down to one private page. */
static struct space {
	table_t pml4, pdpt, pd, pt, data;
} spaces[CR3_MANY_SPACES] __attribute__((aligned(PAGE_SIZE)));

static uint64_t vmm_cr3;
static unsigned upd_next, upd_bad, cr3_next, cr3_bad, touch_next, touch_pages;
extern char _end[]; /* rt/image64.ld */

/* RDTSC, not RDTSCP: the PVM host KVM cannot run RDTSCP at CPL0
 * (HOST-KVM.md); the MOV CR3, INVLPG and exits around it serialize enough
 * for samples of hundreds of iterations. */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static uint64_t upd_tag(unsigned k) { return 0xb0b0000000000000ull | k; }
static uint64_t space_tag(unsigned s) { return 0xc3c3000000000000ull | s; }
static uint64_t touch_tag(unsigned j) { return 0xd4d4000000000000ull | j; }
static volatile uint64_t *touch_va(unsigned j) { return (volatile uint64_t *)(uintptr_t)(TOUCH_VA + (uint64_t)j * PAGE_SIZE); }

/* Every table of every figure, written before any of them is loaded. */
static void build_tables(void)
{
	const uint64_t *identity_pml4 = (const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK);

	own.pml4[0] = identity_pml4[0];
	own.pml4[PT64_INDEX(UPD_VA, 4)] = pa(own.upd_pdpt) | OWN_FLAGS;
	own.upd_pdpt[PT64_INDEX(UPD_VA, 3)] = pa(own.upd_pd) | OWN_FLAGS;
	own.upd_pd[PT64_INDEX(UPD_VA, 2)] = pa(own.upd_pt) | OWN_FLAGS;
	own.upd_pt[PT64_INDEX(UPD_VA, 1)] = pa(upd_pages[0]) | OWN_FLAGS;
	for (unsigned k = 0; k < UPD_PAGES; k++)
		upd_pages[k][0] = upd_tag(k);

	own.pml4[PT64_INDEX(TOUCH_VA, 4)] = pa(own.touch_pdpt) | OWN_FLAGS;
	own.touch_pdpt[PT64_INDEX(TOUCH_VA, 3)] = pa(own.touch_pd) | OWN_FLAGS;
	for (unsigned t = 0; t < TOUCH_PTS; t++) {
		own.touch_pd[PT64_INDEX(TOUCH_VA, 2) + t] = pa(own.touch_pt[t]) | OWN_FLAGS;
		for (unsigned e = 0; e < PT64_ENT_PER_PAGE && t * PT64_ENT_PER_PAGE + e < touch_pages; e++)
			own.touch_pt[t][e] = (TOUCH_GPA + ((uint64_t)t * PT64_ENT_PER_PAGE + e) * PAGE_SIZE) | OWN_FLAGS;
	}

	for (unsigned s = 0; s < CR3_MANY_SPACES; s++) {
		struct space *sp = &spaces[s];
		sp->pml4[0] = identity_pml4[0];
		sp->pml4[PT64_INDEX(PRIVATE_VA, 4)] = pa(sp->pdpt) | OWN_FLAGS;
		sp->pdpt[PT64_INDEX(PRIVATE_VA, 3)] = pa(sp->pd) | OWN_FLAGS;
		sp->pd[PT64_INDEX(PRIVATE_VA, 2)] = pa(sp->pt) | OWN_FLAGS;
		sp->pt[PT64_INDEX(PRIVATE_VA, 1)] = pa(sp->data) | OWN_FLAGS;
		sp->data[0] = space_tag(s);
	}
}

static void pte_run(unsigned n)
{
	write_cr3(pa(own.pml4));
	for (unsigned i = 0; i < n; i++) {
		unsigned k = ++upd_next % UPD_PAGES;
		own.upd_pt[PT64_INDEX(UPD_VA, 1)] = pa(upd_pages[k]) | OWN_FLAGS;
		invlpg(UPD_VA);
		upd_bad += *(volatile uint64_t *)UPD_VA != upd_tag(k);
	}
}

static void cr3_among(unsigned nspaces, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned s = cr3_next++ % nspaces;
		write_cr3(pa(spaces[s].pml4));
		cr3_bad += *(volatile uint64_t *)PRIVATE_VA != space_tag(s);
	}
	write_cr3(vmm_cr3);
}
static void cr3_run(unsigned n) { cr3_among(CR3_SPACES, n); }
static void cr3_many_run(unsigned n) { cr3_among(CR3_MANY_SPACES, n); }

static void touch_run(unsigned n)
{
	write_cr3(pa(own.pml4));
	for (unsigned i = 0; i < n; i++, touch_next++)
		*touch_va(touch_next) = touch_tag(touch_next);
}

/* Short samples, as bench-vmexit's: the host's load slows a sample, never
 * speeds it up, so the host takes each boot's fastest. All REPS of them
 * take about half a second or more on minikvm under Bochs, so that the
 * host's clock, read as lines arrive (every 20 ms), times them to a few per
 * cent. The touch figure takes what RAM allows (touch_pages): every store
 * needs a page of its own. warm: the untimed iterations before the samples,
 * which leave first-use costs out (every space visited once). */
static struct figure {
	const char *name;
	void (*run)(unsigned n);
	unsigned iterations, warm;
} figures[] = {
	{ "pte", pte_run, 400, UPD_PAGES },
	{ "cr3", cr3_run, 1000, CR3_SPACES },
	{ "cr3-64", cr3_many_run, 200, CR3_MANY_SPACES },
	{ "touch", touch_run, 0, 1 },
};
#define NFIGURES (sizeof(figures) / sizeof(figures[0]))

/* The untimed warm-up, then REPS samples of n iterations each. */
static void time_figure(const struct figure *f, unsigned n)
{
	uint64_t cycles[REPS];
	f->run(f->warm);
	printf("bench %s start\n", f->name);
	for (unsigned rep = 0; rep < REPS; rep++) {
		uint64_t t0 = rdtsc();
		f->run(n);
		cycles[rep] = rdtsc() - t0;
	}
	printf("bench %s stop\n", f->name);
	for (unsigned rep = 0; rep < REPS; rep++)
		printf("bench %s iterations %u cycles %llu\n", f->name, n, (unsigned long long)cycles[rep]);
}

/* Whatever a figure did, did what the guest asked: the loads of the pte
 * and CR3 figures were checked as they went; the touched pages are read
 * back through their mappings, and a few through the identity map (read
 * in every mode, so that their faults are the same with 0 iterations). */
static void check(const struct figure *f)
{
	if (f->run == pte_run) {
		report(upd_bad == 0, "pte-updates-seen", "%u of %u loads after a PTE update and INVLPG read another page",
		       upd_bad, upd_next);
	} else if (f->run == cr3_run || f->run == cr3_many_run) {
		report(cr3_bad == 0, f->run == cr3_run ? "cr3-private-pages" : "cr3-64-private-pages",
		       "%u loads after a CR3 switch read another space's page", cr3_bad);
	} else if (f->run == touch_run) {
		unsigned wrong = 0;
		for (unsigned j = 0; j < touch_next; j++)
			wrong += *touch_va(j) != touch_tag(j);
		write_cr3(vmm_cr3);
		for (unsigned p = 0; p < TOUCH_PROBES; p++) {
			unsigned j = p * (touch_pages / TOUCH_PROBES);
			uint64_t got = *(volatile uint64_t *)(uintptr_t)(TOUCH_GPA + (uint64_t)j * PAGE_SIZE);
			wrong += j < touch_next && got != touch_tag(j);
		}
		report(wrong == 0, "touched-pages-hold-stores", "%u of %u touched pages do not hold what was stored",
		       wrong, touch_next);
	}
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	uint64_t ram = fw_cfg_ram_size();
	unsigned sel = (unsigned)(ram >> PAGE_SHIFT) & SEL_MASK;
	if (ram < RAM_NEEDED) {
		skip("mmu-figures", "needs 32 MiB of RAM or more (fw_cfg RAM size)");
		end();
	}
	if (pa(_end) > TOUCH_GPA) {
		report(0, "image-below-touch-pages", "the image ends at 0x%llx, above the fresh pages at 0x%llx",
		       (unsigned long long)pa(_end), TOUCH_GPA);
		end();
	}
	touch_pages = (unsigned)((ram - TOUCH_GPA) >> PAGE_SHIFT);
	if (touch_pages > TOUCH_PAGES)
		touch_pages = TOUCH_PAGES;
	figures[NFIGURES - 1].iterations = (touch_pages - figures[NFIGURES - 1].warm) / REPS;
	if (figures[NFIGURES - 1].iterations > TOUCH_MAX_PER_SAMPLE)
		figures[NFIGURES - 1].iterations = TOUCH_MAX_PER_SAMPLE;
	if (sel > 2 * NFIGURES) {
		report(0, "figure-selector", "RAM size 0x%llx selects %u: want 0 (every figure) or 1..%u",
		       (unsigned long long)ram, sel, (unsigned)(2 * NFIGURES));
		end();
	}
	vmm_cr3 = read_cr3();
	build_tables();
	for (unsigned f = 0; f < NFIGURES; f++) {
		if (sel && (sel + 1) / 2 != f + 1)
			continue;
		time_figure(&figures[f], sel % 2 ? 0 : figures[f].iterations);
		check(&figures[f]);
	}
	write_cr3(vmm_cr3);
	end();
}
