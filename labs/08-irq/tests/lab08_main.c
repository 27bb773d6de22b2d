/* SPDX-License-Identifier: MIT */
/*
 * Lab 08 unit tests: the 8259 PIC pair, the 8254 PIT, the IOAPIC, the local
 * APIC and the routing between them, run on the host against a clock the
 * tests set. Each test runs in its own process (Check's fork mode), so a lab
 * stub (lab_todo) or a crash fails the test that reached it, naming the
 * function.
 *   CK_RUN_SUITE=pic CK_RUN_CASE=priority build/unittest/.../unittest
 */
#include <stdlib.h>

#include "kvmlabs/lab.h"
#include "lab08_tests.h"

_Noreturn void lab_todo(int lab, const char *name)
{
	ck_abort_msg("lab %02d: %s() not implemented", lab, name);
	abort();
}

int main(void)
{
	SRunner *sr = srunner_create(pic_suite());
	srunner_add_suite(sr, pit_suite());
	srunner_add_suite(sr, ioapic_suite());
	srunner_add_suite(sr, lapic_suite());
	srunner_add_suite(sr, irq_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
