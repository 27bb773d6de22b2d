/* SPDX-License-Identifier: MIT */
/* The surroundings of minikvm's MMU for hosted unit tests (fake_mmu_host.h). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <x86/msr-index.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "fake_mmu_host.h"
#include "kvm/cpuid.h"
#include "kvm/mmu/mmu.h"
#include "kvm/mmu/mmu_internal.h"
#include "kvm/mmu/spte.h"
#include "kvm/vmx/vmcs.h"
#include "kvm/x86.h"
#include "kvmlabs/host_kernel.h"

struct fake_mmu_calls fake_mmu_calls;

/* ---- host_kernel.h ---------------------------------------------------------- */

/* Every page handed out and not freed, to refuse a free of anything else. */
static void **live_pages;
static unsigned nlive, live_cap;
static unsigned long nallocated;
static long pages_left = -1;

unsigned fake_mmu_pages_live(void)
{
	return nlive;
}

unsigned long fake_mmu_pages_allocated(void)
{
	return nallocated;
}

void fake_mmu_fail_pages_after(long n)
{
	pages_left = n;
}

void *host_page_alloc(void)
{
	if (pages_left == 0)
		return NULL;
	if (pages_left > 0)
		pages_left--;
	/* Below 2 GiB like the bare-metal host's low memory: kvm_mmu_create()
	 * refuses a PAE root above 4 GiB (SDM Vol. 3 4.4.1). */
	void *p = mmap(NULL, KVM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	if (p == MAP_FAILED)
		ck_abort_msg("fake host: no page below 2 GiB (errno %d)", errno);
	if (nlive == live_cap) {
		live_cap = live_cap ? 2 * live_cap : 256;
		live_pages = realloc(live_pages, live_cap * sizeof(*live_pages));
		if (!live_pages)
			ck_abort_msg("fake host: out of memory");
	}
	live_pages[nlive++] = p;
	nallocated++;
	return p;
}

void host_page_free(void *page)
{
	for (unsigned i = nlive; i-- > 0;) {
		if (live_pages[i] == page) {
			live_pages[i] = live_pages[--nlive];
			munmap(page, KVM_PAGE_SIZE);
			return;
		}
	}
	ck_abort_msg("host_page_free(%p): not a page host_page_alloc() handed out, or freed twice", page);
}

void *host_pages_alloc(size_t n, size_t align)
{
	(void)n, (void)align;
	ck_abort_msg("host_pages_alloc() is not for the MMU");
	return NULL;
}

void host_pages_free(void *pages, size_t n)
{
	(void)pages, (void)n;
	ck_abort_msg("host_pages_free() is not for the MMU");
}

/* ---- kvm_main.c --------------------------------------------------------------- */

void *kvm_zalloc(size_t size)
{
	return calloc(1, size ? size : 1);
}

void kvm_free(void *p, size_t size)
{
	(void)size;
	free(p);
}

static struct kvm_memory_slot *find_slot(struct kvm *kvm, gfn_t gfn)
{
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++) {
		struct kvm_memory_slot *slot = &kvm->memslots[i];
		if (slot->npages && gfn >= slot->base_gfn && gfn - slot->base_gfn < slot->npages)
			return slot;
	}
	return NULL;
}

/* As kvm_main.c's: the slot that holds gfn, or NULL. Counted: every lookup
 * the MMU makes comes through here (gfn_to_hva_prot, kvm_read_guest and
 * mark_page_dirty too). */
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	fake_mmu_calls.gfn_to_memslot++;
	return find_slot(kvm, gfn);
}

hva_t gfn_to_hva_prot(struct kvm *kvm, gfn_t gfn, bool *writable)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	if (!slot)
		return KVM_HVA_ERR_BAD;
	if (writable)
		*writable = !(slot->flags & KVM_MEM_READONLY);
	return slot->userspace_addr + ((gfn - slot->base_gfn) << KVM_PAGE_SHIFT);
}

hva_t gfn_to_hva(struct kvm *kvm, gfn_t gfn)
{
	return gfn_to_hva_prot(kvm, gfn, NULL);
}

