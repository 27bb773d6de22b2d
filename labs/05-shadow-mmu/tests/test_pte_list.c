/* SPDX-License-Identifier: MIT */
/*
 * Exercise 2: spte lists (kvm/mmu/pte_list.c), the shape of both reverse
 * maps: a gfn's rmap and a shadow page's parent_ptes. Heads of 0, 1, 2, a
 * full descriptor (PTE_LIST_EXT), one more, and hundreds of sptes; removal
 * from every position; iteration; the pool their descriptors come from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_mmu_host.h"
#include "kvm/kvm_host.h"
#include "kvm/mmu/pte_list.h"
#include "lab05_tests.h"

#define MAX_SPTES 700
static uint64_t sptes[MAX_SPTES];   /* the "sptes" the lists point to */
static struct mmu_pool pool;

static const unsigned sizes[] = { 1, 2, PTE_LIST_EXT, PTE_LIST_EXT + 1, 2 * PTE_LIST_EXT, 2 * PTE_LIST_EXT + 1, 97, 600 };

static void pool_setup(void)
{
	mmu_pool_init(&pool, sizeof(struct pte_list_desc));
}

static void fill(struct kvm_rmap_head *head, unsigned n)
{
	head->val = 0;
	for (unsigned i = 0; i < n; i++) {
		int r = pte_list_add(&pool, &sptes[i], head);
		require(r == (int)i, "pte_list_add of spte %u to a list of %u returned %d, expected %u (the count before)",
			i + 1, i, r, i);
	}
}

/* Walk the list: every spte in present[] exactly once, nothing else. */
static void check_walk(const struct kvm_rmap_head *head, const bool *present, unsigned n, const char *what)
{
	static unsigned seen[MAX_SPTES];
	struct rmap_iterator iter;
	uint64_t *sptep;
	unsigned count = 0, want = 0;
	memset(seen, 0, sizeof(seen));
	for_each_rmap_spte(head, &iter, sptep) {
		require(sptep >= sptes && sptep < sptes + MAX_SPTES, "%s: the walk returned %p, never added", what,
			(void *)sptep);
		unsigned i = (unsigned)(sptep - sptes);
		require(i < n && present[i], "%s: the walk returned spte %u, which is not on the list", what, i);
		require(++seen[i] == 1, "%s: the walk returned spte %u twice", what, i);
		require(++count <= n, "%s: the walk does not end", what);
	}
	for (unsigned i = 0; i < n; i++) {
		want += present[i];
		require(!present[i] || seen[i], "%s: the walk missed spte %u", what, i);
	}
	require(pte_list_count(head) == want, "%s: pte_list_count says %u, the list holds %u", what,
		pte_list_count(head), want);
}

START_TEST(ex2_empty_list)
{
	pool_setup();
	struct kvm_rmap_head head = { 0 };
	struct rmap_iterator iter;
	require(rmap_get_first(&head, &iter) == NULL, "rmap_get_first of an empty list must be NULL");
	require(!pte_list_remove(&pool, &sptes[0], &head), "pte_list_remove from an empty list must say false");
	require(head.val == 0, "removing from an empty list changed its head");
}
END_TEST

START_TEST(ex2_add_and_walk)
{
	unsigned n = sizes[_i];
	bool present[MAX_SPTES];
	char what[64];
	pool_setup();
	struct kvm_rmap_head head;
	fill(&head, n);
	snprintf(what, sizeof(what), "a list of %u", n);
	for (unsigned i = 0; i < n; i++)
		present[i] = true;
	check_walk(&head, present, n, what);
	/* One spte is the head itself, no descriptor (pte_list.h). */
	if (n == 1)
		require(head.val == (uintptr_t)&sptes[0], "a list of one spte: the head holds the spte's address");
	else
		require(head.val & 1, "a list of %u: the head points to descriptors (bit 0 set)", n);
	pte_list_destroy(&pool, &head);
	mmu_pool_destroy(&pool);
	require(fake_mmu_pages_live() == 0, "%u host pages not given back after mmu_pool_destroy", fake_mmu_pages_live());
}
END_TEST

