/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_LAB06_TESTS_H
#define KVMLABS_LAB06_TESTS_H

#include <check.h>

#include "fake_mmu_host.h"

/* ck_assert_msg() for hot loops: Check records the place of every assertion
 * it passes (a write to its pipe in fork mode); this only acts on failure. */
#define require(cond, ...)                          \
	do {                                        \
		if (!(cond))                        \
			ck_abort_msg(__VA_ARGS__);  \
	} while (0)

/* Bochs' IA32_VMX_EPT_VPID_CAP, the processor the lab runs on, is the fake
 * host's FAKE_MMU_EPT_CAP (fake_mmu_host.h). */

/* Test names start with the handout's exercise number. */
Suite *vmx_ept_suite(void);     /* exercise 1: kvm/vmx/vmx_decode.c, kvm/vmx/vmx_caps.c */
Suite *spte_suite(void);        /* exercises 2 and 4: kvm/mmu/spte.c */
Suite *tdp_suite(void);         /* exercises 2-4: kvm/mmu/mmu.c */

#endif
