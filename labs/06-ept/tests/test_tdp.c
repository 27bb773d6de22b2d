/* SPDX-License-Identifier: MIT */
/*
 * Exercises 2-4 through the TDP MMU (kvm/mmu/mmu.c), built hosted with
 * grader/unittest/fake_mmu_host.c around it and EPT configured as vmx.c
 * configures it on Bochs (kvm_configure_mmu(true, 2): 2 MiB pages). The test
 * plays the processor: it walks the EPT tables from root_hpa for each
 * guest-physical access (fake_mmu_ept_xlate, every entry judged by
 * ept_misconfig_reason), and hands what the processor would report to the
 * MMU the way vmx.c does: an EPT violation's qualification through
 * vmx_ept_violation_error_code() to kvm_mmu_page_fault(), an EPT
 * misconfiguration as PFERR_RSVD_MASK. Then it checks what a student
 * would: the host page, the level, the rights, the MMIO sptes and their
 * generation, the dirty log, the root.
 */
#include <stdio.h>
#include <string.h>

#include <x86/pgtable.h>

#include "fake_mmu_host.h"
#include "kvm/mmu/mmu.h"
#include "kvm/mmu/mmu_internal.h"
#include "kvm/mmu/spte.h"
#include "kvm/vmx/vmcs.h"
#include "kvm/vmx/vmx_decode.h"
#include "kvmlabs/host_kernel.h"
#include "lab06_tests.h"

#define RD EPT_VIOLATION_ACC_READ
#define WR EPT_VIOLATION_ACC_WRITE
#define EX EPT_VIOLATION_ACC_INSTR
#define MIB2 (2ull << 20)

#define RAM_PAGES 1024ull              /* 4 MiB at gpa 0: two 2 MiB pages; the bound on pages is 64 */
#define MMIO_GPA  0xfee00000ull        /* no slot there */

enum outcome { MAPPED, EMULATED, INTERNAL_ERROR };
static const char *const outcome_names[] = { "mapped", "sent to the emulator", "an internal error" };

/* What one access cost: the exits the processor took, the faults the MMU saw. */
struct trip {
	enum outcome outcome;
	struct fake_mmu_ept_xlate x;   /* MAPPED: the translation the access used */
	int violations, misconfigs;
	uint64_t memslot_lookups;      /* gfn_to_memslot() calls during the MMU's handling */
};

static const char *access_name(unsigned access)
{
	return access & WR ? "write" : access & EX ? "fetch" : "read";
}

/* Before an entry, as vcpu_enter_guest() (fake_mmu_enter), and what the test wants of it. */
static void enter(struct kvm_vcpu *vcpu)
{
	int r = fake_mmu_enter(vcpu);
	require(r == 1, "kvm_mmu_load() returned %d under TDP (mmu_alloc_direct_roots)", r);
	require(vcpu->arch.mmu->tdp && VALID_PAGE(vcpu->arch.mmu->root_hpa) && vcpu->arch.mmu->root_level == 4,
		"after kvm_mmu_load() under EPT: context '%s', root_hpa 0x%llx, root_level %d; expected the TDP context "
		"with a 4-level root", vcpu->arch.mmu->name, (unsigned long long)vcpu->arch.mmu->root_hpa,
		vcpu->arch.mmu->root_level);
}

/* The guest accesses gpa: the processor walks the EPT tables, minikvm handles
 * each exit as vmx.c does, until the access completes or leaves minikvm. */
static struct trip ept_access(struct kvm_vcpu *vcpu, uint64_t gpa, unsigned access)
{
	struct trip t = { 0 };
	for (int tries = 0; tries < 6; tries++) {
		enter(vcpu);
		t.x = fake_mmu_ept_xlate(vcpu, gpa, access, EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED);
		if (t.x.result == FAKE_EPT_MAPPED) {
			t.outcome = MAPPED;
			return t;
		}
		uint64_t ec;
		if (t.x.result == FAKE_EPT_MISCONFIG) {
			/* minikvm makes one kind of misconfigured entry: the MMIO spte, a leaf. */
			require(t.x.level == 1 && is_mmio_spte(t.x.spte),
				"gpa 0x%llx %s: the processor finds the level-%d EPT entry 0x%llx misconfigured (%s; SDM Vol. 3 "
				"29.3.3.1), and it is no MMIO spte", (unsigned long long)gpa, access_name(access), t.x.level,
				(unsigned long long)t.x.spte, t.x.misconfig);
			t.misconfigs++;
			ec = PFERR_RSVD_MASK;     /* handle_ept_misconfig */
		} else {
			t.violations++;
			ec = vmx_ept_violation_error_code(t.x.qual);
		}
		struct fake_mmu_calls before = fake_mmu_calls;
		int r = kvm_mmu_page_fault(vcpu, gpa, ec);
		t.memslot_lookups += fake_mmu_calls.gfn_to_memslot - before.gfn_to_memslot;
		if (fake_mmu_calls.internal_error != before.internal_error) {
			t.outcome = INTERNAL_ERROR;
			return t;
		}
		if (fake_mmu_calls.emulate != before.emulate) {
			require(fake_mmu_calls.emulate_gpa == gpa, "gpa 0x%llx %s: the emulator was given 0x%llx",
				(unsigned long long)gpa, access_name(access), (unsigned long long)fake_mmu_calls.emulate_gpa);
			t.outcome = EMULATED;
			return t;
		}
		require(r == 1, "gpa 0x%llx %s: kvm_mmu_page_fault(error code 0x%llx) returned %d without an exit",
			(unsigned long long)gpa, access_name(access), (unsigned long long)ec, r);
	}
	ck_abort_msg("gpa 0x%llx %s: still an EPT violation or misconfiguration after 6 faults handled with 'retry': "
		     "no progress", (unsigned long long)gpa, access_name(access));
	return t;
}

