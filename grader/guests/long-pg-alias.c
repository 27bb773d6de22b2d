/* SPDX-License-Identifier: MIT */
/*
 * long-pg-alias: one guest page seen through many virtual addresses, and
 * every page seen many times.
 *
 * 1. Page P is mapped at NALIAS (1024) addresses through two page tables:
 *    a shadow MMU's reverse map of P then holds 1024 sptes (Linux: the
 *    rmap's pte_list). A write through one alias must show through all.
 *    Then every 8th alias is pointed at page Q (INVLPG each, SDM Vol. 3
 *    4.10.4.1): those read Q, the rest still P, a write through a P alias
 *    reaches all P aliases and no Q alias, and one through a Q alias the
 *    reverse. A shadow MMU that dropped or kept the wrong rmap entries on
 *    the remap, or write-protected and unprotected P by halves, shows here.
 * 2. NFLOOD page tables each map 512 pages of the first 16 MiB, so every
 *    page there is mapped NFLOOD / 8 times: more guest page tables than
 *    minikvm keeps shadow pages (2 % of guest memory, at least 64), so it
 *    must recycle old ones. Reads through a sample of each table must give
 *    the page's contents (compared through the identity map), twice, and
 *    the run must end normally: shadow memory stays bounded.
 *
 * Tables are written only while the identity root is loaded (stage 05:
 * no writes to the current root), and the test root is loaded after.
 */
#include "rt.h"
#include <x86/pgtable.h>

#define NALIAS      1024
#define ALIAS_VA    0x8000000000ull  /* PML4 slot 1 */
#define FLOOD_VA    0x10000000000ull /* PML4 slot 2 */
#define NFLOOD      256               /* page tables in the flood; 1 PD maps 512 */
#define FLOOD_PAGES 4096              /* 16 MiB: every page is mapped NFLOOD * 512 / 4096 times */
#define PROBES_PER_PT 4
#define OWN_FLAGS   (PT_PRESENT_MASK | PT_WRITABLE_MASK)

