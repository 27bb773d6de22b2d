/* SPDX-License-Identifier: MIT */
/*
 * Exercises 3-7: the shadow MMU (kvm/mmu/mmu.c), built hosted with
 * grader/unittest/fake_mmu_host.c around it. A guest's page tables are
 * written into its RAM; the test plays the processor: it walks the shadow
 * tables from root_hpa as the hardware would (CR0.WP forced on, as vmx.c
 * runs a shadow-paging guest; XD with the guest's EFER.NXE), and hands each
 * access they refuse to kvm_mmu_page_fault() with the error code the
 * hardware would give, until the access completes, the guest gets a #PF or
 * minikvm exits. Then it checks what a student would: the sptes, the roles,
 * the hash, both reverse maps, write protection, the bound.
 */
#include <stdio.h>
#include <string.h>

#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>

#include "fake_mmu_host.h"
#include "kvm/mmu/mmu.h"
#include "kvm/mmu/mmu_internal.h"
#include "kvm/x86.h"
#include "kvmlabs/host_kernel.h"
#include "lab05_tests.h"

#define P   PT_PRESENT_MASK
#define W   PT_WRITABLE_MASK
#define U   PT_USER_MASK
#define A   PT_ACCESSED_MASK
#define D   PT_DIRTY_MASK
#define PS  PT_PAGE_SIZE_MASK
#define XD  PT64_NX_MASK

#define RAM_PAGES    1024ull          /* 4 MiB: the bound on shadow pages is its minimum, 64 */
#define TABLES_START 0x200000ull      /* the guest's page tables: 2 MiB .. 4 MiB */

static const char *const mode_names[] = { "32-bit paging", "PAE paging", "4-level paging" };

/* One address space of the guest: its CR3 and, for PAE, the PDs its PDPTEs name. */
struct space {
	uint64_t cr3;
	uint64_t pd[4];
};

struct guest {
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;
	int levels;                /* 2, 3, 4 */
	bool wp, nx, pse;
	struct space sp;           /* the one being built (and, after g_switch, loaded) */
	uint64_t next_table;
	const char *mode;
};

/* ---- the guest's memory and tables ------------------------------------------- */

static void *gptr(struct guest *g, uint64_t gpa)
{
	void *p = fake_mmu_gpa_to_hva(g->kvm, gpa);
	require(p, "test: gpa 0x%llx outside guest memory", (unsigned long long)gpa);
	return p;
}

static unsigned esz(struct guest *g)
{
	return g->levels == 2 ? 4 : 8;
}

static uint64_t gget(struct guest *g, uint64_t gpa)
{
	uint64_t v = 0;
	memcpy(&v, gptr(g, gpa), esz(g));
	return v;
}

static void gset(struct guest *g, uint64_t gpa, uint64_t v)
{
	memcpy(gptr(g, gpa), &v, esz(g));
}

static uint64_t addr_of(struct guest *g, uint64_t e)
{
	return e & (g->levels == 2 ? 0xfffff000ull : PT64_BASE_ADDR_MASK);
}

static unsigned gindex(struct guest *g, uint64_t gva, int l)
{
	if (g->levels == 2)
		return (gva >> (12 + 10 * (l - 1))) & 0x3ff;
	return (gva >> (12 + 9 * (l - 1))) & 0x1ff;
}

static uint64_t new_table(struct guest *g)
{
	uint64_t gpa = g->next_table;
	require(gpa < RAM_PAGES * 4096, "test: out of guest memory for tables");
	g->next_table += 4096;
	memset(gptr(g, gpa), 0, 4096);
	return gpa;
}

/* A fresh address space: a top table (PAE: a PDPT and its four PDs). */
static void new_space(struct guest *g)
{
	g->sp = (struct space){ .cr3 = new_table(g) };
	if (g->levels == 3)
		for (int i = 0; i < 4; i++) {
			g->sp.pd[i] = new_table(g);
			uint64_t pdpte = g->sp.pd[i] | P;
			memcpy(gptr(g, g->sp.cr3 + 8 * i), &pdpte, 8);
		}
}

/* Where the entry of level for gva is, making the tables above it (P|W|U). */
static uint64_t gentry(struct guest *g, uint64_t gva, int level)
{
	int top = g->levels == 3 ? 2 : g->levels;
	uint64_t table = g->levels == 3 ? g->sp.pd[(gva >> 30) & 3] : g->sp.cr3;
	for (int l = top; l > level; l--) {
		uint64_t e_gpa = table + gindex(g, gva, l) * esz(g);
		uint64_t e = gget(g, e_gpa);
		if (!(e & P)) {
			e = new_table(g) | P | W | U;
			gset(g, e_gpa, e);
		}
		table = addr_of(g, e);
	}
	return table + gindex(g, gva, level) * esz(g);
}

static uint64_t gmap(struct guest *g, uint64_t gva, uint64_t gpa, uint64_t flags)
{
	uint64_t e = gentry(g, gva, 1);
	gset(g, e, gpa | P | flags);
	return e;
}

/* The gpa of the page table that translates gva. */
static uint64_t gtable_of(struct guest *g, uint64_t gva)
{
	return gentry(g, gva, 1) & ~0xfffull;
}

static void guest_init(struct guest *g, int mode)
{
	*g = (struct guest){ .levels = mode + 2, .wp = true, .nx = mode > 0, .pse = true, .next_table = TABLES_START,
			     .mode = mode_names[mode] };
	g->vcpu = fake_mmu_vm_create(RAM_PAGES, 36, true);
	g->kvm = g->vcpu->kvm;
	new_space(g);
}

static void guest_done(struct guest *g)
{
	fake_mmu_vm_destroy(g->vcpu);
	require(fake_mmu_pages_live() == 0, "%s: %u host pages not given back when the VM was destroyed", g->mode,
		fake_mmu_pages_live());
}

/* ---- the vCPU --------------------------------------------------------------------- */

/* Before an entry, as vcpu_enter_guest() (fake_mmu_enter), and what the test wants of it. */
static void enter(struct guest *g)
{
	struct kvm_vcpu *vcpu = g->vcpu;
	int r = fake_mmu_enter(vcpu);
	require(r == 1, "%s: kvm_mmu_load() returned %d for CR3 0x%llx", g->mode, r,
		(unsigned long long)vcpu->arch.cr3);
}

/* The guest turns paging on (or changes CR0.WP/EFER.NXE): a new MMU context. */
static void activate(struct guest *g)
{
	struct kvm_vcpu *vcpu = g->vcpu;
	vcpu->arch.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG | (g->wp ? X86_CR0_WP : 0);
	vcpu->arch.cr4 = (g->levels > 2 ? X86_CR4_PAE : 0) | (g->pse ? X86_CR4_PSE : 0);
	vcpu->arch.efer = (g->levels == 4 ? EFER_LME | EFER_LMA : 0) | (g->nx ? EFER_NX : 0);
	vcpu->arch.cr3 = g->sp.cr3;
	if (g->levels == 3)
		ck_assert(kvm_load_pdptrs(vcpu, g->sp.cr3));
	kvm_mmu_reset_context(vcpu);
	enter(g);
}

/* MOV to CR3 (x86.c kvm_set_cr3: PDPTEs for PAE, then kvm_mmu_new_pgd). */
static void switch_cr3(struct guest *g, const struct space *s)
{
	g->sp = *s;
	g->vcpu->arch.cr3 = s->cr3;
	if (g->levels == 3)
		ck_assert(kvm_load_pdptrs(g->vcpu, s->cr3));
	kvm_mmu_new_pgd(g->vcpu, s->cr3);
	enter(g);
}

/* ---- the processor's walk of the shadow tables (fake_mmu_host.c) ---------------------- */

static struct fake_mmu_xlate shadow_xlate(struct guest *g, uint64_t gva)
{
	return fake_mmu_shadow_xlate(g->vcpu, gva);
}

enum outcome { DONE, GUEST_PF, EXITED };
static const char *const outcome_names[] = { "completed", "a #PF for the guest", "an exit to userspace" };

