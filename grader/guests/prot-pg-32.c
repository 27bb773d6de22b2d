/* SPDX-License-Identifier: MIT */
/*
 * prot-pg-32: 32-bit paging (SDM Vol. 3 4.3, CR4.PAE=0) on the guest's own
 * tables: 4 KiB pages, 4 MiB pages (CR4.PSE), an alias, not-present and
 * reserved-bit faults, and CR3 loads.
 *
 * What it aims at in a shadowing hypervisor (minikvm, lab 05): a 32-bit
 * table has 1024 4-byte entries, a shadow table 512 8-byte ones, so one
 * guest page directory is shadowed by four pages (one per GiB of linear
 * address space) and one page table by two (one per 2 MiB half): the role's
 * quadrant. Every quarter of the address space and both halves of one page
 * table map pages of their own here; a shadow built for the wrong quadrant
 * maps another quarter's or the other half's page, and the tag read back
 * says which. A 4 MiB page is shadowed by 4 KiB direct pages across two
 * shadow page directory entries. A second page directory, loaded by MOV
 * CR3, maps one address elsewhere; the first one is edited only while the
 * second is loaded (its shadows must go, it is not the current root).
 */
#include "rt.h"
#include "trap.h"
#include "paging32.h"
#include <x86/cpuid.h>

#define TAG(n)           (0x32a90000u + (n))
#define TAG_QUARTER(q)   TAG(0x10 + (q))
#define TAG_HIGH_HALF    TAG(0x20)
#define TAG_ALIAS        TAG(0x30)
#define TAG_OTHER_PD     TAG(0x40)
#define TAG_PT_AT_8M     TAG(0x50)
#define TAG_LARGE(n)     TAG(0x60 + (n))

/* PDE 256q+1, PTE 1 in quarter q: each quarter's own page table and page. */
#define VA_QUARTER(q)    (((uint32_t)(q) << 30) | 0x00401000u)
/* The same page table as VA_QUARTER(2), entry 513: its upper 2 MiB half. */
#define VA_HIGH_HALF     0x80601000u
/* One page at two addresses, in quarters 1 and 3 (PTE 2 of their tables). */
#define VA_ALIAS_1       0x40402000u
#define VA_ALIAS_3       0xc0402000u
/* A 4 MiB page (PDE 0x302) of physical 0x00400000-0x007fffff. */
#define VA_LARGE         0xc0800000u
#define PA_LARGE         0x00400000u
/* PDE 0x303: PS=1 and the address 0x00800000, a 4 MiB page with CR4.PSE=1;
 * with CR4.PSE=0 PS is ignored and 0x00800000 is a page table (4.3). */
#define VA_PS_PDE        0xc0c00000u
#define PA_PS_PDE        0x00800000u
/* PDE 0x304: a 4 MiB page with bit 21 set, reserved (Table 4-4). */
#define VA_RSVD          0xc1000000u
/* PDE 0x100 not present; PTE 3 of quarter 1's table not present. */
#define VA_NO_PDE        0x40000000u
#define VA_NO_PTE        0x40403000u

#define PAGE_ALIGNED __attribute__((aligned(PAGE_SIZE)))

static pte32_t pd_a[PG_ENTRIES32] PAGE_ALIGNED, pd_b[PG_ENTRIES32] PAGE_ALIGNED;
static pte32_t pt_low[PG_ENTRIES32] PAGE_ALIGNED, pt_other[PG_ENTRIES32] PAGE_ALIGNED;
static pte32_t pt_quarter[4][PG_ENTRIES32] PAGE_ALIGNED;
static uint8_t page_quarter[4][PAGE_SIZE] PAGE_ALIGNED;
static uint8_t page_high_half[PAGE_SIZE] PAGE_ALIGNED, page_alias[PAGE_SIZE] PAGE_ALIGNED;
static uint8_t page_other[PAGE_SIZE] PAGE_ALIGNED, page_under_8m_pt[PAGE_SIZE] PAGE_ALIGNED;

/* Tags the large page's pages carry, at 4 KiB offsets into it: the first
 * 2 MiB half, the second half, the last page. */
static const uint32_t large_offsets[3] = { 0x1000, 0x201000, 0x3ff000 };

