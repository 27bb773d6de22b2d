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
 * real VMX: they walk the shadow tables the way the processor would.
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
};
extern struct fake_mmu_calls fake_mmu_calls;

/* ---- a VM ------------------------------------------------------------------ */
/* A VM as kvm_main.c makes one (kvm_mmu_init_vm), with slot 0 of ram_pages
 * pages of zeroed RAM at guest-physical 0 and one vCPU (kvm_mmu_create) in
 * protected mode without paging, CPUID 80000008H giving maxphyaddr bits and
 * 80000001H the 1 GiB-page bit when gbpages. minikvm's printf()s go to
 * /dev/null from here on (KVMLABS_TEST_VERBOSE=1 or CK_FORK=no: they stay). */
struct kvm_vcpu *fake_mmu_vm_create(uint64_t ram_pages, uint8_t maxphyaddr, bool gbpages);
/* Another slot: npages of zeroed RAM at base_gfn, with KVM_MEM_READONLY and/or
 * KVM_MEM_LOG_DIRTY_PAGES (a dirty bitmap); the bound on shadow pages follows. */
struct kvm_memory_slot *fake_mmu_add_slot(struct kvm *kvm, int id, gfn_t base_gfn, uint64_t npages, uint32_t flags);
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
/* The check of one spte at level on the way to va (fails the test as above). */
void fake_mmu_check_spte(struct kvm_vcpu *vcpu, uint64_t spte, int level, uint64_t va);

#endif