static const char *access_name(uint32_t access)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "CPL%d %s", access & PFERR_USER_MASK ? 3 : 0,
		 access & PFERR_FETCH_MASK ? "fetch" : access & PFERR_WRITE_MASK ? "write" : "read");
	return buf;
}

/* One access by the guest, run as the processor and minikvm would run it. */
static enum outcome gaccess(struct guest *g, uint64_t gva, uint32_t access)
{
	bool user = access & PFERR_USER_MASK, write = access & PFERR_WRITE_MASK, fetch = access & PFERR_FETCH_MASK;
	for (int tries = 0; tries < 6; tries++) {
		enter(g);
		struct fake_mmu_xlate x = shadow_xlate(g, gva);
		if (x.present && (!user || x.u) && (!write || x.w) && (!fetch || !(g->nx && x.nx)))
			return DONE;
		uint32_t ec = (x.present ? PFERR_PRESENT_MASK : 0) | (access & (PFERR_WRITE_MASK | PFERR_USER_MASK)) |
			      (fetch && g->nx ? PFERR_FETCH_MASK : 0);
		struct fake_mmu_calls before = fake_mmu_calls;
		g->vcpu->arch.exception.pending = false;
		int r = kvm_mmu_page_fault(g->vcpu, gva, ec);
		if (fake_mmu_calls.injected_pf != before.injected_pf) {
			require(r == 1, "%s: 0x%llx %s: a #PF was injected but kvm_mmu_page_fault returned %d", g->mode,
				(unsigned long long)gva, access_name(access), r);
			return GUEST_PF;
		}
		if (r <= 0 || fake_mmu_calls.emulate != before.emulate || fake_mmu_calls.internal_error != before.internal_error)
			return EXITED;
	}
	ck_abort_msg("%s: 0x%llx %s: still refused by the shadow after 6 page faults handled with 'retry': no progress",
		     g->mode, (unsigned long long)gva, access_name(access));
	return EXITED;
}

static void expect_outcome(struct guest *g, uint64_t gva, uint32_t access, enum outcome want, const char *why)
{
	enum outcome o = gaccess(g, gva, access);
	require(o == want, "%s: 0x%llx %s (%s): %s, expected %s", g->mode, (unsigned long long)gva,
		access_name(access), why, outcome_names[o], outcome_names[want]);
}

/* The access completed and the shadow maps gva to the host page of gpa. */
static struct fake_mmu_xlate expect_mapped(struct guest *g, uint64_t gva, uint32_t access, uint64_t gpa, const char *why)
{
	expect_outcome(g, gva, access, DONE, why);
	struct fake_mmu_xlate x = shadow_xlate(g, gva);
	uint64_t want = host_virt_to_phys(gptr(g, gpa & ~0xfffull));
	require((x.spte & PT64_BASE_ADDR_MASK) == want,
		"%s: 0x%llx (%s): the leaf spte 0x%llx maps host 0x%llx, expected guest page 0x%llx at host 0x%llx",
		g->mode, (unsigned long long)gva, why, (unsigned long long)x.spte,
		(unsigned long long)(x.spte & PT64_BASE_ADDR_MASK), (unsigned long long)gpa, (unsigned long long)want);
	return x;
}

static void expect_guest_pf(struct guest *g, uint64_t gva, uint32_t access, uint32_t errcode, const char *why)
{
	expect_outcome(g, gva, access, GUEST_PF, why);
	struct kvm_vcpu *vcpu = g->vcpu;
	require(vcpu->arch.exception.vector == 14 && vcpu->arch.exception.has_error_code,
		"%s: 0x%llx (%s): the injected exception is vector %d", g->mode, (unsigned long long)gva, why,
		vcpu->arch.exception.vector);
	require(vcpu->arch.exception.error_code == errcode && vcpu->arch.cr2 == gva,
		"%s: 0x%llx %s (%s): #PF error code 0x%x CR2 0x%llx injected, expected 0x%x and the address",
		g->mode, (unsigned long long)gva, access_name(access), why, vcpu->arch.exception.error_code,
		(unsigned long long)vcpu->arch.cr2, errcode);
}

/* ---- looking at the MMU's structures ----------------------------------------------------- */

static struct kvm_memory_slot *slot_of(struct guest *g, gfn_t gfn)
{
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++) {
		struct kvm_memory_slot *s = &g->kvm->memslots[i];
		if (s->npages && gfn >= s->base_gfn && gfn < s->base_gfn + s->npages)
			return s;
	}
	return NULL;
}

static struct kvm_rmap_head *rmap_of(struct guest *g, gfn_t gfn)
{
	struct kvm_memory_slot *s = slot_of(g, gfn);
	ck_assert(s);
	return &s->arch.rmap[gfn - s->base_gfn];
}

static unsigned write_track(struct guest *g, gfn_t gfn)
{
	struct kvm_memory_slot *s = slot_of(g, gfn);
	return s ? s->arch.gfn_write_track[gfn - s->base_gfn] : 0;
}

/* The shadow pages of gfn at level (valid, direct or not as asked), up to max. */
static int pages_of(struct guest *g, gfn_t gfn, int level, bool direct, struct kvm_mmu_page **out, int max)
{
	int n = 0;
	for (struct kvm_mmu_page *sp = g->kvm->arch.active_oldest; sp; sp = sp->next)
		if (sp->gfn == gfn && sp->role.level == (unsigned)level && sp->role.direct == direct && !sp->role.invalid) {
			if (n < max)
				out[n] = sp;
			n++;
		}
	return n;
}

static struct kvm_mmu_page *page_holding(struct guest *g, uint64_t *sptep)
{
	for (struct kvm_mmu_page *sp = g->kvm->arch.active_oldest; sp; sp = sp->next)
		if (sptep >= sp->spt && sptep < sp->spt + 512)
			return sp;
	return NULL;
}

static struct kvm_mmu_page *root_page(struct guest *g, int i)
{
	struct kvm_mmu *mmu = g->vcpu->arch.mmu;
	if (mmu->root_level == 4)
		return spte_to_child_sp(g->kvm, mmu->root_hpa);
	uint64_t e = g->vcpu->arch.pae_root[i];
	return e & P ? spte_to_child_sp(g->kvm, e) : NULL;
}

static unsigned count_in(struct kvm_mmu_page *const *buckets, bool by_spt, struct kvm_mmu_page *sp)
{
	unsigned n = 0;
	for (unsigned b = 0; b < KVM_NUM_MMU_PAGES; b++)
		for (struct kvm_mmu_page *p = buckets[b]; p; p = by_spt ? p->spt_next : p->hash_next)
			n += p == sp;
	return n;
}

/* What must hold whenever minikvm returns to the guest (SDM aside, the design's own rules):
 * every shadow page hashed once and on the active list; the count and the bound; each
 * page's parent_ptes exactly the sptes that point to it; each gfn's rmap exactly the
 * present leaves that map it; no writable leaf for a gfn that has a shadow page. */
