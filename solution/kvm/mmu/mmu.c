/* SPDX-License-Identifier: MIT */
/*
 * minikvm's MMU (Linux: arch/x86/kvm/mmu/mmu.c): the per-vCPU context, chosen
 * by the guest's paging mode, and its one mode of stage 04, nonpaging.
 *
 * Without unrestricted guest the processor insists on CR0.PE=1 and CR0.PG=1
 * in VMX non-root operation (SDM Vol. 3 A.7), so a guest that believes paging
 * is off runs on page tables the hypervisor owns, mapping guest-linear =
 * guest-physical onto the memslots' host pages, as Linux's nonpaging mode of
 * the shadow MMU does. The vendor forces CR0.PG on through the CR0 guest/host
 * mask and read shadow. The tables are PAE (CR4.PAE forced too): 4 PDPTEs, 4
 * page directories, page tables filled on demand from #PF exits, like
 * nonpaging_page_fault(). They belong to the VM: every vCPU in nonpaging mode
 * shares them.
 *
 * Where later labs plug in: kvm_init_mmu() picks the shadow modes (lab 05)
 * for a guest with paging and TDP (lab 06) when the vendor enables EPT;
 * mmu_alloc_roots() allocates their roots; kvm_mmu_invlpg() and
 * kvm_mmu_new_pgd() reach their caches; a fault they cannot back with RAM
 * goes to the instruction emulator (lab 07) through kvm_mmu_page_fault().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "mmu.h"
#include "../x86.h"

#define PT32E_ROOT_LEVEL 3

/* The processor walks the guest's own tables, under EPT (lab 06). */
static bool tdp_enabled;

void kvm_configure_mmu(bool enable_tdp)
{
	tdp_enabled = enable_tdp;
}

/* ---- nonpaging: the VM's identity tables -------------------------------- */

int kvm_mmu_init_vm(struct kvm *kvm)
{
	uint64_t *pdpt = host_page_alloc();
	if (!pdpt)
		return -ENOMEM;
	kvm->arch.mmu_root = pdpt;
	/* A 32-bit PAE guest's CR3 holds 32 bits (SDM Vol. 3 5.4.1). */
	if (host_virt_to_phys(pdpt) >> 32) {
		printf("minikvm: page-directory-pointer table above 4 GiB: the host must allocate low memory\n");
		return -ENOMEM;
	}
	for (int i = 0; i < 4; i++) {
		kvm->arch.mmu_pd[i] = host_page_alloc();
		if (!kvm->arch.mmu_pd[i])
			return -ENOMEM;
		/* PDPTEs have no R/W or U/S bits: those live in the lower levels. */
		pdpt[i] = host_virt_to_phys(kvm->arch.mmu_pd[i]) | PT_PRESENT_MASK;
	}
	return 0;
}

void kvm_mmu_zap_all(struct kvm *kvm)
{
	for (int i = 0; i < 4; i++) {
		uint64_t *pd = kvm->arch.mmu_pd[i];
		if (!pd)
			continue;
		for (int j = 0; j < PT64_ENT_PER_PAGE; j++) {
			if (pd[j] & PT_PRESENT_MASK)
				host_page_free(host_phys_to_virt(pd[j] & PT64_BASE_ADDR_MASK));
			pd[j] = 0;
		}
	}
	/* No INVLPG needed: without VPIDs every VM entry and exit invalidates the
	 * guest's linear mappings (SDM Vol. 3 29.4.3.1). Lab 05 zaps its shadow
	 * pages here too and makes every vCPU load a new root. */
}

void kvm_mmu_uninit_vm(struct kvm *kvm)
{
	kvm_mmu_zap_all(kvm);
	for (int i = 0; i < 4; i++)
		if (kvm->arch.mmu_pd[i])
			host_page_free(kvm->arch.mmu_pd[i]);
	if (kvm->arch.mmu_root)
		host_page_free(kvm->arch.mmu_root);
}

