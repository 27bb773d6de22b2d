/* SPDX-License-Identifier: MIT */
/*
 * spte lists and the pool they come from (pte_list.h). Linux: pte_list_add,
 * pte_list_remove, pte_list_desc_remove_entry, rmap_get_first, rmap_get_next
 * in arch/x86/kvm/mmu/mmu.c; the kmem caches of mmu_pte_list_desc_cache.
 */
#include <errno.h>
#include <string.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "../kvm_host.h"
#include "pte_list.h"

/* ---- the pool: objects carved from whole pages, kept until the VM goes ---- */

void mmu_pool_init(struct mmu_pool *pool, size_t obj_size)
{
	/* Each object starts with the free list's link; objects stay 8-byte aligned. */
	*pool = (struct mmu_pool){ .obj_size = (obj_size + 7) & ~(size_t)7 };
	if (pool->obj_size < sizeof(void *))
		pool->obj_size = sizeof(void *);
}

void *mmu_pool_alloc(struct mmu_pool *pool)
{
	if (!pool->free) {
		char *page = host_page_alloc();
		if (!page)
			return NULL;
		/* The page's first 64 bytes chain the pool's pages; the rest are objects. */
		*(void **)page = pool->pages;
		pool->pages = page;
		for (size_t off = 64; off + pool->obj_size <= KVM_PAGE_SIZE; off += pool->obj_size) {
			*(void **)(page + off) = pool->free;
			pool->free = page + off;
		}
	}
	void *obj = pool->free;
	pool->free = *(void **)obj;
	memset(obj, 0, pool->obj_size);
	return obj;
}

void mmu_pool_free(struct mmu_pool *pool, void *obj)
{
	*(void **)obj = pool->free;
	pool->free = obj;
}

void mmu_pool_destroy(struct mmu_pool *pool)
{
	while (pool->pages) {
		void *page = pool->pages;
		pool->pages = *(void **)page;
		host_page_free(page);
	}
	pool->free = NULL;
}

/* The descriptor chain of a head whose bit 0 is set. */
static struct pte_list_desc *head_desc(const struct kvm_rmap_head *head)
{
	return (struct pte_list_desc *)(head->val & ~(uintptr_t)1);
}

// @lab 05 pte_list_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

int pte_list_add(struct mmu_pool *pool, uint64_t *spte, struct kvm_rmap_head *head)
{
	// @lab 05 pte_list_add: One spte inline, then descriptors with free room in the first (Linux: pte_list_add).
	(void)pool, (void)spte, (void)head;
	lab_todo(5, "pte_list_add");
	// @end
}

bool pte_list_remove(struct mmu_pool *pool, uint64_t *spte, struct kvm_rmap_head *head)
{
	// @lab 05 pte_list_remove: Take one spte off the list; false if it was not there (Linux: pte_list_remove).
	(void)pool, (void)spte, (void)head;
	lab_todo(5, "pte_list_remove");
	// @end
}

unsigned pte_list_count(const struct kvm_rmap_head *head)
{
	if (!head->val)
		return 0;
	if (!(head->val & 1))
		return 1;
	unsigned n = 0;
	for (const struct pte_list_desc *d = head_desc(head); d; d = d->more)
		n += d->spte_count;
	return n;
}

void pte_list_destroy(struct mmu_pool *pool, struct kvm_rmap_head *head)
{
	if (head->val & 1) {
		struct pte_list_desc *d = head_desc(head);
		while (d) {
			struct pte_list_desc *next = d->more;
			mmu_pool_free(pool, d);
			d = next;
		}
	}
	head->val = 0;
}

uint64_t *rmap_get_first(const struct kvm_rmap_head *head, struct rmap_iterator *iter)
{
	// @lab 05 rmap_get_first: Start a walk of a list at its first spte (Linux: rmap_get_first).
	(void)head, (void)iter;
	lab_todo(5, "rmap_get_first");
	// @end
}

uint64_t *rmap_get_next(struct rmap_iterator *iter)
{
	// @lab 05 rmap_get_next: The walk's next spte, or NULL (Linux: rmap_get_next).
	(void)iter;
	lab_todo(5, "rmap_get_next");
	// @end
}