int kvm_read_guest(struct kvm *kvm, gpa_t gpa, void *data, size_t len)
{
	uint8_t *dst = data;
	while (len) {
		size_t offset = gpa & (KVM_PAGE_SIZE - 1);
		size_t chunk = len < KVM_PAGE_SIZE - offset ? len : KVM_PAGE_SIZE - offset;
		hva_t hva = gfn_to_hva(kvm, gpa >> KVM_PAGE_SHIFT);
		if (hva == KVM_HVA_ERR_BAD)
			return -EFAULT;
		memcpy(dst, (const void *)(uintptr_t)(hva + offset), chunk);
		dst += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

void mark_page_dirty(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	if (slot && slot->dirty_bitmap) {
		uint64_t i = gfn - slot->base_gfn;
		slot->dirty_bitmap[i / 64] |= 1ull << (i % 64);
	}
}

int fake_mmu_enter(struct kvm_vcpu *vcpu)
{
	if (kvm_check_request(KVM_REQ_MMU_RELOAD, vcpu))
		kvm_mmu_unload(vcpu);
	if (kvm_check_request(KVM_REQ_TLB_FLUSH, vcpu))
		kvm_x86_ops.flush_tlb_all(vcpu);
	if (kvm_check_request(KVM_REQ_LOAD_MMU_PGD, vcpu))
		kvm_mmu_load_pgd(vcpu);
	return kvm_mmu_reload(vcpu);
}

void kvm_flush_remote_tlbs(struct kvm *kvm)
{
	for (int i = 0; i < kvm->nr_vcpus; i++)
		if (kvm->vcpus[i])
			kvm_make_request(KVM_REQ_TLB_FLUSH, kvm->vcpus[i]);
}

/* ---- cpuid.c, x86.c ------------------------------------------------------------ */

struct kvm_cpuid_entry2 *kvm_find_cpuid_entry(struct kvm_vcpu *vcpu, uint32_t function, uint32_t index)
{
	(void)index;
	for (int i = 0; i < vcpu->arch.cpuid_nent; i++)
		if (vcpu->arch.cpuid_entries[i].function == function)
			return &vcpu->arch.cpuid_entries[i];
	return NULL;
}

/* As x86.c's: CR2, then the exception for the next entry. */
void kvm_inject_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault)
{
	fake_mmu_calls.injected_pf++;
	fake_mmu_calls.last_pf = *fault;
	vcpu->arch.cr2 = fault->address;
	vcpu->arch.exception = (struct kvm_queued_exception){
		.pending = true, .vector = PF_VECTOR, .has_error_code = true, .error_code = fault->error_code,
	};
}

int kvm_internal_error(struct kvm_vcpu *vcpu, uint32_t suberror, int ndata, const uint64_t *data)
{
	struct kvm_run *run = vcpu->run;
	fake_mmu_calls.internal_error++;
	fake_mmu_calls.internal_suberror = suberror;
	if (ndata > 16)
		ndata = 16;
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = (uint32_t)ndata;
	for (int i = 0; i < ndata; i++)
		run->internal.data[i] = data[i];
	return 0;
}

/* Before lab 07 the emulator's entry ends the run with an emulation failure. */
int x86_emulate_instruction(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, int emulation_type)
{
	fake_mmu_calls.emulate++;
	fake_mmu_calls.emulate_gpa = cr2_or_gpa;
	fake_mmu_calls.emulate_type = emulation_type;
	vcpu->run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	vcpu->run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	return 0;
}

static void fake_load_mmu_pgd(struct kvm_vcpu *vcpu, hpa_t root_hpa, int root_level)
{
	(void)vcpu;
	fake_mmu_calls.load_pgd++;
	fake_mmu_calls.pgd_root = root_hpa;
	fake_mmu_calls.pgd_level = root_level;
}

static void fake_flush_tlb_all(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	fake_mmu_calls.flush_tlb++;
}

static void fake_get_cs_db_l_bits(struct kvm_vcpu *vcpu, int *db, int *l)
{
	*db = !is_long_mode(vcpu);
	*l = is_long_mode(vcpu);
}

struct kvm_x86_ops kvm_x86_ops = {
	.name = "fake",
	.load_mmu_pgd = fake_load_mmu_pgd,
	.flush_tlb_all = fake_flush_tlb_all,
	.get_cs_db_l_bits = fake_get_cs_db_l_bits,
};

/* ---- a VM ------------------------------------------------------------------- */

#define HUGE_PAGES (2ull << 20 >> KVM_PAGE_SHIFT)

/* npages of zeroed host memory skew pages after a 2 MiB boundary. */
static void *ram_alloc(uint64_t npages, unsigned skew)
{
	uint64_t len = npages * KVM_PAGE_SIZE, room = (npages + 2 * HUGE_PAGES) * KVM_PAGE_SIZE;
	uint8_t *p = mmap(NULL, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_msg(p != MAP_FAILED, "fake host: no memory for %llu guest pages", (unsigned long long)npages);
	uintptr_t huge = HUGE_PAGES * KVM_PAGE_SIZE;
	uint8_t *start = (uint8_t *)(((uintptr_t)p + huge - 1) & ~(huge - 1)) + (uint64_t)(skew % HUGE_PAGES) * KVM_PAGE_SIZE;
	if (start > p)
		munmap(p, (size_t)(start - p));
	if (start + len < p + room)
		munmap(start + len, (size_t)(p + room - (start + len)));
	return start;
}

/* What kvm_set_memory_region() does after any change (kvm_arch_memslots_updated). */
static void memslots_changed(struct kvm *kvm)
{
	kvm->memslots_generation++;
	kvm_mmu_invalidate_mmio_sptes(kvm, kvm->memslots_generation);
	kvm_mmu_memslots_updated(kvm);
}

struct kvm_memory_slot *fake_mmu_add_slot_skewed(struct kvm *kvm, int id, gfn_t base_gfn, uint64_t npages,
						 uint32_t flags, unsigned skew_pages)
{
	struct kvm_memory_slot *slot = &kvm->memslots[id];
	ck_assert_msg(id >= 0 && id < KVM_USER_MEM_SLOTS && !slot->npages, "fake VM: slot %d is taken", id);
	for (uint64_t g = base_gfn; g < base_gfn + npages; g++)
		ck_assert_msg(!find_slot(kvm, g), "fake VM: slot %d at gfn 0x%llx overlaps another", id,
			      (unsigned long long)g);
	*slot = (struct kvm_memory_slot){
		.base_gfn = base_gfn, .npages = npages, .flags = flags, .id = (uint16_t)id,
		.userspace_addr = (hva_t)(uintptr_t)ram_alloc(npages, skew_pages),
	};
	if (flags & KVM_MEM_LOG_DIRTY_PAGES)
		slot->dirty_bitmap = calloc((npages + 63) / 64, sizeof(uint64_t));
	/* kvm_set_memory_region(): the arch arrays; a new slot zaps nothing
	 * (its gfns had MMIO sptes at most, which the new generation retires). */
	ck_assert_int_eq(kvm_mmu_create_memslot(kvm, slot), 0);
	memslots_changed(kvm);
	return slot;
}

struct kvm_memory_slot *fake_mmu_add_slot(struct kvm *kvm, int id, gfn_t base_gfn, uint64_t npages, uint32_t flags)
{
	return fake_mmu_add_slot_skewed(kvm, id, base_gfn, npages, flags, 0);
}

void fake_mmu_set_slot(struct kvm *kvm, int id, gfn_t base_gfn, uint32_t flags)
{
	struct kvm_memory_slot *slot = &kvm->memslots[id];
	ck_assert_msg(slot->npages, "fake VM: slot %d does not exist", id);
	ck_assert_msg(!((flags ^ slot->flags) & KVM_MEM_READONLY), "fake VM: slot %d cannot change KVM_MEM_READONLY", id);
	if (base_gfn == slot->base_gfn && flags == slot->flags)
		return;
	for (uint64_t g = base_gfn; g < base_gfn + slot->npages; g++) {
		struct kvm_memory_slot *other = find_slot(kvm, g);
		ck_assert_msg(!other || other == slot, "fake VM: slot %d moved to gfn 0x%llx overlaps another", id,
			      (unsigned long long)g);
	}
	/* Zapped while the slot still says which gfns its sptes map. */
	kvm_mmu_zap_all(kvm);
	slot->base_gfn = base_gfn;
	slot->flags = flags;
	if ((flags & KVM_MEM_LOG_DIRTY_PAGES) && !slot->dirty_bitmap) {
		slot->dirty_bitmap = calloc((slot->npages + 63) / 64, sizeof(uint64_t));
		ck_assert(slot->dirty_bitmap);
	} else if (!(flags & KVM_MEM_LOG_DIRTY_PAGES)) {
		free(slot->dirty_bitmap);
		slot->dirty_bitmap = NULL;
	}
	memslots_changed(kvm);
}

static void slot_free(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	kvm_mmu_free_memslot(kvm, slot);
	munmap((void *)(uintptr_t)slot->userspace_addr, slot->npages * KVM_PAGE_SIZE);
	free(slot->dirty_bitmap);
	*slot = (struct kvm_memory_slot){ 0 };
}

void fake_mmu_delete_slot(struct kvm *kvm, int id)
{
	struct kvm_memory_slot *slot = &kvm->memslots[id];
	ck_assert_msg(slot->npages, "fake VM: slot %d does not exist", id);
	kvm_mmu_zap_all(kvm);
	slot_free(kvm, slot);
	memslots_changed(kvm);
}

void *fake_mmu_gpa_to_hva(struct kvm *kvm, gpa_t gpa)
{
	struct kvm_memory_slot *slot = find_slot(kvm, gpa >> KVM_PAGE_SHIFT);
	if (!slot)
		return NULL;
	return (void *)(uintptr_t)(slot->userspace_addr + (gpa - (slot->base_gfn << KVM_PAGE_SHIFT)));
}

static void vcpu_init(struct kvm *kvm, struct kvm_vcpu *vcpu, int vcpu_id, uint8_t maxphyaddr, bool gbpages)
{
	vcpu->kvm = kvm;
	vcpu->vcpu_id = vcpu_id;
	vcpu->run = calloc(1, KVM_VCPU_MMAP_PAGES * KVM_PAGE_SIZE);
	ck_assert(vcpu->run);
	vcpu->arch.cr0 = X86_CR0_PE | X86_CR0_ET;
	vcpu->arch.cpuid_entries[0] = (struct kvm_cpuid_entry2){
		.function = 0x80000001, .edx = gbpages ? (1u << 26) : 0,
	};
	vcpu->arch.cpuid_entries[1] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = maxphyaddr };
	vcpu->arch.cpuid_nent = 2;
	ck_assert_int_eq(kvm_mmu_create(vcpu), 0);
	kvm_init_mmu(vcpu);
}

struct kvm_vcpu *fake_mmu_vcpu_create(struct kvm *kvm, int vcpu_id)
{
	struct kvm_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	ck_assert(vcpu);
	struct kvm_vcpu *first = kvm->vcpus[0];
	vcpu_init(kvm, vcpu, vcpu_id, first ? (uint8_t)first->arch.cpuid_entries[1].eax : 36,
		  first && (first->arch.cpuid_entries[0].edx & (1u << 26)));
	kvm->refs++;
	return vcpu;
}

void fake_mmu_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	kvm_mmu_destroy(vcpu);
	vcpu->kvm->refs--;
	free(vcpu->run);
	free(vcpu);
}

