/* SPDX-License-Identifier: MIT */
/*
 * prot-pg-edit: a guest that edits its own page table (32-bit paging, SDM
 * Vol. 3 4.3) and expects what the architecture promises after INVLPG or a
 * MOV to CR3 (4.10.4.1): a remapped PTE maps its new page, a PTE with P=0
 * faults (4.7: error code, CR2, the faulting EIP), and P=1 again maps. Only
 * results the SDM guarantees are checked, never that a stale translation
 * survives (4.10.4.3 allows either).
 *
 * Accessed and dirty flags (4.8): a load sets A in every entry it used; a
 * store also sets D in the PTE, never in a PDE that references a table;
 * flags the guest clears are set again by the next access once the TLB
 * entry is gone. A shadowing hypervisor keeps the shadow read-only until
 * the guest's D is set, so that the first store reaches it.
 *
 * CR0.WP (4.6.1): with WP=0 a supervisor store to a read-only page (PTE or
 * PDE R/W=0) succeeds; with WP=1 it faults with P and W/R set.
 *
 * The edited table, pt_win, maps the window at 0x40000000 and is reached
 * through the identity map (a table that never changes), never through
 * itself; the page directory is the root and is never written.
 */
#include "rt.h"
#include "trap.h"
#include "paging32.h"

#define TAG(n)           (0xed170000u + (n))
#define TAG_A            TAG(0xa)
#define TAG_B            TAG(0xb)

#define VA_WIN           0x40000000u                     /* PDE 0x100: pt_win */
#define VA_PAGE(n)       (VA_WIN + (n) * PAGE_SIZE)      /* PTE n of pt_win */
#define PTE_REMAP        0
#define PTE_AD           1
#define PTE_AD_STORE     2
#define PTE_RO           3
#define PTE_CR3          4
#define VA_RO_PDE        0x40400000u                     /* PDE 0x101, R/W=0 */

#define PAGE_ALIGNED __attribute__((aligned(PAGE_SIZE)))

static pte32_t pd[PG_ENTRIES32] PAGE_ALIGNED, pt_low[PG_ENTRIES32] PAGE_ALIGNED;
static pte32_t pt_win[PG_ENTRIES32] PAGE_ALIGNED, pt_ro_pde[PG_ENTRIES32] PAGE_ALIGNED;
static uint8_t page_a[PAGE_SIZE] PAGE_ALIGNED, page_b[PAGE_SIZE] PAGE_ALIGNED;
static uint8_t page_ad[2][PAGE_SIZE] PAGE_ALIGNED, page_ro[2][PAGE_SIZE] PAGE_ALIGNED;

static volatile pte32_t *const win = pt_win;

static void build_tables(void)
{
	pg_identity_pt32(pt_low);
	pd[0] = pg_pa(pt_low) | PG_P | PG_W;
	pd[pg_pd_index32(VA_WIN)] = pg_pa(pt_win) | PG_P | PG_W;       /* A clear: the processor sets it */
	pd[pg_pd_index32(VA_RO_PDE)] = pg_pa(pt_ro_pde) | PG_P;        /* R/W=0 for all it maps */
	pt_ro_pde[0] = pg_pa(page_ro[1]) | PG_P | PG_W;
	pt_win[PTE_REMAP] = pg_pa(page_a) | PG_P | PG_W;
	pt_win[PTE_AD] = pg_pa(page_ad[0]) | PG_P | PG_W;
	pt_win[PTE_AD_STORE] = pg_pa(page_ad[1]) | PG_P | PG_W;
	pt_win[PTE_RO] = pg_pa(page_ro[0]) | PG_P;
	pt_win[PTE_CR3] = pg_pa(page_a) | PG_P | PG_W;
	pg_tag(pg_pa(page_a), TAG_A);
	pg_tag(pg_pa(page_b), TAG_B);
	for (int i = 0; i < 2; i++) {
		pg_tag(pg_pa(page_ad[i]), TAG(0xad0 + i));
		pg_tag(pg_pa(page_ro[i]), TAG(0x500 + i));
	}
}

static void check_remap_and_present(void)
{
	const uint32_t va = VA_PAGE(PTE_REMAP) + PG_PROBE;
	pg_expect_load("map", "a page of the window", va, TAG_A);
	win[PTE_REMAP] = pg_pa(page_b) | PG_P | PG_W;
	invlpg(va);
	pg_expect_load("invlpg-remap", "the PTE changed to another page, then INVLPG", va, TAG_B);

	win[PTE_REMAP] &= ~PG_P;
	invlpg(va);
	pg_expect_load_fault("invlpg-not-present-load", "load after the PTE's P was cleared and INVLPG", va, 0);
	pg_expect_store_fault("invlpg-not-present-store", "store after the PTE's P was cleared and INVLPG", va,
			      PFERR_WRITE_MASK);
	win[PTE_REMAP] |= PG_P;
	invlpg(va);
	pg_expect_load("invlpg-present-again", "the PTE's P set again, then INVLPG", va, TAG_B);

	const uint32_t va_cr3 = VA_PAGE(PTE_CR3) + PG_PROBE;
	pg_expect_load("map-2", "another page of the window", va_cr3, TAG_A);
	win[PTE_CR3] = pg_pa(page_b) | PG_P | PG_W;
	write_cr3(read_cr3());
	pg_expect_load("cr3-reload-remap", "the PTE changed to another page, then MOV CR3", va_cr3, TAG_B);
}

