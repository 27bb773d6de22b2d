/* SPDX-License-Identifier: MIT */
/*
 * bench-ept: the work EPT takes off a hypervisor, timed by the guest with the
 * TSC as bench-mmu times shadow paging, and run by make bench under both
 * (grader/bench/README.md, "Shadow paging and EPT"). The figures:
 *
 *   fork      one process's life as a Unix kernel runs it: fork (new page
 *             tables: a PML4 sharing the kernel's slot 0, a PDPT, a PD and a
 *             PT whose entries share the parent's pages read-only, as before
 *             copy-on-write), the child runs and reads them, exec (the PT
 *             rewritten to pages of the child's own, each stored to through
 *             the new mapping), parent and child switched FORK_SWITCHES
 *             times, exit (every table entry of the child cleared). The
 *             child's frames come from FORK_SLOTS slots taken in turn, so a
 *             freed table is reused a few processes later, as a kernel reuses
 *             freed pages. Without EPT every MOV to CR3 exits and every new or
 *             rewritten table must be shadowed again (SDM Vol. 3 4.10.4.1);
 *             with EPT none of it exits once the frames are mapped
 *   ring3     a round trip to CPL 3 and back through #UD (IRETQ, UD2, the
 *             exception): the baseline the MMIO figures carry too
 *   mmio-new  the same round trip with a 4-byte load at CPL 3 from an MMIO
 *             page (a GPA without a memslot) never accessed before: under
 *             EPT an EPT violation that finds no memslot and makes an MMIO
 *             spte (the slow path)
 *   mmio      the same from a page accessed before: under EPT an EPT
 *             misconfiguration on that MMIO spte, which says MMIO without a
 *             memslot lookup or a walk (the fast path; Linux's MMIO sptes,
 *             handle_mmio_page_fault)
 *
 * The MMIO loads are made at CPL 3 because before lab 07 minikvm has no
 * instruction emulator: it refuses such an access with #UD outside ring 0,
 * as Linux's handle_emulation_failure does, and the guest goes on (at CPL 0
 * the VM would end). A KVM with an emulator completes the load, and the
 * UD2 after it ends the round trip instead; either is a pass.
 *
 * Output as bench-mmu's: bench <figure> start, stop (around all its timed
 * samples), then bench <figure> iterations <N> cycles <C>, REPS samples.
 * The figure is chosen by the RAM size read from fw_cfg, as in bench-mmu:
 * the pages past a multiple of 64 KiB, SEL, are 2f for figure group f (1:
 * fork, 2: ring3, mmio-new and mmio) and 2f - 1 for its twin, which does the
 * same set-up, warm-up and output with 0 iterations per sample; SEL 0 runs
 * everything. The timed run's exit counters less its twin's (minikvm prints
 * them when the VM ends) are then exactly the timed operations' work. The
 * warm-up never touches an MMIO page, so the timed MMIO run's counters show
 * every page's first access.
 */
#include <x86/pgtable.h>
#include <x86/trapnr.h>

#include "bench.h"
#include "trap64.h"

#define REPS          15
#define OWN_FLAGS     (PT_PRESENT_MASK | PT_WRITABLE_MASK)

#define PROC_VA       0x8000000000ull   /* PML4 slot 1: every process's pages */
#define FORK_PAGES    8                 /* a process's pages */
#define FORK_SLOTS    4                 /* child slots, reused in turn */
#define FORK_SWITCHES 4                 /* parent <-> child switches while both live */

#define MMIO_GPA      ((uint64_t)ABI_TESTMMIO_GPA) /* the test window, then pages with no memslot */
#define MMIO_NEW_PER_SAMPLE 4
#define MMIO_PAGES    (REPS * MMIO_NEW_PER_SAMPLE) /* one fresh page per mmio-new operation */

typedef uint64_t table_t[PT64_ENT_PER_PAGE];

struct proc {
	table_t pml4, pdpt, pd, pt;
	table_t data[FORK_PAGES];
};
static struct proc parent __attribute__((aligned(PAGE_SIZE)));
static struct proc children[FORK_SLOTS] __attribute__((aligned(PAGE_SIZE)));

/* Ring 3's tables: the first GiB identity-mapped with U/S = 1 (the image, its
 * stacks), and the 2 MiB at MMIO_GPA, user-accessible too. */