/* The access completed through the host page of gpa, at level. */
static struct trip expect_mapped(struct kvm_vcpu *vcpu, uint64_t gpa, unsigned access, int level, const char *why)
{
	struct trip t = ept_access(vcpu, gpa, access);
	require(t.outcome == MAPPED, "gpa 0x%llx %s (%s): %s, expected it mapped", (unsigned long long)gpa,
		access_name(access), why, outcome_names[t.outcome]);
	void *hva = fake_mmu_gpa_to_hva(vcpu->kvm, gpa);
	require(t.x.hpa == host_virt_to_phys(hva), "gpa 0x%llx %s (%s): the EPT tables give host 0x%llx, the memslot's "
		"page is at host 0x%llx", (unsigned long long)gpa, access_name(access), why, (unsigned long long)t.x.hpa,
		(unsigned long long)host_virt_to_phys(hva));
	require(level == 0 || t.x.level == level, "gpa 0x%llx %s (%s): mapped by a level-%d leaf (%s), expected level "
		"%d (%s)", (unsigned long long)gpa, access_name(access), why, t.x.level, t.x.level == 2 ? "2 MiB" : "4 KiB",
		level, level == 2 ? "2 MiB" : "4 KiB");
	return t;
}

static struct trip expect_outcome(struct kvm_vcpu *vcpu, uint64_t gpa, unsigned access, enum outcome want,
				  const char *why)
{
	struct trip t = ept_access(vcpu, gpa, access);
	require(t.outcome == want, "gpa 0x%llx %s (%s): %s, expected %s", (unsigned long long)gpa, access_name(access),
		why, outcome_names[t.outcome], outcome_names[want]);
	return t;
}

/* The EPT entries the processor stops at for gpa (no access: it reads nothing). */
static struct fake_mmu_ept_xlate ept_lookup(struct kvm_vcpu *vcpu, uint64_t gpa)
{
	return fake_mmu_ept_xlate(vcpu, gpa, 0, 0);
}

/* The largest EPT leaf of the test's VM (kvm_configure_mmu). */
static int vm_tdp_max_level;

static struct kvm_vcpu *tdp_vm(int max_level)
{
	vm_tdp_max_level = max_level;
	struct kvm_vcpu *vcpu = fake_mmu_tdp_vm_create(RAM_PAGES, max_level);
	require(vcpu->arch.mmu->tdp, "with EPT on, kvm_init_mmu() chose the '%s' context, not TDP",
		vcpu->arch.mmu->name);
	return vcpu;
}

static void vm_done(struct kvm_vcpu *vcpu)
{
	fake_mmu_vm_destroy(vcpu);
	require(fake_mmu_pages_live() == 0, "%u host pages not given back when the VM was destroyed",
		fake_mmu_pages_live());
}

/* Every EPT entry reachable from the root (fake_mmu_check_ept_tree). */
static void check_tree(struct kvm_vcpu *vcpu, const char *when)
{
	fake_mmu_check_ept_tree(vcpu, vm_tdp_max_level, when);
}

/* ---- exercise 2: the largest leaf a slot allows (tdp_max_mapping_level) ---------------- */

