/* SPDX-License-Identifier: MIT */
/*
 * Shadow page-table entries (Linux: arch/x86/kvm/mmu/spte.h). The processor
 * walks the shadow tables in PAE or 4-level format whatever the guest's own
 * format, so every spte is a 64-bit x86 paging entry (SDM Vol. 3 4.5).
 * Entries that point to a shadow page allow everything: the leaves carry the
 * rights of the whole guest translation (Linux: make_nonleaf_spte).
 */
#ifndef KVMLABS_KVM_MMU_SPTE_H
#define KVMLABS_KVM_MMU_SPTE_H

#include <stdbool.h>
#include <stdint.h>

#include <x86/pgtable.h>

#include "paging.h"

static inline bool is_shadow_present_pte(uint64_t spte)
{
	return spte & PT_PRESENT_MASK;
}

static inline bool is_writable_pte(uint64_t spte)
{
	return spte & PT_WRITABLE_MASK;
}

static inline uint64_t spte_to_hpa(uint64_t spte)
{
	return spte & PT64_BASE_ADDR_MASK;
}

/* A pointer to the shadow page at child_hpa. */
static inline uint64_t make_nonleaf_spte(uint64_t child_hpa)
{
	return child_hpa | PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK | PT_ACCESSED_MASK;
}

/* A 4 KiB leaf for host page hpa with the ACC_* rights access. A and D are
 * set in advance (the guest's own flags are the walker's business), and XD
 * only where the guest enabled it: the processor runs with the guest's
 * EFER.NXE, without which bit 63 is reserved. */
static inline uint64_t make_leaf_spte(uint64_t hpa, unsigned access, bool nx)
{
	uint64_t spte = hpa | PT_PRESENT_MASK | PT_ACCESSED_MASK;
	if (access & ACC_WRITE_MASK)
		spte |= PT_WRITABLE_MASK | PT_DIRTY_MASK;
	if (access & ACC_USER_MASK)
		spte |= PT_USER_MASK;
	if (nx && !(access & ACC_EXEC_MASK))
		spte |= PT64_NX_MASK;
	return spte;
}

/* The 4 KiB pages one spte covers at level (Linux: KVM_PAGES_PER_HPAGE). */
static inline uint64_t pages_per_spte(int level)
{
	return 1ull << ((level - 1) * PT64_LEVEL_BITS);
}

#endif
