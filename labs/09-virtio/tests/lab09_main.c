/* SPDX-License-Identifier: MIT */
/*
 * Lab 09 unit tests, run as one program: the split virtqueue on synthetic
 * rings (test_virtqueue.c, exercises 1 and 2), the virtio-mmio transport and
 * the devices through the VMM's MMIO bus (test_device.c, exercises 3 and 4).
 * Each test runs in its own process (Check's fork mode), so a lab stub
 * (lab_todo) or a crash fails the test that reached it, naming the function.
 *   CK_RUN_SUITE=virtqueue CK_RUN_CASE=hostile build/unittest/.../unittest
 */
#include "lab09_tests.h"
#include "ut_vmm.h"

int main(void)
{
	Suite *suites[] = { virtqueue_suite(), device_suite() };
	return ut_run(suites, 2);
}