static void check_invariants(struct guest *g, const char *when)
{
	struct kvm *kvm = g->kvm;
	struct kvm_arch *a = &kvm->arch;
	unsigned n = 0, leaves = 0;
	for (struct kvm_mmu_page *sp = a->active_oldest; sp; sp = sp->next) {
		n++;
		require(n <= a->n_used_mmu_pages, "%s, %s: the active list is longer than n_used_mmu_pages %u", g->mode,
			when, a->n_used_mmu_pages);
		require(count_in(a->mmu_page_hash, false, sp) == 1,
			"%s, %s: the shadow page of gfn 0x%llx (level %d) is %u times in mmu_page_hash", g->mode, when,
			(unsigned long long)sp->gfn, sp->role.level, count_in(a->mmu_page_hash, false, sp));
		require(spte_to_child_sp(kvm, host_virt_to_phys(sp->spt)) == sp,
			"%s, %s: the shadow page of gfn 0x%llx is not found by its table's address (mmu_page_by_spt)",
			g->mode, when, (unsigned long long)sp->gfn);
		/* Parents: the sptes of other pages that point here. */
		unsigned parents = 0;
		for (struct kvm_mmu_page *p = a->active_oldest; p; p = p->next) {
			if (p->role.level == 1)
				continue;
			for (int i = 0; i < 512; i++)
				if ((p->spt[i] & P) && (p->spt[i] & PT64_BASE_ADDR_MASK) == host_virt_to_phys(sp->spt))
					parents++;
		}
		require(pte_list_count(&sp->parent_ptes) == parents,
			"%s, %s: the shadow page of gfn 0x%llx level %d has %u parent_ptes, %u sptes point to it", g->mode,
			when, (unsigned long long)sp->gfn, sp->role.level, pte_list_count(&sp->parent_ptes), parents);
		if (!sp->role.direct)
			require(write_track(g, sp->gfn) > 0,
				"%s, %s: gfn 0x%llx has a shadow page but is not write-tracked", g->mode, when,
				(unsigned long long)sp->gfn);
		if (sp->role.level != 1)
			continue;
		for (int i = 0; i < 512; i++) {
			if (!(sp->spt[i] & P))
				continue;
			leaves++;
			gfn_t gfn = sp->role.direct ? sp->gfn + i : sp->gfns[i];
			struct rmap_iterator iter;
			uint64_t *sptep;
			unsigned found = 0;
			for_each_rmap_spte(rmap_of(g, gfn), &iter, sptep)
				found += sptep == &sp->spt[i];
			require(found == 1, "%s, %s: a leaf spte of gfn 0x%llx is %u times in that gfn's rmap", g->mode, when,
				(unsigned long long)gfn, found);
			if (sp->spt[i] & W) {
				struct kvm_mmu_page *shadows[1];
				require(pages_of(g, gfn, 1, false, shadows, 1) + pages_of(g, gfn, 2, false, shadows, 1) +
							pages_of(g, gfn, 3, false, shadows, 1) +
							pages_of(g, gfn, 4, false, shadows, 1) ==
						0,
					"%s, %s: gfn 0x%llx is a shadowed guest table, yet a leaf maps it writable", g->mode,
					when, (unsigned long long)gfn);
			}
		}
	}
	require(n == a->n_used_mmu_pages, "%s, %s: %u pages on the active list, n_used_mmu_pages %u", g->mode, when, n,
		a->n_used_mmu_pages);
	require(n <= a->n_max_mmu_pages, "%s, %s: %u shadow pages, more than the bound %u", g->mode, when, n,
		a->n_max_mmu_pages);
	unsigned rmapped = 0;
	for (int s = 0; s < KVM_USER_MEM_SLOTS; s++)
		for (uint64_t i = 0; i < kvm->memslots[s].npages; i++)
			rmapped += pte_list_count(&kvm->memslots[s].arch.rmap[i]);
	require(rmapped == leaves, "%s, %s: the rmaps hold %u sptes, the shadow pages %u present leaves", g->mode, when,
		rmapped, leaves);
}

/* ---- exercise 3: shadow pages ------------------------------------------------------------------ */

START_TEST(ex3_roots_by_mode)
{
	struct guest g;
	guest_init(&g, _i);
	if (g.levels == 3) {
		/* A PAE guest whose PDPTE 2 is not present. */
		uint64_t zero = 0;
		memcpy(gptr(&g, g.sp.cr3 + 16), &zero, 8);
	}
	activate(&g);
	struct kvm_mmu *mmu = g.vcpu->arch.mmu;
	require(fake_mmu_calls.load_pgd >= 1 && fake_mmu_calls.pgd_root == mmu->root_hpa &&
			fake_mmu_calls.pgd_level == mmu->root_level,
		"%s: the processor was not given root_hpa/root_level (kvm_x86_ops.load_mmu_pgd)", g.mode);
	if (g.levels == 4) {
		require(mmu->root_level == 4, "%s: root_level %d, expected 4", g.mode, mmu->root_level);
		struct kvm_mmu_page *sp = root_page(&g, 0);
		require(sp, "%s: root_hpa is not the table of a shadow page", g.mode);
		require(sp->gfn == g.sp.cr3 >> 12 && sp->role.level == 4 && !sp->role.direct &&
				!sp->role.has_4_byte_gpte && sp->role.quadrant == 0 && !sp->role.invalid,
			"%s: the root shadows gfn 0x%llx with role level %d direct %d 4-byte %d quadrant %d; expected CR3's "
			"gfn 0x%llx, level 4, indirect, 8-byte entries, quadrant 0",
			g.mode, (unsigned long long)sp->gfn, sp->role.level, sp->role.direct, sp->role.has_4_byte_gpte,
			sp->role.quadrant, (unsigned long long)(g.sp.cr3 >> 12));
		require(sp->role.cr0_wp == g.wp && sp->role.efer_nx == g.nx, "%s: the root's role has cr0_wp %d efer_nx %d",
			g.mode, sp->role.cr0_wp, sp->role.efer_nx);
		require(sp->root_count == 1, "%s: the root's root_count is %d, expected 1", g.mode, sp->root_count);
	} else {
		require(mmu->root_level == 3 && mmu->root_hpa == host_virt_to_phys(g.vcpu->arch.pae_root),
			"%s: the root must be the vCPU's PAE root (root_level 3), got level %d", g.mode, mmu->root_level);
		struct kvm_mmu_page *seen[4] = { 0 };
		for (int i = 0; i < 4; i++) {
			struct kvm_mmu_page *sp = root_page(&g, i);
			if (g.levels == 3 && i == 2) {
				require(!sp && !(g.vcpu->arch.pae_root[i] & P),
					"%s: PDPTE 2 is not present, yet PAE root entry 2 is", g.mode);
				continue;
			}
			require(sp, "%s: PAE root entry %d does not point to a shadow page", g.mode, i);
			gfn_t want = g.levels == 2 ? g.sp.cr3 >> 12 : g.sp.pd[i] >> 12;
			/* A 32-bit page directory (1024 entries, 4 MiB each) is shadowed by four
			 * 512-entry pages, one per GiB: quadrant i (Linux: role.quadrant). */
			unsigned quadrant = g.levels == 2 ? (unsigned)i : 0;
			require(sp->gfn == want && sp->role.level == 2 && !sp->role.direct &&
					sp->role.has_4_byte_gpte == (g.levels == 2) && sp->role.quadrant == quadrant,
				"%s: PAE root entry %d: shadow of gfn 0x%llx level %d 4-byte %d quadrant %d; expected gfn "
				"0x%llx level 2 4-byte %d quadrant %u",
				g.mode, i, (unsigned long long)sp->gfn, sp->role.level, sp->role.has_4_byte_gpte,
				sp->role.quadrant, (unsigned long long)want, g.levels == 2, quadrant);
			require(sp->root_count == 1, "%s: PAE root entry %d: root_count %d, expected 1", g.mode, i,
				sp->root_count);
			for (int j = 0; j < i; j++)
				require(seen[j] != sp, "%s: PAE root entries %d and %d share a shadow page", g.mode, j, i);
			seen[i] = sp;
		}
	}
	check_invariants(&g, "after the first root load");
	guest_done(&g);
}
END_TEST

START_TEST(ex3_32bit_page_table_has_two_shadows)
{
	struct guest g;
	guest_init(&g, 0);
	/* One guest page table maps 4 MiB; a shadow page 2 MiB: the lower half is
	 * quadrant 0, the upper quadrant 1. */
	uint64_t lo = 0x00c01000, hi = 0x00e01000;
	gmap(&g, lo, 0x10000, W | U);
	gmap(&g, hi, 0x11000, W | U);
	uint64_t pt = gtable_of(&g, lo);
	ck_assert(pt == gtable_of(&g, hi));
	activate(&g);
	struct fake_mmu_xlate xl = expect_mapped(&g, lo, 0, 0x10000, "lower half of a page table");
	struct fake_mmu_xlate xh = expect_mapped(&g, hi, 0, 0x11000, "upper half of the same page table");
	struct kvm_mmu_page *pages[4];
	int n = pages_of(&g, pt >> 12, 1, false, pages, 4);
	require(n == 2, "%s: the page table at 0x%llx has %d shadow pages, expected 2 (one per quadrant)", g.mode,
		(unsigned long long)pt, n);
	struct kvm_mmu_page *spl = page_holding(&g, xl.sptep), *sph = page_holding(&g, xh.sptep);
	require(spl && sph && spl != sph, "%s: both halves' leaves are in one shadow page", g.mode);
	require(spl->gfn == pt >> 12 && spl->role.quadrant == 0 && spl->role.has_4_byte_gpte,
		"%s: the lower half's leaf is in a page of gfn 0x%llx quadrant %d", g.mode, (unsigned long long)spl->gfn,
		spl->role.quadrant);
	require(sph->gfn == pt >> 12 && sph->role.quadrant == 1 && sph->role.has_4_byte_gpte,
		"%s: the upper half's leaf is in a page of gfn 0x%llx quadrant %d", g.mode, (unsigned long long)sph->gfn,
		sph->role.quadrant);
	check_invariants(&g, "after two halves of one page table");
	guest_done(&g);
}
END_TEST