/* The PTE's A and D after an access, as 4.8 says they must be. */
static void expect_ad(const char *check, const char *after, int pte, uint32_t want)
{
	uint32_t got = win[pte] & (PG_A | PG_D);
	report(got == want, check, "PTE after %s: 0x%x, A=%u D=%u; want A=%u D=%u", after, win[pte], !!(got & PG_A),
	       !!(got & PG_D), !!(want & PG_A), !!(want & PG_D));
}

static void check_accessed_dirty(void)
{
	const uint32_t va = VA_PAGE(PTE_AD) + PG_PROBE;
	expect_ad("ad-clear-at-start", "building it", PTE_AD, 0);
	pg_expect_load("ad-load", "a page whose PTE has A=0 D=0", va, TAG(0xad0));
	expect_ad("ad-load-sets-a", "a load", PTE_AD, PG_A);
	pg_expect_store("ad-store", "the same page", va, 0xd1d1d1d1u);
	expect_ad("ad-store-sets-d", "a store", PTE_AD, PG_A | PG_D);
	uint32_t pde = pd[pg_pd_index32(VA_WIN)];
	report((pde & (PG_A | PG_D)) == PG_A, "ad-pde", "PDE of the window after loads and stores: 0x%x; want A set, "
	       "D clear (D is set only in the entry that maps the page)", pde);

	win[PTE_AD] &= ~(PG_A | PG_D);
	invlpg(va);
	pg_expect_load("ad-cleared-load", "the page after A and D were cleared and INVLPG", va, 0xd1d1d1d1u);
	expect_ad("ad-cleared-load-sets-a", "A and D cleared, INVLPG, a load", PTE_AD, PG_A);
	pg_expect_store("ad-cleared-store", "the same page", va, 0xd2d2d2d2u);
	expect_ad("ad-cleared-store-sets-d", "then a store", PTE_AD, PG_A | PG_D);

	win[PTE_AD] &= ~PG_D;
	invlpg(va);
	pg_expect_store("ad-d-cleared-store", "the page after D alone was cleared and INVLPG", va, 0xd3d3d3d3u);
	expect_ad("ad-d-cleared-store-sets-d", "D cleared, INVLPG, a store", PTE_AD, PG_A | PG_D);
	pg_expect_load("ad-d-cleared-store-landed", "the store, read back at the physical address",
		       pg_pa(page_ad[0]) + PG_PROBE, 0xd3d3d3d3u);

	const uint32_t va_w = VA_PAGE(PTE_AD_STORE) + PG_PROBE;
	pg_expect_store("ad-store-first", "a page whose PTE has A=0 D=0, stored to before any load", va_w, 0xd4d4d4d4u);
	expect_ad("ad-store-first-sets-a-d", "a first access that is a store", PTE_AD_STORE, PG_A | PG_D);
}

static void check_write_protect(void)
{
	const uint32_t va = VA_PAGE(PTE_RO) + PG_PROBE, pa = pg_pa(page_ro[0]) + PG_PROBE;

	pg_set_cr0_wp(false);
	pg_expect_store("wp0-store-ro-pte", "CR0.WP=0: supervisor store to a page whose PTE has R/W=0", va, 0x0f0f0001u);
	pg_expect_load("wp0-store-ro-pte-landed", "that store, at the physical address", pa, 0x0f0f0001u);
	expect_ad("wp0-store-ro-pte-sets-d", "a store with CR0.WP=0 to its read-only page", PTE_RO, PG_A | PG_D);

	pg_set_cr0_wp(true);
	report_eq("cr0-wp-set", read_cr0() & X86_CR0_WP, X86_CR0_WP);
	pg_expect_store_fault("wp1-store-ro-pte", "CR0.WP=1: supervisor store to a page whose PTE has R/W=0", va,
			      PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	pg_expect_load("wp1-store-ro-pte-not-landed", "the page after the refused store", va, 0x0f0f0001u);

	pg_set_cr0_wp(false);
	pg_expect_store("wp0-again-store-ro-pte", "CR0.WP=0 again: the same store", va, 0x0f0f0002u);
	pg_expect_load("wp0-again-store-ro-pte-landed", "that store, at the physical address", pa, 0x0f0f0002u);

	const uint32_t va_pde = VA_RO_PDE + PG_PROBE;
	pg_set_cr0_wp(true);
	pg_expect_store_fault("wp1-store-ro-pde", "CR0.WP=1: supervisor store under a PDE with R/W=0 (PTE R/W=1)", va_pde,
			      PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	pg_set_cr0_wp(false);
	pg_expect_store("wp0-store-ro-pde", "CR0.WP=0: the same store", va_pde, 0x0f0f0003u);
	pg_expect_load("wp0-store-ro-pde-landed", "that store, at the physical address", pg_pa(page_ro[1]) + PG_PROBE,
		       0x0f0f0003u);
	pg_set_cr0_wp(true);
	pg_expect_store_fault("wp1-again-store-ro-pde", "CR0.WP=1 again: the same store", va_pde,
			      PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	pg_traps_init();
	build_tables();
	pg_enable(pg_pa(pd), 0);
	report_eq("cr0-pg-set", read_cr0() & X86_CR0_PG, X86_CR0_PG);
	check_remap_and_present();
	check_accessed_dirty();
	check_write_protect();
	end();
}