START_TEST(ex2_max_mapping_level_ram)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	/* Slot 0: 4 MiB at gpa 0, host memory on a 2 MiB boundary. */
	expect_mapped(vcpu, 0x1000, RD, 2, "RAM of a 2 MiB-aligned slot");
	expect_mapped(vcpu, 0x3ff000, RD, 2, "the last page of RAM, the second 2 MiB page");
	ck_assert_msg(vcpu->kvm->arch.stat.pages_2m == 2 && vcpu->kvm->arch.stat.pages_4k == 0,
		      "pages_2m %llu, pages_4k %llu after two faults in two 2 MiB pages of RAM",
		      (unsigned long long)vcpu->kvm->arch.stat.pages_2m, (unsigned long long)vcpu->kvm->arch.stat.pages_4k);
	/* Another page of the same 2 MiB: no fault at all. */
	struct trip t = expect_mapped(vcpu, 0x1ff000, WR, 2, "another page of the first 2 MiB");
	ck_assert_msg(t.violations == 0, "gpa 0x1ff000: %d EPT violations, though its 2 MiB page was mapped", t.violations);
	check_tree(vcpu, "after 2 MiB mappings");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex2_max_mapping_level_slot_edges)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	/* Slot 1: gfn 0x1000 .. 0x12ff, the first 2 MiB whole, the second only 0x100 pages. */
	fake_mmu_add_slot(vcpu->kvm, 1, 0x1000, 0x300, 0);
	expect_mapped(vcpu, 0x1000000, RD, 2, "the first page of a slot's whole 2 MiB");
	expect_mapped(vcpu, 0x11ff000, RD, 2, "the last page of that 2 MiB");
	expect_mapped(vcpu, 0x1200000, RD, 1, "a slot that ends inside the 2 MiB page");
	expect_mapped(vcpu, 0x12ff000, RD, 1, "the slot's last page, the 2 MiB page beyond it is half outside");
	/* Slot 2: gfn 0x2100 .. 0x23ff: the 2 MiB at 0x2000 starts before it. */
	fake_mmu_add_slot(vcpu->kvm, 2, 0x2100, 0x300, 0);
	expect_mapped(vcpu, 0x2100000, RD, 1, "a slot that starts inside the 2 MiB page");
	/* ...and the 2 MiB at 0x2200 is in it, but its host memory starts on a
	 * 2 MiB boundary 0x100 pages before gfn 0x2200's: not aligned alike. */
	expect_mapped(vcpu, 0x2200000, RD, 1, "a whole 2 MiB of the slot whose host memory is aligned otherwise");
	check_tree(vcpu, "at the slots' edges");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex2_max_mapping_level_host_alignment)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	/* Host memory 0x100 pages after a 2 MiB boundary, like gfn 0x2100: gfn
	 * 0x2200 and its host page both start a 2 MiB page. */
	fake_mmu_add_slot_skewed(vcpu->kvm, 1, 0x2100, 0x300, 0, 0x100);
	expect_mapped(vcpu, 0x2200000, RD, 2, "a whole 2 MiB of the slot, host memory aligned alike");
	expect_mapped(vcpu, 0x2100000, RD, 1, "the first 2 MiB, only half in the slot");
	/* Skewed by one page: never 2 MiB. */
	fake_mmu_add_slot_skewed(vcpu->kvm, 2, 0x4000, 0x400, 0, 1);
	expect_mapped(vcpu, 0x4000000, RD, 1, "a 2 MiB-aligned slot whose host memory starts one page after a boundary");
	expect_mapped(vcpu, 0x4200000, RD, 1, "its second 2 MiB");
	check_tree(vcpu, "after skewed slots");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex2_max_mapping_level_dirty_log)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	fake_mmu_add_slot(vcpu->kvm, 1, 0x1000, 0x400, KVM_MEM_LOG_DIRTY_PAGES);
	expect_mapped(vcpu, 0x1000000, RD, 1, "a dirty-logged slot (a 2 MiB leaf would log 512 pages at once)");
	expect_mapped(vcpu, 0x1200000, WR, 1, "a write to a dirty-logged slot");
	check_tree(vcpu, "in a dirty-logged slot");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex2_max_mapping_level_without_2mib_pages)
{
	/* IA32_VMX_EPT_VPID_CAP without bit 16: vmx.c configures the MMU with 1. */
	struct kvm_vcpu *vcpu = tdp_vm(1);
	expect_mapped(vcpu, 0x1000, RD, 1, "EPT without 2 MiB pages");
	expect_mapped(vcpu, 0x200000, WR, 1, "EPT without 2 MiB pages, the second 2 MiB");
	ck_assert_msg(vcpu->kvm->arch.stat.pages_2m == 0, "pages_2m %llu without 2 MiB pages",
		      (unsigned long long)vcpu->kvm->arch.stat.pages_2m);
	check_tree(vcpu, "without 2 MiB pages");
	vm_done(vcpu);
}
END_TEST

/* ---- exercise 3: the fault path and the root ---------------------------------------------- */