START_TEST(ex3_hash_finds_existing_pages)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000;
	gmap(&g, x, 0x10000, W | U);
	struct space a = g.sp;
	activate(&g);
	expect_mapped(&g, x, 0, 0x10000, "address space A");
	struct kvm_mmu_page *root_a = root_page(&g, g.levels == 4 ? 0 : 1);
	unsigned used = g.kvm->arch.n_used_mmu_pages;

	new_space(&g);
	gmap(&g, x, 0x11000, W | U);
	struct space b = g.sp;
	switch_cr3(&g, &b);
	expect_mapped(&g, x, 0, 0x11000, "address space B, same address");
	require(root_a->root_count == 0, "%s: the root of A still has root_count %d after MOV CR3 to B", g.mode,
		root_a->root_count);

	uint64_t misses = g.kvm->arch.stat.mmu_cache_miss;
	unsigned used_b = g.kvm->arch.n_used_mmu_pages;
	switch_cr3(&g, &a);
	require(root_page(&g, g.levels == 4 ? 0 : 1) == root_a,
		"%s: back to A, the root is a new shadow page: the hash did not find (gfn, role)", g.mode);
	expect_mapped(&g, x, 0, 0x10000, "address space A again");
	require(g.kvm->arch.stat.mmu_cache_miss == misses && g.kvm->arch.n_used_mmu_pages == used_b,
		"%s: back to A: %llu new shadow pages made, none needed (A's are all still there)", g.mode,
		(unsigned long long)(g.kvm->arch.stat.mmu_cache_miss - misses));
	ck_assert(used <= used_b);
	check_invariants(&g, "after switching A, B, A");
	guest_done(&g);
}
END_TEST

START_TEST(ex3_one_table_two_parents)
{
	struct guest g;
	guest_init(&g, _i);
	/* Two directory entries name the same guest page table, with the same rights. */
	uint64_t region = g.levels == 2 ? 4ull << 20 : 2ull << 20;
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000, y = x + region;
	gmap(&g, x, 0x10000, W | U);
	uint64_t pde_x = gentry(&g, x, 2), pde_y = gentry(&g, y, 2);
	gset(&g, pde_y, gget(&g, pde_x));
	uint64_t pt = gtable_of(&g, x);
	activate(&g);
	expect_mapped(&g, x, 0, 0x10000, "through the first directory entry");
	expect_mapped(&g, y, 0, 0x10000, "through the second directory entry");
	struct kvm_mmu_page *pages[4];
	int n = pages_of(&g, pt >> 12, 1, false, pages, 4);
	require(n == 1, "%s: one guest page table reached twice with one role has %d shadow pages, expected 1",
		g.mode, n);
	require(pte_list_count(&pages[0]->parent_ptes) == 2,
		"%s: the shadow of a page table two directory entries name has %u parent_ptes, expected 2", g.mode,
		pte_list_count(&pages[0]->parent_ptes));
	struct rmap_iterator iter;
	uint64_t *sptep;
	for_each_rmap_spte(&pages[0]->parent_ptes, &iter, sptep)
		require((*sptep & P) && (*sptep & PT64_BASE_ADDR_MASK) == host_virt_to_phys(pages[0]->spt),
			"%s: a parent spte (0x%llx) does not point to the shadow page", g.mode, (unsigned long long)*sptep);
	check_invariants(&g, "after one table through two parents");
	guest_done(&g);
}
END_TEST

START_TEST(ex3_role_tells_shadows_apart)
{
	struct guest g;
	guest_init(&g, _i);
	/* The same page table, through a user directory entry and a supervisor-only one:
	 * two shadow pages, role.access apart (the leaves carry the combined rights). */
	uint64_t region = g.levels == 2 ? 4ull << 20 : 2ull << 20;
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000, y = x + region;
	gmap(&g, x, 0x10000, U);
	uint64_t pde_x = gentry(&g, x, 2), pde_y = gentry(&g, y, 2);
	gset(&g, pde_y, gget(&g, pde_x) & ~U);
	uint64_t pt = gtable_of(&g, x);
	activate(&g);
	expect_mapped(&g, x, PFERR_USER_MASK, 0x10000, "user read through the user directory entry");
	expect_mapped(&g, y, 0, 0x10000, "supervisor read through the supervisor directory entry");
	expect_guest_pf(&g, y, PFERR_USER_MASK, PFERR_PRESENT_MASK | PFERR_USER_MASK,
			"user read through the supervisor directory entry");
	struct kvm_mmu_page *pages[4];
	int n = pages_of(&g, pt >> 12, 1, false, pages, 4);
	require(n == 2 && pages[0]->role.access != pages[1]->role.access,
		"%s: a page table reached with different rights has %d shadow pages (expected 2, role.access apart)",
		g.mode, n);
	/* role.access is what the entries above the table allow, not its leaves' rights
	 * (the leaf here is read-only): the user entry allows all, the other all but U/S. */
	unsigned acc_sorted[2] = { pages[0]->role.access, pages[1]->role.access };
	if (acc_sorted[0] < acc_sorted[1]) {
		unsigned t = acc_sorted[0];
		acc_sorted[0] = acc_sorted[1];
		acc_sorted[1] = t;
	}
	require(acc_sorted[0] == ACC_ALL && acc_sorted[1] == (ACC_ALL & ~ACC_USER_MASK),
		"%s: the two shadows of the page table have role.access 0x%x and 0x%x; expected 0x%x (through the user "
		"directory entry) and 0x%x (through the supervisor one): the rights of the entries above the table",
		g.mode, pages[0]->role.access, pages[1]->role.access, ACC_ALL, ACC_ALL & ~ACC_USER_MASK);
	check_invariants(&g, "after one table with two roles");

	/* CR0.WP is part of the role: the same CR3 with WP=0 gets another root. */
	struct kvm_mmu_page *root_wp = root_page(&g, 1);
	g.wp = false;
	activate(&g);
	struct kvm_mmu_page *root_nowp = root_page(&g, 1);
	require(root_nowp && root_nowp != root_wp && root_nowp->gfn == root_wp->gfn && !root_nowp->role.cr0_wp,
		"%s: after CR0.WP=0 the root must be another shadow page of the same gfn with role.cr0_wp 0", g.mode);
	check_invariants(&g, "after CR0.WP changed");
	guest_done(&g);
}
END_TEST

/* ---- exercise 4: the rmap and write protection ---------------------------------------------------- */

