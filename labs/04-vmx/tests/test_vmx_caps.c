/* SPDX-License-Identifier: MIT */
/* Control adjustment from the capability MSRs (SDM Vol. 3 A.3-A.5) and the
 * VMCS configuration built from it (kvm/vmx/vmx_caps.c). */
#include <errno.h>
#include <string.h>

#include <x86/const.h>
#include "kvm/vmx/vmcs.h"
#include "kvm/vmx/vmx_caps.h"
#include "lab04_tests.h"

/* allowed-0 (low half): bits 1, 2, 4 must be 1; allowed-1 (high half): bits 0-6 may be 1. */
#define CAP_PIN 0x0000007f00000016ull

START_TEST(adjust_keeps_required_and_default1)
{
	uint32_t ctl = 0;
	ck_assert_int_eq(vmx_adjust_controls(PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING, 0, CAP_PIN, &ctl), 0);
	ck_assert_uint_eq(ctl, 0x16 | PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING);
}
END_TEST

START_TEST(adjust_sets_allowed_optional)
{
	uint32_t ctl = 0;
	ck_assert_int_eq(vmx_adjust_controls(0, PIN_BASED_VIRTUAL_NMIS, CAP_PIN, &ctl), 0);
	ck_assert_uint_eq(ctl, 0x16 | PIN_BASED_VIRTUAL_NMIS);
}
END_TEST

START_TEST(adjust_drops_unsupported_optional)
{
	uint32_t ctl = 0;
	ck_assert_int_eq(vmx_adjust_controls(0, PIN_BASED_POSTED_INTR, CAP_PIN, &ctl), 0);
	ck_assert_uint_eq(ctl, 0x16);
}
END_TEST

START_TEST(adjust_fails_on_unsupported_required)
{
	uint32_t ctl = 0xdeadbeef;
	ck_assert_int_eq(vmx_adjust_controls(PIN_BASED_EXT_INTR_MASK | PIN_BASED_POSTED_INTR, 0, CAP_PIN, &ctl), -EIO);
	ck_assert_uint_eq(ctl, 0xdeadbeef);
}
END_TEST

START_TEST(adjust_default1_bit_wins_over_request)
{
	/* Nothing asked, yet a control the CPU cannot clear comes out set. */
	uint32_t ctl = 0;
	ck_assert_int_eq(vmx_adjust_controls(0, 0, 0x0000ffff00000100ull, &ctl), 0);
	ck_assert_uint_eq(ctl, 0x100);
}
END_TEST

START_TEST(control_msr_uses_true_msrs_when_basic_bit55)
{
	struct vmx_capability_msrs caps;
	lab04_skylake_caps(&caps);
	ck_assert_uint_eq(vmx_control_msr(&caps, VMX_CTL_PROC), caps.true_procbased_ctls);
	ck_assert_str_eq(vmx_control_msr_name(&caps, VMX_CTL_EXIT), "IA32_VMX_TRUE_EXIT_CTLS");
	caps.basic &= ~VMX_BASIC_TRUE_CTLS;
	ck_assert_uint_eq(vmx_control_msr(&caps, VMX_CTL_PROC), caps.procbased_ctls);
	ck_assert_str_eq(vmx_control_msr_name(&caps, VMX_CTL_EXIT), "IA32_VMX_EXIT_CTLS");
}
END_TEST

START_TEST(adjust_true_msr_frees_default1_controls)
{
	/* CR3-load/store exiting are default-1 in IA32_VMX_PROCBASED_CTLS but may be
	 * 0 according to IA32_VMX_TRUE_PROCBASED_CTLS (SDM Vol. 3 A.3.2). */
	struct vmx_capability_msrs caps;
	uint32_t legacy = 0, truectl = 0;
	lab04_skylake_caps(&caps);
	ck_assert_int_eq(vmx_adjust_controls(CPU_BASED_HLT_EXITING, 0, caps.procbased_ctls, &legacy), 0);
	ck_assert_int_eq(vmx_adjust_controls(CPU_BASED_HLT_EXITING, 0, caps.true_procbased_ctls, &truectl), 0);
	ck_assert(legacy & CPU_BASED_CR3_LOAD_EXITING);
	ck_assert(!(truectl & CPU_BASED_CR3_LOAD_EXITING));
	ck_assert(truectl & CPU_BASED_HLT_EXITING);
}
END_TEST

