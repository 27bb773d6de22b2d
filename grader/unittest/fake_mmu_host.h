/* SPDX-License-Identifier: MIT */
/*
 * What minikvm's MMU (kvm/mmu/) needs around it, for unit tests that build it
 * hosted: the host kernel's page allocator (host_kernel.h), the parts of
 * kvm_main.c, x86.c and cpuid.c that mmu.c calls, and a VM with one vCPU and
 * guest RAM made the way kvm_main.c makes them, without the rest of minikvm.
 *
 * Pages come from below 2 GiB (MAP_32BIT), as the bare-metal host's do, so
 * the PAE roots that must sit below 4 GiB can; a freed page is unmapped, so
 * a use after free faults. host_page_free() of a page the fake did not hand
 * out, or twice, fails the test. The MMU's own unit tests never run it on
 * real VMX: they walk the shadow tables (lab 05) or the EPT tables (lab 06)
 * the way the processor would.
 */
#ifndef KVMLABS_FAKE_MMU_HOST_H
#define KVMLABS_FAKE_MMU_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kvm/kvm_host.h"

/* ---- host pages ----------------------------------------------------------- */
/* Pages handed out and not given back. */
unsigned fake_mmu_pages_live(void);
/* Pages handed out so far (freed or not). */
unsigned long fake_mmu_pages_allocated(void);
/* host_page_alloc() succeeds n more times, then returns NULL (-1: always succeeds). */
void fake_mmu_fail_pages_after(long n);

/* ---- what mmu.c asked of the rest of minikvm ---------------------------------- */
struct fake_mmu_calls {
	int injected_pf;              /* kvm_inject_page_fault() */
	struct x86_exception last_pf;
	int emulate;                  /* x86_emulate_instruction() */
	uint64_t emulate_gpa;
	int emulate_type;
	int internal_error;           /* kvm_internal_error() */
	uint32_t internal_suberror;
	int load_pgd;                 /* kvm_x86_ops.load_mmu_pgd() */
	uint64_t pgd_root;
	int pgd_level;
	int flush_tlb;                /* kvm_x86_ops.flush_tlb_all() */
	int gfn_to_memslot;           /* gfn_to_memslot(): the MMIO fast path makes none */
};
extern struct fake_mmu_calls fake_mmu_calls;

/* ---- a VM ------------------------------------------------------------------ */
/* A VM as kvm_main.c makes one (kvm_mmu_init_vm), with slot 0 of ram_pages
 * pages of zeroed RAM at guest-physical 0 and one vCPU (kvm_mmu_create) in
 * protected mode without paging, CPUID 80000008H giving maxphyaddr bits and
 * 80000001H the 1 GiB-page bit when gbpages, on the shadow MMU (EPT off:
 * kvm_configure_mmu(false, 1)). minikvm's printf()s go to /dev/null from
 * here on (KVMLABS_TEST_VERBOSE=1 or CK_FORK=no: they stay). */
struct kvm_vcpu *fake_mmu_vm_create(uint64_t ram_pages, uint8_t maxphyaddr, bool gbpages);
/* The same VM with EPT on, as vmx.c's hardware_setup configures the MMU
 * (kvm_configure_mmu(true, tdp_max_level): 2 when EPT has 2 MiB pages):
 * the vCPU's context is TDP in every guest mode. */
struct kvm_vcpu *fake_mmu_tdp_vm_create(uint64_t ram_pages, int tdp_max_level);
/* Another vCPU of kvm (kvm_mmu_create, its context chosen), which minikvm's
 * kvm->vcpus[] (KVM_MAX_VCPUS 1) does not list; and its end (kvm_mmu_destroy). */
struct kvm_vcpu *fake_mmu_vcpu_create(struct kvm *kvm, int vcpu_id);
void fake_mmu_vcpu_destroy(struct kvm_vcpu *vcpu);

/* Memslots, changed as kvm_main.c's kvm_set_memory_region() changes them:
 * every change bumps kvm->memslots_generation and calls what
 * kvm_arch_memslots_updated() calls (kvm_mmu_invalidate_mmio_sptes, then
 * kvm_mmu_memslots_updated: the bound on shadow pages follows); a new slot
 * zaps nothing, a deleted or moved one or a new dirty-log flag zaps every
 * shadow page first (kvm_arch_flush_shadow_memslot).
 * fake_mmu_add_slot: npages of zeroed RAM at base_gfn with KVM_MEM_READONLY
 * and/or KVM_MEM_LOG_DIRTY_PAGES (a dirty bitmap). Its host memory starts on
 * a 2 MiB boundary, as the bare-metal host's large allocations do;
 * fake_mmu_add_slot_skewed starts it skew_pages pages after one (host and
 * guest pages then cannot share 2 MiB pages unless the gfn is skewed alike). */