static struct kvm_vcpu *vm_create(uint64_t ram_pages, uint8_t maxphyaddr, bool gbpages)
{
	/* minikvm's lines (statistics at teardown, its diagnostics) would drown
	 * Check's; the test's own message says what went wrong. A test runs in
	 * its own process, so this lasts as long as it does. */
	const char *fork = getenv("CK_FORK");
	if (!getenv("KVMLABS_TEST_VERBOSE") && !(fork && !strcmp(fork, "no")))
		ck_assert(freopen("/dev/null", "w", stdout));
	memset(&fake_mmu_calls, 0, sizeof(fake_mmu_calls));
	struct kvm *kvm = calloc(1, sizeof(*kvm));
	struct kvm_vcpu *vcpu = calloc(1, sizeof(*vcpu));
	ck_assert(kvm && vcpu);
	ck_assert_int_eq(kvm_mmu_init_vm(kvm), 0);
	fake_mmu_add_slot(kvm, 0, 0, ram_pages, 0);
	kvm->vcpus[0] = vcpu;
	kvm->nr_vcpus = 1;
	kvm->refs = 2;
	vcpu_init(kvm, vcpu, 0, maxphyaddr, gbpages);
	return vcpu;
}

struct kvm_vcpu *fake_mmu_vm_create(uint64_t ram_pages, uint8_t maxphyaddr, bool gbpages)
{
	kvm_configure_mmu(false, 1);
	return vm_create(ram_pages, maxphyaddr, gbpages);
}