START_TEST(config_for_stage04)
{
	struct vmx_capability_msrs caps;
	struct vmx_config_request req = { .host_64bit = true };
	struct vmcs_config conf;
	char err[200] = "";
	lab04_skylake_caps(&caps);
	ck_assert_msg(vmx_setup_vmcs_config(&caps, &req, &conf, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(conf.revision_id, 4);
	ck_assert_uint_eq(conf.vmcs_size, 0x1000);
	ck_assert(conf.pin_based_exec_ctrl & PIN_BASED_EXT_INTR_MASK);
	ck_assert(conf.cpu_based_exec_ctrl & CPU_BASED_HLT_EXITING);
	ck_assert(conf.cpu_based_exec_ctrl & CPU_BASED_UNCOND_IO_EXITING);
	ck_assert(conf.cpu_based_exec_ctrl & CPU_BASED_CR3_LOAD_EXITING);
	ck_assert(conf.cpu_based_exec_ctrl & CPU_BASED_INVLPG_EXITING);
	ck_assert(!(conf.cpu_based_exec_ctrl & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS));
	ck_assert(conf.vmexit_ctrl & VM_EXIT_HOST_ADDR_SPACE_SIZE);
	ck_assert(conf.vmexit_ctrl & VM_EXIT_LOAD_IA32_EFER);
	ck_assert(conf.vmentry_ctrl & VM_ENTRY_LOAD_IA32_EFER);
	ck_assert(!(conf.vmentry_ctrl & VM_ENTRY_IA32E_MODE));
	/* With the TRUE_ MSR, load debug controls (a default-1 control) may be 0. */
	ck_assert(!(conf.vmentry_ctrl & VM_ENTRY_LOAD_DEBUG_CONTROLS));
	/* Every control satisfies its MSR. */
	uint64_t msr = caps.true_procbased_ctls;
	ck_assert_uint_eq(conf.cpu_based_exec_ctrl & (uint32_t)msr, (uint32_t)msr);
	ck_assert_uint_eq(conf.cpu_based_exec_ctrl & ~(uint32_t)(msr >> 32), 0);
}
END_TEST

START_TEST(config_without_true_msrs_keeps_default1)
{
	struct vmx_capability_msrs caps;
	struct vmx_config_request req = { .host_64bit = true };
	struct vmcs_config conf;
	lab04_skylake_caps(&caps);
	caps.basic &= ~VMX_BASIC_TRUE_CTLS;
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &req, &conf, NULL, 0), 0);
	ck_assert(conf.vmentry_ctrl & VM_ENTRY_LOAD_DEBUG_CONTROLS);
}
END_TEST

START_TEST(config_names_missing_control)
{
	struct vmx_capability_msrs caps;
	struct vmx_config_request req = { .host_64bit = true };
	struct vmcs_config conf;
	char err[200] = "";
	lab04_skylake_caps(&caps);
	caps.true_exit_ctls &= ~((uint64_t)VM_EXIT_LOAD_IA32_EFER << 32);
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &req, &conf, err, sizeof(err)), -EIO);
	ck_assert_msg(strstr(err, "bit 21") && strstr(err, "IA32_VMX_TRUE_EXIT_CTLS"), "message: %s", err);
}
END_TEST

START_TEST(config_ept_needs_secondary_controls)
{
	struct vmx_capability_msrs caps;
	struct vmx_config_request req = { .host_64bit = true, .ept = true, .unrestricted_guest = true };
	struct vmcs_config conf;
	lab04_skylake_caps(&caps);
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &req, &conf, NULL, 0), 0);
	ck_assert(conf.cpu_based_exec_ctrl & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
	ck_assert(conf.cpu_based_2nd_exec_ctrl & SECONDARY_EXEC_ENABLE_EPT);
	/* The guest owns CR3 and its TLB under EPT: no CR3 or INVLPG exits
	 * (the TRUE_ MSR lets CR3 exiting be 0). */
	ck_assert(!(conf.cpu_based_exec_ctrl & (CPU_BASED_CR3_LOAD_EXITING | CPU_BASED_CR3_STORE_EXITING)));
	ck_assert(!(conf.cpu_based_exec_ctrl & CPU_BASED_INVLPG_EXITING));
	caps.procbased_ctls2 = 0;
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &req, &conf, NULL, 0), -EIO);
}
END_TEST