static int nonpaging_page_fault(struct kvm_vcpu *vcpu, gpa_t addr, uint64_t error_code)
{
	struct kvm *kvm = vcpu->kvm;
	bool writable;
	hva_t hva = gfn_to_hva_prot(kvm, addr >> KVM_PAGE_SHIFT, &writable);

	if (hva == KVM_HVA_ERR_BAD)
		return RET_PF_EMULATE;     /* MMIO: a GPA without a memslot */
	if ((error_code & PFERR_WRITE_MASK) && !writable)
		return RET_PF_EMULATE;     /* Linux turns this into KVM_EXIT_MMIO by emulating the store */
	if (error_code & PFERR_PRESENT_MASK)
		return RET_PF_INVALID;     /* every mapping is user and, but for read-only slots, writable */
	uint64_t *pd = kvm->arch.mmu_pd[(addr >> HUGE_PAGE_SHIFT) & 3];
	uint64_t *pde = &pd[(addr >> LARGE_PAGE_SHIFT) & (PT64_ENT_PER_PAGE - 1)];
	if (!(*pde & PT_PRESENT_MASK)) {
		void *pt = host_page_alloc();
		if (!pt)
			return -ENOMEM;
		*pde = host_virt_to_phys(pt) | PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK | PT_ACCESSED_MASK;
	}
	uint64_t *pt = host_phys_to_virt(*pde & PT64_BASE_ADDR_MASK);
	/* User-accessible: the guest's CPL3 code sees physical memory too. A and D
	 * preset so the processor never writes these tables. */
	pt[(addr >> PAGE_SHIFT) & (PT64_ENT_PER_PAGE - 1)] = (hva & PT64_BASE_ADDR_MASK) | PT_PRESENT_MASK |
							     PT_USER_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK |
							     (writable ? PT_WRITABLE_MASK : 0);
	return RET_PF_FIXED;
}

static gpa_t nonpaging_gva_to_gpa(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva, uint64_t access,
				  struct x86_exception *fault)
{
	(void)vcpu, (void)mmu, (void)access, (void)fault;
	/* No guest paging, no page-level protection (Linux: nonpaging_gva_to_gpa). */
	return gva;
}

// @region nonpaging_mmu
static void nonpaging_init_context(struct kvm_mmu *context)
{
	*context = (struct kvm_mmu){
		.name = "nonpaging",
		.page_fault = nonpaging_page_fault,
		.gva_to_gpa = nonpaging_gva_to_gpa,
		.invlpg = NULL,            /* nothing cached per guest address */
		.root_hpa = INVALID_PAGE,  /* the VM's identity tables, at kvm_mmu_load() */
		.direct_map = true,
	};
}
// @end

/* ---- modes that cannot run at this stage --------------------------------- */

static int unsupported_page_fault(struct kvm_vcpu *vcpu, gpa_t addr, uint64_t error_code)
{
	(void)vcpu, (void)addr, (void)error_code;
	return RET_PF_INVALID;
}

static gpa_t unsupported_gva_to_gpa(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva, uint64_t access,
				    struct x86_exception *fault)
{
	(void)vcpu, (void)mmu, (void)access;
	if (fault)
		*fault = (struct x86_exception){ .vector = PF_VECTOR, .error_code_valid = true, .address = gva };
	return INVALID_GPA;
}

/* A context whose kvm_mmu_load() ends KVM_RUN with an internal error naming
 * the lab that brings the mode: the guest never runs in a mode minikvm
 * cannot translate. */
static void unsupported_init_context(struct kvm_mmu *context, const char *why)
{
	*context = (struct kvm_mmu){
		.name = "unsupported",
		.page_fault = unsupported_page_fault,
		.gva_to_gpa = unsupported_gva_to_gpa,
		.root_hpa = INVALID_PAGE,
		.unsupported = why,
	};
}

/* Lab 05: paging32, PAE and paging64 contexts over shadow pages (Linux:
 * kvm_init_shadow_mmu). Until lab 05 is written, the unsupported mode. */
static void kvm_init_shadow_mmu(struct kvm_vcpu *vcpu, struct kvm_mmu *context)
{
	(void)vcpu;
	unsupported_init_context(context, "guest paging (CR0.PG=1) needs the shadow MMU (lab 05)");
}

/* Lab 06: the TDP context over EPT tables (Linux: init_kvm_tdp_mmu). */
static void init_kvm_tdp_mmu(struct kvm_vcpu *vcpu, struct kvm_mmu *context)
{
	(void)vcpu;
	unsupported_init_context(context, "TDP (EPT) needs lab 06");
}

