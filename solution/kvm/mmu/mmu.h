/* SPDX-License-Identifier: MIT */
/*
 * The MMU's interface to the rest of minikvm (Linux: arch/x86/kvm/mmu.h):
 * VM-wide set-up and teardown, the per-vCPU context and the moments it is
 * chosen again, the hooks the exit handlers call (page faults, INVLPG, a new
 * CR3), and guest-virtual translation with access rights.
 */
#ifndef KVMLABS_KVM_MMU_MMU_H
#define KVMLABS_KVM_MMU_MMU_H

#include "../kvm_host.h"

/* What kvm_mmu.page_fault returns (Linux: RET_PF_*); < 0 is -errno. */
enum {
	RET_PF_RETRY = 1,         /* nothing to do: let the guest retry the access */
	RET_PF_EMULATE,           /* the access needs the instruction emulator (MMIO, read-only slot) */
	RET_PF_INVALID,           /* the MMU cannot explain this fault: an internal error */
	RET_PF_FIXED,             /* a mapping was installed: retry */
};

/* The bound on shadow pages (Linux: KVM_MIN_ALLOC_MMU_PAGES, and
 * KVM_PERMILLE_MMU_PAGES of the guest's pages). */
#define KVM_MIN_ALLOC_MMU_PAGES 64
#define KVM_PERMILLE_MMU_PAGES  20

/* Called once by the vendor's hardware_setup (Linux: kvm_configure_mmu):
 * with TDP the processor walks the guest's tables and EPT does the rest. */
void kvm_configure_mmu(bool enable_tdp, int tdp_max_level);

/* VM-wide (Linux: kvm_mmu_init_vm, kvm_mmu_uninit_vm, kvm_mmu_zap_all). */
int kvm_mmu_init_vm(struct kvm *kvm);
void kvm_mmu_uninit_vm(struct kvm *kvm);
void kvm_mmu_zap_all(struct kvm *kvm);

/* Per vCPU (Linux: kvm_mmu_create, kvm_mmu_destroy): the PAE root. */
int kvm_mmu_create(struct kvm_vcpu *vcpu);
void kvm_mmu_destroy(struct kvm_vcpu *vcpu);

/* Memslots (Linux: kvm_arch_create_memslot and friends): the per-page rmap
 * and write-tracking arrays; the bound on shadow pages follows the slots. */
int kvm_mmu_create_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
void kvm_mmu_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
void kvm_mmu_memslots_updated(struct kvm *kvm);
/* The memslots are now at generation gen: MMIO sptes made before stop
 * counting, and when the generation bits an MMIO spte holds wrap around,
 * every shadow page goes (Linux: kvm_mmu_invalidate_mmio_sptes). */
void kvm_mmu_invalidate_mmio_sptes(struct kvm *kvm, uint64_t gen);
/* After KVM_GET_DIRTY_LOG: write-protect the slot again. */
void kvm_mmu_slot_remove_write_access(struct kvm *kvm, struct kvm_memory_slot *slot);
/* Zap the shadows of the guest table at gfn so the guest may write it. */
bool kvm_mmu_unprotect_page(struct kvm *kvm, gfn_t gfn);

/* Choose the vCPU's context for the mode it is in now (Linux: kvm_init_mmu),
 * and again after a change of paging mode (kvm_mmu_reset_context). */
void kvm_init_mmu(struct kvm_vcpu *vcpu);
void kvm_mmu_reset_context(struct kvm_vcpu *vcpu);

/* Before each entry: make the root valid and hand it to the processor.
 * 1 to enter, 0 when the mode cannot run (run filled), < 0 error. */
int kvm_mmu_load(struct kvm_vcpu *vcpu);
/* Let the roots go (Linux: kvm_mmu_unload); the next entry loads new ones. */
void kvm_mmu_unload(struct kvm_vcpu *vcpu);
static inline int kvm_mmu_reload(struct kvm_vcpu *vcpu)
{
	if (VALID_PAGE(vcpu->arch.mmu->root_hpa))
		return 1;
	return kvm_mmu_load(vcpu);
}
void kvm_mmu_load_pgd(struct kvm_vcpu *vcpu);

/* Exit-handler hooks: a fault the MMU intercepts, INVLPG, a new CR3. */
int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, uint64_t error_code);
void kvm_mmu_invlpg(struct kvm_vcpu *vcpu, gva_t gva);
void kvm_mmu_new_pgd(struct kvm_vcpu *vcpu, uint64_t new_pgd);
/* PAE paging: read and check the four PDPTEs at cr3 into vcpu->arch.pdptrs;
 * false when the MOV must raise #GP (Linux: load_pdptrs). */
bool kvm_load_pdptrs(struct kvm_vcpu *vcpu, uint64_t cr3);

/* Translate gva as the guest would for an access of PFERR_* bits
 * (Linux: kvm_mmu_gva_to_gpa_read/write/system). */
gpa_t kvm_mmu_gva_to_gpa(struct kvm_vcpu *vcpu, gva_t gva, uint64_t access, struct x86_exception *fault);

#endif
