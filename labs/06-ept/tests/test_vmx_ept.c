/* SPDX-License-Identifier: MIT */
/*
 * Exercise 1: what the processor tells minikvm about an EPT violation (the
 * exit qualification, SDM Vol. 3 28.2.1 Table 28-7) turned into the
 * page-fault error code the MMU works with, as Linux's handle_ept_violation
 * does; and the EPT pointer the processor walks from (SDM Vol. 3 25.6.11).
 */
#include <stdio.h>

#include <x86/pgtable.h>

#include "kvm/vmx/vmcs.h"
#include "kvm/vmx/vmx_caps.h"
#include "kvm/vmx/vmx_decode.h"
#include "lab06_tests.h"

#define QUAL_R     EPT_VIOLATION_ACC_READ
#define QUAL_W     EPT_VIOLATION_ACC_WRITE
#define QUAL_X     EPT_VIOLATION_ACC_INSTR
#define QUAL_GVA   EPT_VIOLATION_GVA_IS_VALID
#define QUAL_FINAL EPT_VIOLATION_GVA_TRANSLATED
#define RIGHTS(r)  ((uint64_t)(r) << EPT_VIOLATION_RWX_SHIFT)

struct qual_case {
	const char *what;
	uint64_t qual, error_code;
};

static const struct qual_case qual_cases[] = {
	{ "a read of a page with no EPT entry", QUAL_R | QUAL_GVA | QUAL_FINAL, PFERR_GUEST_FINAL_MASK },
	{ "a write of a page with no EPT entry", QUAL_W | QUAL_GVA | QUAL_FINAL, PFERR_WRITE_MASK | PFERR_GUEST_FINAL_MASK },
	{ "a fetch from a page with no EPT entry", QUAL_X | QUAL_GVA | QUAL_FINAL,
	  PFERR_FETCH_MASK | PFERR_GUEST_FINAL_MASK },
	{ "a write of a read-only page (bit 3: readable)", QUAL_W | RIGHTS(1) | QUAL_GVA | QUAL_FINAL,
	  PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_GUEST_FINAL_MASK },
	{ "a fetch from a readable, writable page (bits 3 and 4)", QUAL_X | RIGHTS(3) | QUAL_GVA | QUAL_FINAL,
	  PFERR_PRESENT_MASK | PFERR_FETCH_MASK | PFERR_GUEST_FINAL_MASK },
	{ "a read of an execute-only page (bit 5 alone)", QUAL_R | RIGHTS(4) | QUAL_GVA | QUAL_FINAL,
	  PFERR_PRESENT_MASK | PFERR_GUEST_FINAL_MASK },
	{ "a read of a guest page table by the processor's walk (bit 7 set, bit 8 clear)", QUAL_R | QUAL_GVA,
	  PFERR_GUEST_PAGE_MASK },
	{ "an access with no guest-linear address (bit 7 clear), e.g. a PDPTE load", QUAL_R, PFERR_GUEST_PAGE_MASK },
	{ "bit 8 without bit 7 (bit 8 means nothing then)", QUAL_R | QUAL_FINAL, PFERR_GUEST_PAGE_MASK },
	/* SDM: the walk's A/D update is a read and a write (bits 0 and 1);
	 * Bochs 2.7 reports bit 1 alone (BOCHS-VMX.md, deviation 3). Both are
	 * the same fault to the MMU. */
	{ "an A/D update of a guest page table, as the SDM reports it (bits 0 and 1)", QUAL_R | QUAL_W | QUAL_GVA,
	  PFERR_WRITE_MASK | PFERR_GUEST_PAGE_MASK },
	{ "an A/D update of a guest page table, as Bochs reports it (bit 1 alone)", QUAL_W | QUAL_GVA,
	  PFERR_WRITE_MASK | PFERR_GUEST_PAGE_MASK },
	{ "NMI unblocking by IRET (bit 12) is no part of the fault", QUAL_W | QUAL_GVA | QUAL_FINAL | (1ull << 12),
	  PFERR_WRITE_MASK | PFERR_GUEST_FINAL_MASK },
};

START_TEST(ex1_violation_error_code_cases)
{
	const struct qual_case *c = &qual_cases[_i];
	uint64_t ec = vmx_ept_violation_error_code(c->qual);
	ck_assert_msg(ec == c->error_code,
		      "vmx_ept_violation_error_code(0x%llx), %s: 0x%llx, expected 0x%llx (SDM Vol. 3 Table 28-7: bits 2:0 "
		      "the access, 5:3 what the entry allowed (any: present), 7 and 8 a final translation or a table access)",
		      (unsigned long long)c->qual, c->what, (unsigned long long)ec, (unsigned long long)c->error_code);
}
END_TEST