START_TEST(ex2_remove_from_every_position)
{
	unsigned n = sizes[_i];
	bool present[MAX_SPTES];
	char what[96];
	pool_setup();
	for (unsigned pos = 0; pos < n; pos++) {
		struct kvm_rmap_head head;
		fill(&head, n);
		for (unsigned i = 0; i < n; i++)
			present[i] = i != pos;
		snprintf(what, sizeof(what), "a list of %u after removing spte %u", n, pos);
		require(pte_list_remove(&pool, &sptes[pos], &head), "%s: pte_list_remove said false", what);
		check_walk(&head, present, n, what);
		require(!pte_list_remove(&pool, &sptes[pos], &head), "%s: removing it again said true", what);
		check_walk(&head, present, n, what);
		pte_list_destroy(&pool, &head);
	}
}
END_TEST

START_TEST(ex2_remove_absent)
{
	unsigned n = sizes[_i];
	bool present[MAX_SPTES];
	char what[64];
	pool_setup();
	struct kvm_rmap_head head;
	fill(&head, n);
	uintptr_t before = head.val;
	for (unsigned i = 0; i < n; i++)
		present[i] = true;
	snprintf(what, sizeof(what), "a list of %u", n);
	require(!pte_list_remove(&pool, &sptes[n], &head), "%s: removing an spte not on it said true", what);
	require(head.val == before, "%s: removing an absent spte changed the head", what);
	check_walk(&head, present, n, what);
}
END_TEST

START_TEST(ex2_remove_all_in_any_order)
{
	unsigned n = sizes[_i];
	bool present[MAX_SPTES];
	char what[96];
	pool_setup();
	for (int order = 0; order < 3; order++) {
		struct kvm_rmap_head head;
		fill(&head, n);
		for (unsigned i = 0; i < n; i++)
			present[i] = true;
		srand(12345 + order);
		unsigned perm[MAX_SPTES];
		for (unsigned i = 0; i < n; i++)
			perm[i] = order == 0 ? i : order == 1 ? n - 1 - i : i;
		if (order == 2)
			for (unsigned i = n; i > 1; i--) {
				unsigned j = (unsigned)rand() % i, t = perm[i - 1];
				perm[i - 1] = perm[j];
				perm[j] = t;
			}
		for (unsigned k = 0; k < n; k++) {
			unsigned i = perm[k];
			snprintf(what, sizeof(what), "a list of %u, removing %s, step %u (spte %u)", n,
				 order == 0 ? "first to last" : order == 1 ? "last to first" : "in a shuffled order", k, i);
			require(pte_list_remove(&pool, &sptes[i], &head), "%s: pte_list_remove said false", what);
			present[i] = false;
			if (n < 50 || k % 37 == 0)
				check_walk(&head, present, n, what);
		}
		require(head.val == 0, "a list of %u emptied %s: the head is 0x%lx, not 0", n,
			order == 0 ? "first to last" : order == 1 ? "last to first" : "in a shuffled order",
			(unsigned long)head.val);
	}
}
END_TEST

START_TEST(ex2_zap_style_walk)
{
	/* Take the first, remove it, start again (Linux: kvm_zap_rmap): ends after n rounds. */
	unsigned n = sizes[_i];
	pool_setup();
	struct kvm_rmap_head head;
	fill(&head, n);
	struct rmap_iterator iter;
	uint64_t *sptep;
	unsigned rounds = 0;
	while ((sptep = rmap_get_first(&head, &iter))) {
		require(pte_list_remove(&pool, sptep, &head), "a list of %u: the spte rmap_get_first returned cannot be removed", n);
		require(++rounds <= n, "a list of %u: still not empty after removing %u sptes", n, n);
	}
	require(rounds == n && head.val == 0, "a list of %u: emptied after %u removals, head 0x%lx", n, rounds,
		(unsigned long)head.val);
}
END_TEST

