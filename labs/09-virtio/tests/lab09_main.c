/* SPDX-License-Identifier: MIT */
/*
 * Lab 09 unit tests: the split virtqueue on synthetic rings, run on the
 * host. Each test runs in its own process (Check's fork mode), so a lab
 * stub (lab_todo) or a crash fails the test that reached it, naming the
 * function.
 *   CK_RUN_SUITE=virtqueue CK_RUN_CASE=hostile build/unittest/.../unittest
 */
#include <stdlib.h>

#include "kvmlabs/lab.h"
#include "lab09_tests.h"

_Noreturn void lab_todo(int lab, const char *name)
{
	ck_abort_msg("lab %02d: %s() not implemented", lab, name);
	abort();
}

int main(void)
{
	SRunner *sr = srunner_create(virtqueue_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
