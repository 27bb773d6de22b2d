/* SPDX-License-Identifier: MIT */
/*
 * Exercises 2 and 4: EPT entries as minikvm makes them (kvm/mmu/spte.c) —
 * leaves and links (SDM Vol. 3 29.3.2, Tables 29-1 to 29-6) and MMIO sptes,
 * misconfigured on purpose (29.3.3.1) and carrying a gfn and the memslot
 * generation. Every entry is judged by ept_misconfig_reason(), the SDM's
 * list of misconfigurations written as code, which the first tests here
 * check against the SDM's own cases.
 */
#include <stdio.h>

#include <x86/pgtable.h>

#include "kvm/mmu/spte.h"
#include "kvm/vmx/vmcs.h"
#include "lab06_tests.h"

#define R  VMX_EPT_READABLE_MASK
#define W  VMX_EPT_WRITABLE_MASK
#define X  VMX_EPT_EXECUTABLE_MASK
#define WB (VMX_EPT_MT_WB << VMX_EPT_MT_EPTE_SHIFT)
#define LARGE VMX_EPT_LARGE_PAGE_BIT

static const unsigned maxphyaddrs[] = { 36, 39, 46 };

#define mt(type) ((uint64_t)(type) << VMX_EPT_MT_EPTE_SHIFT)

/* ---- the oracle: ept_misconfig_reason() on the SDM's cases ------------------------------ */

struct oracle_case {
	const char *what;
	uint64_t e;
	int level;
	uint64_t cap;
	unsigned maxphyaddr;
	bool misconfigured;
};

