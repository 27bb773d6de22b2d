/* SPDX-License-Identifier: MIT */
/*
 * minikvm's MMU (Linux: arch/x86/kvm/mmu/mmu.c): the per-vCPU context, chosen
 * by the guest's paging mode, the nonpaging mode of stage 04 and the shadow
 * MMU of lab 05.
 *
 * Nonpaging. Without unrestricted guest the processor insists on CR0.PE=1
 * and CR0.PG=1 in VMX non-root operation (SDM Vol. 3 A.7), so a guest that
 * believes paging is off runs on page tables the hypervisor owns, mapping
 * guest-linear = guest-physical onto the memslots' host pages. The vendor
 * forces CR0.PG on through the CR0 guest/host mask and read shadow. The
 * tables are PAE (CR4.PAE forced too): 4 PDPTEs, 4 page directories, page
 * tables filled on demand from #PF exits, like nonpaging_page_fault(). They
 * belong to the VM: every vCPU in nonpaging mode shares them.
 *
 * Shadow paging (lab 05, EPT off). A guest with paging on runs on shadow
 * page tables built from its own: each guest table that a translation uses
 * gets a shadow page (struct kvm_mmu_page, found by gfn and role), whose
 * entries map what the guest's entries map, gfn replaced by host page. They
 * are filled lazily, from #PF exits (shadow_page_fault: walk the guest's
 * tables, then build the path, FNAME(fetch)). Guest tables that have a shadow
 * are write-protected, so the shadow cannot go stale behind our back; a
 * write to one zaps its shadow pages (at stage 05; the emulator of lab 07
 * updates them in place instead). Two reverse maps tie it together: for
 * each gfn, the leaf sptes that map it (to write-protect it); for each
 * shadow page, the sptes that point to it (to unlink it when it is zapped).
 *
 * TDP (lab 06, EPT on). The processor walks the guest's own tables and then,
 * for every guest-physical address, EPT tables minikvm owns (two-dimensional
 * paging, SDM Vol. 3 29.3). Those are built with the same machinery: shadow
 * pages with role.direct, one tree per VM from one root, filled from
 * EPT-violation exits (kvm_tdp_page_fault, direct_map) with 4 KiB leaves or
 * 2 MiB ones where the memslot allows. A gfn without a memslot gets an MMIO
 * spte (spte.c), so its next access is an EPT misconfiguration the MMU
 * recognizes without a memslot lookup (handle_mmio_page_fault).
 *
 * Where later labs plug in: a fault the MMU cannot back with RAM, or a write
 * to a guest page table, goes to the instruction emulator (lab 07) through
 * kvm_mmu_page_fault().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <x86/cpuid.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "mmu.h"
#include "mmu_internal.h"
#include "../cpuid.h"
#include "../x86.h"

#define PT32E_ROOT_LEVEL 3

/* The processor walks the guest's own tables, under EPT (lab 06), and the
 * largest EPT leaf it takes (1: 4 KiB, 2: 2 MiB). */
static bool tdp_enabled;
static int tdp_max_level = 1;

void kvm_configure_mmu(bool enable_tdp, int max_level)
{
	tdp_enabled = enable_tdp;
	tdp_max_level = max_level;
	/* Links and every spte the common code makes take EPT's format. */
	spte_ept_format = enable_tdp;
}

/* What shadow_fetch returns besides RET_PF_*: the access is a write to a
 * guest page table, which stays write-protected while it has a shadow. */
#define RET_PF_WRITE_PROTECTED (RET_PF_FIXED + 1)

/* ---- nonpaging: the VM's identity tables -------------------------------- */

static int nonpaging_init_vm(struct kvm *kvm)
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

static void nonpaging_zap_all(struct kvm *kvm)
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
	 * guest's linear mappings (SDM Vol. 3 29.4.3.1). */
}

