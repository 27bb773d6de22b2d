/* SPDX-License-Identifier: MIT */
/*
 * long-pg-share: one guest page table reached in several ways, where a
 * shadow MMU must keep the shadows apart or in step.
 *
 * 1. Page T is mapped at NALIAS addresses (with D set, so each mapping may
 *    be writable) and read through every one; then T becomes a page table.
 *    A write through any of the aliases must now change T's translations:
 *    after a MOV CR3 (which drops every non-global translation, SDM Vol. 3
 *    4.10.4.1) the new entry counts. A shadow MMU write-protects T through
 *    its reverse map of T's gfn, a list of NALIAS sptes: a list that lost or
 *    skipped some (Linux: pte_list_add, rmap_get_next) leaves a writable
 *    alias, the write slips past, and the shadow of T goes stale.
 * 2. Page table S is reached through a writable and a read-only directory
 *    entry. Its writable PTE allows writes through the first and not through
 *    the second (4.6: rights are the AND of every level): the two need
 *    different shadows of S (Linux: role.access).
 * 3. Page G is a page directory on one path and a page table on another: an
 *    entry of G is a PDE on the first and a PTE on the second (role.level).
 * 4. Two 2 MiB pages map the same frames, one with D set and one clean. A
 *    shadow MMU maps both with the same 4 KiB direct pages if it can; a write
 *    through the dirty one must not make the clean one writable before its
 *    own first write has set its D flag (4.8; Linux: role.access of direct
 *    pages has no write while the guest entry is clean).
 *
 * Tables are edited while they are not the root (stage 05 has no emulator
 * for writes to the current root).
 */
#include "rt.h"
#include "trap64.h"
#include <x86/pgtable.h>
#include <x86/trapnr.h>

#define NALIAS     16
#define ALIAS_VA   0x8000000000ull   /* PML4 slot 1: T's aliases */
#define THRU_T_VA  0x8000200000ull   /* a page mapped through T as a page table */
#define RW_VA      0x10000000000ull  /* PML4 slot 2: S through a writable PDE */
#define RO_VA      0x10000200000ull  /*              S through a read-only PDE */
#define AS_PT_VA   0x18000000000ull  /* PML4 slot 3: G as a page table */
#define AS_PD_VA   0x18040000000ull  /*              G as a page directory (next GiB) */
#define CLEAN_VA   0x20000000000ull  /* PML4 slot 4: a 2 MiB page of frames 0x400000.., D clear */
#define DIRTY_VA   0x20000200000ull  /*              the same frames, D set */
#define LARGE_GPA  0x400000ull
#define RW         (PT_PRESENT_MASK | PT_WRITABLE_MASK)
#define RW_DIRTY   (RW | PT_ACCESSED_MASK | PT_DIRTY_MASK)