struct kvm_vcpu *fake_mmu_tdp_vm_create(uint64_t ram_pages, int tdp_max_level)
{
	kvm_configure_mmu(true, tdp_max_level);
	return vm_create(ram_pages, 36, false);
}

void fake_mmu_vm_destroy(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	kvm_mmu_destroy(vcpu);
	kvm_mmu_zap_all(kvm);
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++)
		if (kvm->memslots[i].npages)
			slot_free(kvm, &kvm->memslots[i]);
	kvm_mmu_uninit_vm(kvm);
	free(vcpu->run);
	free(vcpu);
	free(kvm);
}

/* ---- the processor's walk of the shadow tables --------------------------------------- */

void fake_mmu_check_spte(struct kvm_vcpu *vcpu, uint64_t e, int level, uint64_t va)
{
	const char *mode = vcpu->arch.mmu->name;
	ck_assert_msg(!(e & PT_PAGE_SIZE_MASK), "%s: 0x%llx: the level-%d spte 0x%llx has PS: shadow pages map 4 KiB "
		      "pages only", mode, (unsigned long long)va, level, (unsigned long long)e);
	ck_assert_msg((vcpu->arch.efer & EFER_NX) || !(e & PT64_NX_MASK), "%s: 0x%llx: the level-%d spte 0x%llx has XD "
		      "with the guest's EFER.NXE=0 (reserved)", mode, (unsigned long long)va, level, (unsigned long long)e);
	ck_assert_msg(!(e & 0x7ff0000000000000ull), "%s: 0x%llx: the level-%d spte 0x%llx sets bits 62:52", mode,
		      (unsigned long long)va, level, (unsigned long long)e);
}