START_TEST(ex3_fault_maps_ram)
{
	struct kvm_vcpu *vcpu = tdp_vm(1);
	enter(vcpu);
	struct kvm_mmu_page *root = spte_to_child_sp(vcpu->kvm, vcpu->arch.mmu->root_hpa);
	ck_assert_msg(root && root->role.direct && root->role.level == 4 && root->root_count == 1,
		      "the EPT root: a shadow page %s, direct %d, level %d, root_count %d; expected a direct level-4 page "
		      "held once (mmu_alloc_direct_roots)", root ? "found" : "not found", root ? root->role.direct : -1,
		      root ? (int)root->role.level : -1, root ? root->root_count : -1);
	ck_assert_msg(fake_mmu_calls.load_pgd >= 1 && fake_mmu_calls.pgd_root == vcpu->arch.mmu->root_hpa &&
			      fake_mmu_calls.pgd_level == 4,
		      "the processor was not given the EPT root (load_mmu_pgd: %d calls, root 0x%llx level %d)",
		      fake_mmu_calls.load_pgd, (unsigned long long)fake_mmu_calls.pgd_root, fake_mmu_calls.pgd_level);
	ck_assert_msg(fake_mmu_calls.flush_tlb >= 1 || (vcpu->requests & (1u << KVM_REQ_TLB_FLUSH)),
		      "a new EPT root without a TLB flush (KVM_REQ_TLB_FLUSH): the processor may still cache translations "
		      "of an EPTP with that address (INVEPT, SDM Vol. 3 29.4.3.1)");
	unsigned used = vcpu->kvm->arch.n_used_mmu_pages;
	struct trip t = expect_mapped(vcpu, 0x5000, RD, 1, "a read of RAM");
	ck_assert_msg(t.violations == 1, "a read of RAM took %d EPT violations: one fault must build the whole path",
		      t.violations);
	ck_assert_msg(vcpu->kvm->arch.n_used_mmu_pages == used + 3, "the first fault made %u EPT pages, expected 3 (PDPT, "
		      "PD, PT under the root)", vcpu->kvm->arch.n_used_mmu_pages - used);
	ck_assert_msg(t.x.rwx == 7, "RAM mapped with rights %u (R=1 W=2 X=4): a read fault of a writable slot maps "
		      "R, W and X at once", t.x.rwx);
	t = expect_mapped(vcpu, 0x5000, WR, 1, "a write after the read");
	ck_assert_msg(t.violations == 0, "a write after the read took %d EPT violations", t.violations);
	t = expect_mapped(vcpu, 0x5000, EX, 1, "a fetch");
	ck_assert_msg(t.violations == 0, "a fetch after the read took %d EPT violations", t.violations);
	expect_mapped(vcpu, 0x6000, WR, 1, "a write of the next page");
	expect_mapped(vcpu, 0x3ff000, EX, 1, "a fetch from RAM's last page");
	ck_assert_msg(vcpu->kvm->arch.stat.pf_fixed == 3, "pf_fixed %llu after three faults",
		      (unsigned long long)vcpu->kvm->arch.stat.pf_fixed);
	/* Each level-1 leaf of RAM is on its gfn's rmap (the dirty log needs them). */
	struct kvm_memory_slot *s = &vcpu->kvm->memslots[0];
	ck_assert_msg(pte_list_count(&s->arch.rmap[5]) == 1 && pte_list_count(&s->arch.rmap[0x3ff]) == 1,
		      "the rmaps of gfns 5 and 0x3ff hold %u and %u sptes, expected 1 each", pte_list_count(&s->arch.rmap[5]),
		      pte_list_count(&s->arch.rmap[0x3ff]));
	check_tree(vcpu, "after faults on RAM");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex3_fault_at_high_gpas)
{
	/* Every level's index: gpas whose PML4, PDPT, PD and PT indexes all differ. */
	struct kvm_vcpu *vcpu = tdp_vm(2);
	static const uint64_t bases[] = { 0x8000000000ull, 0x40000000ull, 0x7fc0000000ull, 0xff8000000000ull };
	for (int i = 0; i < 4; i++) {
		fake_mmu_add_slot(vcpu->kvm, 1 + i, bases[i] >> 12, 0x400, 0);
		char why[64];
		snprintf(why, sizeof(why), "slot %d at gpa 0x%llx", 1 + i, (unsigned long long)bases[i]);
		expect_mapped(vcpu, bases[i] + 0x3000, WR, 2, why);
		expect_mapped(vcpu, bases[i] + 0x3ff000, RD, 2, why);
	}
	for (int i = 0; i < 4; i++)
		expect_mapped(vcpu, bases[i] + 0x201000, EX, 2, "each slot again, nothing lost");
	check_tree(vcpu, "after slots far apart");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex3_read_only_slot)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	fake_mmu_add_slot(vcpu->kvm, 1, 0x1000, 16, KVM_MEM_READONLY);
	struct trip t = expect_mapped(vcpu, 0x1003000, RD, 0, "a read of a read-only slot");
	ck_assert_msg(!(t.x.rwx & VMX_EPT_WRITABLE_MASK), "a page of a read-only slot is writable in the EPT tables "
		      "(rights %u)", t.x.rwx);
	int emu = fake_mmu_calls.emulate;
	t = expect_outcome(vcpu, 0x1003000, WR, EMULATED, "a write to a read-only slot (KVM_EXIT_MMIO through the emulator)");
	ck_assert_int_eq(fake_mmu_calls.emulate, emu + 1);
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, 0x1003000);
	ck_assert_msg(x.result == FAKE_EPT_MAPPED && !(x.rwx & VMX_EPT_WRITABLE_MASK),
		      "after a write to a read-only slot its page is %s", x.result == FAKE_EPT_MAPPED ? "writable" : "unmapped");
	t = expect_outcome(vcpu, 0x100f000, WR, EMULATED, "a first access that writes a read-only slot");
	x = ept_lookup(vcpu, 0x100f000);
	ck_assert_msg(x.result != FAKE_EPT_MAPPED || !(x.rwx & VMX_EPT_WRITABLE_MASK),
		      "a write to a read-only slot made its page writable");
	check_tree(vcpu, "after a read-only slot");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex3_large_leaf_replaced_when_logged)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	expect_mapped(vcpu, 0x201000, WR, 2, "RAM's second 2 MiB");
	/* KVM_SET_USER_MEMORY_REGION: slot 0 now logs its writes. */
	fake_mmu_set_slot(kvm, 0, 0, KVM_MEM_LOG_DIRTY_PAGES);
	struct trip t = expect_mapped(vcpu, 0x201000, RD, 1, "a read after logging was turned on");
	ck_assert_msg(!(t.x.rwx & VMX_EPT_WRITABLE_MASK), "a logged page is writable after a read: its first write would "
		      "not be logged");
	expect_mapped(vcpu, 0x202000, WR, 1, "a write to another page of the old 2 MiB page");
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, 0x203000);
	int level = x.level;
	ck_assert_msg(x.result == FAKE_EPT_VIOLATION && level == 1, "gpa 0x203000, never touched since logging began: "
		      "the walk stops at level %d (%s); expected a missing level-1 entry under a table", level,
		      x.result == FAKE_EPT_MAPPED ? "mapped" : "not mapped");
	/* Pages 0x201 (read) and 0x202 (written) share bitmap word 8. */
	ck_assert_msg(kvm->memslots[0].dirty_bitmap[0x200 / 64] == 1ull << (0x202 % 64),
		      "the dirty log after a read of page 0x201 and a write of 0x202: word 8 is 0x%llx, expected 0x4",
		      (unsigned long long)kvm->memslots[0].dirty_bitmap[0x200 / 64]);
	/* Logging off again: 2 MiB pages come back. */
	fake_mmu_set_slot(kvm, 0, 0, 0);
	expect_mapped(vcpu, 0x201000, WR, 2, "after logging was turned off");
	check_tree(vcpu, "after logging on and off");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex3_dirty_log)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	struct kvm_memory_slot *slot = fake_mmu_add_slot(kvm, 1, 0x1000, 32, KVM_MEM_LOG_DIRTY_PAGES);
	uint64_t base = 0x1000000, other = 0x20000;
	expect_mapped(vcpu, other, WR, 0, "a write to slot 0");
	for (unsigned i = 0; i < 8; i++) {
		struct trip t = expect_mapped(vcpu, base + i * 4096ull, RD, 1, "a read of a logged page");
		ck_assert_msg(!(t.x.rwx & VMX_EPT_WRITABLE_MASK), "logged page %u is writable after a read: its first "
			      "write would not be logged", i);
	}
	ck_assert_msg(slot->dirty_bitmap[0] == 0, "reads made pages dirty (bitmap 0x%llx)",
		      (unsigned long long)slot->dirty_bitmap[0]);
	for (unsigned i = 0; i < 8; i += 2) {
		struct trip t = expect_mapped(vcpu, base + i * 4096ull, WR, 1, "a write to a logged page");
		ck_assert_msg(t.violations == 1, "the write to logged page %u took %d EPT violations, expected 1", i,
			      t.violations);
	}
	ck_assert_msg(slot->dirty_bitmap[0] == 0x55, "after writes to pages 0, 2, 4, 6 the dirty bitmap is 0x%llx",
		      (unsigned long long)slot->dirty_bitmap[0]);
	check_tree(vcpu, "after logged writes");
	/* KVM_GET_DIRTY_LOG takes the log and write-protects the slot again
	 * (then the kit's kvm_arch_sync_dirty_log() flushes: INVEPT). */
	slot->dirty_bitmap[0] = 0;
	enter(vcpu);
	kvm_mmu_slot_remove_write_access(kvm, slot);
	for (unsigned i = 0; i < 8; i++) {
		struct fake_mmu_ept_xlate x = ept_lookup(vcpu, base + i * 4096ull);
		ck_assert_msg(x.result != FAKE_EPT_MAPPED || !(x.rwx & VMX_EPT_WRITABLE_MASK),
			      "logged page %u is still writable after the log was taken", i);
	}
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, other);
	ck_assert_msg(x.result == FAKE_EPT_MAPPED && (x.rwx & VMX_EPT_WRITABLE_MASK),
		      "write-protecting slot 1 took W from a page of slot 0");
	expect_mapped(vcpu, base + 2 * 4096ull, WR, 1, "a write after the log was taken");
	ck_assert_msg(slot->dirty_bitmap[0] == 0x4, "after one write to page 2 the dirty bitmap is 0x%llx",
		      (unsigned long long)slot->dirty_bitmap[0]);
	check_tree(vcpu, "after the dirty log");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex3_root_shared_by_vcpus)
{
	struct kvm_vcpu *a = tdp_vm(2);
	struct kvm *kvm = a->kvm;
	struct kvm_vcpu *b = fake_mmu_vcpu_create(kvm, 1);
	enter(a);
	enter(b);
	ck_assert_msg(a->arch.mmu->root_hpa == b->arch.mmu->root_hpa, "two vCPUs of one VM have EPT roots 0x%llx and "
		      "0x%llx: the VM has one EPT tree (guest-physical memory is the VM's)",
		      (unsigned long long)a->arch.mmu->root_hpa, (unsigned long long)b->arch.mmu->root_hpa);
	struct kvm_mmu_page *root = spte_to_child_sp(kvm, a->arch.mmu->root_hpa);
	ck_assert_msg(root->root_count == 2, "the shared root's root_count is %d with two vCPUs using it", root->root_count);
	expect_mapped(a, 0x7000, WR, 0, "vCPU 0 maps a page");
	struct trip t = expect_mapped(b, 0x7000, WR, 0, "vCPU 1, the same page");
	ck_assert_msg(t.violations == 0, "vCPU 1 took %d EPT violations for a page vCPU 0 mapped", t.violations);
	/* Every page zapped (a memslot deleted, say) while both hold the root. */
	unsigned live = fake_mmu_pages_live();
	kvm_mmu_zap_all(kvm);
	ck_assert_msg(root->role.invalid, "a zapped root still in use must stay, marked invalid, until let go");
	ck_assert_msg(a->requests & (1u << KVM_REQ_MMU_RELOAD), "the root of vCPU 0 was zapped without KVM_REQ_MMU_RELOAD");
	unsigned after_zap = fake_mmu_pages_live();
	ck_assert_msg(after_zap < live, "zapping every page freed nothing");
	kvm_mmu_unload(a);
	ck_assert_msg(fake_mmu_pages_live() == after_zap, "the root was freed while vCPU 1 still holds it");
	kvm_mmu_unload(b);
	ck_assert_msg(fake_mmu_pages_live() == after_zap - 1, "the last vCPU let the invalid root go, yet it was not "
		      "freed (%u host pages, expected %u)", fake_mmu_pages_live(), after_zap - 1);
	/* Both load a new root: again one. */
	expect_mapped(b, 0x7000, RD, 0, "vCPU 1 after the zap");
	expect_mapped(a, 0x7000, RD, 0, "vCPU 0 after the zap");
	ck_assert_msg(a->arch.mmu->root_hpa == b->arch.mmu->root_hpa, "after the zap the vCPUs have two roots");
	/* vCPU 1 goes first: the root stays for vCPU 0. */
	fake_mmu_vcpu_destroy(b);
	root = spte_to_child_sp(kvm, a->arch.mmu->root_hpa);
	ck_assert_msg(root && root->root_count == 1, "after vCPU 1 was destroyed the root's root_count is %d, expected 1",
		      root ? root->root_count : -1);
	expect_mapped(a, 0x8000, WR, 0, "vCPU 0 after vCPU 1 was destroyed");
	check_tree(a, "after a vCPU went");
	vm_done(a);
}
END_TEST