static void build_tables(bool pse)
{
	pg_identity_pt32(pt_low);
	pd_a[0] = pg_pa(pt_low) | PG_P | PG_W;
	for (int q = 0; q < 4; q++) {
		pd_a[pg_pd_index32(VA_QUARTER(q))] = pg_pa(pt_quarter[q]) | PG_P | PG_W;
		pt_quarter[q][pg_pt_index32(VA_QUARTER(q))] = pg_pa(page_quarter[q]) | PG_P | PG_W;
		pg_tag(pg_pa(page_quarter[q]), TAG_QUARTER(q));
	}
	pt_quarter[2][pg_pt_index32(VA_HIGH_HALF)] = pg_pa(page_high_half) | PG_P | PG_W;
	pg_tag(pg_pa(page_high_half), TAG_HIGH_HALF);
	pt_quarter[1][pg_pt_index32(VA_ALIAS_1)] = pg_pa(page_alias) | PG_P | PG_W;
	pt_quarter[3][pg_pt_index32(VA_ALIAS_3)] = pg_pa(page_alias) | PG_P | PG_W;
	pg_tag(pg_pa(page_alias), TAG_ALIAS);

	if (pse) {
		/* A and D clear: the processor sets them (4.8). */
		pd_a[pg_pd_index32(VA_LARGE)] = PA_LARGE | PG_PS | PG_P | PG_W;
		for (int i = 0; i < 3; i++)
			pg_tag(PA_LARGE + large_offsets[i], TAG_LARGE(i));
		pd_a[pg_pd_index32(VA_PS_PDE)] = PA_PS_PDE | PG_PS | PG_P | PG_W;
		/* Physical 0x00800000 as a page table (PSE off) and as the first
		 * page of a 4 MiB page (PSE on): entry 1 maps page_under_8m_pt,
		 * while the 4 MiB page's second page says it is that. */
		pte32_t *pt_at_8m = (pte32_t *)(uintptr_t)PA_PS_PDE;
		for (int i = 0; i < PG_ENTRIES32; i++)
			pt_at_8m[i] = 0;
		pt_at_8m[1] = pg_pa(page_under_8m_pt) | PG_P | PG_W;
		pg_tag(pg_pa(page_under_8m_pt), TAG_PT_AT_8M);
		pg_tag(PA_PS_PDE + PAGE_SIZE, TAG_LARGE(3));
		pd_a[pg_pd_index32(VA_RSVD)] = PA_LARGE | (1u << 21) | PG_PS | PG_P | PG_W;
	}

	/* The second directory: the same but for quarter 1's table. */
	for (int i = 0; i < PG_ENTRIES32; i++)
		pd_b[i] = pd_a[i];
	pd_b[pg_pd_index32(VA_QUARTER(1))] = pg_pa(pt_other) | PG_P | PG_W;
	pt_other[pg_pt_index32(VA_QUARTER(1))] = pg_pa(page_other) | PG_P | PG_W;
	pg_tag(pg_pa(page_other), TAG_OTHER_PD);
}

static void check_quarters_and_halves(void)
{
	static const char *const names[4] = { "quarter-0", "quarter-1", "quarter-2", "quarter-3" };
	for (int q = 0; q < 4; q++)
		pg_expect_load(names[q], "a 4 KiB page in this GiB (a shadow of the wrong quadrant of the page directory maps "
			       "another quarter's page)", VA_QUARTER(q) + PG_PROBE, TAG_QUARTER(q));
	pg_expect_load("pt-high-half", "entry 513 of a page table, its upper 2 MiB half (the second shadow page of the "
		       "table)", VA_HIGH_HALF + PG_PROBE, TAG_HIGH_HALF);
	pg_expect_load("pt-low-half-again", "entry 1 of the same table after its upper half was mapped",
		       VA_QUARTER(2) + PG_PROBE, TAG_QUARTER(2));
	pg_expect_load("identity-4k", "the same page through the identity map", pg_pa(page_quarter[2]) + PG_PROBE,
		       TAG_QUARTER(2));
}

static void check_alias(void)
{
	pg_expect_load("alias-load", "one page mapped in quarters 1 and 3, through quarter 3", VA_ALIAS_3 + PG_PROBE,
		       TAG_ALIAS);
	pg_expect_store("alias-store", "the aliased page through quarter 1", VA_ALIAS_1 + PG_PROBE, 0xa11a5001u);
	pg_expect_load("alias-store-seen", "the store through quarter 1, read through quarter 3",
		       VA_ALIAS_3 + PG_PROBE, 0xa11a5001u);
	pg_expect_load("alias-store-seen-identity", "the store through quarter 1, read at its physical address",
		       pg_pa(page_alias) + PG_PROBE, 0xa11a5001u);
	pg_store(pg_pa(page_alias) + PG_PROBE, 0xa11a5002u);
	pg_expect_load("alias-identity-store-seen", "a store at the physical address, read through quarter 1",
		       VA_ALIAS_1 + PG_PROBE, 0xa11a5002u);
}