#define ALL ~0ull
static const struct oracle_case oracle_cases[] = {
	{ "an empty entry (not present: a violation, never a misconfiguration)", 0, 1, ALL, 46, false },
	{ "bits 2:0 clear, other bits set (not present)", 0x123456000ull | mt(2) | LARGE, 2, 0, 36, false },
	{ "a 4 KiB leaf R, WB", 0x5000 | R | WB, 1, 0, 36, false },
	{ "a 4 KiB leaf RWX, WB, IPAT, A, D", 0x5000 | R | W | X | WB | VMX_EPT_IPAT_BIT | VMX_EPT_ACCESS_BIT |
	  VMX_EPT_DIRTY_BIT, 1, 0, 36, false },
	{ "W without R (bit 1 set, bit 0 clear), leaf", 0x5000 | W | WB, 1, ALL, 46, true },
	{ "W|X without R, leaf", 0x5000 | W | X | WB, 1, ALL, 46, true },
	{ "W without R, link of a PML4E", 0x5000 | W, 4, ALL, 46, true },
	{ "W without R, link of a PDE", 0x5000 | W | X, 2, ALL, 46, true },
	{ "X only without IA32_VMX_EPT_VPID_CAP bit 0", 0x5000 | X | WB, 1, ALL & ~VMX_EPT_EXECUTE_ONLY_BIT, 46, true },
	{ "X only with IA32_VMX_EPT_VPID_CAP bit 0", 0x5000 | X | WB, 1, VMX_EPT_EXECUTE_ONLY_BIT, 46, false },
	{ "memory type 2 (reserved)", 0x5000 | R | mt(2), 1, ALL, 46, true },
	{ "memory type 3 (reserved)", 0x5000 | R | mt(3), 1, ALL, 46, true },
	{ "memory type 7 (reserved)", 0x5000 | R | mt(7), 1, ALL, 46, true },
	{ "memory type 0 (UC)", 0x5000 | R | mt(0), 1, 0, 46, false },
	{ "memory type 1 (WC)", 0x5000 | R | mt(1), 1, 0, 46, false },
	{ "memory type 4 (WT)", 0x5000 | R | mt(4), 1, 0, 46, false },
	{ "memory type 5 (WP)", 0x5000 | R | mt(5), 1, 0, 46, false },
	{ "a 2 MiB leaf, memory type 3", 0x200000 | R | mt(3) | LARGE, 2, ALL, 46, true },
	{ "a link (PDE) with bit 3 set (bits 7:3 reserved)", 0x5000 | R | W | X | (1ull << 3), 2, ALL, 46, true },
	{ "a link (PDPTE) with bit 6 set", 0x5000 | R | W | X | (1ull << 6), 3, ALL, 46, true },
	{ "a link (PML4E) with bits 5:3 set", 0x5000 | R | W | X | mt(6), 4, ALL, 46, true },
	{ "a link with A (bit 8), allowed", 0x5000 | R | W | X | VMX_EPT_ACCESS_BIT, 3, 0, 46, false },
	{ "PS (bit 7) in a PML4E", 0x5000 | R | W | X | LARGE, 4, ALL, 46, true },
	{ "a 2 MiB leaf with bit 12 set (bits 20:12 reserved)", 0x201000 | R | WB | LARGE, 2, ALL, 46, true },
	{ "a 2 MiB leaf with bit 20 set", 0x300000 | R | WB | LARGE, 2, ALL, 46, true },
	{ "a 2 MiB leaf, aligned", 0x400000 | R | WB | LARGE, 2, VMX_EPT_2MB_PAGE_BIT, 46, false },
	{ "a 2 MiB leaf without IA32_VMX_EPT_VPID_CAP bit 16", 0x400000 | R | WB | LARGE, 2,
	  ALL & ~VMX_EPT_2MB_PAGE_BIT, 46, true },
	{ "a 1 GiB leaf with bit 21 set (bits 29:12 reserved)", 0x40200000 | R | WB | LARGE, 3, ALL, 46, true },
	{ "a 1 GiB leaf, aligned", 0x40000000 | R | WB | LARGE, 3, VMX_EPT_1GB_PAGE_BIT, 46, false },
	{ "a 1 GiB leaf without IA32_VMX_EPT_VPID_CAP bit 17", 0x40000000 | R | WB | LARGE, 3,
	  ALL & ~VMX_EPT_1GB_PAGE_BIT, 46, true },
	{ "a leaf at bit 36 with MAXPHYADDR 36", (1ull << 36) | R | WB, 1, ALL, 36, true },
	{ "a leaf at bit 35 with MAXPHYADDR 36", (1ull << 35) | R | WB, 1, ALL, 36, false },
	{ "a link at bit 45 with MAXPHYADDR 39", (1ull << 45) | R | W | X, 3, ALL, 39, true },
	{ "a leaf at bit 51 with MAXPHYADDR 46", (1ull << 51) | R | WB, 1, ALL, 46, true },
	{ "bits 62:52 and 11:8 are ignored in a leaf", 0x7ff0000000000f00ull | 0x5000 | R | WB, 1, 0, 36, false },
};

START_TEST(ex2_oracle_sdm_cases)
{
	const struct oracle_case *c = &oracle_cases[_i];
	const char *why = ept_misconfig_reason(c->e, c->level, c->cap, c->maxphyaddr);
	ck_assert_msg(!!why == c->misconfigured,
		      "ept_misconfig_reason(0x%llx, level %d, cap 0x%llx, MAXPHYADDR %u), %s: %s%s, expected %s "
		      "(SDM Vol. 3 29.3.3.1)", (unsigned long long)c->e, c->level, (unsigned long long)c->cap, c->maxphyaddr,
		      c->what, why ? "misconfigured: " : "fine", why ? why : "", c->misconfigured ? "misconfigured" : "fine");
	if (why)
		ck_assert_msg(why[0], "a misconfiguration without a reason");
}
END_TEST

/* ---- exercise 2: leaves and links ------------------------------------------------------ */

static const char *acc_name(unsigned access)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "%s%s%s", access & ACC_WRITE_MASK ? "W" : "-", access & ACC_USER_MASK ? "U" : "-",
		 access & ACC_EXEC_MASK ? "X" : "-");
	return buf;
}

