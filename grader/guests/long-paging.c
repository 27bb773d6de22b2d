/* SPDX-License-Identifier: MIT */
/*
 * long-paging: the guest's own page tables. It builds a 4-level hierarchy
 * (rt/paging64.h) that identity-maps its first 16 MiB and maps ALIAS_VA
 * (0x40000000) through a 4 KiB page-table entry to one of its pages, loads
 * it into CR3 and checks, by what it reads: a write through the alias shows
 * through the identity map and vice versa; the CPU set the PTE's accessed
 * and dirty bits (SDM Vol. 3 4.8); after the PTE is pointed at another page
 * and INVLPG flushes the old translation, the alias reads the new page.
 * Finally CR3 goes back to the VMM's tables.
 */
#include "rt.h"
#include "paging64.h"

static struct own_tables tables;
static uint64_t page_a[PAGE_SIZE / sizeof(uint64_t)] __attribute__((aligned(PAGE_SIZE)));
static uint64_t page_b[PAGE_SIZE / sizeof(uint64_t)] __attribute__((aligned(PAGE_SIZE)));

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	volatile uint64_t *a = page_a, *b = page_b;
	volatile uint64_t *alias = (volatile uint64_t *)ALIAS_VA;
	a[0] = 0xaaaaaaaa00000000ull | pa_of(page_a);
	b[0] = 0xbbbbbbbb00000000ull | pa_of(page_b);
	own_tables_build(&tables, page_a);

	uint64_t vmm_cr3 = read_cr3();
	write_cr3(pa_of(tables.pml4));
	uint64_t own_cr3 = read_cr3();
	report((own_cr3 & PT64_BASE_ADDR_MASK) == pa_of(tables.pml4), "cr3-own-tables", "CR3 reads 0x%llx, loaded 0x%llx",
	       (unsigned long long)own_cr3, (unsigned long long)pa_of(tables.pml4));

	uint64_t v = alias[0];
	report(v == a[0], "alias-read", "VA 0x%lx read 0x%llx, page at PA 0x%llx holds 0x%llx",
	       ALIAS_VA, (unsigned long long)v, (unsigned long long)pa_of(page_a), (unsigned long long)a[0]);

	alias[1] = 0x1111222233334444ull;
	v = a[1];
	report(v == 0x1111222233334444ull, "alias-write", "wrote 0x1111222233334444 at VA 0x%lx, PA 0x%llx reads 0x%llx",
	       ALIAS_VA + 8, (unsigned long long)pa_of(&page_a[1]), (unsigned long long)v);

	a[2] = 0x5555666677778888ull;
	v = alias[2];
	report(v == 0x5555666677778888ull, "identity-write-alias-read", "wrote PA 0x%llx, VA 0x%lx reads 0x%llx",
	       (unsigned long long)pa_of(&page_a[2]), ALIAS_VA + 16, (unsigned long long)v);

	uint64_t pte = ((volatile uint64_t *)tables.pt_alias)[0];
	report((pte & (PT_ACCESSED_MASK | PT_DIRTY_MASK)) == (PT_ACCESSED_MASK | PT_DIRTY_MASK), "pte-accessed-dirty",
	       "PTE 0x%llx after read and write, want A (bit 5) and D (bit 6)", (unsigned long long)pte);

	((volatile uint64_t *)tables.pt_alias)[0] = pa_of(page_b) | OWN_TABLE_FLAGS;
	invlpg(ALIAS_VA);
	v = alias[0];
	report(v == b[0], "invlpg-remap", "after remap + invlpg VA 0x%lx reads 0x%llx, want page B's 0x%llx",
	       ALIAS_VA, (unsigned long long)v, (unsigned long long)b[0]);
	alias[3] = 0x9999aaaabbbbccccull;
	report(b[3] == 0x9999aaaabbbbccccull && a[3] == 0, "remap-write-lands",
	       "write via alias: page B 0x%llx page A 0x%llx, want B only",
	       (unsigned long long)b[3], (unsigned long long)a[3]);

	write_cr3(vmm_cr3);
	uint64_t back = read_cr3();
	report(back == vmm_cr3 && (back & PT64_BASE_ADDR_MASK) == ABI_PML4_GPA, "cr3-restored", "CR3 0x%llx want 0x%llx",
	       (unsigned long long)back, (unsigned long long)vmm_cr3);
	report(a[1] == 0x1111222233334444ull, "identity-after-restore", "page A word 1 reads 0x%llx",
	       (unsigned long long)a[1]);
	end();
}