static table_t user_pml4, user_pdpt, user_pd, user_pd_mmio __attribute__((aligned(PAGE_SIZE)));
static uint8_t user_stack[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static uint64_t vmm_cr3;
static unsigned fork_next, fork_bad, mmio_next, mmio_new_next, mmio_refused, mmio_done, mmio_bad;

/* Ring 3: a 4-byte load from RDI, or nothing; UD2 ends the round trip. */
extern const char user_mmio_load[], user_mmio_load_end[], user_ud[];
__asm__(".text\n"
	"user_mmio_load: movl (%rdi), %eax\n"
	"user_mmio_load_end: ud2\n"
	"user_ud: ud2\n");

/* RDTSC, not RDTSCP: the PVM host KVM cannot run RDTSCP at CPL0 (HOST-KVM.md). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static uint64_t parent_tag(unsigned p) { return 0xf0f0000000000000ull | p; }
static uint64_t child_tag(unsigned n, unsigned p) { return 0xc4c4000000000000ull | (uint64_t)n << 8 | p; }
static volatile uint64_t *proc_page(unsigned p) { return (volatile uint64_t *)(uintptr_t)(PROC_VA + (uint64_t)p * PAGE_SIZE); }

/* The parent's tables and the user tables, written before either is loaded. */
static void build_tables(void)
{
	const uint64_t *identity_pml4 = (const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK);
	parent.pml4[0] = identity_pml4[0];
	parent.pml4[PT64_INDEX(PROC_VA, 4)] = pa(parent.pdpt) | OWN_FLAGS;
	parent.pdpt[PT64_INDEX(PROC_VA, 3)] = pa(parent.pd) | OWN_FLAGS;
	parent.pd[PT64_INDEX(PROC_VA, 2)] = pa(parent.pt) | OWN_FLAGS;
	for (unsigned p = 0; p < FORK_PAGES; p++) {
		parent.pt[PT64_INDEX(PROC_VA, 1) + p] = pa(parent.data[p]) | OWN_FLAGS;
		parent.data[p][0] = parent_tag(p);
	}

	trap64_user_identity(user_pml4, user_pdpt, user_pd);
	const uint64_t f = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK;
	user_pdpt[PT64_INDEX(MMIO_GPA, 3)] = pa(user_pd_mmio) | f;
	user_pd_mmio[PT64_INDEX(MMIO_GPA, 2)] = (MMIO_GPA & ~((1ull << LARGE_PAGE_SHIFT) - 1)) | f | PT_PAGE_SIZE_MASK;
}

/* One process: fork from the parent, run, exec, run beside the parent, exit.
 * The kernel's side (table writes) runs on the parent's CR3, never on the
 * child's, as a kernel edits another process's tables. Starts and ends on
 * the parent's. */
static void fork_run(unsigned n)
{
	for (unsigned i = 0; i < n; i++, fork_next++) {
		struct proc *c = &children[fork_next % FORK_SLOTS];
		/* fork: new tables, the pages shared read-only (copy-on-write's start) */
		c->pml4[0] = parent.pml4[0];
		c->pml4[PT64_INDEX(PROC_VA, 4)] = pa(c->pdpt) | OWN_FLAGS;
		c->pdpt[PT64_INDEX(PROC_VA, 3)] = pa(c->pd) | OWN_FLAGS;
		c->pd[PT64_INDEX(PROC_VA, 2)] = pa(c->pt) | OWN_FLAGS;
		for (unsigned p = 0; p < FORK_PAGES; p++)
			c->pt[PT64_INDEX(PROC_VA, 1) + p] = parent.pt[PT64_INDEX(PROC_VA, 1) + p] & ~(uint64_t)PT_WRITABLE_MASK;
		write_cr3(pa(c->pml4));
		for (unsigned p = 0; p < FORK_PAGES; p++)
			fork_bad += *proc_page(p) != parent_tag(p);
		/* exec: the child's own pages, each written through its new mapping */
		write_cr3(pa(parent.pml4));
		for (unsigned p = 0; p < FORK_PAGES; p++)
			c->pt[PT64_INDEX(PROC_VA, 1) + p] = pa(c->data[p]) | OWN_FLAGS;
		write_cr3(pa(c->pml4));
		for (unsigned p = 0; p < FORK_PAGES; p++)
			*proc_page(p) = child_tag(fork_next, p);
		/* both run, in turn */
		for (unsigned s = 0; s < FORK_SWITCHES; s++) {
			unsigned p = s % FORK_PAGES;
			write_cr3(pa(parent.pml4));
			fork_bad += *proc_page(p) != parent_tag(p);
			write_cr3(pa(c->pml4));
			fork_bad += *proc_page(p) != child_tag(fork_next, p);
		}
		/* exit: the kernel tears the child's tables down */
		write_cr3(pa(parent.pml4));
		for (unsigned p = 0; p < FORK_PAGES; p++)
			c->pt[PT64_INDEX(PROC_VA, 1) + p] = 0;
		c->pd[PT64_INDEX(PROC_VA, 2)] = 0;
		c->pdpt[PT64_INDEX(PROC_VA, 3)] = 0;
		c->pml4[PT64_INDEX(PROC_VA, 4)] = 0;
		c->pml4[0] = 0;
	}
}

/* One round trip to CPL 3 that loads from va (or only UD2s, va 0), and what
 * ended it: #UD at the load (refused: no emulator), #UD after it (the load
 * was done), or anything else (wrong). */
static void user_access(uint64_t va)
{
	uint64_t rip = va ? pa(user_mmio_load) : pa(user_ud);
	trap64_run_user(rip, pa(user_stack + PAGE_SIZE), va);
	if (trap64_last.vector != UD_VECTOR || trap64_last.cpl != 3)
		mmio_bad++;
	else if (!va)
		return;
	else if (trap64_last.rip == pa(user_mmio_load))
		mmio_refused++;
	else if (trap64_last.rip == pa(user_mmio_load_end))
		mmio_done++;
	else
		mmio_bad++;
}

static uint64_t mmio_page(unsigned k) { return MMIO_GPA + (uint64_t)k * PAGE_SIZE; }

static void ring3_run(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		user_access(0);
}

static void mmio_new_run(unsigned n)
{
	for (unsigned i = 0; i < n && mmio_new_next < MMIO_PAGES; i++)
		user_access(mmio_page(mmio_new_next++));
}

/* Round-robin over the pages mmio-new accessed: every one seen before. */
static void mmio_run(unsigned n)
{
	for (unsigned i = 0; i < n && mmio_new_next; i++)
		user_access(mmio_page(mmio_next++ % mmio_new_next));
}

/* space: the page tables a figure runs on, loaded before its warm-up and
 * left after its samples, so that no sample carries a MOV to CR3 of its own
 * (an exit without EPT). warm: the untimed iterations before the samples,
 * which leave first-use costs out: for fork, every child slot used once; for
 * the MMIO figures a round trip that touches no MMIO page (their first
 * accesses are the point). */
static struct figure {
	const char *name;
	unsigned group;                 /* the SEL pair that runs it */
	void (*run)(unsigned n);
	const uint64_t *space;
	unsigned iterations, warm;
} figures[] = {
	{ "fork", 1, fork_run, parent.pml4, 20, FORK_SLOTS },
	{ "ring3", 2, ring3_run, user_pml4, 100, 2 },
	{ "mmio-new", 2, mmio_new_run, user_pml4, MMIO_NEW_PER_SAMPLE, 0 },
	{ "mmio", 2, mmio_run, user_pml4, 40, 0 },
};
#define NFIGURES (sizeof(figures) / sizeof(figures[0]))
#define NGROUPS  2

static void time_figure(const struct figure *f, unsigned n)
{
	uint64_t cycles[REPS];
	write_cr3(pa(f->space));
	if (f->run == mmio_new_run || f->run == mmio_run)
		ring3_run(f->warm);
	else
		f->run(f->warm);
	printf("bench %s start\n", f->name);
	for (unsigned rep = 0; rep < REPS; rep++) {
		uint64_t t0 = rdtsc();
		f->run(n);
		cycles[rep] = rdtsc() - t0;
	}
	write_cr3(vmm_cr3);
	printf("bench %s stop\n", f->name);
	for (unsigned rep = 0; rep < REPS; rep++)
		printf("bench %s iterations %u cycles %llu\n", f->name, n, (unsigned long long)cycles[rep]);
}

/* Every process saw its own pages and the parent's; every MMIO round trip
 * ended in #UD at CPL 3, at the load or after it; the parent's pages and
 * the last child's hold what was stored. */
static void check(unsigned group)
{
	if (group == 1) {
		unsigned wrong = 0;
		for (unsigned p = 0; p < FORK_PAGES; p++)
			wrong += parent.data[p][0] != parent_tag(p);
		for (unsigned s = 0; s < FORK_SLOTS && fork_next >= FORK_SLOTS; s++) {
			unsigned last = fork_next - 1 - (fork_next - 1 - s) % FORK_SLOTS; /* the last process in slot s */
			for (unsigned p = 0; p < FORK_PAGES; p++)
				wrong += children[s].data[p][0] != child_tag(last, p);
		}
		report(fork_bad == 0, "fork-spaces-seen", "%u of the loads after a fork, exec or switch read another "
		       "process's page (%u processes)", fork_bad, fork_next);
		report(wrong == 0, "fork-pages-hold-stores", "%u pages do not hold what their process stored", wrong);
	} else {
		report(mmio_bad == 0, "mmio-cpl3-ends-in-ud", "%u of %u round trips to CPL 3 ended otherwise than by #UD "
		       "at the MMIO load or after it (last: vector %llu at RIP 0x%llx, CPL %llu)", mmio_bad,
		       mmio_refused + mmio_done + mmio_bad, (unsigned long long)trap64_last.vector,
		       (unsigned long long)trap64_last.rip, (unsigned long long)trap64_last.cpl);
		printf("bench mmio accesses refused %u done %u pages %u\n", mmio_refused, mmio_done, mmio_new_next);
	}
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	unsigned sel = bench_selector("ept-figures", NGROUPS);
	vmm_cr3 = read_cr3();
	trap64_init();
	build_tables();
	for (unsigned g = 1; g <= NGROUPS; g++) {
		if (sel && (sel + 1) / 2 != g)
			continue;
		for (unsigned f = 0; f < NFIGURES; f++)
			if (figures[f].group == g)
				time_figure(&figures[f], sel % 2 ? 0 : figures[f].iterations);
		check(g);
	}
	write_cr3(vmm_cr3);
	end();
}