struct fake_mmu_xlate fake_mmu_shadow_xlate(struct kvm_vcpu *vcpu, uint64_t va)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct fake_mmu_xlate x = { .w = true, .u = true };
	uint64_t *table;
	int level;
	ck_assert_msg(VALID_PAGE(mmu->root_hpa), "%s: no shadow root is loaded", mmu->name);
	if (mmu->root_level == 4) {
		table = host_phys_to_virt(mmu->root_hpa);
		level = 4;
	} else {
		ck_assert_msg(mmu->root_level == 3, "%s: root_level %d", mmu->name, mmu->root_level);
		uint64_t pdpte = ((uint64_t *)host_phys_to_virt(mmu->root_hpa))[(va >> 30) & 3];
		if (!(pdpte & PT_PRESENT_MASK)) {
			x.missing = 3;
			return x;
		}
		/* The processor loads these as PDPTEs: bits 2:1 and 8:5 are reserved (SDM Vol. 3 Table 4-8). */
		ck_assert_msg(!(pdpte & 0x1e6) && !(pdpte >> 52), "%s: the PAE root's entry %llu is 0x%llx: reserved bits set, "
			      "VM entry would fail", mmu->name, (unsigned long long)((va >> 30) & 3), (unsigned long long)pdpte);
		table = host_phys_to_virt(pdpte & PT64_BASE_ADDR_MASK);
		level = 2;
	}
	for (;; level--) {
		uint64_t *p = &table[(va >> (12 + 9 * (level - 1))) & 511];
		uint64_t e = *p;
		if (!(e & PT_PRESENT_MASK)) {
			x.missing = level;
			return x;
		}
		fake_mmu_check_spte(vcpu, e, level, va);
		x.w &= !!(e & PT_WRITABLE_MASK);
		x.u &= !!(e & PT_USER_MASK);
		x.nx |= !!(e & PT64_NX_MASK);
		if (level == 1) {
			x.present = true;
			x.spte = e;
			x.sptep = p;
			return x;
		}
		table = host_phys_to_virt(e & PT64_BASE_ADDR_MASK);
	}
}

/* ---- the processor's walk of the EPT tables (lab 06) ------------------------------------ */