static void check_leaf(uint64_t hpa, unsigned access, int level)
{
	uint64_t e = make_ept_leaf_spte(hpa, access, level);
	char what[128];
	snprintf(what, sizeof(what), "make_ept_leaf_spte(0x%llx, %s, level %d) = 0x%llx", (unsigned long long)hpa,
		 acc_name(access), level, (unsigned long long)e);
	require(e & R, "%s: not readable (bit 0): a leaf without R is write-only (misconfigured) or execute-only (needs "
		"IA32_VMX_EPT_VPID_CAP bit 0), SDM Vol. 3 29.3.3.1", what);
	require(!!(e & W) == !!(access & ACC_WRITE_MASK), "%s: W (bit 1) must be set exactly when access has "
		"ACC_WRITE_MASK", what);
	require(!!(e & X) == !!(access & ACC_EXEC_MASK), "%s: X (bit 2) must be set exactly when access has "
		"ACC_EXEC_MASK (EPT has no user/supervisor bit: ACC_USER_MASK is bit 2, X, and means nothing here)", what);
	require((e & VMX_EPT_MT_MASK) == WB, "%s: memory type %llu in bits 5:3, expected 6 (write-back: guest RAM is "
		"ordinary memory)", what, (unsigned long long)((e & VMX_EPT_MT_MASK) >> VMX_EPT_MT_EPTE_SHIFT));
	require(e & VMX_EPT_IPAT_BIT, "%s: IPAT (bit 6) clear: the guest's PAT would combine with WB and could make "
		"RAM uncacheable (SDM Vol. 3 29.3.7.2)", what);
	require(!!(e & LARGE) == (level == 2), "%s: bit 7 must be set in a 2 MiB leaf (level 2) and only there", what);
	require(e & VMX_EPT_ACCESS_BIT, "%s: the accessed flag (bit 8) is clear: with A/D enabled the processor would "
		"write minikvm's table on the first access", what);
	require(!(e & W) || (e & VMX_EPT_DIRTY_BIT), "%s: writable but the dirty flag (bit 9) is clear: the processor "
		"would write minikvm's table on the first write", what);
	require(spte_to_hpa(e) == hpa, "%s: bits 51:12 hold 0x%llx, expected the host page 0x%llx", what,
		(unsigned long long)spte_to_hpa(e), (unsigned long long)hpa);
	require(!(e >> 52), "%s: bits 63:52 set (bit 63 suppresses #VE; nothing here needs them)", what);
	/* What the MMU's common code reads of it (spte.h). */
	require(is_shadow_present_pte(e), "%s: is_shadow_present_pte() says not present", what);
	require(is_writable_pte(e) == !!(access & ACC_WRITE_MASK), "%s: is_writable_pte() says %d", what,
		is_writable_pte(e));
	require(is_large_pte(e) == (level == 2), "%s: is_large_pte() says %d", what, is_large_pte(e));
	for (unsigned m = 0; m < sizeof(maxphyaddrs) / sizeof(maxphyaddrs[0]); m++) {
		if (hpa >> maxphyaddrs[m])
			continue;
		const char *why = ept_misconfig_reason(e, level, FAKE_MMU_EPT_CAP, maxphyaddrs[m]);
		require(!why, "%s: the processor (Bochs' capabilities, MAXPHYADDR %u) finds it misconfigured: %s "
			"(SDM Vol. 3 29.3.3.1)", what, maxphyaddrs[m], why);
	}
}

START_TEST(ex2_leaf_rights_type_and_flags)
{
	static const uint64_t pages[] = { 0, 0x1000, 0x7ffff000, 0x123456000ull, 0xffffffff000ull, 0x3ffffffff000ull };
	static const uint64_t huge[] = { 0, 0x200000, 0x7fe00000, 0x123400000ull, 0xfffffe00000ull, 0x3fffffe00000ull };
	for (unsigned access = 0; access <= ACC_ALL; access++) {
		if (access & ~ACC_ALL)
			continue;
		for (unsigned i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
			check_leaf(pages[i], access, 1);
			check_leaf(huge[i], access, 2);
		}
	}
}
END_TEST