static uint64_t root[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t alias_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t alias_pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t alias_pt[NALIAS / 512][512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t flood_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t flood_pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t flood_pt[NFLOOD][512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t page_p[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t page_q[512] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static volatile uint64_t *alias(unsigned k) { return (volatile uint64_t *)(uintptr_t)(ALIAS_VA + (uint64_t)k * PAGE_SIZE); }
static int remapped(unsigned k) { return k % 8 == 5; }

/* How many aliases read something else than want_p (P's) or want_q (Q's). */
static unsigned count_wrong(unsigned word, uint64_t want_p, uint64_t want_q, unsigned *first)
{
	unsigned wrong = 0;
	for (unsigned k = 0; k < NALIAS; k++) {
		uint64_t want = remapped(k) ? want_q : want_p;
		if (alias(k)[word] != want && !wrong++)
			*first = k;
	}
	return wrong;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	uint64_t vmm_cr3 = read_cr3();
	root[0] = ((const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK))[0];

	root[PT64_INDEX(ALIAS_VA, 4)] = pa(alias_pdpt) | OWN_FLAGS;
	alias_pdpt[0] = pa(alias_pd) | OWN_FLAGS;
	for (unsigned t = 0; t < NALIAS / 512; t++) {
		alias_pd[t] = pa(alias_pt[t]) | OWN_FLAGS;
		for (unsigned i = 0; i < 512; i++)
			alias_pt[t][i] = pa(page_p) | OWN_FLAGS;
	}
	page_p[0] = 0x1111111111111111ull;
	page_q[0] = 0x2222222222222222ull;
	write_cr3(pa(root));

	/* 1. Every alias reads P; a write through one shows through all. */
	unsigned first = 0, wrong = 0;
	for (unsigned k = 0; k < NALIAS; k++)
		if (alias(k)[0] != page_p[0] && !wrong++)
			first = k;
	report(wrong == 0, "alias-read-all", "%u of %u aliases of P differ from P (first: alias %u reads 0x%llx)", wrong,
	       NALIAS, first, (unsigned long long)alias(first)[0]);
	alias(777)[1] = 0xabcdef0123456789ull;
	wrong = 0;
	for (unsigned k = 0; k < NALIAS; k++)
		if (alias(k)[1] != 0xabcdef0123456789ull && !wrong++)
			first = k;
	report(wrong == 0 && page_p[1] == 0xabcdef0123456789ull, "alias-write-one-read-all",
	       "after a write through alias 777: %u of %u aliases miss it (first %u), P holds 0x%llx", wrong, NALIAS,
	       first, (unsigned long long)page_p[1]);

	/* Remap every 8th alias to Q. The alias PTs are not the root. */
	for (unsigned k = 0; k < NALIAS; k++)
		if (remapped(k)) {
			alias_pt[k / 512][k % 512] = pa(page_q) | OWN_FLAGS;
			invlpg(ALIAS_VA + (uint64_t)k * PAGE_SIZE);
		}
	wrong = count_wrong(0, page_p[0], page_q[0], &first);
	report(wrong == 0, "remap-some", "after pointing every 8th alias at Q: %u of %u aliases read the wrong page "
	       "(first: alias %u reads 0x%llx)", wrong, NALIAS, first, (unsigned long long)alias(first)[0]);
	alias(3)[2] = 0x3333333333333333ull;  /* a P alias */
	alias(13)[2] = 0x4444444444444444ull; /* a Q alias */
	wrong = count_wrong(2, 0x3333333333333333ull, 0x4444444444444444ull, &first);
	report(wrong == 0, "remap-writes-separate", "a write through P's alias 3 and Q's alias 13: %u of %u aliases "
	       "read the wrong one (first: alias %u reads 0x%llx)", wrong, NALIAS, first,
	       (unsigned long long)alias(first)[2]);

	/* 2. Every page of the first 16 MiB, mapped many times. */
	write_cr3(vmm_cr3);
	root[PT64_INDEX(FLOOD_VA, 4)] = pa(flood_pdpt) | OWN_FLAGS;
	flood_pdpt[0] = pa(flood_pd) | OWN_FLAGS;
	for (unsigned t = 0; t < NFLOOD; t++) {
		flood_pd[t] = pa(flood_pt[t]) | OWN_FLAGS;
		uint64_t base = (uint64_t)(t % (FLOOD_PAGES / 512)) * 512 * PAGE_SIZE;
		uint64_t *pt = flood_pt[t];
		for (unsigned i = 0; i < 512; i++)
			pt[i] = (base + (uint64_t)i * PAGE_SIZE) | PT_PRESENT_MASK;
	}
	write_cr3(pa(root));
	unsigned probes = 0;
	wrong = 0;
	for (unsigned pass = 0; pass < 2; pass++)
		for (unsigned t = 0; t < NFLOOD; t++)
			for (unsigned j = 0; j < PROBES_PER_PT; j++) {
				unsigned i = (t * 37 + j * 131 + pass * 61) % 512;
				uint64_t gpa = (uint64_t)(t % (FLOOD_PAGES / 512)) * 512 * PAGE_SIZE + (uint64_t)i * PAGE_SIZE;
				uint64_t va = FLOOD_VA + ((uint64_t)t << LARGE_PAGE_SHIFT) + (uint64_t)i * PAGE_SIZE + 8 * j;
				uint64_t got = *(volatile uint64_t *)(uintptr_t)va;
				uint64_t want = *(volatile uint64_t *)(uintptr_t)(gpa + 8 * j);
				probes++;
				if (got != want && wrong++ < 4)
					printf("flood: VA 0x%llx (table %u entry %u) reads 0x%llx, GPA 0x%llx holds 0x%llx\n",
					       (unsigned long long)va, t, i, (unsigned long long)got,
					       (unsigned long long)gpa, (unsigned long long)want);
			}
	report(wrong == 0, "flood-reads", "%u of %u reads through %u page tables mapping each page of 16 MiB %u times "
	       "gave another page's contents", wrong, probes, NFLOOD, NFLOOD * 512 / FLOOD_PAGES);

	write_cr3(vmm_cr3);
	pass("flood-bounded-run-ends");
	end();
}
