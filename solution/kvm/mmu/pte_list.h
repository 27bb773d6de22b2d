/* SPDX-License-Identifier: MIT */
/*
 * Lists of spte pointers (Linux: pte_list_add, pte_list_remove,
 * rmap_get_first/rmap_get_next in mmu/mmu.c), the shape of both reverse maps
 * of the shadow MMU: a gfn's rmap (the leaf sptes that map it) and a shadow
 * page's parent_ptes (the sptes that point to it).
 *
 * Most heads hold one spte, so a head is one word: 0 (empty), the spte's
 * address (bit 0 clear), or, with bit 0 set, the address of a chain of
 * struct pte_list_desc holding up to PTE_LIST_EXT sptes each.
 *
 * Also the small-object pool both the descriptors and struct kvm_mmu_page
 * come from. Pure logic: compiled hosted for the unit tests, whose pages
 * come from their own host_page_alloc().
 */
#ifndef KVMLABS_KVM_MMU_PTE_LIST_H
#define KVMLABS_KVM_MMU_PTE_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvm_rmap_head;   /* kvm_host.h: { uintptr_t val; } */
struct mmu_pool;

/* 64 bytes: a page holds 63 of them after the pool's link. */
#define PTE_LIST_EXT 6
struct pte_list_desc {
	struct pte_list_desc *more;   /* the next descriptor, or NULL */
	uint32_t spte_count;          /* used entries of sptes[], 1..PTE_LIST_EXT */
	uint64_t *sptes[PTE_LIST_EXT];
};

/* ---- the pool ------------------------------------------------------------- */
void mmu_pool_init(struct mmu_pool *pool, size_t obj_size);
void *mmu_pool_alloc(struct mmu_pool *pool);      /* zeroed; NULL when the host has no page */
void mmu_pool_free(struct mmu_pool *pool, void *obj);
void mmu_pool_destroy(struct mmu_pool *pool);     /* gives every page back */

/* ---- lists ---------------------------------------------------------------- */
/* Add spte; returns how many the list held before, or -ENOMEM. */
int pte_list_add(struct mmu_pool *pool, uint64_t *spte, struct kvm_rmap_head *head);
/* Remove spte, which must be on the list; returns false (and changes nothing) if it is not. */
bool pte_list_remove(struct mmu_pool *pool, uint64_t *spte, struct kvm_rmap_head *head);
unsigned pte_list_count(const struct kvm_rmap_head *head);
/* Empty the list, freeing its descriptors. */
void pte_list_destroy(struct mmu_pool *pool, struct kvm_rmap_head *head);

/* Walking a list (Linux: struct rmap_iterator). The list must not change
 * during the walk except by removing the spte just returned and starting
 * again, as kvm_zap_rmap does. */
struct rmap_iterator {
	struct pte_list_desc *desc;   /* NULL: the head held a single spte */
	unsigned pos;
};
uint64_t *rmap_get_first(const struct kvm_rmap_head *head, struct rmap_iterator *iter);
uint64_t *rmap_get_next(struct rmap_iterator *iter);

#define for_each_rmap_spte(head, iter, sptep) \
	for ((sptep) = rmap_get_first(head, iter); (sptep); (sptep) = rmap_get_next(iter))

#endif
