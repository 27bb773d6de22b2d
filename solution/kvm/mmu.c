/* SPDX-License-Identifier: MIT */
/*
 * The stage-04 MMU: no shadow paging, no EPT. Without unrestricted guest the
 * processor insists on CR0.PE=1 and CR0.PG=1 in VMX non-root operation (SDM
 * Vol. 3 A.7), so a guest that believes paging is off runs on page tables the
 * hypervisor owns, mapping guest-linear = guest-physical onto the memslots'
 * host pages, as Linux's nonpaging mode of the shadow MMU does. CR0.PG is
 * forced on through the CR0 guest/host mask and read shadow (vmx.c).
 *
 * The tables are PAE (CR4.PAE forced too): 4 PDPTEs, 4 page directories,
 * page tables filled on demand from #PF exits, like nonpaging_page_fault().
 * A #PF at a GPA without a memslot is MMIO and needs the instruction
 * emulator (lab 07). Lab 05 replaces this with the shadow MMU, lab 06 with EPT.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvmlabs/host_kernel.h"
#include "kvm_host.h"
#include "vmx.h"

#define PT_PRESENT   (1ull << 0)
#define PT_WRITABLE  (1ull << 1)
#define PT_USER      (1ull << 2)
#define PT_ACCESSED  (1ull << 5)
#define PT_DIRTY     (1ull << 6)
#define PT_ADDR_MASK 0x000ffffffffff000ull

#define PFERR_PRESENT (1u << 0)
#define PFERR_WRITE   (1u << 1)
#define PFERR_FETCH   (1u << 4)

static int nonpaging_vm_init(struct kvm *kvm)
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
		pdpt[i] = host_virt_to_phys(kvm->arch.mmu_pd[i]) | PT_PRESENT;
	}
	return 0;
}

static void nonpaging_zap_all(struct kvm *kvm)
{
	for (int i = 0; i < 4; i++) {
		uint64_t *pd = kvm->arch.mmu_pd[i];
		if (!pd)
			continue;
		for (int j = 0; j < 512; j++) {
			if (pd[j] & PT_PRESENT)
				host_page_free(host_phys_to_virt(pd[j] & PT_ADDR_MASK));
			pd[j] = 0;
		}
	}
	/* No INVLPG needed: without VPIDs every VM entry and exit invalidates the
	 * guest's linear mappings (SDM Vol. 3 29.4.3.1). */
}

static void nonpaging_vm_destroy(struct kvm *kvm)
{
	nonpaging_zap_all(kvm);
	for (int i = 0; i < 4; i++)
		if (kvm->arch.mmu_pd[i])
			host_page_free(kvm->arch.mmu_pd[i]);
	if (kvm->arch.mmu_root)
		host_page_free(kvm->arch.mmu_root);
}

static int mode_unsupported(struct kvm_vcpu *vcpu, const char *what)
{
	uint64_t data[2] = { vcpu->arch.cr0, vcpu->arch.rip };
	printf("minikvm: %s (guest CR0 0x%llx, RIP 0x%llx)\n", what, (unsigned long long)vcpu->arch.cr0,
	       (unsigned long long)vcpu->arch.rip);
	return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 2, data);
}

static int nonpaging_check_mode(struct kvm_vcpu *vcpu)
{
	if (!(vcpu->arch.cr0 & X86_CR0_PE))
		return mode_unsupported(vcpu, "real mode (CR0.PE=0) needs unrestricted guest (lab 06)");
	if (vcpu->arch.cr0 & X86_CR0_PG)
		return mode_unsupported(vcpu, "guest paging (CR0.PG=1) needs the shadow MMU (lab 05) or EPT (lab 06)");
	if (vcpu->arch.rflags & X86_RFLAGS_VM)
		return mode_unsupported(vcpu, "virtual-8086 mode is not supported");
	return 1;
}

static uint64_t nonpaging_root_hpa(struct kvm_vcpu *vcpu)
{
	return host_virt_to_phys(vcpu->kvm->arch.mmu_root);
}

static int nonpaging_page_fault(struct kvm_vcpu *vcpu, uint64_t addr, uint32_t error_code)
{
	struct kvm *kvm = vcpu->kvm;
	gfn_t gfn = addr >> KVM_PAGE_SHIFT;
	bool writable;
	hva_t hva = gfn_to_hva_prot(kvm, gfn, &writable);
	uint64_t data[3] = { addr, vcpu->arch.rip, error_code };

	if (hva == KVM_HVA_ERR_BAD) {
		printf("minikvm: MMIO at GPA 0x%llx (RIP 0x%llx) needs the instruction emulator (lab 07)\n",
		       (unsigned long long)addr, (unsigned long long)vcpu->arch.rip);
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 3, data);
	}
	if ((error_code & PFERR_WRITE) && !writable) {
		/* Linux turns this into KVM_EXIT_MMIO by emulating the store. */
		printf("minikvm: write to read-only memslot at GPA 0x%llx (RIP 0x%llx) is an MMIO exit: "
		       "needs the instruction emulator (lab 07)\n",
		       (unsigned long long)addr, (unsigned long long)vcpu->arch.rip);
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 3, data);
	}
	if (error_code & PFERR_PRESENT) {
		printf("minikvm: unexpected #PF error code 0x%x at GPA 0x%llx on a mapped page\n", error_code,
		       (unsigned long long)addr);
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 3, data);
	}
	uint64_t *pd = kvm->arch.mmu_pd[(addr >> 30) & 3];
	uint64_t *pde = &pd[(addr >> 21) & 511];
	if (!(*pde & PT_PRESENT)) {
		void *pt = host_page_alloc();
		if (!pt)
			return -ENOMEM;
		*pde = host_virt_to_phys(pt) | PT_PRESENT | PT_WRITABLE | PT_USER | PT_ACCESSED;
	}
	uint64_t *pt = host_phys_to_virt(*pde & PT_ADDR_MASK);
	/* User-accessible: the guest's CPL3 code sees physical memory too. A and D
	 * preset so the processor never writes these tables. */
	pt[(addr >> 12) & 511] = (hva & PT_ADDR_MASK) | PT_PRESENT | PT_USER | PT_ACCESSED | PT_DIRTY |
				 (writable ? PT_WRITABLE : 0);
	return 1;
}

static bool nonpaging_translate(struct kvm_vcpu *vcpu, uint64_t gva, uint64_t *gpa)
{
	if (vcpu->arch.cr0 & X86_CR0_PG)
		return false;
	*gpa = gva; /* Linux: nonpaging_gva_to_gpa() */
	return true;
}

// @region nonpaging_mmu
static const struct kvm_mmu nonpaging_mmu = {
	.name = "nonpaging",
	.vm_init = nonpaging_vm_init,
	.vm_destroy = nonpaging_vm_destroy,
	.check_mode = nonpaging_check_mode,
	.root_hpa = nonpaging_root_hpa,
	.page_fault = nonpaging_page_fault,
	.zap_all = nonpaging_zap_all,
	.translate = nonpaging_translate,
};
// @end

const struct kvm_mmu *kvm_mmu_for_stage(void)
{
	return &nonpaging_mmu;
}