START_TEST(ex4_rmap_of_a_page_mapped_hundreds_of_times)
{
	struct guest g;
	guest_init(&g, _i);
	/* An aliasing guest: 400 addresses, one frame (the rmap chain grows long). */
	const unsigned n = 400;
	uint64_t base = g.levels == 4 ? 0x00007f0000400000ull : 0x40400000, frame = 0x10000;
	for (unsigned i = 0; i < n; i++)
		gmap(&g, base + i * 4096ull, frame, U | A);
	activate(&g);
	for (unsigned i = 0; i < n; i++)
		expect_mapped(&g, base + i * 4096ull, PFERR_USER_MASK, frame, "one of 400 aliases");
	struct kvm_rmap_head *rmap = rmap_of(&g, frame >> 12);
	require(pte_list_count(rmap) == n, "%s: a frame mapped at %u addresses has %u sptes in its rmap", g.mode, n,
		pte_list_count(rmap));
	struct rmap_iterator iter;
	uint64_t *sptep;
	for_each_rmap_spte(rmap, &iter, sptep)
		require((*sptep & P) && (*sptep & PT64_BASE_ADDR_MASK) == host_virt_to_phys(gptr(&g, frame)),
			"%s: an spte in the frame's rmap (0x%llx) does not map the frame", g.mode,
			(unsigned long long)*sptep);
	check_invariants(&g, "after 400 aliases");

	/* INVLPG drops a leaf: it leaves the rmap too. */
	for (unsigned i = 0; i < n; i += 4)
		kvm_mmu_invlpg(g.vcpu, base + i * 4096ull);
	require(pte_list_count(rmap) == n - n / 4, "%s: after INVLPG of %u aliases the rmap holds %u, expected %u",
		g.mode, n / 4, pte_list_count(rmap), n - n / 4);
	check_invariants(&g, "after INVLPG of a quarter of the aliases");

	/* Zapping the page tables' shadows takes every leaf off the rmap. */
	uint64_t pt = gtable_of(&g, base);
	require(kvm_mmu_unprotect_page(g.kvm, pt >> 12), "%s: kvm_mmu_unprotect_page of a shadowed page table said false",
		g.mode);
	require(pte_list_count(rmap) == 0, "%s: the page table's shadows are zapped, yet the rmap holds %u sptes", g.mode,
		pte_list_count(rmap));
	check_invariants(&g, "after the page table was unprotected");
	guest_done(&g);
}
END_TEST

START_TEST(ex4_shadowed_table_is_write_protected)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t region = g.levels == 2 ? 4ull << 20 : 2ull << 20;
	uint64_t y = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000, x = y + 3 * region;
	gmap(&g, y, 0x10000, W | U);
	uint64_t t = gtable_of(&g, y);      /* the guest page table that maps y */
	uint64_t x_pte = gmap(&g, x, t, W | U);  /* ... which the guest also maps at x, writable */
	activate(&g);
	struct fake_mmu_xlate xs = expect_mapped(&g, x, PFERR_WRITE_MASK, t, "a write to a page not yet used as a table");
	require(xs.w, "%s: after a write fault the spte is not writable", g.mode);
	require(gget(&g, x_pte) & D, "%s: the guest's PTE has no D flag after the write", g.mode);

	/* y's translation makes t a shadowed table: every spte that maps t loses R/W. */
	expect_mapped(&g, y, 0, 0x10000, "an access through the table");
	require(write_track(&g, t >> 12) > 0, "%s: a page table with a shadow page is not write-tracked", g.mode);
	xs = shadow_xlate(&g, x);
	require(xs.present && !xs.w, "%s: the page table at 0x%llx got a shadow, yet x still maps it %s", g.mode,
		(unsigned long long)t, xs.present ? "writable" : "not at all");
	check_invariants(&g, "after the table got a shadow");

	/* The guest writes its table: the shadows go (no emulator before lab 07) and the write completes. */
	expect_mapped(&g, x, PFERR_WRITE_MASK, t, "a write to a shadowed page table (not the root)");
	struct kvm_mmu_page *pages[4];
	require(pages_of(&g, t >> 12, 1, false, pages, 4) == 0 && write_track(&g, t >> 12) == 0,
		"%s: after a write to it the page table still has shadow pages or is still tracked", g.mode);
	require(!shadow_xlate(&g, y).present, "%s: the zapped table's translations are still in the shadow", g.mode);
	check_invariants(&g, "after the write unprotected the table");
	require(!kvm_mmu_unprotect_page(g.kvm, t >> 12), "%s: kvm_mmu_unprotect_page of a gfn without shadows said true",
		g.mode);
	require(!kvm_mmu_unprotect_page(g.kvm, 0x10), "%s: kvm_mmu_unprotect_page of a data page said true", g.mode);

	/* And y works again: t shadowed again, x read-only again. */
	expect_mapped(&g, y, 0, 0x10000, "an access through the table again");
	require(!shadow_xlate(&g, x).w, "%s: the table is shadowed again, yet x maps it writable", g.mode);
	check_invariants(&g, "after the table was shadowed again");
	guest_done(&g);
}
END_TEST

START_TEST(ex4_unprotect_zaps_every_shadow)
{
	struct guest g;
	guest_init(&g, _i);
	/* One guest page table with two shadow pages: through a user and a supervisor
	 * directory entry (role.access), and for a 32-bit guest in both quadrants too. */
	uint64_t region = g.levels == 2 ? 4ull << 20 : 2ull << 20;
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000, y = x + region;
	uint64_t x_hi = x + region / 2;
	gmap(&g, x, 0x10000, U);
	if (g.levels == 2)
		gmap(&g, x_hi, 0x11000, U);
	uint64_t pde_x = gentry(&g, x, 2), pde_y = gentry(&g, y, 2);
	gset(&g, pde_y, gget(&g, pde_x) & ~U);
	uint64_t pt = gtable_of(&g, x);
	activate(&g);
	expect_mapped(&g, x, PFERR_USER_MASK, 0x10000, "through the user directory entry");
	expect_mapped(&g, y, 0, 0x10000, "through the supervisor directory entry");
	if (g.levels == 2)
		expect_mapped(&g, x_hi, 0, 0x11000, "the upper half of the page table");
	struct kvm_mmu_page *pages[4];
	int n = pages_of(&g, pt >> 12, 1, false, pages, 4);
	require(n == (g.levels == 2 ? 3 : 2), "%s: test setup: %d shadow pages of the table", g.mode, n);
	require(kvm_mmu_unprotect_page(g.kvm, pt >> 12), "%s: kvm_mmu_unprotect_page of a shadowed table said false", g.mode);
	n = pages_of(&g, pt >> 12, 1, false, pages, 4);
	require(n == 0 && write_track(&g, pt >> 12) == 0,
		"%s: after kvm_mmu_unprotect_page the table keeps %d shadow pages (write-tracked %u): every one must go",
		g.mode, n, write_track(&g, pt >> 12));
	require(!shadow_xlate(&g, x).present && !shadow_xlate(&g, y).present,
		"%s: the zapped shadows' translations are still reachable", g.mode);
	check_invariants(&g, "after the table was unprotected");
	expect_mapped(&g, x, PFERR_USER_MASK, 0x10000, "user read again");
	expect_mapped(&g, y, 0, 0x10000, "supervisor read again");
	check_invariants(&g, "after the table was shadowed again");
	guest_done(&g);
}
END_TEST

START_TEST(ex4_write_to_a_root_table_needs_the_emulator)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t z = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000;
	uint64_t root_table = g.levels == 3 ? g.sp.pd[1] : g.sp.cr3;
	gmap(&g, z, root_table, W | U | A | D);
	activate(&g);
	struct fake_mmu_xlate xs = expect_mapped(&g, z, 0, root_table, "a read of the root table");
	require(!xs.w, "%s: the root table is mapped writable", g.mode);
	/* Zapping the root would only shadow it again: lab 07 emulates this write. */
	int emu = fake_mmu_calls.emulate;
	expect_outcome(&g, z, PFERR_WRITE_MASK, EXITED, "a write to the root table");
	require(fake_mmu_calls.emulate == emu + 1 && fake_mmu_calls.emulate_gpa == z,
		"%s: a write to the root table must go to x86_emulate_instruction() with its address", g.mode);
	guest_done(&g);
}
END_TEST

/* ---- exercise 6: the fault path ---------------------------------------------------------------- */

