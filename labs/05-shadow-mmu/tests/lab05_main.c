/* SPDX-License-Identifier: MIT */
/*
 * Lab 05 unit tests: the guest page-table walker, the spte lists and the
 * shadow MMU, run on the host. Each test runs in its own process (Check's
 * fork mode), so a lab stub (lab_todo) or a crash fails the test that
 * reached it, naming the function.
 *   CK_RUN_SUITE=paging CK_RUN_CASE=matrix build/unittest/.../unittest
 */
#include <stdlib.h>

#include "kvmlabs/lab.h"
#include "lab05_tests.h"

_Noreturn void lab_todo(int lab, const char *name)
{
	ck_abort_msg("lab %02d: %s() not implemented", lab, name);
	abort();
}

int main(void)
{
	SRunner *sr = srunner_create(paging_suite());
	srunner_add_suite(sr, pte_list_suite());
	srunner_add_suite(sr, mmu_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