struct fake_mmu_ept_xlate fake_mmu_ept_xlate(struct kvm_vcpu *vcpu, uint64_t gpa, unsigned access, uint64_t qual_gva)
{
	struct kvm_mmu *mmu = vcpu->arch.mmu;
	struct fake_mmu_ept_xlate x = { .rwx = VMX_EPT_RWX_MASK };
	ck_assert_msg(mmu->tdp && VALID_PAGE(mmu->root_hpa) && mmu->root_level == 4,
		      "%s: no 4-level EPT root is loaded (root_hpa 0x%llx, root_level %d)", mmu->name,
		      (unsigned long long)mmu->root_hpa, mmu->root_level);
	uint64_t *table = host_phys_to_virt(mmu->root_hpa);
	for (int level = 4;; level--) {
		uint64_t *p = &table[(gpa >> (12 + 9 * (level - 1))) & 511];
		uint64_t e = *p;
		x.level = level;
		x.spte = e;
		x.sptep = p;
		/* Bits 2:0 clear: not present (SDM Vol. 3 29.3.2). */
		if (!(e & VMX_EPT_RWX_MASK)) {
			x.rwx = 0;
			break;
		}
		x.misconfig = ept_misconfig_reason(e, level, FAKE_MMU_EPT_CAP, FAKE_MMU_HOST_MAXPHYADDR);
		if (x.misconfig) {
			x.result = FAKE_EPT_MISCONFIG;
			return x;
		}
		x.rwx &= e & VMX_EPT_RWX_MASK;
		bool leaf = level == 1 || ((level == 2 || level == 3) && (e & VMX_EPT_LARGE_PAGE_BIT));
		if (leaf) {
			uint64_t size = 1ull << (12 + 9 * (level - 1));
			if ((access & ~x.rwx & VMX_EPT_RWX_MASK) == 0) {
				x.result = FAKE_EPT_MAPPED;
				x.hpa = (e & PT64_BASE_ADDR_MASK & ~(size - 1)) | (gpa & (size - 1));
				return x;
			}
			break;
		}
		table = host_phys_to_virt(e & PT64_BASE_ADDR_MASK);
	}
	/* An EPT violation (SDM Vol. 3 28.2.1, Table 28-7): what the access was,
	 * what the path allowed, whether a guest-linear address was behind it. */
	x.result = FAKE_EPT_VIOLATION;
	x.qual = (access & 7) | ((uint64_t)x.rwx << EPT_VIOLATION_RWX_SHIFT) | qual_gva;
	return x;
}

/* ck_assert_msg() for the hot loops below: Check records every assertion that
 * passes (a write to its pipe in fork mode); this acts on failure only. */
#define require(cond, ...)                         \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

