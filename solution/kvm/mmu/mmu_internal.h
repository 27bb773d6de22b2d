/* SPDX-License-Identifier: MIT */
/*
 * The shadow MMU's own objects (Linux: arch/x86/kvm/mmu/mmu_internal.h):
 * shadow pages and the role that tells two shadows of one guest table apart.
 */
#ifndef KVMLABS_KVM_MMU_MMU_INTERNAL_H
#define KVMLABS_KVM_MMU_MMU_INTERNAL_H

#include "../kvm_host.h"
#include "pte_list.h"
#include "spte.h"

// @region mmu_page_role
/*
 * Everything besides the gfn that changes what a shadow page must contain
 * (Linux: union kvm_mmu_page_role). One guest table gets several shadow
 * pages when it is reached with different roles: through directory entries
 * with different rights (access), under another CR0.WP or EFER.NXE, or,
 * for a 32-bit guest's 1024-entry table, once per 512-entry part (quadrant)
 * and under each CR4.PSE (which says whether its PDEs' PS bit counts).
 */
union kvm_mmu_page_role {
	uint32_t word;
	struct {
		unsigned level : 4;            /* 1 = page table .. 4 = PML4 */
		unsigned has_4_byte_gpte : 1;  /* the guest table has 4-byte entries: CR4.PAE=0 */
		unsigned quadrant : 2;         /* with 4-byte entries: which 512 of them this page shadows */
		unsigned direct : 1;           /* no guest table behind it: a range of gfns mapped straight */
		unsigned access : 3;           /* ACC_* the guest's entries above allow */
		unsigned cr0_wp : 1;
		unsigned efer_nx : 1;
		unsigned cr4_pse : 1;          /* with 4-byte entries: PS=1 in a PDE maps 4 MiB (else it is ignored) */
		unsigned invalid : 1;          /* zapped while a vCPU still has it as its root */
	};
};
// @end

// @region kvm_mmu_page
/* One shadow page table (Linux: struct kvm_mmu_page). */
struct kvm_mmu_page {
	struct kvm_mmu_page *hash_next;     /* kvm->arch.mmu_page_hash[gfn's bucket] */
	struct kvm_mmu_page *spt_next;      /* kvm->arch.mmu_page_by_spt[spt's bucket] */
	struct kvm_mmu_page *prev, *next;   /* kvm->arch.active_*: oldest first */
	union kvm_mmu_page_role role;
	gfn_t gfn;                          /* the guest table shadowed, or the first gfn mapped (direct) */
	uint64_t *spt;                      /* 512 sptes: the page the processor walks */
	gfn_t *gfns;                        /* !direct, level 1: the gfn each leaf spte maps */
	struct kvm_rmap_head parent_ptes;   /* the sptes that point to this page */
	int root_count;                     /* vCPUs using it as (part of) their root */
};
// @end

/* The shadow page whose table is at spt_hpa (Linux: to_shadow_page). */
struct kvm_mmu_page *spte_to_child_sp(struct kvm *kvm, uint64_t spte);
struct kvm_mmu_page *sptep_to_sp(struct kvm *kvm, uint64_t *sptep);

/* The index in its shadow page of the spte for addr at level. */
static inline unsigned shadow_index(uint64_t addr, int level)
{
	return PT64_INDEX(addr, level);
}

#endif