START_TEST(ex2_pool_reuses_freed_descriptors)
{
	pool_setup();
	struct kvm_rmap_head head;
	fill(&head, 600);
	unsigned long pages = fake_mmu_pages_allocated();
	require(pages > 0, "600 sptes but no page taken for descriptors");
	for (unsigned i = 0; i < 600; i++)
		ck_assert(pte_list_remove(&pool, &sptes[i], &head));
	/* The descriptors went back to the pool: the same lists again take no new page. */
	for (int round = 0; round < 3; round++) {
		struct kvm_rmap_head heads[3] = { { 0 } };
		fill(&heads[0], 200);
		for (unsigned i = 0; i < 200; i++)
			ck_assert(pte_list_add(&pool, &sptes[200 + i], &heads[1]) == (int)i);
		for (unsigned i = 0; i < 200; i++)
			ck_assert(pte_list_add(&pool, &sptes[400 + i], &heads[2]) == (int)i);
		require(fake_mmu_pages_allocated() == pages,
			"round %d: %lu host pages taken for lists no longer than before (%lu): freed descriptors are not reused",
			round, fake_mmu_pages_allocated(), pages);
		for (int h = 0; h < 3; h++)
			for (unsigned i = 0; i < 200; i++)
				ck_assert(pte_list_remove(&pool, &sptes[200 * h + i], &heads[h]));
	}
	/* A pool object is handed out zeroed, and a freed one comes back first. */
	struct mmu_pool p;
	mmu_pool_init(&p, 40);
	uint8_t *a = mmu_pool_alloc(&p);
	memset(a, 0xaa, 40);
	mmu_pool_free(&p, a);
	uint8_t *b = mmu_pool_alloc(&p);
	require(b == a, "mmu_pool_alloc after a free must reuse the freed object");
	for (int i = 0; i < 40; i++)
		require(b[i] == 0, "a reused pool object is not zeroed (byte %d)", i);
	mmu_pool_destroy(&p);
}
END_TEST

START_TEST(ex2_add_without_memory)
{
	/* No descriptor to be had: -ENOMEM, and the list is as it was. */
	pool_setup();
	for (unsigned k = 0; k < 3; k++) {
		static const unsigned at[] = { 1, PTE_LIST_EXT, 2 * PTE_LIST_EXT };
		unsigned n = at[k];
		bool present[MAX_SPTES];
		struct kvm_rmap_head head;
		struct mmu_pool empty;
		mmu_pool_init(&empty, sizeof(struct pte_list_desc));
		fake_mmu_fail_pages_after(-1);
		head.val = 0;
		for (unsigned i = 0; i < n; i++)
			ck_assert(pte_list_add(&empty, &sptes[i], &head) == (int)i);
		/* Use up the pool's free objects, then the host has no page. */
		void *hoard[128];
		unsigned nh = 0;
		fake_mmu_fail_pages_after(0);
		while (nh < 128 && (hoard[nh] = mmu_pool_alloc(&empty)))
			nh++;
		int r = pte_list_add(&empty, &sptes[n], &head);
		require(r == -ENOMEM, "a list of %u with no memory for a descriptor: pte_list_add returned %d, expected -ENOMEM",
			n, r);
		for (unsigned i = 0; i < n; i++)
			present[i] = true;
		present[n] = false;
		check_walk(&head, present, n + 1, "a list after a failed pte_list_add");
		fake_mmu_fail_pages_after(-1);
		for (unsigned i = 0; i < nh; i++)
			mmu_pool_free(&empty, hoard[i]);
		pte_list_destroy(&empty, &head);
		mmu_pool_destroy(&empty);
	}
}
END_TEST

Suite *pte_list_suite(void)
{
	Suite *s = suite_create("pte_list");
	TCase *tc = tcase_create("lists");
	int nsizes = (int)(sizeof(sizes) / sizeof(sizes[0]));
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ex2_empty_list);
	tcase_add_loop_test(tc, ex2_add_and_walk, 0, nsizes);
	tcase_add_loop_test(tc, ex2_remove_from_every_position, 0, nsizes);
	tcase_add_loop_test(tc, ex2_remove_absent, 0, nsizes);
	tcase_add_loop_test(tc, ex2_remove_all_in_any_order, 0, nsizes);
	tcase_add_loop_test(tc, ex2_zap_style_walk, 0, nsizes);
	tcase_add_test(tc, ex2_pool_reuses_freed_descriptors);
	tcase_add_test(tc, ex2_add_without_memory);
	suite_add_tcase(s, tc);
	return s;
}