void fake_mmu_check_ept_tree(struct kvm_vcpu *vcpu, int tdp_max_level, const char *when)
{
	struct kvm *kvm = vcpu->kvm;
	if (!VALID_PAGE(vcpu->arch.mmu->root_hpa))
		return;
	struct frame {
		const uint64_t *table;
		int level;
		uint64_t base;
	} stack[4 * 512];   /* depth first: at most 511 siblings waiting per level */
	int n = 0;
	stack[n++] = (struct frame){ host_phys_to_virt(vcpu->arch.mmu->root_hpa), 4, 0 };
	while (n) {
		struct frame f = stack[--n];
		for (unsigned i = 0; i < 512; i++) {
			uint64_t e = f.table[i], gpa = f.base | (uint64_t)i << (12 + 9 * (f.level - 1));
			if (!(e & VMX_EPT_RWX_MASK))
				continue;
			const char *why = ept_misconfig_reason(e, f.level, FAKE_MMU_EPT_CAP, FAKE_MMU_HOST_MAXPHYADDR);
			if (is_mmio_spte(e)) {
				require(f.level == 1 && why, "%s: gpa 0x%llx: an MMIO spte 0x%llx at level %d%s", when,
					(unsigned long long)gpa, (unsigned long long)e, f.level,
					why ? "" : " that the processor would not find misconfigured");
				require(get_mmio_spte_gfn(e) == gpa >> PAGE_SHIFT,
					"%s: the MMIO spte for gpa 0x%llx holds gfn 0x%llx", when, (unsigned long long)gpa,
					(unsigned long long)get_mmio_spte_gfn(e));
				bool current = get_mmio_spte_generation(e) == (kvm->memslots_generation & MMIO_SPTE_GEN_MASK);
				require(!current || !gfn_to_memslot(kvm, gpa >> PAGE_SHIFT), "%s: gpa 0x%llx has a slot, "
					"yet an MMIO spte of the current generation 0x%llx", when, (unsigned long long)gpa,
					(unsigned long long)kvm->memslots_generation);
				continue;
			}
			require(!why, "%s: gpa 0x%llx: the level-%d EPT entry 0x%llx is misconfigured: %s (SDM Vol. 3 "
				"29.3.3.1)", when, (unsigned long long)gpa, f.level, (unsigned long long)e, why);
			if (f.level > 1 && !(e & VMX_EPT_LARGE_PAGE_BIT)) {
				/* The direct page under a link maps the range the link covers,
				 * from its first gfn: rmap_remove() finds a leaf's gfn as
				 * sp->gfn + index (Linux: kvm_mmu_page_get_gfn). */
				const struct kvm_mmu_page *linked = spte_to_child_sp(kvm, e);
				require(linked && linked->role.direct && linked->role.level == f.level - 1 &&
						      linked->gfn == gpa >> PAGE_SHIFT,
					"%s: the level-%d link for gpa 0x%llx points to %s (gfn 0x%llx, level %d), not the "
					"direct page of the range it covers (gfn 0x%llx, level %d)", when, f.level,
					(unsigned long long)gpa, linked ? "a shadow page" : "no shadow page",
					linked ? (unsigned long long)linked->gfn : 0ull, linked ? (int)linked->role.level : 0,
					(unsigned long long)(gpa >> PAGE_SHIFT), f.level - 1);
				require(n < (int)(sizeof(stack) / sizeof(stack[0])), "%s: the EPT tree is too wide", when);
				stack[n++] = (struct frame){ host_phys_to_virt(spte_to_hpa(e)), f.level - 1, gpa };
				continue;
			}
			require(f.level <= tdp_max_level, "%s: gpa 0x%llx: a level-%d EPT leaf, with the MMU "
				"configured for %d", when, (unsigned long long)gpa, f.level, tdp_max_level);
			struct kvm_memory_slot *s = gfn_to_memslot(kvm, gpa >> PAGE_SHIFT);
			require(s, "%s: gpa 0x%llx: a level-%d leaf 0x%llx where no slot is", when,
				(unsigned long long)gpa, f.level, (unsigned long long)e);
			require(!(e & VMX_EPT_WRITABLE_MASK) || !(s->flags & KVM_MEM_READONLY),
				"%s: gpa 0x%llx of a read-only slot is writable", when, (unsigned long long)gpa);
			require(f.level == 1 || !s->dirty_bitmap, "%s: a 2 MiB leaf at gpa 0x%llx in a dirty-logged "
				"slot", when, (unsigned long long)gpa);
			for (uint64_t k = 0; k < pages_per_spte(f.level); k++) {
				uint64_t g = gpa + (k << PAGE_SHIFT), idx = (g >> PAGE_SHIFT) - s->base_gfn;
				void *hva = fake_mmu_gpa_to_hva(kvm, g);
				require(hva && gfn_to_memslot(kvm, g >> PAGE_SHIFT) == s &&
						      spte_to_hpa(e) + (k << PAGE_SHIFT) == host_virt_to_phys(hva),
					"%s: the level-%d leaf 0x%llx maps gpa 0x%llx to host 0x%llx, outside the host "
					"memory of its slot", when, f.level, (unsigned long long)e, (unsigned long long)g,
					(unsigned long long)(spte_to_hpa(e) + (k << PAGE_SHIFT)));
				require(!(e & VMX_EPT_WRITABLE_MASK) || !s->dirty_bitmap ||
						      (s->dirty_bitmap[idx / 64] & (1ull << (idx % 64))),
					"%s: gpa 0x%llx is writable but not in the dirty log: its next write would go "
					"unlogged", when, (unsigned long long)g);
			}
		}
	}
	require(kvm->arch.n_used_mmu_pages <= kvm->arch.n_max_mmu_pages, "%s: %u EPT pages, more than the bound %u",
		when, kvm->arch.n_used_mmu_pages, kvm->arch.n_max_mmu_pages);
}