static void check_large_pages(void)
{
	static const char *const names[3] = { "pse-4m-low-half", "pse-4m-high-half", "pse-4m-last-page" };
	volatile pte32_t *pde = &pd_a[pg_pd_index32(VA_LARGE)];
	for (int i = 0; i < 3; i++)
		pg_expect_load(names[i], "a page of a 4 MiB page", VA_LARGE + large_offsets[i] + PG_PROBE, TAG_LARGE(i));
	report((*pde & (PG_A | PG_D)) == PG_A, "pse-4m-pde-accessed",
	       "PDE of the 4 MiB page after loads: 0x%x, want A set and D clear (SDM 4.8)", *pde);
	pg_expect_store("pse-4m-store", "a page of a 4 MiB page", VA_LARGE + large_offsets[1] + PG_PROBE, 0x4d0057edu);
	pg_expect_load("pse-4m-store-read-back", "the store through the 4 MiB page",
		       VA_LARGE + large_offsets[1] + PG_PROBE, 0x4d0057edu);
	report((*pde & (PG_A | PG_D)) == (PG_A | PG_D), "pse-4m-pde-dirty",
	       "PDE of the 4 MiB page after a store: 0x%x, want A and D set (SDM 4.8)", *pde);

	pg_expect_load_fault("pse-4m-rsvd-bit21", "a 4 MiB page whose PDE sets reserved bit 21 (Table 4-4)",
			     VA_RSVD + PG_PROBE, PFERR_RSVD_MASK | PFERR_PRESENT_MASK);

	/* The same PDE, PS=1, read both ways (4.3): a change of CR4.PSE
	 * changes what every shadow of it means. MOV to CR4 need not flush
	 * the TLB for a change of PSE (4.10.4.1 names PGE, PAE, PCIDE and
	 * SMEP only), so each change is followed by a MOV to CR3, which does. */
	pg_expect_load("pse-on-ps-pde-is-page", "PDE with PS=1 and CR4.PSE=1: a 4 MiB page at 0x00800000",
		       VA_PS_PDE + PAGE_SIZE + PG_PROBE, TAG_LARGE(3));
	write_cr4(read_cr4() & ~X86_CR4_PSE);
	write_cr3(read_cr3());
	pg_expect_load("pse-off-ps-ignored", "the same PDE with CR4.PSE=0: PS is ignored, 0x00800000 is a page table",
		       VA_PS_PDE + PAGE_SIZE + PG_PROBE, TAG_PT_AT_8M);
	write_cr4(read_cr4() | X86_CR4_PSE);
	write_cr3(read_cr3());
	pg_expect_load("pse-on-again", "the same PDE with CR4.PSE=1 again: a 4 MiB page", VA_PS_PDE + PAGE_SIZE + PG_PROBE,
		       TAG_LARGE(3));
}

static void check_not_present(void)
{
	pg_expect_load_fault("pde-not-present-load", "load through a PDE with P=0", VA_NO_PDE + PG_PROBE, 0);
	pg_expect_store_fault("pde-not-present-store", "store through a PDE with P=0", VA_NO_PDE + PG_PROBE,
			      PFERR_WRITE_MASK);
	pg_expect_load_fault("pte-not-present-load", "load through a PTE with P=0", VA_NO_PTE + PG_PROBE, 0);
}

static void check_cr3(void)
{
	write_cr3(pg_pa(pd_b));
	report_eq("cr3-other-read-back", read_cr3(), pg_pa(pd_b));
	pg_expect_load("cr3-other-pd", "quarter 1 with the second directory loaded", VA_QUARTER(1) + PG_PROBE,
		       TAG_OTHER_PD);
	pg_expect_load("cr3-other-pd-shared-pt", "quarter 2, whose table both directories share",
		       VA_QUARTER(2) + PG_PROBE, TAG_QUARTER(2));
	write_cr3(pg_pa(pd_a));
	pg_expect_load("cr3-back", "quarter 1 with the first directory loaded again", VA_QUARTER(1) + PG_PROBE,
		       TAG_QUARTER(1));
	write_cr3(pg_pa(pd_a));
	pg_expect_load("cr3-reload-same", "quarter 1 after MOV CR3 of the same directory", VA_QUARTER(1) + PG_PROBE,
		       TAG_QUARTER(1));

	/* Edit the first directory while the second is the root: the write
	 * goes to a shadowed (so write-protected) table that is not in use. */
	write_cr3(pg_pa(pd_b));
	pg_expect_store("pd-edit-unloaded", "store to a PDE of the directory not loaded",
			pg_pa(&pd_a[pg_pd_index32(VA_QUARTER(1))]), pg_pa(pt_other) | PG_P | PG_W);
	write_cr3(pg_pa(pd_a));
	pg_expect_load("pd-edit-seen", "quarter 1 after its PDE was changed to the second directory's table",
		       VA_QUARTER(1) + PG_PROBE, TAG_OTHER_PD);
	write_cr3(pg_pa(pd_b));
	pg_store(pg_pa(&pd_a[pg_pd_index32(VA_QUARTER(1))]), pg_pa(pt_quarter[1]) | PG_P | PG_W);
	write_cr3(pg_pa(pd_a));
	pg_expect_load("pd-edit-undone", "quarter 1 after its PDE was changed back", VA_QUARTER(1) + PG_PROBE,
		       TAG_QUARTER(1));
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	pg_traps_init();

	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	bool pse = d & CPUID_1_EDX_PSE;
	build_tables(pse);
	pg_enable(pg_pa(pd_a), pse ? X86_CR4_PSE : 0);
	report_eq("cr0-pg-set", read_cr0() & (X86_CR0_PG | X86_CR0_PE), X86_CR0_PG | X86_CR0_PE);
	report_eq("cr4-pae-clear", read_cr4() & X86_CR4_PAE, 0);
	report_eq("cr3-read-back", read_cr3(), pg_pa(pd_a));

	check_quarters_and_halves();
	check_alias();
	if (pse)
		check_large_pages();
	else
		skip("pse-4m", "CPUID.1:EDX.PSE clear: no 4 MiB pages");
	check_not_present();
	check_cr3();
	end();
}
