/* SPDX-License-Identifier: MIT */
/*
 * A guest's own 4-level page tables (SDM Vol. 3 4.5, IA-32e paging): the
 * first 16 MiB identity-mapped with 2 MiB pages (code, data, stacks), and
 * ALIAS_VA mapped through a page table to a chosen 4 KiB page. All tables
 * are in the image's .bss, which the VMM's map identity-maps, so a table's
 * address is also its physical address.
 */
#ifndef RT_PAGING64_H
#define RT_PAGING64_H

#include <stdint.h>
#include <x86/pgtable.h>

#define ALIAS_VA        0x40000000ul /* PML4 0, PDPT 1, PD 0, PT 0 */
#define IDENTITY_2M_PAGES 8

/* Entries that point to the next table, and the leaves. */
#define OWN_TABLE_FLAGS (PT_PRESENT_MASK | PT_WRITABLE_MASK)

struct own_tables {
	uint64_t pml4[PT64_ENT_PER_PAGE], pdpt[PT64_ENT_PER_PAGE], pd_low[PT64_ENT_PER_PAGE],
		pd_alias[PT64_ENT_PER_PAGE], pt_alias[PT64_ENT_PER_PAGE];
} __attribute__((aligned(PAGE_SIZE)));

static inline uint64_t pa_of(const void *p) { return (uint64_t)(uintptr_t)p; }

static inline void own_tables_build(struct own_tables *t, const void *alias_target)
{
	t->pml4[0] = pa_of(t->pdpt) | OWN_TABLE_FLAGS;
	t->pdpt[0] = pa_of(t->pd_low) | OWN_TABLE_FLAGS;
	for (uint64_t i = 0; i < IDENTITY_2M_PAGES; i++)
		t->pd_low[i] = (i << LARGE_PAGE_SHIFT) | OWN_TABLE_FLAGS | PT_PAGE_SIZE_MASK;
	t->pdpt[PT64_INDEX(ALIAS_VA, 3)] = pa_of(t->pd_alias) | OWN_TABLE_FLAGS;
	t->pd_alias[PT64_INDEX(ALIAS_VA, 2)] = pa_of(t->pt_alias) | OWN_TABLE_FLAGS;
	t->pt_alias[PT64_INDEX(ALIAS_VA, 1)] = pa_of(alias_target) | OWN_TABLE_FLAGS;
}

#endif