/* Every qualification of bits 12:0, against the rule written out once more. */
START_TEST(ex1_violation_error_code_every_qualification)
{
	for (uint64_t q = 0; q < (1u << 13); q++) {
		uint64_t ec = vmx_ept_violation_error_code(q);
		uint64_t want = ((q & QUAL_W) ? PFERR_WRITE_MASK : 0) | ((q & QUAL_X) ? PFERR_FETCH_MASK : 0) |
				((q & EPT_VIOLATION_RWX_MASK) ? PFERR_PRESENT_MASK : 0) |
				((q & QUAL_GVA) && (q & QUAL_FINAL) ? PFERR_GUEST_FINAL_MASK : PFERR_GUEST_PAGE_MASK);
		require(!(ec & PFERR_RSVD_MASK),
			"vmx_ept_violation_error_code(0x%llx) = 0x%llx has PFERR_RSVD_MASK: the MMU would take the violation "
			"for a misconfiguration (its MMIO path)", (unsigned long long)q, (unsigned long long)ec);
		require(!(ec & PFERR_USER_MASK),
			"vmx_ept_violation_error_code(0x%llx) = 0x%llx has PFERR_USER_MASK: an EPT violation says nothing "
			"of the CPL (EPT has no user/supervisor bit)", (unsigned long long)q, (unsigned long long)ec);
		require(ec == want,
			"vmx_ept_violation_error_code(0x%llx) = 0x%llx, expected 0x%llx (SDM Vol. 3 Table 28-7: write bit 1, "
			"fetch bit 2, present if any of bits 5:3, GUEST_FINAL with bits 7 and 8, else GUEST_PAGE)",
			(unsigned long long)q, (unsigned long long)ec, (unsigned long long)want);
	}
}
END_TEST

/* ---- the EPT pointer ------------------------------------------------------------- */

static void check_eptp(uint64_t eptp, uint64_t root, uint64_t cap)
{
	char what[96];
	snprintf(what, sizeof(what), "vmx_construct_eptp(0x%llx, 4, cap 0x%llx) = 0x%llx", (unsigned long long)root,
		 (unsigned long long)cap, (unsigned long long)eptp);
	require((eptp & 7) == VMX_EPTP_MT_WB, "%s: memory type %llu in bits 2:0, expected 6 (write-back; SDM Vol. 3 "
		"25.6.11, and minikvm's tables are ordinary memory)", what, (unsigned long long)(eptp & 7));
	require(((eptp >> VMX_EPTP_PWL_SHIFT) & 7) == 3, "%s: bits 5:3 are %llu, expected 3 (the page-walk length "
		"minus one: 4 levels)", what, (unsigned long long)((eptp >> VMX_EPTP_PWL_SHIFT) & 7));
	require(!!(eptp & VMX_EPTP_AD_ENABLE_BIT) == !!(cap & VMX_EPT_AD_BIT), "%s: bit 6 (A/D enable) is %d; it must "
		"be set exactly when IA32_VMX_EPT_VPID_CAP bit 21 offers the flags (VM entry fails otherwise, SDM Vol. 3 "
		"27.2.1.1)", what, !!(eptp & VMX_EPTP_AD_ENABLE_BIT));
	require(!(eptp & 0xf80), "%s: bits 11:7 are reserved (SDM Vol. 3 25.6.11)", what);
	require((eptp & ~0xfffull) == (root & ~0xfffull), "%s: bits 51:12 must be the root's address 0x%llx", what,
		(unsigned long long)(root & ~0xfffull));
}

START_TEST(ex1_eptp_fields)
{
	static const uint64_t roots[] = { 0x1000, 0x12345000, 0x12345fff, 0x7ffff000, 0xfffff000ull, 0x123456789000ull,
					  0x000ffffffffff000ull };
	static const uint64_t caps[] = { 0, FAKE_MMU_EPT_CAP, FAKE_MMU_EPT_CAP & ~VMX_EPT_AD_BIT, VMX_EPT_AD_BIT,
					 ~0ull, ~VMX_EPT_AD_BIT };
	for (unsigned r = 0; r < sizeof(roots) / sizeof(roots[0]); r++)
		for (unsigned c = 0; c < sizeof(caps) / sizeof(caps[0]); c++)
			check_eptp(vmx_construct_eptp(roots[r], 4, caps[c]), roots[r], caps[c]);
}
END_TEST

START_TEST(ex1_eptp_examples)
{
	uint64_t e = vmx_construct_eptp(0x12345000, 4, 0);
	ck_assert_msg(e == 0x1234501e, "vmx_construct_eptp(0x12345000, 4, no A/D) = 0x%llx, expected 0x1234501e "
		      "(root | 3 << 3 | 6)", (unsigned long long)e);
	e = vmx_construct_eptp(0x12345000, 4, FAKE_MMU_EPT_CAP);
	ck_assert_msg(e == 0x1234505e, "vmx_construct_eptp(0x12345000, 4, Bochs' capabilities) = 0x%llx, expected "
		      "0x1234505e (Bochs offers A/D: bit 6)", (unsigned long long)e);
	e = vmx_construct_eptp(0x12345fff, 4, 0);
	ck_assert_msg(e == 0x1234501e, "vmx_construct_eptp(0x12345fff, ...) = 0x%llx: the root's low 12 bits are not "
		      "the EPTP's (they would set its memory type and walk length)", (unsigned long long)e);
	/* Each capability bit alone: only bit 21 shows. */
	for (int b = 0; b < 64; b++) {
		uint64_t cap = 1ull << b;
		check_eptp(vmx_construct_eptp(0x4000, 4, cap), 0x4000, cap);
	}
}
END_TEST

Suite *vmx_ept_suite(void)
{
	Suite *s = suite_create("vmx_ept");
	TCase *tc = tcase_create("qualification");
	tcase_add_loop_test(tc, ex1_violation_error_code_cases, 0, (int)(sizeof(qual_cases) / sizeof(qual_cases[0])));
	tcase_add_test(tc, ex1_violation_error_code_every_qualification);
	suite_add_tcase(s, tc);
	tc = tcase_create("eptp");
	tcase_add_test(tc, ex1_eptp_fields);
	tcase_add_test(tc, ex1_eptp_examples);
	suite_add_tcase(s, tc);
	return s;
}