START_TEST(ex6_faults_follow_the_guest_tables)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t base = g.levels == 4 ? 0xffff800000400000ull : 0x40400000;
	uint64_t rw = base, ro = base + 0x1000, sup = base + 0x2000, np = base + 0x3000, xd = base + 0x4000,
		 rsvd = base + 0x5000, mmio = base + 0x6000;
	uint64_t rw_pte = gmap(&g, rw, 0x10000, W | U);
	gmap(&g, ro, 0x11000, U);
	gmap(&g, sup, 0x12000, W);
	gmap(&g, xd, 0x13000, W | U | (g.levels > 2 ? XD : 0));
	gmap(&g, rsvd, 0x14000 | (g.levels == 4 ? 1ull << 51 : g.levels == 3 ? 1ull << 62 : 0), W | U);
	gmap(&g, mmio, 0x10000000, W | U);  /* no memslot there */
	(void)np;
	activate(&g);
	uint32_t id = g.levels > 2 && g.nx ? PFERR_FETCH_MASK : 0;

	/* Readable first: writable only once the guest's D flag is set, so the write faults and sets it. */
	struct fake_mmu_xlate xs = expect_mapped(&g, rw, PFERR_USER_MASK, 0x10000, "user read of a user R/W page");
	require(xs.u && !xs.w && !(gget(&g, rw_pte) & D),
		"%s: after a read the leaf must be user, not writable while the guest's D is 0 (u %d w %d D %d)", g.mode,
		xs.u, xs.w, !!(gget(&g, rw_pte) & D));
	xs = expect_mapped(&g, rw, PFERR_USER_MASK | PFERR_WRITE_MASK, 0x10000, "user write of a user R/W page");
	require(xs.w && (gget(&g, rw_pte) & (A | D)) == (A | D), "%s: after a write: spte writable %d, guest A/D %d/%d",
		g.mode, xs.w, !!(gget(&g, rw_pte) & A), !!(gget(&g, rw_pte) & D));

	xs = expect_mapped(&g, ro, PFERR_USER_MASK, 0x11000, "user read of a read-only page");
	require(!xs.w, "%s: a read-only guest page is writable in the shadow", g.mode);
	expect_guest_pf(&g, ro, PFERR_USER_MASK | PFERR_WRITE_MASK,
			PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK, "user write of a read-only page");
	expect_guest_pf(&g, ro, PFERR_WRITE_MASK, PFERR_PRESENT_MASK | PFERR_WRITE_MASK,
			"supervisor write of a read-only page, CR0.WP=1");
	xs = expect_mapped(&g, sup, 0, 0x12000, "supervisor read of a supervisor page");
	require(!xs.u, "%s: a supervisor page is user-accessible in the shadow", g.mode);
	expect_guest_pf(&g, sup, PFERR_USER_MASK, PFERR_PRESENT_MASK | PFERR_USER_MASK, "user read of a supervisor page");
	expect_guest_pf(&g, np, PFERR_USER_MASK | PFERR_FETCH_MASK, PFERR_USER_MASK | id, "user fetch, not present");
	expect_guest_pf(&g, np, PFERR_WRITE_MASK, PFERR_WRITE_MASK, "supervisor write, not present");
	if (g.levels > 2) {
		xs = expect_mapped(&g, xd, 0, 0x13000, "read of an XD page");
		require(xs.nx, "%s: an XD guest page is executable in the shadow", g.mode);
		expect_guest_pf(&g, xd, PFERR_FETCH_MASK, PFERR_PRESENT_MASK | PFERR_FETCH_MASK, "fetch from an XD page");
		expect_guest_pf(&g, rsvd, PFERR_WRITE_MASK, PFERR_PRESENT_MASK | PFERR_RSVD_MASK | PFERR_WRITE_MASK,
				"a reserved bit in the guest's PTE");
	} else {
		expect_mapped(&g, xd, PFERR_FETCH_MASK, 0x13000, "fetch (32-bit paging has no XD)");
	}
	/* No RAM behind the gpa: MMIO, the emulator's (lab 07). */
	int emu = fake_mmu_calls.emulate;
	expect_outcome(&g, mmio, 0, EXITED, "a page without a memslot");
	require(fake_mmu_calls.emulate == emu + 1, "%s: an access to a gpa without a memslot must reach x86_emulate_instruction()",
		g.mode);
	check_invariants(&g, "after the faults");

	/* A #PF whose error code has RSVD set is none of the guest's (no spte has a reserved bit). */
	int ie = fake_mmu_calls.internal_error;
	ck_assert_int_eq(kvm_mmu_page_fault(g.vcpu, rw, PFERR_PRESENT_MASK | PFERR_RSVD_MASK), 0);
	require(fake_mmu_calls.internal_error == ie + 1, "%s: a #PF with RSVD must end in KVM_EXIT_INTERNAL_ERROR", g.mode);
	guest_done(&g);
}
END_TEST

START_TEST(ex6_cr0_wp_zero)
{
	struct guest g;
	guest_init(&g, _i);
	g.wp = false;
	uint64_t ro = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000;
	gmap(&g, ro, 0x11000, U);
	activate(&g);
	/* With CR0.WP=0 a supervisor write to a read-only page succeeds (SDM Vol. 3 4.6.1);
	 * the shadow must still never let CPL3 write it. */
	expect_mapped(&g, ro, PFERR_WRITE_MASK, 0x11000, "supervisor write of a read-only page, CR0.WP=0");
	struct fake_mmu_xlate xs = shadow_xlate(&g, ro);
	require(!(xs.w && xs.u), "%s: CR0.WP=0: the shadow lets CPL3 write a read-only page", g.mode);
	expect_mapped(&g, ro, PFERR_USER_MASK, 0x11000, "user read after it");
	xs = shadow_xlate(&g, ro);
	require(!(xs.w && xs.u), "%s: CR0.WP=0: the shadow lets CPL3 write a read-only page", g.mode);
	expect_guest_pf(&g, ro, PFERR_USER_MASK | PFERR_WRITE_MASK, PFERR_PRESENT_MASK | PFERR_WRITE_MASK | PFERR_USER_MASK,
			"user write of a read-only page, CR0.WP=0");
	expect_mapped(&g, ro, PFERR_WRITE_MASK, 0x11000, "supervisor write again");
	check_invariants(&g, "after CR0.WP=0 accesses");
	guest_done(&g);
}
END_TEST

struct large_case {
	const char *name;
	int mode, level;
	uint64_t gva;
};

static const struct large_case large_cases[] = {
	{ "32-bit paging, 4 MiB page", 0, 2, 0x40400000 },
	{ "PAE paging, 2 MiB page", 1, 2, 0x40400000 },
	{ "4-level paging, 2 MiB page", 2, 2, 0x00007f0000400000ull },
	{ "4-level paging, 1 GiB page", 2, 3, 0x00007f0040000000ull },
};

START_TEST(ex6_large_guest_pages)
{
	const struct large_case *lc = &large_cases[_i];
	struct guest g;
	guest_init(&g, lc->mode);
	uint64_t e = gentry(&g, lc->gva, lc->level);
	gset(&g, e, 0 | P | PS | W | U);  /* the page at guest-physical 0 */
	activate(&g);
	/* Shadowed 4 KiB at a time, under direct shadow pages (Linux: FNAME(fetch)). */
	static const uint64_t offsets[] = { 0, 0x1000, 0x1ff000, 0x200000, 0x3ff000 };
	for (unsigned i = 0; i < 5; i++) {
		uint64_t size = lc->level == 3 ? 1ull << 30 : lc->mode == 0 ? 4ull << 20 : 2ull << 20;
		if (offsets[i] >= size)
			continue;
		char why[96];
		snprintf(why, sizeof(why), "%s, offset 0x%llx", lc->name, (unsigned long long)offsets[i]);
		/* Writes only below the guest's page tables: a write to one is exercise 4's business. */
		uint32_t access = offsets[i] < TABLES_START ? PFERR_WRITE_MASK : 0;
		struct fake_mmu_xlate xs = expect_mapped(&g, lc->gva + offsets[i], access, offsets[i], why);
		struct kvm_mmu_page *sp = page_holding(&g, xs.sptep);
		require(sp && sp->role.direct && sp->role.level == 1 && sp->gfn == ((offsets[i] >> 12) & ~511ull),
			"%s: the leaf is in a shadow page of gfn 0x%llx, direct %d, level %d; expected a direct level-1 page "
			"of gfn 0x%llx",
			why, sp ? (unsigned long long)sp->gfn : 0ull, sp ? sp->role.direct : -1, sp ? sp->role.level : -1,
			(unsigned long long)((offsets[i] >> 12) & ~511ull));
	}
	require((gget(&g, e) & (A | D)) == (A | D), "%s: the large page's entry has no A/D after a write", lc->name);
	if (lc->level == 3) {
		int emu = fake_mmu_calls.emulate;
		expect_outcome(&g, lc->gva + 0x10000000, 0, EXITED, "the 1 GiB page beyond guest RAM");
		ck_assert(fake_mmu_calls.emulate == emu + 1);
	}
	check_invariants(&g, lc->name);
	guest_done(&g);
}
END_TEST

