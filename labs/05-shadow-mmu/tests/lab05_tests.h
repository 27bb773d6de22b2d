/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_LAB05_TESTS_H
#define KVMLABS_LAB05_TESTS_H

#include <check.h>

/* ck_assert_msg() for hot loops: Check records the place of every assertion
 * it passes (a write to its pipe in fork mode); this only acts on failure. */
#define require(cond, ...)                          \
	do {                                        \
		if (!(cond))                        \
			ck_abort_msg(__VA_ARGS__);  \
	} while (0)

/* Test names start with the handout's exercise number. */
Suite *paging_suite(void);      /* exercise 1: kvm/mmu/paging.c */
Suite *pte_list_suite(void);    /* exercise 2: kvm/mmu/pte_list.c */
Suite *mmu_suite(void);         /* exercises 3-7: kvm/mmu/mmu.c */

#endif