START_TEST(ex3_pages_stay_bounded)
{
	/* 200 MMIO gpas 2 MiB apart: a level-1 EPT page each, far more than the bound (64). */
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	unsigned max = kvm->arch.n_max_mmu_pages;
	for (unsigned i = 0; i < 200; i++) {
		uint64_t gpa = 0x100000000ull + i * MIB2 * 3;
		expect_outcome(vcpu, gpa, RD, EMULATED, "MMIO, one EPT page per 2 MiB");
		require(kvm->arch.n_used_mmu_pages <= max, "after %u MMIO gpas: %u EPT pages, bound %u", i + 1,
			kvm->arch.n_used_mmu_pages, max);
	}
	ck_assert_msg(kvm->arch.stat.mmu_recycled > 0, "200 EPT pages under a bound of %u, yet nothing was reclaimed", max);
	expect_mapped(vcpu, 0x5000, WR, 0, "RAM after the reclaim");
	check_tree(vcpu, "after the bound was reached");
	vm_done(vcpu);
}
END_TEST

/* ---- exercise 4: MMIO sptes and their generation -------------------------------------------- */

START_TEST(ex4_mmio_spte_then_fast_path)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	struct trip t = expect_outcome(vcpu, MMIO_GPA, RD, EMULATED, "a read of a gpa without a memslot");
	ck_assert_msg(t.violations == 1 && t.misconfigs == 0, "the first MMIO access: %d violations, %d misconfigurations; "
		      "expected one EPT violation", t.violations, t.misconfigs);
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, MMIO_GPA);
	ck_assert_msg(x.result == FAKE_EPT_MISCONFIG && x.level == 1 && is_mmio_spte(x.spte),
		      "after an MMIO access the processor finds %s at level %d (entry 0x%llx); expected a misconfigured "
		      "level-1 MMIO spte (make_mmio_spte)", x.result == FAKE_EPT_MAPPED ? "a mapping" :
		      x.result == FAKE_EPT_VIOLATION ? "nothing" : "a misconfiguration", x.level, (unsigned long long)x.spte);
	ck_assert_msg(get_mmio_spte_gfn(x.spte) == MMIO_GPA >> 12 &&
			      get_mmio_spte_generation(x.spte) == (kvm->memslots_generation & MMIO_SPTE_GEN_MASK),
		      "the MMIO spte 0x%llx holds gfn 0x%llx, generation 0x%llx; expected gfn 0x%llx, generation 0x%llx",
		      (unsigned long long)x.spte, (unsigned long long)get_mmio_spte_gfn(x.spte),
		      (unsigned long long)get_mmio_spte_generation(x.spte), (unsigned long long)(MMIO_GPA >> 12),
		      (unsigned long long)(kvm->memslots_generation & MMIO_SPTE_GEN_MASK));
	ck_assert_msg(kvm->arch.stat.pf_mmio_spte_created == 1, "pf_mmio_spte_created %llu",
		      (unsigned long long)kvm->arch.stat.pf_mmio_spte_created);
	/* The second access: a misconfiguration, and the MMU knows at once. */
	for (int i = 0; i < 3; i++) {
		t = expect_outcome(vcpu, MMIO_GPA + 8 * i, i == 1 ? WR : RD, EMULATED, "MMIO again: the fast path");
		ck_assert_msg(t.misconfigs == 1 && t.violations == 0, "MMIO again: %d misconfigurations, %d violations; "
			      "expected one EPT misconfiguration", t.misconfigs, t.violations);
		ck_assert_msg(t.memslot_lookups == 0, "the MMIO fast path looked for a memslot %llu times: an MMIO spte of "
			      "the current generation says MMIO by itself (handle_mmio_page_fault)",
			      (unsigned long long)t.memslot_lookups);
	}
	ck_assert_msg(kvm->arch.stat.pf_mmio_spte_created == 1, "pf_mmio_spte_created %llu after the fast path made "
		      "more", (unsigned long long)kvm->arch.stat.pf_mmio_spte_created);
	/* Its neighbours in the same 2 MiB of RAM-less space get MMIO sptes of their own. */
	expect_outcome(vcpu, MMIO_GPA + 0x1000, WR, EMULATED, "the next MMIO page");
	x = ept_lookup(vcpu, MMIO_GPA + 0x1000);
	ck_assert_msg(x.result == FAKE_EPT_MISCONFIG && get_mmio_spte_gfn(x.spte) == (MMIO_GPA >> 12) + 1,
		      "the next MMIO page has no MMIO spte of its own");
	check_tree(vcpu, "after MMIO sptes");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex4_stale_mmio_spte_is_dropped)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	uint64_t gpa = 0x2000000;   /* gfn 0x2000: no slot yet */
	expect_outcome(vcpu, gpa, RD, EMULATED, "a gpa without a memslot");
	/* RAM plugged in there: a new slot zaps nothing, the generation moves on. */
	fake_mmu_add_slot(kvm, 1, 0x2000, 0x200, 0);
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, gpa);
	ck_assert_msg(x.result == FAKE_EPT_MISCONFIG && is_mmio_spte(x.spte), "test: the old MMIO spte is gone before "
		      "the access (kvm_mmu_invalidate_mmio_sptes zapped?)");
	enter(vcpu);
	int r = vcpu->arch.mmu->page_fault(vcpu, gpa, PFERR_RSVD_MASK);
	ck_assert_msg(r == RET_PF_RETRY, "an EPT misconfiguration on an MMIO spte of an older generation: page_fault "
		      "returned %d, expected RET_PF_RETRY (%d): drop it and let the access fault again (RAM may be there now)",
		      r, RET_PF_RETRY);
	x = ept_lookup(vcpu, gpa);
	ck_assert_msg(x.result == FAKE_EPT_VIOLATION && x.spte == 0, "after RET_PF_RETRY the stale MMIO spte is still "
		      "there (0x%llx)", (unsigned long long)x.spte);
	struct trip t = expect_mapped(vcpu, gpa, WR, 0, "the gpa after RAM was plugged in");
	ck_assert_msg(t.misconfigs == 0 && t.violations == 1, "%d misconfigurations, %d violations", t.misconfigs,
		      t.violations);
	/* The same through the processor's eyes: an MMIO spte, then an unrelated
	 * slot comes: the next access is judged afresh and still MMIO. */
	uint64_t mmio = 0x3000000;
	expect_outcome(vcpu, mmio, RD, EMULATED, "another gpa without a memslot");
	fake_mmu_add_slot(kvm, 2, 0x4000, 16, 0);
	t = expect_outcome(vcpu, mmio, RD, EMULATED, "the same gpa after an unrelated slot came");
	ck_assert_msg(t.misconfigs == 1 && t.violations == 1, "after a memslot change: %d misconfigurations, %d "
		      "violations; expected the stale MMIO spte's misconfiguration, then a violation that makes a new one",
		      t.misconfigs, t.violations);
	x = ept_lookup(vcpu, mmio);
	ck_assert_msg(x.result == FAKE_EPT_MISCONFIG &&
			      get_mmio_spte_generation(x.spte) == (kvm->memslots_generation & MMIO_SPTE_GEN_MASK),
		      "the new MMIO spte does not carry the current generation");
	check_tree(vcpu, "after stale MMIO sptes");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex4_misconfig_of_ram_is_an_internal_error)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	expect_mapped(vcpu, 0x5000, RD, 0, "RAM");
	int ie = fake_mmu_calls.internal_error, emu = fake_mmu_calls.emulate;
	int r = kvm_mmu_page_fault(vcpu, 0x5000, PFERR_RSVD_MASK);
	ck_assert_msg(r == 0 && fake_mmu_calls.internal_error == ie + 1 && fake_mmu_calls.emulate == emu,
		      "an EPT misconfiguration where the entry is RAM, not an MMIO spte: kvm_mmu_page_fault returned %d "
		      "(%d internal errors, %d emulations); expected KVM_EXIT_INTERNAL_ERROR (RET_PF_INVALID): minikvm's "
		      "own entry is broken", r, fake_mmu_calls.internal_error - ie, fake_mmu_calls.emulate - emu);
	r = kvm_mmu_page_fault(vcpu, 0x7fff0000000ull, PFERR_RSVD_MASK);
	ck_assert_msg(r == 0 && fake_mmu_calls.internal_error == ie + 2, "an EPT misconfiguration where there is no entry "
		      "at all: kvm_mmu_page_fault returned %d; expected an internal error", r);
	vm_done(vcpu);
}
END_TEST