static int nonpaging_page_fault(struct kvm_vcpu *vcpu, gpa_t addr, uint64_t error_code)
{
	struct kvm *kvm = vcpu->kvm;
	bool writable;
	gfn_t gfn = addr >> KVM_PAGE_SHIFT;
	hva_t hva = gfn_to_hva_prot(kvm, gfn, &writable);
	bool write_fault = error_code & PFERR_WRITE_MASK;

	if (hva == KVM_HVA_ERR_BAD)
		return RET_PF_EMULATE;     /* MMIO: a GPA without a memslot */
	if (write_fault && !writable)
		return RET_PF_EMULATE;     /* Linux turns this into KVM_EXIT_MMIO by emulating the store */
	/* A slot whose writes are logged is mapped read-only until the first
	 * write since the log was last taken (lab 05's dirty log). */
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	if (writable && slot->dirty_bitmap && !write_fault)
		writable = false;
	if ((error_code & PFERR_PRESENT_MASK) && !(write_fault && writable))
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
	if (writable)
		mark_page_dirty(kvm, gfn);
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

/* ---- shadow pages: the hash, the pool, the bound -------------------------- */

static unsigned mmu_hash(uint64_t key)
{
	return (unsigned)((key * 0x9e3779b97f4a7c15ull) >> (64 - KVM_MMU_HASH_SHIFT));
}

struct kvm_mmu_page *spte_to_child_sp(struct kvm *kvm, uint64_t spte)
{
	hpa_t spt = spte_to_hpa(spte);
	for (struct kvm_mmu_page *sp = kvm->arch.mmu_page_by_spt[mmu_hash(spt >> PAGE_SHIFT)]; sp; sp = sp->spt_next)
		if (host_virt_to_phys(sp->spt) == spt)
			return sp;
	return NULL;
}

static void active_list_del(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct kvm_arch *a = &kvm->arch;
	if (sp->prev)
		sp->prev->next = sp->next;
	else
		a->active_oldest = sp->next;
	if (sp->next)
		sp->next->prev = sp->prev;
	else
		a->active_newest = sp->prev;
	sp->prev = sp->next = NULL;
}

static void hash_del(struct kvm_mmu_page **bucket, struct kvm_mmu_page *sp, bool by_spt)
{
	for (struct kvm_mmu_page **p = bucket; *p; p = by_spt ? &(*p)->spt_next : &(*p)->hash_next)
		if (*p == sp) {
			*p = by_spt ? sp->spt_next : sp->hash_next;
			return;
		}
}

/* The leaf sptes of gfn, or NULL for a gfn outside every slot (Linux: gfn_to_rmap). */
static struct kvm_rmap_head *gfn_to_rmap(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	return slot && slot->arch.rmap ? &slot->arch.rmap[gfn - slot->base_gfn] : NULL;
}

static uint16_t *gfn_write_track(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	return slot && slot->arch.gfn_write_track ? &slot->arch.gfn_write_track[gfn - slot->base_gfn] : NULL;
}

static bool gfn_is_write_tracked(struct kvm *kvm, gfn_t gfn)
{
	uint16_t *track = gfn_write_track(kvm, gfn);
	return track && *track;
}

/* The gfn a leaf spte of sp maps (Linux: kvm_mmu_page_get_gfn). */
static gfn_t sp_leaf_gfn(struct kvm_mmu_page *sp, uint64_t *sptep)
{
	unsigned i = (unsigned)(sptep - sp->spt);
	return sp->role.direct ? sp->gfn + i : sp->gfns[i];
}

// @lab 05 mmu_helpers: Your own types and static helpers for mmu.c.
/* your helpers */
// @end

/* Record that sptep, an entry of sp, maps gfn (Linux: rmap_add). */
static int rmap_add(struct kvm *kvm, struct kvm_mmu_page *sp, uint64_t *sptep, gfn_t gfn)
{
	// @lab 05 rmap_add: Note gfn for sptep (in sp->gfns unless sp is direct) and add sptep to gfn's rmap.
	(void)kvm, (void)sp, (void)sptep, (void)gfn;
	lab_todo(5, "rmap_add");
	// @end
}

static void rmap_remove(struct kvm *kvm, struct kvm_mmu_page *sp, uint64_t *sptep)
{
	// @lab 05 rmap_remove: Take sptep off the rmap of the gfn it maps (Linux: rmap_remove).
	(void)kvm, (void)sp, (void)sptep;
	lab_todo(5, "rmap_remove");
	// @end
}

/* Clear a present spte and every link it held: the rmap of the gfn a leaf
 * maps, or the child's parent_ptes (Linux: mmu_page_zap_pte, drop_spte). */
static void mmu_page_zap_pte(struct kvm *kvm, struct kvm_mmu_page *sp, uint64_t *sptep)
{
	uint64_t spte = *sptep;
	/* Nothing there, or an MMIO spte: no links to undo (whoever drops an
	 * MMIO spte overwrites it). */
	if (!is_shadow_present_pte(spte))
		return;
	if (sp->role.level == 1) {
		rmap_remove(kvm, sp, sptep);
	} else if (is_large_pte(spte)) {
		/* A 2 MiB TDP leaf: not in any rmap (see direct_map). */
	} else {
		struct kvm_mmu_page *lower = spte_to_child_sp(kvm, spte);
		if (lower)
			pte_list_remove(&kvm->arch.pte_list_pool, sptep, &lower->parent_ptes);
	}
	*sptep = 0;
}

/* Make every leaf spte that maps gfn read-only; true if one was writable
 * (Linux: rmap_write_protect). The processor may still hold the old
 * translation until the next VM entry, which flushes it (no VPID). */
static bool rmap_write_protect(struct kvm *kvm, gfn_t gfn)
{
	// @lab 05 rmap_write_protect: Clear R/W in every spte of gfn's rmap.
	(void)kvm, (void)gfn;
	lab_todo(5, "rmap_write_protect");
	// @end
}

/* A guest table gets a shadow: count it and write-protect its gfn (Linux:
 * account_shadowed, kvm_slot_page_track_add_page). */
static void account_shadowed(struct kvm *kvm, gfn_t gfn)
{
	uint16_t *track = gfn_write_track(kvm, gfn);
	if (!track)
		return;
	if ((*track)++ == 0)
		rmap_write_protect(kvm, gfn);
}

static void unaccount_shadowed(struct kvm *kvm, gfn_t gfn)
{
	uint16_t *track = gfn_write_track(kvm, gfn);
	if (track && *track)
		(*track)--;
}

static void kvm_mmu_free_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	hash_del(&kvm->arch.mmu_page_by_spt[mmu_hash(host_virt_to_phys(sp->spt) >> PAGE_SHIFT)], sp, true);
	host_page_free(sp->spt);
	if (sp->gfns)
		host_page_free(sp->gfns);
	pte_list_destroy(&kvm->arch.pte_list_pool, &sp->parent_ptes);
	mmu_pool_free(&kvm->arch.mmu_page_pool, sp);
	kvm->arch.n_used_mmu_pages--;
}

/* Zap a shadow page (Linux: __kvm_mmu_prepare_zap_page, kvm_mmu_commit_zap_page):
 * unlink its children and its parents, forget it. A root some vCPU still
 * uses stays allocated, marked invalid, until that vCPU lets it go. */
/* Clear every spte of sp, with the links each held. */
static void mmu_page_zap_ptes(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	for (unsigned i = 0; i < PT64_ENT_PER_PAGE; i++)
		mmu_page_zap_pte(kvm, sp, &sp->spt[i]);
}

static void kvm_mmu_zap_page(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	struct rmap_iterator iter;
	uint64_t *sptep;
	kvm_flush_remote_tlbs(kvm);
	mmu_page_zap_ptes(kvm, sp);
	while ((sptep = rmap_get_first(&sp->parent_ptes, &iter))) {
		*sptep = 0;
		pte_list_remove(&kvm->arch.pte_list_pool, sptep, &sp->parent_ptes);
	}
	if (sp->role.invalid)
		return;
	if (!sp->role.direct)
		unaccount_shadowed(kvm, sp->gfn);
	hash_del(&kvm->arch.mmu_page_hash[mmu_hash(sp->gfn)], sp, false);
	active_list_del(kvm, sp);
	kvm->arch.stat.mmu_shadow_zapped++;
	if (sp->root_count) {
		sp->role.invalid = 1;
		for (int i = 0; i < kvm->nr_vcpus; i++)
			kvm_make_request(KVM_REQ_MMU_RELOAD, kvm->vcpus[i]);
		return;
	}
	kvm_mmu_free_page(kvm, sp);
}

/* Keep n_used_mmu_pages at most n_max_mmu_pages - room by zapping the oldest
 * pages no vCPU uses as a root (Linux: make_mmu_pages_available,
 * kvm_mmu_zap_oldest_mmu_pages): a guest cannot make minikvm allocate
 * without bound. Called before a fault or a root load allocates. */