START_TEST(ex6_read_only_slot)
{
	struct guest g;
	guest_init(&g, _i);
	fake_mmu_add_slot(g.kvm, 1, 0x1000, 16, KVM_MEM_READONLY);
	uint64_t rom = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000;
	gmap(&g, rom, 0x1000000, W | U | A | D);
	activate(&g);
	struct fake_mmu_xlate xs = expect_mapped(&g, rom, 0, 0x1000000, "a read of a read-only slot");
	require(!xs.w, "%s: a page of a read-only memslot is writable in the shadow", g.mode);
	int emu = fake_mmu_calls.emulate;
	expect_outcome(&g, rom, PFERR_WRITE_MASK, EXITED, "a write to a read-only slot");
	require(fake_mmu_calls.emulate == emu + 1, "%s: a write to a read-only slot must reach x86_emulate_instruction()",
		g.mode);
	guest_done(&g);
}
END_TEST

START_TEST(ex6_shadow_pages_stay_bounded)
{
	struct guest g;
	guest_init(&g, _i);
	/* 150 page tables, each mapping one page: far more shadow pages than the bound (64). */
	uint64_t region = g.levels == 2 ? 4ull << 20 : 2ull << 20;
	uint64_t base = g.levels == 4 ? 0x00007f0000000000ull : 0x00400000;
	for (unsigned i = 0; i < 150; i++)
		gmap(&g, base + i * region, 0x10000 + (i % 64) * 4096ull, W | U);
	activate(&g);
	unsigned max = g.kvm->arch.n_max_mmu_pages;
	require(max == KVM_MIN_ALLOC_MMU_PAGES, "%s: the bound for 1024 guest pages is %u, expected %u", g.mode, max,
		KVM_MIN_ALLOC_MMU_PAGES);
	for (unsigned i = 0; i < 150; i++) {
		char why[64];
		snprintf(why, sizeof(why), "page table %u of 150", i);
		expect_mapped(&g, base + i * region, PFERR_USER_MASK, 0x10000 + (i % 64) * 4096ull, why);
		require(g.kvm->arch.n_used_mmu_pages <= max, "%s: %s: %u shadow pages, bound %u", g.mode, why,
			g.kvm->arch.n_used_mmu_pages, max);
	}
	require(g.kvm->arch.stat.mmu_recycled > 0, "%s: 150 page tables under a bound of %u, yet nothing was reclaimed",
		g.mode, max);
	check_invariants(&g, "after 150 page tables");
	guest_done(&g);
}
END_TEST

/* ---- exercise 5: the roots, CR3 and INVLPG ----------------------------------------------------------------- */

START_TEST(ex5_new_pgd_lets_the_root_go)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000;
	gmap(&g, x, 0x10000, W | U);
	struct space a = g.sp;
	activate(&g);
	expect_mapped(&g, x, 0, 0x10000, "address space A");
	struct kvm_mmu_page *root_a = root_page(&g, 1);
	new_space(&g);
	gmap(&g, x, 0x11000, W);
	g.vcpu->arch.cr3 = g.sp.cr3;
	if (g.levels == 3)
		ck_assert(kvm_load_pdptrs(g.vcpu, g.sp.cr3));
	kvm_mmu_new_pgd(g.vcpu, g.sp.cr3);
	require(!VALID_PAGE(g.vcpu->arch.mmu->root_hpa) || root_page(&g, 1) != root_a,
		"%s: after MOV CR3 the old root is still the root", g.mode);
	int loads = fake_mmu_calls.load_pgd;
	enter(&g);
	require(fake_mmu_calls.load_pgd > loads && fake_mmu_calls.pgd_root == g.vcpu->arch.mmu->root_hpa,
		"%s: after MOV CR3 the processor was not given the new root", g.mode);
	require(root_a->root_count == 0, "%s: A's root keeps root_count %d after MOV CR3", g.mode, root_a->root_count);
	expect_mapped(&g, x, 0, 0x11000, "address space B");
	expect_guest_pf(&g, x, PFERR_USER_MASK, PFERR_PRESENT_MASK | PFERR_USER_MASK, "address space B's page is supervisor");
	switch_cr3(&g, &a);
	expect_mapped(&g, x, PFERR_USER_MASK, 0x10000, "address space A again");
	check_invariants(&g, "after MOV CR3 back and forth");
	guest_done(&g);
}
END_TEST

START_TEST(ex5_invlpg_drops_one_translation)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000, y = x + 0x1000;
	uint64_t x_pte = gmap(&g, x, 0x10000, W | U);
	gmap(&g, y, 0x11000, W | U);
	activate(&g);
	expect_mapped(&g, x, 0, 0x10000, "x");
	expect_mapped(&g, y, 0, 0x11000, "y");
	unsigned used = g.kvm->arch.n_used_mmu_pages;
	/* The guest points x elsewhere, then INVLPG x (SDM Vol. 3 4.10.4.1). */
	gset(&g, x_pte, 0x12000 | P | W | U);
	kvm_mmu_invlpg(g.vcpu, x);
	struct fake_mmu_xlate xs = shadow_xlate(&g, x);
	require(!xs.present, "%s: after INVLPG x the shadow still maps x", g.mode);
	require(shadow_xlate(&g, y).present, "%s: INVLPG x dropped y's translation too", g.mode);
	require(g.kvm->arch.n_used_mmu_pages == used, "%s: INVLPG changed the number of shadow pages (%u to %u)", g.mode,
		used, g.kvm->arch.n_used_mmu_pages);
	require(pte_list_count(rmap_of(&g, 0x10)) == 0, "%s: after INVLPG the old frame's rmap still holds the spte",
		g.mode);
	check_invariants(&g, "after INVLPG");
	expect_mapped(&g, x, 0, 0x12000, "x after the guest changed its PTE and INVLPG");
	/* INVLPG of addresses the shadow does not map changes nothing. */
	kvm_mmu_invlpg(g.vcpu, x + 0x40000000);
	kvm_mmu_invlpg(g.vcpu, x + 0x100000);
	kvm_mmu_invlpg(g.vcpu, 0);
	require(g.kvm->arch.n_used_mmu_pages == used && shadow_xlate(&g, y).present,
		"%s: INVLPG of unmapped addresses changed the shadow", g.mode);
	check_invariants(&g, "after INVLPG of unmapped addresses");
	guest_done(&g);
}
END_TEST

START_TEST(ex5_root_outside_memory)
{
	struct guest g;
	guest_init(&g, _i);
	struct kvm_vcpu *vcpu = g.vcpu;
	vcpu->arch.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG | X86_CR0_WP;
	vcpu->arch.cr4 = (g.levels > 2 ? X86_CR4_PAE : 0);
	vcpu->arch.efer = g.levels == 4 ? EFER_LME | EFER_LMA : 0;
	if (g.levels == 3) {
		uint64_t pdpte = 0x10000000 | P;  /* a page directory outside guest memory */
		memcpy(gptr(&g, g.sp.cr3), &pdpte, 8);
		vcpu->arch.cr3 = g.sp.cr3;
		ck_assert(kvm_load_pdptrs(vcpu, g.sp.cr3));
	} else {
		vcpu->arch.cr3 = 0x10000000;
	}
	kvm_mmu_reset_context(vcpu);
	int r = kvm_mmu_load(vcpu);
	require(r == 0 && vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN,
		"%s: a root table outside guest memory: kvm_mmu_load returned %d, exit %u; expected 0 and "
		"KVM_EXIT_SHUTDOWN (the processor would triple-fault)",
		g.mode, r, vcpu->run->exit_reason);
	guest_done(&g);
}
END_TEST