START_TEST(ex2_link_allows_everything)
{
	static const uint64_t tables[] = { 0x1000, 0x7ffff000, 0x123456000ull, 0x3ffffffff000ull };
	for (unsigned i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		uint64_t e = make_ept_nonleaf_spte(tables[i]);
		require((e & VMX_EPT_RWX_MASK) == VMX_EPT_RWX_MASK, "make_ept_nonleaf_spte(0x%llx) = 0x%llx: a link must "
			"allow R, W and X: the processor ANDs the rights of every level (SDM Vol. 3 29.3.3.2), the leaf "
			"decides", (unsigned long long)tables[i], (unsigned long long)e);
		require(spte_to_hpa(e) == tables[i] && !is_large_pte(e) && is_shadow_present_pte(e),
			"make_ept_nonleaf_spte(0x%llx) = 0x%llx: the table's address, present, not large",
			(unsigned long long)tables[i], (unsigned long long)e);
		for (int level = 2; level <= 4; level++)
			for (unsigned m = 0; m < sizeof(maxphyaddrs) / sizeof(maxphyaddrs[0]); m++) {
				if (tables[i] >> maxphyaddrs[m])
					continue;
				const char *why = ept_misconfig_reason(e, level, FAKE_MMU_EPT_CAP, maxphyaddrs[m]);
				require(!why, "make_ept_nonleaf_spte(0x%llx) = 0x%llx at level %d, MAXPHYADDR %u: "
					"misconfigured: %s", (unsigned long long)tables[i], (unsigned long long)e, level,
					maxphyaddrs[m], why);
			}
	}
}
END_TEST

/* ---- exercise 4: MMIO sptes -------------------------------------------------------------- */

static const uint64_t gfns[] = { 0, 1, 0xfee00, 0xfffff, 0x100000, 0xfffffffull, 0x123456789ull, (1ull << 40) - 1 };

START_TEST(ex4_mmio_spte_is_misconfigured)
{
	static const uint64_t caps[] = { 0, FAKE_MMU_EPT_CAP, ~0ull };
	static const unsigned widths[] = { 36, 39, 46, 52 };
	static const uint64_t gens[] = { 0, 1, 0xff, 0x100, 0x5a5a5, MMIO_SPTE_GEN_MASK };
	for (unsigned g = 0; g < sizeof(gfns) / sizeof(gfns[0]); g++)
		for (unsigned n = 0; n < sizeof(gens) / sizeof(gens[0]); n++) {
			uint64_t e = make_mmio_spte(gfns[g], gens[n]);
			for (unsigned c = 0; c < 3; c++)
				for (unsigned m = 0; m < 4; m++)
					require(ept_misconfig_reason(e, 1, caps[c], widths[m]),
						"make_mmio_spte(gfn 0x%llx, generation 0x%llx) = 0x%llx: the processor "
						"(cap 0x%llx, MAXPHYADDR %u) would use it, not exit with an EPT "
						"misconfiguration (SDM Vol. 3 29.3.3.1: write without read)",
						(unsigned long long)gfns[g], (unsigned long long)gens[n],
						(unsigned long long)e, (unsigned long long)caps[c], widths[m]);
			require(!is_shadow_present_pte(e), "make_mmio_spte(gfn 0x%llx) = 0x%llx: bit 0 set: the MMU's "
				"common code would take it for a mapping (is_shadow_present_pte)",
				(unsigned long long)gfns[g], (unsigned long long)e);
			require(is_mmio_spte(e), "is_mmio_spte(make_mmio_spte(gfn 0x%llx, generation 0x%llx) = 0x%llx) "
				"is false", (unsigned long long)gfns[g], (unsigned long long)gens[n], (unsigned long long)e);
		}
}
END_TEST

START_TEST(ex4_is_mmio_spte_only_for_them)
{
	require(!is_mmio_spte(0), "is_mmio_spte(0): an empty entry is not an MMIO spte (it means 'never looked at')");
	for (unsigned access = 0; access <= ACC_ALL; access++)
		for (int level = 1; level <= 2; level++) {
			uint64_t e = make_ept_leaf_spte(0x200000, access, level);
			require(!is_mmio_spte(e), "is_mmio_spte(make_ept_leaf_spte(0x200000, %s, %d) = 0x%llx) is true",
				acc_name(access), level, (unsigned long long)e);
		}
	uint64_t link = make_ept_nonleaf_spte(0x5000);
	require(!is_mmio_spte(link), "is_mmio_spte(a link 0x%llx) is true", (unsigned long long)link);
}
END_TEST