static void make_mmu_pages_available(struct kvm *kvm, unsigned room)
{
	struct kvm_arch *a = &kvm->arch;
	struct kvm_mmu_page *sp = a->active_oldest;
	while (sp && a->n_used_mmu_pages + room > a->n_max_mmu_pages) {
		/* A zap frees the page zapped and no other (its children stay
		 * hashed), so the next one is still there. */
		struct kvm_mmu_page *next = sp->next;
		if (!sp->root_count) {
			kvm_mmu_zap_page(kvm, sp);
			a->stat.mmu_recycled++;
		}
		sp = next;
	}
}

/* The shadow page of (gfn, role): the one that exists, or a new, empty one
 * in the hash (Linux: kvm_mmu_get_shadow_page, kvm_mmu_find_shadow_page,
 * kvm_mmu_alloc_shadow_page). A new shadow of a guest table (!role.direct)
 * write-protects the table's gfn. NULL when the host has no memory. */
static struct kvm_mmu_page *kvm_mmu_get_shadow_page(struct kvm *kvm, gfn_t gfn, union kvm_mmu_page_role role)
{
	// @lab 05 kvm_mmu_get_shadow_page: Find (gfn, role) in the hash, or make it: pool, spt (and gfns), hash, active list, account_shadowed.
	(void)kvm, (void)gfn, (void)role;
	lab_todo(5, "kvm_mmu_get_shadow_page");
	// @end
}

/* Point sptep at the shadow page sp and remember it among sp's parents
 * (Linux: link_shadow_page, mmu_page_add_parent_pte). */
static int link_shadow_page(struct kvm *kvm, uint64_t *sptep, struct kvm_mmu_page *sp)
{
	// @lab 05 link_shadow_page: Install a non-leaf spte for sp and add sptep to sp->parent_ptes.
	(void)kvm, (void)sptep, (void)sp;
	lab_todo(5, "link_shadow_page");
	// @end
}

/* The role of the shadow page an entry of parent points to (Linux:
 * kvm_mmu_child_role): one level down; a 32-bit guest's page table is
 * shadowed by two pages, the parent entry's index saying which half. */
static union kvm_mmu_page_role kvm_mmu_child_role(union kvm_mmu_page_role parent, uint64_t *sptep, bool direct,
						  unsigned access)
{
	union kvm_mmu_page_role role = parent;
	role.level--;
	role.direct = direct;
	role.access = access;
	role.quadrant = 0;
	if (role.has_4_byte_gpte && !direct)
		role.quadrant = (unsigned)(((uintptr_t)sptep / sizeof(uint64_t)) & 1);
	return role;
}

/* The role of a root: level 4 for a 4-level guest, else one of the four
 * page directories under the PAE root (Linux: kvm_calc_cpu_role, mmu_alloc_root). */
static union kvm_mmu_page_role shadow_root_role(const struct paging_mode *m, int quadrant)
{
	union kvm_mmu_page_role role = { .word = 0 };
	role.level = m->levels == 4 ? 4 : 2;
	role.has_4_byte_gpte = m->levels == 2;
	role.quadrant = m->levels == 2 ? quadrant : 0;
	role.access = ACC_ALL;
	role.cr0_wp = m->cr0_wp;
	role.efer_nx = m->efer_nx;
	/* PAE and 4-level entries always honour PS: only 32-bit paging needs it. */
	role.cr4_pse = m->levels == 2 && m->cr4_pse;
	return role;
}

/* ---- the walker on guest memory ----------------------------------------- */

static int walker_read(void *ctx, uint64_t gpa, void *val, unsigned size)
{
	return kvm_read_guest(ctx, gpa, val, size) ? -1 : 0;
}

/* Set accessed/dirty flags in a guest entry as the processor does: a locked
 * compare-exchange (SDM Vol. 3 4.8), noted in the dirty log. */
static int walker_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val, unsigned size)
{
	struct kvm *kvm = ctx;
	bool writable;
	hva_t hva = gfn_to_hva_prot(kvm, gpa >> PAGE_SHIFT, &writable);
	if (hva == KVM_HVA_ERR_BAD || !writable)
		return -1;
	void *p = (void *)(uintptr_t)(hva + (gpa & ~PAGE_MASK));
	bool done;
	if (size == 4) {
		uint32_t expected = (uint32_t)old;
		done = __atomic_compare_exchange_n((uint32_t *)p, &expected, (uint32_t)new_val, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	} else {
		uint64_t expected = old;
		done = __atomic_compare_exchange_n((uint64_t *)p, &expected, new_val, false, __ATOMIC_SEQ_CST,
						   __ATOMIC_SEQ_CST);
	}
	if (!done)
		return 1;
	mark_page_dirty(kvm, gpa >> PAGE_SHIFT);
	return 0;
}

static struct paging_mem guest_memory(struct kvm *kvm)
{
	return (struct paging_mem){ .read = walker_read, .cmpxchg = walker_cmpxchg, .ctx = kvm };
}

static gpa_t shadow_gva_to_gpa(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva, uint64_t access,
			       struct x86_exception *fault)
{
	struct guest_walker w;
	struct paging_mem mem = guest_memory(vcpu->kvm);
	if (!paging_walk_addr(&w, &mmu->cpu_mode, &mem, gva, (uint32_t)access)) {
		if (fault)
			*fault = (struct x86_exception){ .vector = PF_VECTOR, .error_code_valid = true,
							 .error_code = w.fault.error_code, .address = w.fault.address };
		return INVALID_GPA;
	}
	return (w.gfn << PAGE_SHIFT) | (gva & ~PAGE_MASK);
}

/* ---- the fault path --------------------------------------------------------- */

/* Fill the level-1 spte sptep of sp for the translation gw found (Linux:
 * FNAME(fetch)'s mmu_set_spte, make_spte). */
static int shadow_map_leaf(struct kvm_vcpu *vcpu, struct kvm_mmu_page *sp, uint64_t *sptep,
			   const struct guest_walker *gw, uint32_t error_code)
{
	// @lab 05 shadow_map_leaf: The leaf's rights: the walk's, less what the slot, the guest's D flag, the dirty log and write tracking forbid.
	(void)vcpu, (void)sp, (void)sptep, (void)gw, (void)error_code;
	lab_todo(5, "shadow_map_leaf");
	// @end
}

/* The shadow page the processor starts at for addr, and its level. */
static struct kvm_mmu_page *shadow_top(struct kvm_vcpu *vcpu, gva_t addr, int *level)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	uint64_t top;
	if (mmu->root_level == 4) {
		*level = 4;
		top = mmu->root_hpa;
	} else {
		*level = 2;
		top = vcpu->arch.pae_root[(addr >> 30) & 3];
		if (!is_shadow_present_pte(top))
			return NULL;
	}
	return spte_to_child_sp(vcpu->kvm, top);
}

