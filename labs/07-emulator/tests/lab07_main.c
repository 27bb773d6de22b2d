/* SPDX-License-Identifier: MIT */
/*
 * Lab 07 unit tests: the instruction emulator (kvm/emulate.c) run on the
 * host over a fake vCPU (emu_fake.c): the decoder over a table of
 * encodings, the six arithmetic flags, each handler, and the string
 * instructions. Each test runs in its own process (Check's fork mode), so
 * a lab stub (lab_todo) or a crash fails the test that reached it, naming
 * the function.
 *   CK_RUN_SUITE=exec CK_RUN_CASE=cmpxchg build/unittest/.../unittest
 */
#include <stdlib.h>

#include "kvmlabs/lab.h"
#include "lab07_tests.h"

_Noreturn void lab_todo(int lab, const char *name)
{
	ck_abort_msg("lab %02d: %s() not implemented", lab, name);
	abort();
}

int main(void)
{
	SRunner *sr = srunner_create(decode_suite());
	srunner_add_suite(sr, flags_suite());
	srunner_add_suite(sr, exec_suite());
	srunner_add_suite(sr, string_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