static void round_trip(uint64_t gfn, uint64_t gen)
{
	uint64_t e = make_mmio_spte(gfn, gen);
	require(get_mmio_spte_gfn(e) == gfn && get_mmio_spte_generation(e) == gen && (e & VMX_EPT_RWX_MASK) == (W | X),
		"make_mmio_spte(gfn 0x%llx, generation 0x%llx) = 0x%llx gives back gfn 0x%llx, generation 0x%llx, "
		"bits 2:0 = %llu (expected W|X = 6)", (unsigned long long)gfn, (unsigned long long)gen,
		(unsigned long long)e, (unsigned long long)get_mmio_spte_gfn(e),
		(unsigned long long)get_mmio_spte_generation(e), (unsigned long long)(e & VMX_EPT_RWX_MASK));
}

START_TEST(ex4_generation_round_trips)
{
	/* Every generation an MMIO spte can hold, split over bits 10:3 and 62:52. */
	for (uint64_t gen = 0; gen <= MMIO_SPTE_GEN_MASK; gen++)
		round_trip(0x12345, gen);
}
END_TEST

START_TEST(ex4_gfn_round_trips)
{
	for (unsigned g = 0; g < sizeof(gfns) / sizeof(gfns[0]); g++) {
		round_trip(gfns[g], 0);
		round_trip(gfns[g], MMIO_SPTE_GEN_MASK);
		round_trip(gfns[g], 0x2aaaa);
	}
	for (int b = 0; b < 40; b++) {
		round_trip(1ull << b, 0);
		round_trip(1ull << b, MMIO_SPTE_GEN_MASK);
		round_trip(((1ull << 40) - 1) & ~(1ull << b), 0x55555);
	}
}
END_TEST

START_TEST(ex4_generation_beyond_the_mask_is_truncated)
{
	static const uint64_t beyond[] = { MMIO_SPTE_GEN_MASK + 1, MMIO_SPTE_GEN_MASK + 2, 0x12345678ull,
					   0xffffffffffffffffull, 1ull << 63, (MMIO_SPTE_GEN_MASK + 1) * 7 + 0x10 };
	for (unsigned i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++)
		for (unsigned g = 0; g < sizeof(gfns) / sizeof(gfns[0]); g++) {
			uint64_t e = make_mmio_spte(gfns[g], beyond[i]);
			uint64_t want = make_mmio_spte(gfns[g], beyond[i] & MMIO_SPTE_GEN_MASK);
			require(e == want, "make_mmio_spte(gfn 0x%llx, generation 0x%llx) = 0x%llx, expected 0x%llx, the "
				"spte of the generation's low %d bits: higher bits must go, not spill into the gfn or "
				"bits 2:0", (unsigned long long)gfns[g], (unsigned long long)beyond[i],
				(unsigned long long)e, (unsigned long long)want, MMIO_SPTE_GEN_BITS);
			round_trip(gfns[g], beyond[i] & MMIO_SPTE_GEN_MASK);
		}
}
END_TEST

Suite *spte_suite(void)
{
	Suite *s = suite_create("spte");
	TCase *tc = tcase_create("oracle");
	tcase_add_loop_test(tc, ex2_oracle_sdm_cases, 0, (int)(sizeof(oracle_cases) / sizeof(oracle_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("ept-entries");
	tcase_add_test(tc, ex2_leaf_rights_type_and_flags);
	tcase_add_test(tc, ex2_link_allows_everything);
	suite_add_tcase(s, tc);
	tc = tcase_create("mmio-sptes");
	tcase_add_test(tc, ex4_mmio_spte_is_misconfigured);
	tcase_add_test(tc, ex4_is_mmio_spte_only_for_them);
	tcase_add_test(tc, ex4_generation_round_trips);
	tcase_add_test(tc, ex4_gfn_round_trips);
	tcase_add_test(tc, ex4_generation_beyond_the_mask_is_truncated);
	suite_add_tcase(s, tc);
	return s;
}