/* Build the shadow path for gw's translation of addr down to its leaf:
 * shadow pages of the guest's tables, then, under a large guest page,
 * direct pages that map it 4 KiB at a time (Linux: FNAME(fetch)). */
static int shadow_fetch(struct kvm_vcpu *vcpu, const struct guest_walker *gw, gva_t addr, uint32_t error_code)
{
	// @lab 05 shadow_fetch: From the root down: descend present sptes, else get the child (indirect or direct) and link it; then the leaf.
	(void)vcpu, (void)gw, (void)addr, (void)error_code;
	lab_todo(5, "shadow_fetch");
	// @end
}

/* Whether gfn is one of the tables this vCPU's roots shadow. */
static bool gfn_is_root(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	if (!VALID_PAGE(mmu->root_hpa))
		return false;
	if (mmu->root_level == 4) {
		struct kvm_mmu_page *root = spte_to_child_sp(vcpu->kvm, mmu->root_hpa);
		return root && root->gfn == gfn;
	}
	for (int i = 0; i < 4; i++) {
		struct kvm_mmu_page *sp = is_shadow_present_pte(vcpu->arch.pae_root[i]) ?
						  spte_to_child_sp(vcpu->kvm, vcpu->arch.pae_root[i]) : NULL;
		if (sp && sp->gfn == gfn)
			return true;
	}
	return false;
}

/* Zap every shadow of the guest table at gfn, so the guest may write it
 * (Linux: kvm_mmu_unprotect_page). True if there was one. */
bool kvm_mmu_unprotect_page(struct kvm *kvm, gfn_t gfn)
{
	// @lab 05 kvm_mmu_unprotect_page: Zap every valid, indirect shadow page of gfn (the hash's bucket holds them).
	(void)kvm, (void)gfn;
	lab_todo(5, "kvm_mmu_unprotect_page");
	// @end
}

/* ---- the emulator's writes to shadowed guest tables (lab 07) ------------- */

/* A write the shadow cannot follow entry by entry: smaller than an entry
 * (but for the single byte that flips a flag, as Linux's clear_bit does),
 * or across two entries (Linux: detect_write_misaligned). */
static bool detect_write_misaligned(const struct kvm_mmu_page *sp, gpa_t gpa, unsigned int bytes)
{
	unsigned int offset = gpa & (PAGE_SIZE - 1);
	unsigned int pte_size = sp->role.has_4_byte_gpte ? 4 : 8;
	if (!(offset & (pte_size - 1)) && bytes == 1)
		return false;
	return ((offset ^ (offset + bytes - 1)) & ~(pte_size - 1)) || bytes < 4;
}

/* The sptes of sp that shadow the guest entry at gpa, and how many (Linux:
 * get_written_sptes). A 32-bit guest's table has 1024 4-byte entries: a
 * page table is shadowed in two halves (role.quadrant), and each of its
 * PDEs (4 MiB) by two of ours (2 MiB each) in one of four quarters. */
static uint64_t *get_written_sptes(const struct kvm_mmu_page *sp, gpa_t gpa, int *nspte)
{
	unsigned int page_offset = gpa & (PAGE_SIZE - 1);
	*nspte = 1;
	if (sp->role.has_4_byte_gpte) {
		page_offset <<= 1;
		if (sp->role.level == 2) {
			page_offset &= ~7u;
			page_offset <<= 1;
			*nspte = 2;
		}
		if ((page_offset >> PAGE_SHIFT) != sp->role.quadrant)
			return NULL;
		page_offset &= PAGE_SIZE - 1;
	}
	return &sp->spt[page_offset / sizeof(uint64_t)];
}

/*
 * The emulator wrote bytes at gpa (Linux: kvm_mmu_pte_write). If gpa is in
 * a guest table we shadow, the sptes made from the entries it changed are
 * dropped (the next access through them faults and rebuilds them from the
 * new entries); a write that does not fit one entry drops the whole shadow
 * page. The table stays shadowed and write-protected: lab 05 instead
 * unprotected it, and every translation through it was rebuilt.
 */
void kvm_mmu_pte_write(struct kvm_vcpu *vcpu, gpa_t gpa, const uint8_t *new, unsigned int bytes)
{
	struct kvm *kvm = vcpu->kvm;
	gfn_t gfn = gpa >> PAGE_SHIFT;
	bool flush = false;
	(void)new;

	if (!gfn_is_write_tracked(kvm, gfn))
		return;
	kvm->arch.stat.mmu_pte_write++;
	struct kvm_mmu_page *sp = kvm->arch.mmu_page_hash[mmu_hash(gfn)];
	while (sp) {
		struct kvm_mmu_page *next = sp->hash_next;
		if (sp->gfn == gfn && !sp->role.direct && !sp->role.invalid) {
			int n;
			uint64_t *spte;
			if (detect_write_misaligned(sp, gpa, bytes)) {
				kvm_mmu_zap_page(kvm, sp);
				kvm->arch.stat.mmu_flooded++;
			} else if ((spte = get_written_sptes(sp, gpa, &n))) {
				for (; n--; spte++) {
					if (is_shadow_present_pte(*spte)) {
						mmu_page_zap_pte(kvm, sp, spte);
						flush = true;
					}
				}
			}
		}
		sp = next;
	}
	if (flush)
		kvm_flush_remote_tlbs(kvm);
}

/* A write to a shadowed guest table the emulator cannot or should not do:
 * unprotect the table and let the guest run the store itself (Linux:
 * kvm_mmu_unprotect_gfn_and_retry). False if there is nothing to unprotect. */
bool kvm_mmu_unprotect_gfn_and_retry(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa)
{
	struct x86_exception fault;
	if (vcpu->arch.mmu->direct_map)
		return false;
	gpa_t gpa = kvm_mmu_gva_to_gpa(vcpu, cr2_or_gpa, 0, &fault);
	if (gpa == INVALID_GPA || !kvm_mmu_unprotect_page(vcpu->kvm, gpa >> PAGE_SHIFT))
		return false;
	vcpu->kvm->arch.stat.mmu_unprotect++;
	return true;
}

/* A write fault in shadow mode to a guest table that has shadows: from lab
 * 07 the emulator does the store (Linux: RET_PF_EMULATE from the page-track
 * check, with EMULTYPE_WRITE_PF_TO_SP). */