START_TEST(config_cr8_accesses_exit)
{
	/* No TPR shadow: a 64-bit guest's MOV to or from CR8 must exit, or it
	 * would read and write the physical TPR (SDM Vol. 3 26.1.3). Whatever
	 * else is asked for, the computed controls keep both bits. */
	struct vmx_capability_msrs caps;
	struct vmcs_config conf;
	lab04_skylake_caps(&caps);
	const struct vmx_config_request reqs[] = {
		{ .host_64bit = true },
		{ .host_64bit = true, .ept = true, .unrestricted_guest = true, .vpid = true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(reqs); i++) {
		ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &reqs[i], &conf, NULL, 0), 0);
		ck_assert_msg(conf.cpu_based_exec_ctrl & CPU_BASED_CR8_LOAD_EXITING,
			      "request %zu: CR8-load exiting (bit 19) missing from 0x%08x", i, conf.cpu_based_exec_ctrl);
		ck_assert_msg(conf.cpu_based_exec_ctrl & CPU_BASED_CR8_STORE_EXITING,
			      "request %zu: CR8-store exiting (bit 20) missing from 0x%08x", i, conf.cpu_based_exec_ctrl);
		ck_assert(!(conf.cpu_based_exec_ctrl & CPU_BASED_TPR_SHADOW));
	}
	/* A CPU that cannot exit on CR8 loads is refused, naming the bit. */
	char err[200] = "";
	caps.true_procbased_ctls &= ~((uint64_t)CPU_BASED_CR8_LOAD_EXITING << 32);
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &reqs[0], &conf, err, sizeof(err)), -EIO);
	ck_assert_msg(strstr(err, "bit 19"), "message: %s", err);
}
END_TEST

START_TEST(config_vpid_is_optional)
{
	struct vmx_capability_msrs caps;
	struct vmx_config_request req = { .host_64bit = true, .vpid = true };
	struct vmcs_config conf;
	lab04_skylake_caps(&caps);
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &req, &conf, NULL, 0), 0);
	ck_assert(conf.cpu_based_2nd_exec_ctrl & SECONDARY_EXEC_ENABLE_VPID);
	/* Without secondary controls there are no VPIDs, and that is no error. */
	caps.procbased_ctls2 = 0;
	caps.true_procbased_ctls &= ~((uint64_t)CPU_BASED_ACTIVATE_SECONDARY_CONTROLS << 32);
	ck_assert_int_eq(vmx_setup_vmcs_config(&caps, &req, &conf, NULL, 0), 0);
	ck_assert(!(conf.cpu_based_exec_ctrl & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS));
}
END_TEST

Suite *vmx_caps_suite(void)
{
	Suite *s = suite_create("vmx_caps");
	TCase *tc = tcase_create("adjust");
	tcase_add_test(tc, adjust_keeps_required_and_default1);
	tcase_add_test(tc, adjust_sets_allowed_optional);
	tcase_add_test(tc, adjust_drops_unsupported_optional);
	tcase_add_test(tc, adjust_fails_on_unsupported_required);
	tcase_add_test(tc, adjust_default1_bit_wins_over_request);
	tcase_add_test(tc, control_msr_uses_true_msrs_when_basic_bit55);
	tcase_add_test(tc, adjust_true_msr_frees_default1_controls);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, config_for_stage04);
	tcase_add_test(tc, config_without_true_msrs_keeps_default1);
	tcase_add_test(tc, config_names_missing_control);
	tcase_add_test(tc, config_ept_needs_secondary_controls);
	tcase_add_test(tc, config_cr8_accesses_exit);
	tcase_add_test(tc, config_vpid_is_optional);
	suite_add_tcase(s, tc);
	return s;
}