// @region kvm_init_mmu
void kvm_init_mmu(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *context = &vcpu->arch.root_mmu;
	if (LAB_ENABLED(6) && tdp_enabled)
		init_kvm_tdp_mmu(vcpu, context);
	else if (!is_paging(vcpu))
		nonpaging_init_context(context);
	else if (LAB_ENABLED(5))
		kvm_init_shadow_mmu(vcpu, context);
	else
		unsupported_init_context(context,
					 "guest paging (CR0.PG=1) needs the shadow MMU (lab 05) or EPT (lab 06)");
	vcpu->arch.mmu = context;
	kvm_make_request(KVM_REQ_LOAD_MMU_PGD, vcpu);
}
// @end

void kvm_mmu_reset_context(struct kvm_vcpu *vcpu)
{
	/* Linux unloads the old roots first (kvm_mmu_unload); the nonpaging root
	 * is the VM's and outlives the context. */
	kvm_init_mmu(vcpu);
}

/* ---- roots ---------------------------------------------------------------- */

static int mmu_alloc_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	if (mmu->unsupported) {
		uint64_t data[2] = { vcpu->arch.cr0, kvm_rip_read(vcpu) };
		printf("minikvm: %s (guest CR0 0x%llx, RIP 0x%llx)\n", mmu->unsupported,
		       (unsigned long long)vcpu->arch.cr0, (unsigned long long)kvm_rip_read(vcpu));
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 2, data);
	}
	/* Lab 05 allocates shadow roots here (mmu_alloc_shadow_roots) and lab 06
	 * a TDP root (mmu_alloc_direct_roots); nonpaging uses the VM's tables. */
	mmu->root_hpa = host_virt_to_phys(vcpu->kvm->arch.mmu_root);
	mmu->root_level = PT32E_ROOT_LEVEL;
	return 1;
}

void kvm_mmu_load_pgd(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	if (VALID_PAGE(mmu->root_hpa))
		kvm_x86_ops.load_mmu_pgd(vcpu, mmu->root_hpa, mmu->root_level);
}

int kvm_mmu_load(struct kvm_vcpu *vcpu)
{
	int r = mmu_alloc_roots(vcpu);
	if (r <= 0)
		return r;
	kvm_mmu_load_pgd(vcpu);
	return 1;
}

/* ---- exit-handler hooks ----------------------------------------------------- */

int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, uint64_t error_code)
{
	int r = vcpu->arch.mmu->page_fault(vcpu, cr2_or_gpa, error_code);
	if (r < 0)
		return r;
	switch (r) {
	case RET_PF_FIXED:
	case RET_PF_RETRY:
		return 1;
	case RET_PF_EMULATE:
		return x86_emulate_instruction(vcpu, cr2_or_gpa, EMULTYPE_PF);
	default: {
		uint64_t data[3] = { cr2_or_gpa, kvm_rip_read(vcpu), error_code };
		printf("minikvm: unexpected #PF error code 0x%llx at 0x%llx in %s mode (RIP 0x%llx)\n",
		       (unsigned long long)error_code, (unsigned long long)cr2_or_gpa, vcpu->arch.mmu->name,
		       (unsigned long long)kvm_rip_read(vcpu));
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 3, data);
	}
	}
}

void kvm_mmu_invlpg(struct kvm_vcpu *vcpu, gva_t gva)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	if (mmu->invlpg)
		mmu->invlpg(vcpu, gva);
	/* Without VPIDs the next VM entry flushes the guest's TLB anyway; with
	 * them (lab 06) this becomes INVVPID of the one address. */
	kvm_make_request(KVM_REQ_TLB_FLUSH, vcpu);
}

void kvm_mmu_new_pgd(struct kvm_vcpu *vcpu, uint64_t new_pgd)
{
	(void)new_pgd;
	/* Nonpaging ignores the guest's CR3. Lab 05 looks up (or builds) the
	 * shadow root for new_pgd here and asks for it to be loaded; under TDP
	 * the new CR3 goes to the processor with the EPTP. */
	if (!vcpu->arch.mmu->direct_map || tdp_enabled)
		kvm_make_request(KVM_REQ_LOAD_MMU_PGD, vcpu);
}

gpa_t kvm_mmu_gva_to_gpa(struct kvm_vcpu *vcpu, gva_t gva, uint64_t access, struct x86_exception *fault)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	/* The CPL is part of the access (PFERR_USER_MASK), as in Linux's
	 * kvm_mmu_gva_to_gpa_read(); KVM_TRANSLATE asks as the supervisor. */
	return mmu->gva_to_gpa(vcpu, mmu, gva, access, fault);
}