static bool shadow_write_to_tracked_table(struct kvm_vcpu *vcpu, gva_t addr, uint64_t error_code)
{
	struct x86_exception fault;
	if (!LAB_ENABLED(7) || vcpu->arch.mmu->direct_map || (error_code & PFERR_RSVD_MASK) ||
	    (error_code & (PFERR_PRESENT_MASK | PFERR_WRITE_MASK)) != (PFERR_PRESENT_MASK | PFERR_WRITE_MASK))
		return false;
	gpa_t gpa = kvm_mmu_gva_to_gpa(vcpu, addr, error_code & (PFERR_WRITE_MASK | PFERR_USER_MASK), &fault);
	return gpa != INVALID_GPA && gfn_is_write_tracked(vcpu->kvm, gpa >> PAGE_SHIFT);
}

/* A #PF exit in shadow mode (Linux: FNAME(page_fault)). Either the guest's
 * own tables refuse the access (the fault is the guest's: inject it), or
 * the shadow lacks a translation the guest has (build it), or the access is
 * a write to a guest page table, which must not change under its shadow. */
static int shadow_page_fault(struct kvm_vcpu *vcpu, gpa_t addr, uint64_t error_code)
{
	// @lab 05 shadow_page_fault: Walk; a guest fault goes back to the guest with CR2; else fetch; a write to a tracked table unprotects it and fetches again.
	(void)vcpu, (void)addr, (void)error_code;
	lab_todo(5, "shadow_page_fault");
	// @end
}

/* The guest executed INVLPG gva: drop the shadow's translation of it, so
 * the next access walks the guest's tables again (Linux: FNAME(invlpg),
 * kvm_mmu_invlpg). The shadow pages stay: only the leaf goes. */
static void shadow_invlpg(struct kvm_vcpu *vcpu, gva_t gva)
{
	// @lab 05 shadow_invlpg: Follow present sptes from the top for gva; zap the level-1 spte if there is one.
	(void)vcpu, (void)gva;
	lab_todo(5, "shadow_invlpg");
	// @end
}

/* ---- TDP: the EPT tables (lab 06) ------------------------------------------ */

// @lab 06 tdp_helpers: Your own types and static helpers for the TDP MMU.
/* your helpers */
// @end

/* The largest leaf that may map gfn of slot: 2 (2 MiB) or 1 (4 KiB) (Linux:
 * kvm_mmu_max_mapping_level). A 2 MiB leaf maps 512 gfns onto 512 host
 * pages at once, so they must all be in the slot, in host memory aligned
 * alike (the host's memory is contiguous: a 2 MiB-aligned host address
 * starts a 2 MiB host page), and the slot's writes must not be logged: the
 * log needs a fault per page (Linux: no huge pages in dirty-logged slots). */
static int tdp_max_mapping_level(const struct kvm_memory_slot *slot, gfn_t gfn)
{
	// @lab 06 tdp_max_mapping_level: 2 when EPT has 2 MiB pages and the aligned 2 MiB around gfn is in slot, aligned alike in host memory, and not dirty-logged; else 1.
	(void)slot, (void)gfn;
	lab_todo(6, "tdp_max_mapping_level");
	// @end
}

/* Put the leaf for gpa at level into the VM's EPT tables, making the tables
 * on the way down (Linux: direct_map). hva is the host page of gpa's gfn,
 * or KVM_HVA_ERR_BAD for an MMIO spte. Only level-1 leaves go on the rmap:
 * the dirty log write-protects by gfn and a logged slot has no 2 MiB leaves
 * (a change of slot flags zaps every page). */
static int direct_map(struct kvm_vcpu *vcpu, gpa_t gpa, int level, hva_t hva, unsigned access)
{
	// @lab 06 direct_map: From the root down: descend links, else drop a large leaf in the way and link a new direct page; then the leaf (or MMIO spte), on the rmap at level 1.
	(void)vcpu, (void)gpa, (void)level, (void)hva, (void)access;
	lab_todo(6, "direct_map");
	// @end
}

/* The leaf EPT entry for gpa and its level, following links from the root;
 * NULL where a link is missing (Linux: get_walk). */
static uint64_t *tdp_leaf_sptep(struct kvm_vcpu *vcpu, gpa_t gpa, int *level)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp = spte_to_child_sp(kvm, vcpu->arch.mmu->root_hpa);
	for (int l = sp ? sp->role.level : 0; sp; l--) {
		uint64_t *sptep = &sp->spt[shadow_index(gpa, l)];
		if (l == 1 || !is_shadow_present_pte(*sptep) || is_large_pte(*sptep)) {
			*level = l;
			return sptep;
		}
		sp = spte_to_child_sp(kvm, *sptep);
	}
	return NULL;
}

/* Say which of our EPT entries for gpa the processor found misconfigured. */
static void tdp_explain_misconfig(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	struct kvm *kvm = vcpu->kvm;
	struct kvm_mmu_page *sp = spte_to_child_sp(kvm, vcpu->arch.mmu->root_hpa);
	printf("minikvm: EPT misconfiguration at GPA 0x%llx, and the entry there is no MMIO spte:",
	       (unsigned long long)gpa);
	for (int l = sp ? sp->role.level : 0; sp && l >= 1; l--) {
		uint64_t e = sp->spt[shadow_index(gpa, l)];
		/* Judged as if the processor had every optional EPT feature. */
		const char *why = ept_misconfig_reason(e, l, ~0ull, 52);
		printf(" level %d 0x%llx%s%s", l, (unsigned long long)e, why ? ": " : "", why ? why : "");
		if (why || !is_shadow_present_pte(e) || is_large_pte(e))
			break;
		sp = spte_to_child_sp(kvm, e);
	}
	printf(" (SDM Vol. 3 29.3.3.1)\n");
}

/* An EPT misconfiguration at gpa (Linux: handle_mmio_page_fault). The only
 * misconfigured entries minikvm makes are MMIO sptes: one of the current
 * memslot generation says MMIO at once, without looking for a memslot (the
 * fast path); an older one is dropped, and the access faults again to be
 * judged afresh (RAM may have been plugged in there). Anything else is a
 * broken EPT entry of ours. */
static int handle_mmio_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa)
{
	// @lab 06 handle_mmio_page_fault: Find the leaf for gpa; an MMIO spte of the current generation is RET_PF_EMULATE, an older one is dropped (RET_PF_RETRY); else explain and RET_PF_INVALID.
	(void)vcpu, (void)gpa;
	lab_todo(6, "handle_mmio_page_fault");
	// @end
}

