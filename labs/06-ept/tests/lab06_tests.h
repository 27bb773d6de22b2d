/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_LAB06_TESTS_H
#define KVMLABS_LAB06_TESTS_H

#include <check.h>

/* ck_assert_msg() for hot loops: Check records the place of every assertion
 * it passes (a write to its pipe in fork mode); this only acts on failure. */
#define require(cond, ...)                          \
	do {                                        \
		if (!(cond))                        \
			ck_abort_msg(__VA_ARGS__);  \
	} while (0)

/* Bochs' IA32_VMX_EPT_VPID_CAP (../shared/BOCHS-VMX.md), the processor the
 * lab runs on: execute-only, 4-level walks, UC and WB, 2 MiB and 1 GiB
 * pages, INVEPT, A/D flags, INVVPID. */
#define BOCHS_EPT_VPID_CAP 0x00000F0106334141ull

/* Test names start with the handout's exercise number. */
Suite *vmx_ept_suite(void);     /* exercise 1: kvm/vmx/vmx_decode.c, kvm/vmx/vmx_caps.c */
Suite *spte_suite(void);        /* exercises 2 and 4: kvm/mmu/spte.c */
Suite *tdp_suite(void);         /* exercises 2-4: kvm/mmu/mmu.c */

#endif