START_TEST(ex4_generation_wraps)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	/* The last generation an MMIO spte can tell apart from 0. */
	kvm->memslots_generation = MMIO_SPTE_GEN_MASK;
	expect_outcome(vcpu, MMIO_GPA, RD, EMULATED, "MMIO at generation 0x7ffff");
	fake_mmu_add_slot(kvm, 1, 0x4000, 16, 0);   /* generation 0x80000: the spte's bits read 0 */
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, MMIO_GPA);
	ck_assert_msg(!(x.result == FAKE_EPT_MISCONFIG && is_mmio_spte(x.spte) &&
			get_mmio_spte_generation(x.spte) == (kvm->memslots_generation & MMIO_SPTE_GEN_MASK)),
		      "after the generation's low bits came round, an old MMIO spte looks current");
	expect_outcome(vcpu, MMIO_GPA, RD, EMULATED, "MMIO after the wrap");
	check_tree(vcpu, "after the generation wrapped");
	vm_done(vcpu);
}
END_TEST

START_TEST(ex4_deleted_slot_becomes_mmio)
{
	struct kvm_vcpu *vcpu = tdp_vm(2);
	struct kvm *kvm = vcpu->kvm;
	fake_mmu_add_slot(kvm, 1, 0x1000, 0x200, 0);
	expect_mapped(vcpu, 0x1005000, WR, 2, "a slot's page");
	fake_mmu_delete_slot(kvm, 1);
	struct fake_mmu_ept_xlate x = ept_lookup(vcpu, 0x1005000);
	ck_assert_msg(x.result != FAKE_EPT_MAPPED, "a deleted slot's page is still mapped");
	expect_outcome(vcpu, 0x1005000, WR, EMULATED, "the gpa of a deleted slot");
	/* And moved: the old gpas are MMIO, the new ones RAM. */
	fake_mmu_add_slot(kvm, 1, 0x1000, 0x200, 0);
	/* Its old MMIO spte keeps a level-1 table there: 4 KiB pages until a zap. */
	expect_mapped(vcpu, 0x1005000, RD, 0, "a slot again");
	fake_mmu_set_slot(kvm, 1, 0x1400, 0);
	expect_outcome(vcpu, 0x1005000, RD, EMULATED, "the old gpa of a moved slot");
	expect_mapped(vcpu, 0x1405000, WR, 2, "the new gpa of a moved slot");
	check_tree(vcpu, "after a slot was deleted and moved");
	vm_done(vcpu);
}
END_TEST