/* An EPT violation at gpa, or (PFERR_RSVD_MASK) an EPT misconfiguration
 * (Linux: kvm_tdp_page_fault). The guest's own page tables were walked by
 * the processor already: what is missing is guest-physical to host. */
static int kvm_tdp_page_fault(struct kvm_vcpu *vcpu, gpa_t gpa, uint64_t error_code)
{
	// @lab 06 kvm_tdp_page_fault: Misconfiguration: the MMIO path. Else no slot: an MMIO spte, then emulate; a write to a read-only slot: emulate; else map at the largest level allowed, writable unless the slot or its dirty log forbids.
	(void)vcpu, (void)gpa, (void)error_code;
	lab_todo(6, "kvm_tdp_page_fault");
	// @end
}

static void init_cpu_mode(struct kvm_vcpu *vcpu, struct paging_mode *m);

/* A guest-linear address as the guest's own tables translate it: the
 * processor walks them, minikvm only for the emulator and KVM_TRANSLATE.
 * CR3 and the PDPTEs are those of the last exit (Linux: the walker of the
 * guest's mode, under TDP too). */
static gpa_t tdp_gva_to_gpa(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva, uint64_t access,
			    struct x86_exception *fault)
{
	if (!is_paging(vcpu))
		return nonpaging_gva_to_gpa(vcpu, mmu, gva, access, fault);
	init_cpu_mode(vcpu, &mmu->cpu_mode);
	return shadow_gva_to_gpa(vcpu, mmu, gva, access, fault);
}

/* The VM's one EPT tree: its root is a direct shadow page of level 4 for
 * gfn 0, shared by every vCPU (Linux: mmu_alloc_direct_roots). */
static int mmu_alloc_direct_roots(struct kvm_vcpu *vcpu)
{
	// @lab 06 mmu_alloc_direct_roots: Get the level-4 direct root (gfn 0), hold it, set root_hpa and root_level, and flush: a new root may stand where an old one was.
	(void)vcpu;
	lab_todo(6, "mmu_alloc_direct_roots");
	// @end
}

/* ---- contexts ------------------------------------------------------------ */

/* The guest's paging mode, as the walker reads it (Linux: kvm_mmu_role_regs). */
static void init_cpu_mode(struct kvm_vcpu *vcpu, struct paging_mode *m)
{
	struct kvm_cpuid_entry2 *ext = kvm_find_cpuid_entry(vcpu, 0x80000001, 0);
	struct kvm_cpuid_entry2 *addr_sizes = kvm_find_cpuid_entry(vcpu, 0x80000008, 0);
	*m = (struct paging_mode){
		.levels = is_long_mode(vcpu) ? 4 : is_pae(vcpu) ? 3 : 2,
		.cr0_wp = kvm_read_cr0(vcpu) & X86_CR0_WP,
		.cr4_pse = kvm_read_cr4(vcpu) & X86_CR4_PSE,
		.efer_nx = vcpu->arch.efer & EFER_NX,
		.gbpages = ext && (ext->edx & CPUID_80000001_EDX_GBPAGES),
		/* Without the leaf, 36 bits (Linux: cpuid_maxphyaddr). */
		.maxphyaddr = addr_sizes && (addr_sizes->eax & 0xff) ? addr_sizes->eax & 0xff : 36,
		.cr3 = kvm_read_cr3(vcpu),
	};
	memcpy(m->pdptrs, vcpu->arch.pdptrs, sizeof(m->pdptrs));
}

static void shadow_invlpg_hook(struct kvm_vcpu *vcpu, gva_t gva)
{
	shadow_invlpg(vcpu, gva);
}

/* Lab 05: 32-bit, PAE and 4-level guest paging over shadow pages (Linux:
 * kvm_init_shadow_mmu, paging32/paging32E/paging64_init_context). */
static void kvm_init_shadow_mmu(struct kvm_vcpu *vcpu, struct kvm_mmu *context)
{
	*context = (struct kvm_mmu){
		.page_fault = shadow_page_fault,
		.gva_to_gpa = shadow_gva_to_gpa,
		.invlpg = shadow_invlpg_hook,
		.root_hpa = INVALID_PAGE,
		.direct_map = false,
	};
	init_cpu_mode(vcpu, &context->cpu_mode);
	context->name = context->cpu_mode.levels == 4 ? "paging64" : context->cpu_mode.levels == 3 ? "paging32E" : "paging32";
}

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

// @region init_kvm_tdp_mmu
/* Lab 06: the TDP context over EPT tables, whatever the guest's own paging
 * mode (Linux: init_kvm_tdp_mmu). */
static void init_kvm_tdp_mmu(struct kvm_vcpu *vcpu, struct kvm_mmu *context)
{
	*context = (struct kvm_mmu){
		.name = "tdp",
		.page_fault = kvm_tdp_page_fault,
		.gva_to_gpa = tdp_gva_to_gpa,
		.invlpg = NULL,            /* INVLPG does not exit: the processor has the guest's TLB */
		.root_hpa = INVALID_PAGE,
		.direct_map = true,
		.tdp = true,
	};
	init_cpu_mode(vcpu, &context->cpu_mode);
}
// @end

// @region kvm_init_mmu
void kvm_init_mmu(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *context = &vcpu->arch.root_mmu;
	/* With EPT every mode is TDP, real mode included (unrestricted guest). */
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
	/* Linux: kvm_mmu_unload, then kvm_init_mmu. The nonpaging root is the
	 * VM's and outlives the context; shadow roots are let go. */
	kvm_mmu_unload(vcpu);
	kvm_init_mmu(vcpu);
}

/* ---- roots ---------------------------------------------------------------- */

/* Take sp as (part of) a root, or let it go; an invalid root nobody holds
 * any more is freed (Linux: mmu_free_root_page). */
static void mmu_put_root(struct kvm *kvm, struct kvm_mmu_page *sp)
{
	if (!sp || --sp->root_count > 0 || !sp->role.invalid)
		return;
	/* Zapped while in use: its entries may have been filled since. */
	mmu_page_zap_ptes(kvm, sp);
	kvm_mmu_free_page(kvm, sp);
}

