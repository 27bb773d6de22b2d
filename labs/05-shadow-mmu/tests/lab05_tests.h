/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_LAB05_TESTS_H
#define KVMLABS_LAB05_TESTS_H

#include <check.h>

/* Test names start with the handout's exercise number. */
Suite *paging_suite(void);      /* exercise 1: kvm/mmu/paging.c */
Suite *pte_list_suite(void);    /* exercise 2: kvm/mmu/pte_list.c */
Suite *mmu_suite(void);         /* exercises 3-7: kvm/mmu/mmu.c */

#endif
