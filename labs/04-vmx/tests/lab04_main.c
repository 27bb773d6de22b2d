/* SPDX-License-Identifier: MIT */
/*
 * Lab 04 unit tests: the pure logic of the VMX backend, run on the host.
 * A lab stub (lab_todo) fails the test that reached it, naming the function.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kvm/vmx/vmcs.h"
#include "kvmlabs/lab.h"
#include "lab04_tests.h"

_Noreturn void lab_todo(int lab, const char *name)
{
	ck_abort_msg("lab %02d: %s() not implemented", lab, name);
	abort();
}

void lab04_skylake_caps(struct vmx_capability_msrs *caps)
{
	*caps = (struct vmx_capability_msrs){
		.basic = 0x00da100000000004ull,           /* revision 4, 4 KiB VMCS, WB, bit 55 */
		.pinbased_ctls = 0x0000007f00000016ull,
		.procbased_ctls = 0xfff9fffe0401e172ull,
		.exit_ctls = 0x01ffffff00036dffull,
		.entry_ctls = 0x0003ffff000011ffull,
		.true_pinbased_ctls = 0x0000007f00000016ull,
		.true_procbased_ctls = 0xfff9fffe04006172ull,
		.true_exit_ctls = 0x01ffffff00036dfbull,
		.true_entry_ctls = 0x0003ffff000011fbull,
		.procbased_ctls2 = 0x000000bf00000000ull, /* bits 0-5 and 7 may be 1 */
		.misc = 0x00000000000401e0ull,            /* HLT/shutdown/wait-for-SIPI, 4 CR3 targets */
		.cr0_fixed0 = 0x80000021ull,
		.cr0_fixed1 = 0xffffffffull,
		.cr4_fixed0 = 0x00002000ull,
		.cr4_fixed1 = 0x003767ffull,
		.phys_addr_bits = 39,
	};
}

int main(void)
{
	SRunner *sr = srunner_create(vmx_caps_suite());
	srunner_add_suite(sr, vmx_decode_suite());
	srunner_add_suite(sr, vmx_entry_check_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