void kvm_mmu_unload(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	if (!mmu || !VALID_PAGE(mmu->root_hpa))
		return;
	if (mmu->tdp) {
		mmu_put_root(vcpu->kvm, spte_to_child_sp(vcpu->kvm, mmu->root_hpa));
	} else if (!mmu->direct_map) {
		if (mmu->root_level == 4) {
			mmu_put_root(vcpu->kvm, spte_to_child_sp(vcpu->kvm, mmu->root_hpa));
		} else {
			for (int i = 0; i < 4; i++) {
				if (is_shadow_present_pte(vcpu->arch.pae_root[i]))
					mmu_put_root(vcpu->kvm, spte_to_child_sp(vcpu->kvm, vcpu->arch.pae_root[i]));
				vcpu->arch.pae_root[i] = 0;
			}
		}
	}
	mmu->root_hpa = INVALID_PAGE;
}

/* A root table outside guest memory cannot be walked: the processor would
 * read all ones and triple-fault soon after (Linux: mmu_check_root). */
static int mmu_check_root(struct kvm_vcpu *vcpu, gfn_t gfn)
{
	if (gfn_to_memslot(vcpu->kvm, gfn))
		return 1;
	printf("minikvm: the guest's page tables start at 0x%llx, outside its memory: triple fault\n",
	       (unsigned long long)(gfn << PAGE_SHIFT));
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}

/* The shadow root for the guest's CR3 (Linux: mmu_alloc_shadow_roots): the
 * shadow of its PML4, or, for a 32-bit or PAE guest, our own PAE table whose
 * four entries point to the shadows of its page directories. Found in the
 * hash when the guest had this CR3 before: switching back costs nothing. */
static int mmu_alloc_shadow_roots(struct kvm_vcpu *vcpu)
{
	// @lab 05 mmu_alloc_shadow_roots: Get the root shadow page(s) for CR3 (or the PDPTEs), hold them (root_count), set root_hpa and root_level.
	(void)vcpu;
	lab_todo(5, "mmu_alloc_shadow_roots");
	// @end
}

static int mmu_alloc_roots(struct kvm_vcpu *vcpu)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	if (mmu->unsupported) {
		uint64_t data[2] = { vcpu->arch.cr0, kvm_rip_read(vcpu) };
		printf("minikvm: %s (guest CR0 0x%llx, RIP 0x%llx)\n", mmu->unsupported,
		       (unsigned long long)vcpu->arch.cr0, (unsigned long long)kvm_rip_read(vcpu));
		return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 2, data);
	}
	if (mmu->tdp)
		return mmu_alloc_direct_roots(vcpu);
	if (!mmu->direct_map)
		return mmu_alloc_shadow_roots(vcpu);
	/* Nonpaging uses the VM's tables. */
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
	/* The requests were handled before the reload: a flush the new root
	 * asked for happens now, before the first entry on it (Linux: the
	 * flush_tlb_current at the end of kvm_mmu_load). */
	if (kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu))
		kvm_x86_ops.flush_tlb_all(vcpu);
	return 1;
}

/* ---- VM and vCPU life cycle ------------------------------------------------- */

int kvm_mmu_init_vm(struct kvm *kvm)
{
	mmu_pool_init(&kvm->arch.mmu_page_pool, sizeof(struct kvm_mmu_page));
	mmu_pool_init(&kvm->arch.pte_list_pool, sizeof(struct pte_list_desc));
	kvm->arch.n_max_mmu_pages = KVM_MIN_ALLOC_MMU_PAGES;
	return nonpaging_init_vm(kvm);
}

void kvm_mmu_zap_all(struct kvm *kvm)
{
	nonpaging_zap_all(kvm);
	while (kvm->arch.active_oldest)
		kvm_mmu_zap_page(kvm, kvm->arch.active_oldest);
}

/* What the shadow MMU did, once per VM that used it, as Linux's debugfs
 * counters (/sys/kernel/debug/kvm/) would tell it; make bench reads it. */
static void mmu_print_stats(struct kvm *kvm)
{
	const struct kvm_vm_stat *st = &kvm->arch.stat;
	if (tdp_enabled) {
		/* The guest's MMIO: EPT violations made the MMIO sptes, the misconfigurations
		 * that followed took the fast path (or found an MMIO spte stale). */
		printf("minikvm: tdp: %u EPT pages alive, most %llu; exits %llu ept_violations %llu ept_misconfigs %llu "
		       "pf_fixed %llu pf_mmio_spte_created %llu pf_emulate %llu pages_4k %llu pages_2m %llu\n",
		       kvm->arch.n_used_mmu_pages, (unsigned long long)st->max_mmu_pages, (unsigned long long)st->exits,
		       (unsigned long long)st->ept_violations, (unsigned long long)st->ept_misconfigs,
		       (unsigned long long)st->pf_fixed, (unsigned long long)st->pf_mmio_spte_created,
		       (unsigned long long)st->pf_emulate, (unsigned long long)st->pages_4k,
		       (unsigned long long)st->pages_2m);
		return;
	}
	if (!st->mmu_cache_miss)
		return;
	printf("minikvm: mmu: %u shadow pages alive, most %llu, bound %u; exits %llu pf_fixed %llu pf_guest %llu "
	       "invlpg %llu pf_emulate %llu mmu_cache_miss %llu mmu_shadow_zapped %llu mmu_recycled %llu "
	       "mmu_flooded %llu mmu_pte_write %llu mmu_unprotect %llu\n",
	       kvm->arch.n_used_mmu_pages, (unsigned long long)st->max_mmu_pages, kvm->arch.n_max_mmu_pages,
	       (unsigned long long)st->exits, (unsigned long long)st->pf_fixed, (unsigned long long)st->pf_guest,
	       (unsigned long long)st->invlpg, (unsigned long long)st->pf_emulate, (unsigned long long)st->mmu_cache_miss, (unsigned long long)st->mmu_shadow_zapped,
	       (unsigned long long)st->mmu_recycled, (unsigned long long)st->mmu_flooded,
	       (unsigned long long)st->mmu_pte_write, (unsigned long long)st->mmu_unprotect);
}

void kvm_mmu_uninit_vm(struct kvm *kvm)
{
	kvm_mmu_zap_all(kvm);
	for (int i = 0; i < 4; i++)
		if (kvm->arch.mmu_pd[i])
			host_page_free(kvm->arch.mmu_pd[i]);
	if (kvm->arch.mmu_root)
		host_page_free(kvm->arch.mmu_root);
	mmu_pool_destroy(&kvm->arch.mmu_page_pool);
	mmu_pool_destroy(&kvm->arch.pte_list_pool);
}