struct kvm_memory_slot *fake_mmu_add_slot(struct kvm *kvm, int id, gfn_t base_gfn, uint64_t npages, uint32_t flags);
struct kvm_memory_slot *fake_mmu_add_slot_skewed(struct kvm *kvm, int id, gfn_t base_gfn, uint64_t npages,
						 uint32_t flags, unsigned skew_pages);
/* Move slot id to base_gfn and/or give it new flags (only KVM_MEM_LOG_DIRTY_PAGES
 * may change: the bitmap follows it). */
void fake_mmu_set_slot(struct kvm *kvm, int id, gfn_t base_gfn, uint32_t flags);
void fake_mmu_delete_slot(struct kvm *kvm, int id);
/* The host address of guest-physical gpa (NULL outside every slot). */
void *fake_mmu_gpa_to_hva(struct kvm *kvm, gpa_t gpa);
/* Tear the VM down as kvm_main.c does; every host page must be back after. */
void fake_mmu_vm_destroy(struct kvm_vcpu *vcpu);

/* ---- the processor's walk of the shadow tables --------------------------------------- */
struct fake_mmu_xlate {
	bool present;              /* a leaf was reached */
	uint64_t spte, *sptep;
	bool w, u, nx;             /* the rights of the whole path */
	int missing;               /* the level whose spte was not present */
};
/* Translate va through vcpu's shadow tables from root_hpa, as the processor
 * would, failing the test (ck_assert_msg) on an entry the processor would
 * refuse: a PAE root entry with reserved bits (2:1, 8:5, 63:52), or an spte
 * with PS (shadow pages map 4 KiB only), XD while the guest runs with
 * EFER.NXE=0, or bits 62:52 set. */
struct fake_mmu_xlate fake_mmu_shadow_xlate(struct kvm_vcpu *vcpu, uint64_t va);
/* What x86.c's vcpu_enter_guest() does before an entry: the MMU's requests
 * (an unload, a TLB flush, the root handed to the processor), then
 * kvm_mmu_reload(); returns what that returns (1: the vCPU can enter). */
int fake_mmu_enter(struct kvm_vcpu *vcpu);

/* The check of one spte at level on the way to va (fails the test as above). */
void fake_mmu_check_spte(struct kvm_vcpu *vcpu, uint64_t spte, int level, uint64_t va);

/* ---- the processor's walk of the EPT tables (lab 06) ------------------------------------ */
/* The processor the TDP tests play: Bochs' IA32_VMX_EPT_VPID_CAP (execute-only,
 * 4-level walks, WB, 2 MiB and 1 GiB pages, A/D, INVEPT; ../shared/BOCHS-VMX.md)
 * and the host's physical-address width (host memory is identity mapped, and
 * user addresses of this host are below 2^47). */
#define FAKE_MMU_EPT_CAP        0x00000F0106334141ull
#define FAKE_MMU_HOST_MAXPHYADDR 48

enum fake_mmu_ept_result { FAKE_EPT_MAPPED, FAKE_EPT_VIOLATION, FAKE_EPT_MISCONFIG };
struct fake_mmu_ept_xlate {
	enum fake_mmu_ept_result result;
	uint64_t hpa;              /* MAPPED: the host-physical address of gpa */
	int level;                 /* the level of the leaf, of the missing entry or of the misconfigured one */
	uint64_t spte, *sptep;     /* that entry */
	unsigned rwx;              /* EPT's R, W, X (bits 0-2) ANDed along the path */
	uint64_t qual;             /* VIOLATION: the exit qualification (SDM Vol. 3 Table 28-7) */
	const char *misconfig;     /* MISCONFIG: why, from ept_misconfig_reason() */
};
/* Translate gpa for an access (EPT_VIOLATION_ACC_READ/WRITE/INSTR) through the
 * EPT tables from vcpu's root_hpa, as the processor would (SDM Vol. 3 29.3.2,
 * 29.3.3): each entry on the way judged with ept_misconfig_reason(), a
 * misconfiguration before a violation; the rights ANDed over the levels. A
 * violation's qualification has the access, the rights of the path (bits 5:3)
 * and qual_gva: EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED for
 * an access of the guest's own, 0 or _GVA_IS_VALID alone for a walk of its
 * page tables. */
struct fake_mmu_ept_xlate fake_mmu_ept_xlate(struct kvm_vcpu *vcpu, uint64_t gpa, unsigned access, uint64_t qual_gva);

/* Every EPT entry reachable from vcpu's root, as the processor and minikvm's
 * invariants want it (fails the test naming the entry and `when`): no entry
 * misconfigured but MMIO sptes, which sit at level 1, hold their gfn, and,
 * of the current memslot generation, only where no slot is; every link to
 * the direct page of the range it covers; every leaf at most at
 * tdp_max_level, inside one slot's host memory, writable only in a writable
 * slot and only once the dirty log (if any) has the page; no 2 MiB leaf in a
 * logged slot; the EPT pages within the bound. */
void fake_mmu_check_ept_tree(struct kvm_vcpu *vcpu, int tdp_max_level, const char *when);

#endif