#define PAGE_WORDS (PAGE_SIZE / sizeof(uint64_t))
static uint64_t root[PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt1[PAGE_WORDS], pd1[PAGE_WORDS], alias_pt[PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));
static uint64_t table_t[PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt2[PAGE_WORDS], pd2[PAGE_WORDS], table_s[PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt3[PAGE_WORDS], pd3[PAGE_WORDS], page_g[PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt4[PAGE_WORDS], pd4[PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pages[4][PAGE_WORDS] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static volatile uint64_t *at(uint64_t va) { return (volatile uint64_t *)(uintptr_t)va; }
static volatile uint64_t *alias(unsigned k) { return at(ALIAS_VA + (uint64_t)k * PAGE_SIZE); }

static void reload_cr3(void) { write_cr3(read_cr3()); }

static void write_ro_entry(uint64_t va) { *at(va) = 0x5555; }

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	for (unsigned i = 0; i < 4; i++)
		pages[i][0] = 0x1000 + i;
	uint64_t vmm_cr3 = read_cr3();
	root[0] = ((const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK))[0];
	write_cr0(read_cr0() | X86_CR0_WP);

	/* 1. T aliased NALIAS times, then a page table. */
	root[PT64_INDEX(ALIAS_VA, 4)] = pa(pdpt1) | RW;
	pdpt1[0] = pa(pd1) | RW;
	pd1[0] = pa(alias_pt) | RW;
	for (unsigned k = 0; k < NALIAS; k++)
		alias_pt[k] = pa(table_t) | RW_DIRTY;
	table_t[0] = pa(pages[0]) | RW;
	write_cr3(pa(root));
	unsigned wrong = 0;
	for (unsigned k = 0; k < NALIAS; k++)
		wrong += alias(k)[0] != table_t[0];
	report(wrong == 0, "aliases-read", "%u of %u aliases of T do not read T's first word", wrong, NALIAS);
	write_cr3(vmm_cr3);
	pd1[PT64_INDEX(THRU_T_VA, 2)] = pa(table_t) | RW;
	write_cr3(pa(root));
	report_eq("through-t", *at(THRU_T_VA), pages[0][0]);
	unsigned stale = 0, first = NALIAS;
	for (unsigned k = 0; k < NALIAS; k++) {
		unsigned want = 1 + k % 3;
		alias(k)[0] = pa(pages[want]) | RW;
		reload_cr3();
		if (*at(THRU_T_VA) != pages[want][0] && !stale++)
			first = k;
	}
	report(stale == 0, "write-through-every-alias",
	       "T is a page table: after a write to its entry through alias k and MOV CR3, VA 0x%llx still maps the "
	       "old page for %u of %u aliases (first: alias %u) — a writable alias of a shadowed table",
	       (unsigned long long)THRU_T_VA, stale, NALIAS, first);

	/* 2. S through a writable and a read-only PDE. */
	write_cr3(vmm_cr3);
	root[PT64_INDEX(RW_VA, 4)] = pa(pdpt2) | RW;
	pdpt2[0] = pa(pd2) | RW;
	pd2[PT64_INDEX(RW_VA, 2)] = pa(table_s) | RW;
	pd2[PT64_INDEX(RO_VA, 2)] = pa(table_s) | PT_PRESENT_MASK;
	table_s[0] = pa(pages[1]) | PT_PRESENT_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK; /* read-only page */
	table_s[1] = pa(pages[2]) | RW_DIRTY;                                           /* writable page */
	write_cr3(pa(root));
	uint64_t r1 = *at(RW_VA), r2 = *at(RO_VA);
	report(r1 == pages[1][0] && r2 == pages[1][0], "shared-table-reads", "S's page 0 reads 0x%llx / 0x%llx "
	       "through the two PDEs, want 0x%llx", (unsigned long long)r1, (unsigned long long)r2,
	       (unsigned long long)pages[1][0]);
	*at(RW_VA + PAGE_SIZE) = 0x7777;
	report_eq("write-through-writable-pde", pages[2][0], 0x7777);
	int returned = trap64_run(write_ro_entry, RO_VA + PAGE_SIZE);
	report(!returned && trap64_last.vector == PF_VECTOR && trap64_last.error == (PFERR_PRESENT_MASK | PFERR_WRITE_MASK) &&
	       trap64_last.cr2 == RO_VA + PAGE_SIZE && pages[2][0] == 0x7777,
	       "write-through-read-only-pde",
	       "a write to S's writable page through a read-only PDE: %s vector %llu error 0x%llx CR2 0x%llx, page "
	       "holds 0x%llx; want #PF 0x3 at 0x%llx and the page unchanged (SDM 4.6: rights of every level)",
	       returned ? "no fault," : "fault", (unsigned long long)trap64_last.vector,
	       (unsigned long long)trap64_last.error, (unsigned long long)trap64_last.cr2,
	       (unsigned long long)pages[2][0], (unsigned long long)(RO_VA + PAGE_SIZE));

	/* 3. G as a page table and as a page directory. */
	write_cr3(vmm_cr3);
	root[PT64_INDEX(AS_PT_VA, 4)] = pa(pdpt3) | RW;
	pdpt3[PT64_INDEX(AS_PT_VA, 3)] = pa(pd3) | RW;
	pd3[PT64_INDEX(AS_PT_VA, 2)] = pa(page_g) | RW;  /* G as the page table */
	pdpt3[PT64_INDEX(AS_PD_VA, 3)] = pa(page_g) | RW; /* G as the page directory */
	page_g[0] = pa(pages[3]) | RW;                   /* a PTE: page 3; a PDE: page 3 as a PT */
	pages[3][0] = pa(pages[0]) | RW;                 /* page 3 as a PT: its entry 0 maps page 0 */
	write_cr3(pa(root));
	/* The PD path first: it sets A in page 3's entry 0, which the PT path then reads. */
	uint64_t as_pd = *at(AS_PD_VA), as_pt = *at(AS_PT_VA);
	uint64_t entry = *at(pa(&pages[3][0]));  /* as the CPU left it (A set), not as the compiler remembers it */
	report(as_pt == entry && as_pd == pages[0][0], "one-table-two-levels",
	       "G as a page table maps page 3 (VA 0x%llx reads 0x%llx, want 0x%llx); G as a page directory makes page 3 "
	       "a page table mapping page 0 (VA 0x%llx reads 0x%llx, want 0x%llx)", (unsigned long long)AS_PT_VA,
	       (unsigned long long)as_pt, (unsigned long long)entry, (unsigned long long)AS_PD_VA,
	       (unsigned long long)as_pd, (unsigned long long)pages[0][0]);

	/* 4. A clean and a dirty 2 MiB page of the same frames. */
	write_cr3(vmm_cr3);
	root[PT64_INDEX(CLEAN_VA, 4)] = pa(pdpt4) | RW;
	pdpt4[0] = pa(pd4) | RW;
	pd4[PT64_INDEX(CLEAN_VA, 2)] = LARGE_GPA | RW | PT_PAGE_SIZE_MASK;
	pd4[PT64_INDEX(DIRTY_VA, 2)] = LARGE_GPA | RW | PT_PAGE_SIZE_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK;
	write_cr3(pa(root));
	uint64_t probe = 5 * PAGE_SIZE + 0x80;
	uint64_t before = *at(CLEAN_VA + probe);   /* read through the clean one: A only */
	*at(DIRTY_VA + probe) = before + 1;         /* write through the dirty one */
	uint64_t pde_read = *at(pa(&pd4[PT64_INDEX(CLEAN_VA, 2)]));  /* as the CPU left it */
	*at(CLEAN_VA + probe) = before + 2;         /* the clean one's first write */
	uint64_t pde_written = *at(pa(&pd4[PT64_INDEX(CLEAN_VA, 2)]));
	report(!(pde_read & PT_DIRTY_MASK) && (pde_written & PT_DIRTY_MASK) && *at(DIRTY_VA + probe) == before + 2,
	       "large-clean-then-written",
	       "2 MiB PDE at 0x%llx: after a read 0x%llx (want D clear), after its first write 0x%llx (want D set; a "
	       "write through another PDE of the same frames must not have made this one writable)",
	       (unsigned long long)CLEAN_VA, (unsigned long long)pde_read, (unsigned long long)pde_written);

	write_cr3(vmm_cr3);
	end();
}