START_TEST(ex5_root_zapped_while_loaded)
{
	struct guest g;
	guest_init(&g, _i);
	uint64_t x = g.levels == 4 ? 0x00007f0000401000ull : 0x40401000;
	gmap(&g, x, 0x10000, W | U);
	activate(&g);
	expect_mapped(&g, x, 0, 0x10000, "x");
	uint64_t root_gfn = (g.levels == 3 ? g.sp.pd[1] : g.sp.cr3) >> 12;
	ck_assert(kvm_mmu_unprotect_page(g.kvm, root_gfn));
	require(g.vcpu->requests & (1u << KVM_REQ_MMU_RELOAD),
		"%s: the loaded root was zapped but KVM_REQ_MMU_RELOAD is not pending", g.mode);
	expect_mapped(&g, x, 0, 0x10000, "x after the root was zapped");
	check_invariants(&g, "after the root was zapped and loaded again");
	guest_done(&g);
}
END_TEST

START_TEST(ex5_pae_roots_from_pdpte_registers)
{
	struct guest g;
	guest_init(&g, 1);
	uint64_t x = 0x40401000;
	gmap(&g, x, 0x10000, W | U);
	activate(&g);
	expect_mapped(&g, x, 0, 0x10000, "x");
	/* The guest points PDPTE 1 in memory elsewhere but loads no CR3: the PDPTE
	 * registers still name the old directory (SDM Vol. 3 4.4.1). */
	struct space old = g.sp;
	g.sp.pd[1] = new_table(&g);
	gmap(&g, x, 0x11000, W | U);
	uint64_t pdpte = g.sp.pd[1] | P;
	memcpy(gptr(&g, g.sp.cr3 + 8), &pdpte, 8);
	kvm_mmu_unload(g.vcpu);  /* the roots are let go (a zap would do it) and taken again */
	expect_mapped(&g, x, 0, 0x10000, "x after the roots were loaded again, PDPT changed in memory only");
	struct kvm_mmu_page *root = root_page(&g, 1);
	require(root && root->gfn == old.pd[1] >> 12,
		"%s: root 1 shadows gfn 0x%llx, expected 0x%llx, the directory of PDPTE register 1", g.mode,
		root ? (unsigned long long)root->gfn : 0ull, (unsigned long long)(old.pd[1] >> 12));
	/* MOV CR3 loads the registers from memory: now the new directory counts. */
	switch_cr3(&g, &g.sp);
	expect_mapped(&g, x, 0, 0x11000, "x after MOV CR3");
	check_invariants(&g, "after the PDPTEs were loaded again");
	guest_done(&g);
}
END_TEST

/* ---- exercise 7: the dirty log ------------------------------------------------------------------- */

START_TEST(ex7_slot_remove_write_access)
{
	struct guest g;
	guest_init(&g, _i);
	struct kvm_memory_slot *slot = fake_mmu_add_slot(g.kvm, 1, 0x1000, 32, KVM_MEM_LOG_DIRTY_PAGES);
	uint64_t base = g.levels == 4 ? 0x00007f0000400000ull : 0x40400000, other = base + 0x100000;
	for (unsigned i = 0; i < 8; i++)
		gmap(&g, base + i * 4096ull, 0x1000000 + i * 4096ull, W | U | A | D);
	gmap(&g, other, 0x20000, W | U | A | D);  /* slot 0: not logged */
	activate(&g);
	expect_mapped(&g, other, PFERR_WRITE_MASK, 0x20000, "a write to slot 0");
	for (unsigned i = 0; i < 8; i++) {
		struct fake_mmu_xlate xs = expect_mapped(&g, base + i * 4096ull, 0, 0x1000000 + i * 4096ull, "a read of a logged page");
		require(!xs.w, "%s: a logged page is writable after a read: its first write would not be logged", g.mode);
	}
	require(slot->dirty_bitmap[0] == 0, "%s: reads made pages dirty (bitmap 0x%llx)", g.mode,
		(unsigned long long)slot->dirty_bitmap[0]);
	for (unsigned i = 0; i < 8; i += 2)
		expect_mapped(&g, base + i * 4096ull, PFERR_WRITE_MASK, 0x1000000 + i * 4096ull, "a write to a logged page");
	require(slot->dirty_bitmap[0] == 0x55, "%s: after writes to pages 0, 2, 4, 6 the dirty bitmap is 0x%llx", g.mode,
		(unsigned long long)slot->dirty_bitmap[0]);

	/* KVM_GET_DIRTY_LOG takes the log and write-protects the slot again. */
	slot->dirty_bitmap[0] = 0;
	kvm_mmu_slot_remove_write_access(g.kvm, slot);
	for (unsigned i = 0; i < 8; i++) {
		struct fake_mmu_xlate xs = shadow_xlate(&g, base + i * 4096ull);
		require(!xs.present || !xs.w, "%s: logged page %u is still writable after the log was taken", g.mode, i);
		struct rmap_iterator iter;
		uint64_t *sptep;
		for_each_rmap_spte(rmap_of(&g, 0x1000 + i), &iter, sptep)
			require(!(*sptep & W), "%s: an spte of logged page %u is still writable", g.mode, i);
	}
	require(shadow_xlate(&g, other).w, "%s: write-protecting slot 1 took R/W from a page of slot 0", g.mode);
	expect_mapped(&g, base + 2 * 4096ull, PFERR_WRITE_MASK, 0x1000000 + 2 * 4096ull, "a write after the log was taken");
	require(slot->dirty_bitmap[0] == 0x4, "%s: after one write to page 2 the dirty bitmap is 0x%llx", g.mode,
		(unsigned long long)slot->dirty_bitmap[0]);
	check_invariants(&g, "after the dirty log");
	guest_done(&g);
}
END_TEST

Suite *mmu_suite(void)
{
	Suite *s = suite_create("mmu");
	TCase *tc = tcase_create("shadow");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, ex3_roots_by_mode, 0, 3);
	tcase_add_test(tc, ex3_32bit_page_table_has_two_shadows);
	tcase_add_loop_test(tc, ex3_hash_finds_existing_pages, 0, 3);
	tcase_add_loop_test(tc, ex3_one_table_two_parents, 0, 3);
	tcase_add_loop_test(tc, ex3_role_tells_shadows_apart, 0, 3);
	tcase_add_loop_test(tc, ex4_rmap_of_a_page_mapped_hundreds_of_times, 0, 3);
	tcase_add_loop_test(tc, ex4_shadowed_table_is_write_protected, 0, 3);
	tcase_add_loop_test(tc, ex4_unprotect_zaps_every_shadow, 0, 3);
	tcase_add_loop_test(tc, ex4_write_to_a_root_table_needs_the_emulator, 0, 3);
	tcase_add_loop_test(tc, ex6_faults_follow_the_guest_tables, 0, 3);
	tcase_add_loop_test(tc, ex6_cr0_wp_zero, 0, 3);
	tcase_add_loop_test(tc, ex6_large_guest_pages, 0, (int)(sizeof(large_cases) / sizeof(large_cases[0])));
	tcase_add_loop_test(tc, ex6_read_only_slot, 0, 3);
	tcase_add_loop_test(tc, ex6_shadow_pages_stay_bounded, 0, 3);
	tcase_add_loop_test(tc, ex5_new_pgd_lets_the_root_go, 0, 3);
	tcase_add_loop_test(tc, ex5_invlpg_drops_one_translation, 0, 3);
	tcase_add_test(tc, ex5_pae_roots_from_pdpte_registers);
	tcase_add_loop_test(tc, ex5_root_outside_memory, 0, 3);
	tcase_add_loop_test(tc, ex5_root_zapped_while_loaded, 0, 3);
	tcase_add_loop_test(tc, ex7_slot_remove_write_access, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}