int kvm_mmu_create(struct kvm_vcpu *vcpu)
{
	/* The PAE root is loaded into CR3 by a guest outside IA-32e mode, so it
	 * must be below 4 GiB (SDM Vol. 3 4.4.1). */
	uint64_t *pae_root = host_page_alloc();
	if (!pae_root)
		return -ENOMEM;
	if (host_virt_to_phys(pae_root) >> 32) {
		host_page_free(pae_root);
		printf("minikvm: PAE root above 4 GiB: the host must allocate low memory\n");
		return -ENOMEM;
	}
	vcpu->arch.pae_root = pae_root;
	return 0;
}

void kvm_mmu_destroy(struct kvm_vcpu *vcpu)
{
	/* The VM's work is over when its first vCPU goes (the VMM may drop
	 * its memslots before the VM itself). */
	if (vcpu->vcpu_id == 0)
		mmu_print_stats(vcpu->kvm);
	kvm_mmu_unload(vcpu);
	if (vcpu->arch.pae_root)
		host_page_free(vcpu->arch.pae_root);
	vcpu->arch.pae_root = NULL;
}

// @region kvm_mmu_invalidate_mmio_sptes
void kvm_mmu_invalidate_mmio_sptes(struct kvm *kvm, uint64_t gen)
{
	/* The bits an MMIO spte keeps came round to 0 again: an MMIO spte
	 * made one full turn of those bits ago would look current. */
	if ((gen & MMIO_SPTE_GEN_MASK) == 0)
		kvm_mmu_zap_all(kvm);
}
// @end

void kvm_mmu_memslots_updated(struct kvm *kvm)
{
	/* Linux's default bound: 2 % of the guest's pages, at least 64
	 * (kvm_mmu_calculate_default_mmu_pages). */
	uint64_t pages = 0;
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++)
		pages += kvm->memslots[i].npages;
	uint64_t max = pages * KVM_PERMILLE_MMU_PAGES / 1000;
	kvm->arch.n_max_mmu_pages = max < KVM_MIN_ALLOC_MMU_PAGES ? KVM_MIN_ALLOC_MMU_PAGES : (unsigned)max;
	make_mmu_pages_available(kvm, 0);
}

int kvm_mmu_create_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	(void)kvm;
	slot->arch.rmap = kvm_zalloc(slot->npages * sizeof(*slot->arch.rmap));
	slot->arch.gfn_write_track = kvm_zalloc(slot->npages * sizeof(*slot->arch.gfn_write_track));
	if (!slot->arch.rmap || !slot->arch.gfn_write_track) {
		kvm_mmu_free_memslot(kvm, slot);
		return -ENOMEM;
	}
	return 0;
}

void kvm_mmu_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	(void)kvm;
	kvm_free(slot->arch.rmap, slot->npages * sizeof(*slot->arch.rmap));
	kvm_free(slot->arch.gfn_write_track, slot->npages * sizeof(*slot->arch.gfn_write_track));
	slot->arch.rmap = NULL;
	slot->arch.gfn_write_track = NULL;
}

/* The dirty log was just taken: write-protect every page of the slot, so the
 * next write to each faults and is logged again (Linux:
 * kvm_mmu_slot_remove_write_access). The nonpaging tables have no rmap:
 * they are zapped and refilled read-only. */
void kvm_mmu_slot_remove_write_access(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	// @lab 05 kvm_mmu_slot_remove_write_access: Write-protect every gfn of the slot through its rmap.
	(void)kvm, (void)slot;
	lab_todo(5, "kvm_mmu_slot_remove_write_access");
	// @end
}

/* ---- exit-handler hooks ----------------------------------------------------- */

int kvm_mmu_page_fault(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, uint64_t error_code)
{
	struct kvm_vm_stat *st = &vcpu->kvm->arch.stat;
	if (vcpu->arch.mmu->tdp) {
		if (error_code & PFERR_RSVD_MASK)
			st->ept_misconfigs++;
		else
			st->ept_violations++;
	}
	if (shadow_write_to_tracked_table(vcpu, cr2_or_gpa, error_code)) {
		st->pf_emulate++;
		return x86_emulate_instruction(vcpu, cr2_or_gpa, EMULTYPE_PF | EMULTYPE_WRITE_PF_TO_SP);
	}
	int r = vcpu->arch.mmu->page_fault(vcpu, cr2_or_gpa, error_code);
	if (r < 0)
		return r;
	if (r == RET_PF_EMULATE)
		st->pf_emulate++;
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

// @region kvm_mmu_new_pgd
void kvm_mmu_new_pgd(struct kvm_vcpu *vcpu, uint64_t new_pgd)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	/* Nonpaging ignores the guest's CR3; under TDP the new CR3 goes to the
	 * processor with the EPTP. A shadow context lets its roots go; the next
	 * entry takes the roots of the new CR3 (and PDPTEs), from the hash when
	 * they exist (Linux keeps a few previous roots besides; the hash does it here). */
	if (!mmu->direct_map) {
		mmu->cpu_mode.cr3 = new_pgd;
		memcpy(mmu->cpu_mode.pdptrs, vcpu->arch.pdptrs, sizeof(mmu->cpu_mode.pdptrs));
		kvm_mmu_unload(vcpu);
	}
	if (!mmu->direct_map || tdp_enabled)
		kvm_make_request(KVM_REQ_LOAD_MMU_PGD, vcpu);
}
// @end

bool kvm_load_pdptrs(struct kvm_vcpu *vcpu, uint64_t cr3)
{
	/* PAE paging keeps the four PDPTEs in registers, loaded (and checked) by
	 * MOV to CR3 and by the CR0/CR4 writes that enable PAE paging (SDM Vol. 3
	 * 4.4.1; Linux: load_pdptrs). The table is 32-byte aligned in CR3. */
	struct paging_mode m;
	uint64_t pdptrs[4];
	init_cpu_mode(vcpu, &m);
	if (kvm_read_guest(vcpu->kvm, cr3 & 0xffffffe0ull, pdptrs, sizeof(pdptrs)))
		return false;
	for (int i = 0; i < 4; i++)
		if (!paging_pdpte_valid(&m, pdptrs[i]))
			return false;
	memcpy(vcpu->arch.pdptrs, pdptrs, sizeof(pdptrs));
	return true;
}

gpa_t kvm_mmu_gva_to_gpa(struct kvm_vcpu *vcpu, gva_t gva, uint64_t access, struct x86_exception *fault)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	/* The CPL is part of the access (PFERR_USER_MASK), as in Linux's
	 * kvm_mmu_gva_to_gpa_read(); KVM_TRANSLATE asks as the supervisor. */
	return mmu->gva_to_gpa(vcpu, mmu, gva, access, fault);
}
