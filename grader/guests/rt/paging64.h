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

#define PTE_P  (1ull << 0)
#define PTE_W  (1ull << 1)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define PAGE_SIZE 4096

#define ALIAS_VA        0x40000000ul /* PML4 0, PDPT 1, PD 0, PT 0 */
#define IDENTITY_2M_PAGES 8

struct own_tables {
	uint64_t pml4[512], pdpt[512], pd_low[512], pd_alias[512], pt_alias[512];
} __attribute__((aligned(PAGE_SIZE)));

static inline uint64_t pa_of(const void *p) { return (uint64_t)(uintptr_t)p; }

static inline void own_tables_build(struct own_tables *t, const void *alias_target)
{
	t->pml4[0] = pa_of(t->pdpt) | PTE_P | PTE_W;
	t->pdpt[0] = pa_of(t->pd_low) | PTE_P | PTE_W;
	for (uint64_t i = 0; i < IDENTITY_2M_PAGES; i++)
		t->pd_low[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;
	t->pdpt[(ALIAS_VA >> 30) & 511] = pa_of(t->pd_alias) | PTE_P | PTE_W;
	t->pd_alias[(ALIAS_VA >> 21) & 511] = pa_of(t->pt_alias) | PTE_P | PTE_W;
	t->pt_alias[(ALIAS_VA >> 12) & 511] = pa_of(alias_target) | PTE_P | PTE_W;
}

#endif
