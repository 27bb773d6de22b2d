/* SPDX-License-Identifier: MIT */
/*
 * Shadow page-table entries (Linux: arch/x86/kvm/mmu/spte.h), in one of two
 * formats. Without EPT the processor walks the shadow tables in PAE or
 * 4-level format whatever the guest's own format, so every spte is a 64-bit
 * x86 paging entry (SDM Vol. 3 4.5). With EPT (lab 06) they are EPT entries
 * (SDM Vol. 3 29.3.2), made in spte.c. The two agree where the MMU's common
 * code looks: bit 0 (P, or EPT's R) says present to us, bit 1 is the write
 * permission (R/W, or EPT's W), bit 7 a large page, bits 51:12 the address.
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

/* Whether the sptes are EPT entries (set once, by kvm_configure_mmu; Linux:
 * kvm_mmu_set_ept_masks). */
extern bool spte_ept_format;

uint64_t make_ept_nonleaf_spte(uint64_t child_hpa);

/* A pointer to the shadow page at child_hpa. */
static inline uint64_t make_nonleaf_spte(uint64_t child_hpa)
{
	if (spte_ept_format)
		return make_ept_nonleaf_spte(child_hpa);
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

/* ---- EPT entries and MMIO sptes (spte.c, lab 06) ----------------------------- */

// @region mmio_spte_layout
/* An MMIO spte (spte.c): bits 2:0 = W|X without R, a misconfiguration (SDM
 * Vol. 3 29.3.3.1); the gfn in bits 51:12; the low MMIO_SPTE_GEN_BITS bits
 * of the memslot generation in bits 10:3 and 62:52 (Linux keeps its
 * generation in the same two places). */
#define MMIO_SPTE_MASK          7ull           /* EPT's R, W and X */
#define MMIO_SPTE_VALUE         6ull           /* W|X, not R */
#define MMIO_SPTE_GEN_LOW_SHIFT 3
#define MMIO_SPTE_GEN_LOW_BITS  8
#define MMIO_SPTE_GEN_HIGH_SHIFT 52
#define MMIO_SPTE_GEN_HIGH_BITS 11
#define MMIO_SPTE_GEN_BITS      (MMIO_SPTE_GEN_LOW_BITS + MMIO_SPTE_GEN_HIGH_BITS)
#define MMIO_SPTE_GEN_MASK      ((1ull << MMIO_SPTE_GEN_BITS) - 1)
// @end

/* An EPT leaf mapping host page (or 2 MiB page, level 2) hpa with the ACC_*
 * rights access (Linux: make_spte under EPT masks). */
uint64_t make_ept_leaf_spte(uint64_t hpa, unsigned access, int level);

/* Linux: make_mmio_spte, is_mmio_spte, get_mmio_spte_gfn, get_mmio_spte_generation. */
uint64_t make_mmio_spte(uint64_t gfn, uint64_t generation);
bool is_mmio_spte(uint64_t spte);
uint64_t get_mmio_spte_gfn(uint64_t spte);
uint64_t get_mmio_spte_generation(uint64_t spte);

/* Why the processor would find EPT entry e of a level-`level` table
 * misconfigured (SDM Vol. 3 29.3.3.1), or NULL if it would not. */
const char *ept_misconfig_reason(uint64_t e, int level, uint64_t ept_vpid_cap, unsigned maxphyaddr);

static inline bool is_large_pte(uint64_t spte)
{
	return spte & PT_PAGE_SIZE_MASK;
}

#endif