Suite *tdp_suite(void)
{
	Suite *s = suite_create("tdp");
	TCase *tc = tcase_create("mapping-level");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ex2_max_mapping_level_ram);
	tcase_add_test(tc, ex2_max_mapping_level_slot_edges);
	tcase_add_test(tc, ex2_max_mapping_level_host_alignment);
	tcase_add_test(tc, ex2_max_mapping_level_dirty_log);
	tcase_add_test(tc, ex2_max_mapping_level_without_2mib_pages);
	suite_add_tcase(s, tc);
	tc = tcase_create("fault-path");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ex3_fault_maps_ram);
	tcase_add_test(tc, ex3_fault_at_high_gpas);
	tcase_add_test(tc, ex3_read_only_slot);
	tcase_add_test(tc, ex3_large_leaf_replaced_when_logged);
	tcase_add_test(tc, ex3_dirty_log);
	tcase_add_test(tc, ex3_root_shared_by_vcpus);
	tcase_add_test(tc, ex3_pages_stay_bounded);
	suite_add_tcase(s, tc);
	tc = tcase_create("mmio");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ex4_mmio_spte_then_fast_path);
	tcase_add_test(tc, ex4_stale_mmio_spte_is_dropped);
	tcase_add_test(tc, ex4_misconfig_of_ram_is_an_internal_error);
	tcase_add_test(tc, ex4_generation_wraps);
	tcase_add_test(tc, ex4_deleted_slot_becomes_mmio);
	suite_add_tcase(s, tc);
	return s;
}
