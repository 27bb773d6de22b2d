/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: minikvm's shadow MMU (solution/kvm/mmu/) under a hostile
 * guest. The input is the guest's memory (page tables that may loop, map
 * themselves, point outside memory or set reserved bits), its paging mode
 * and a sequence of what a guest and its VMM can do: accesses and stores at
 * CPL 0 or 3, MOV to CR3, INVLPG, CR0.WP/CR4.PSE/EFER.NXE changes, the dirty
 * log, a second memslot coming and going, the host running out of pages.
 * The MMU runs hosted on grader/unittest/fake_mmu_host.c, as in lab 05's
 * unit tests; this target plays the processor: it walks the shadow tables
 * from root_hpa and hands each access they refuse to kvm_mmu_page_fault()
 * with the error code the hardware would give (SDM Vol. 3 4.7).
 *
 * An input is an 8-byte header, then operations:
 *   byte 0   bits 0-1: paging (0: 32-bit, 1: PAE, 2 and 3: 4-level);
 *            bit 2 CR0.WP, bit 3 CR4.PSE, bit 4 EFER.NXE, bit 5 1 GiB pages
 *            (CPUID 80000001H:EDX[26]), bit 6 slot 0 logs dirty pages,
 *            bit 7 slot 1 exists from the start
 *   byte 1   MAXPHYADDR (maxphyaddrs[b & 7])
 *   byte 2   CR3's page (a page byte, below); byte 3: PAE: the PDPT's
 *            32-byte slot in that page
 *   byte 4   bit 0: TDP mode (EPT, lab 06; below); bit 1: without 2 MiB pages
 *   byte 5   TDP: the memslot generation to start from (tdp_gens[b & 3]:
 *            near the wrap of what an MMIO spte holds)
 *   bytes 6-7 unused
 * Each operation is an opcode byte, its kind in bits 0-3 and a parameter
 * in bits 4-7, then its arguments. Memory is described the way a guest
 * builds it, so that mutations keep meaning something:
 *   page byte   t < 0xe0: RAM page t % 64; 0xe0-0xef: slot 1's 16 pages
 *               just after RAM (outside memory without slot 1); 0xf0-0xff:
 *               far away (outside memory, or above MAXPHYADDR)
 *   entry       3 bytes: a page byte; flags (bits 0-7 as in the entry:
 *               P, R/W, U/S, PWT, PCD, A, D, PS); extra: bit 0 XD, bit 1 G,
 *               bits 2-3 the ignored bits 10:9, bits 4-7 one more bit from
 *               extra_bits[] (reserved bits for some levels and modes, the
 *               PSE-36 address bits)
 *   index byte  b: entry (idx_choice[b & 15] + (b >> 4)) of a table
 *   address     5 index bytes: the PML4, PDPT, PD and PT indexes (those
 *               the mode has) and the entry-sized slot in the page
 * The operations (K = kind):
 *   K0 SET page idx entry        write an entry (only before paging is on)
 *   K1 MAP address entry tflags tpage   map the address down to level
 *      1 + (param & 3) % 3 (PS added above level 1 unless param bit 2),
 *      making missing tables from tpage, tpage + 1, ... with the table
 *      flags tflags (only before paging is on)
 *   K2 ACCESS address            param: bits 0-1 read/write/fetch/read, bit 2 CPL 3
 *   K3 STORE address entry       a guest store of the entry (param bit 2: CPL 3)
 *   K4 CR3 page slot             MOV to CR3
 *   K5 INVLPG address
 *   K6 UNPROTECT page            kvm_mmu_unprotect_page()
 *   K7 DIRTY                     param 0/1: KVM_GET_DIRTY_LOG of slot 0/1,
 *                                2/3: toggle slot 0/1's KVM_MEM_LOG_DIRTY_PAGES
 *   K8 SLOT flags                param 0: add slot 1 (flags bit 0 read-only,
 *                                bit 1 logged), 1: remove it, 2: move it
 *   K9 MODE                      toggle param bit 0 CR0.WP, 1 CR4.PSE, 2 EFER.NXE
 *   K10 OOM n                    the host has n more pages (0xff: no limit)
 *   K11 RESET                    kvm_mmu_reset_context (KVM_SET_SREGS)
 *   K12-15 ACCESS, as K2
 * Paging goes on at the first operation that is not K0 or K1.
 *
 * After every operation the target checks what the MMU promises: every
 * shadow page hashed once and found by its table, parent_ptes exactly the
 * sptes that point to a page, each gfn's rmap exactly its leaves, write
 * tracking counting a gfn's indirect shadow pages, no shadowed gfn writable
 * anywhere, a logged page writable only once logged, the bound on shadow
 * pages; and the differential: every translation the shadow gives is one
 * the guest's tables give (paging_walk_addr, without side effects): the
 * same page, no more rights, the accessed and dirty flags already set as
 * the processor would have set them (SDM Vol. 3 4.8). An access that the
 * shadow still refuses after MAX_FAULTS faults handled with "retry" is a
 * finding; so is an injected #PF the guest's tables do not give, an exit to
 * the emulator the access does not need, an internal error, and a host page
 * not given back when the VM is destroyed.
 *
 * TDP mode (lab 06): the MMU under EPT (kvm_configure_mmu(true, 2 or 1)).
 * The guest's own page tables do not matter (K0 and K1 are skipped); its
 * accesses are to guest-physical addresses, and this target is the
 * processor walking the EPT tables (fake_mmu_ept_xlate: every entry judged
 * by ept_misconfig_reason, SDM Vol. 3 29.3.3.1), reporting an EPT violation
 * through vmx_ept_violation_error_code() and a misconfiguration as
 * PFERR_RSVD_MASK, as vmx.c does. RAM is 4 MiB (two 2 MiB pages); slot 1
 * (2 MiB at gfn 0x400, read-only, logged, its host memory skewed, moved to
 * the unaligned gfn 0x700) and slot 2 (16 read-only pages at 0xfee00) come
 * and go; the memslot generation may start next to its wrap. The operations:
 *   K2, K12-15 ACCESS gpa        param bits 0-1: read/write/fetch/read
 *   K3 FAULT gpa                 kvm_mmu_page_fault() with error code param
 *                                (bit 0 P, 1 W, 2 fetch, 3 RSVD), whatever
 *                                the tables hold: a hostile or stale exit
 *   K4 UNLOAD                    kvm_mmu_unload() (KVM_REQ_MMU_RELOAD)
 *   K5 INVLPG, K6 UNPROTECT, K7 DIRTY, K10 OOM, K11 RESET: as above
 *   K8 SLOT flags                param 0: add slot 1 (flags bit 0 read-only,
 *                                bit 1 logged, bit 2 host memory one page
 *                                off 2 MiB), 1: remove it, 2: move it,
 *                                3: add or remove slot 2
 *   K9 ZAP                       kvm_mmu_zap_all()
 * A gpa is 5 bytes: b[0] & 7 picks RAM (0, 1, 6, 7), slot 1's area (2),
 * slot 2's (3), anywhere below 2^44 (4) or the top of a 36-bit space (5);
 * the other bytes the page and the offset. After every operation: every EPT
 * entry reachable from the root passes the processor's checks, except MMIO
 * sptes, which are misconfigured, level-1, hold their own gfn, and exist
 * for the current generation only where no slot is; every leaf maps the
 * host page of its gfn in that gfn's slot, writable only outside read-only
 * slots and once logged, 2 MiB only where the slot allows; the structures
 * and the bound as above; a misconfiguration on an MMIO spte of the current
 * generation is MMIO without a memslot lookup; an exit to the emulator only
 * for a gpa without a slot or a write to a read-only one.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>

#include "fake_mmu_host.h"
#include "kvmlabs/lab.h"
#include "kvm/mmu/mmu.h"
#include "kvm/mmu/mmu_internal.h"
#include "kvm/mmu/spte.h"
#include "kvm/vmx/vmcs.h"
#include "kvm/vmx/vmx_decode.h"
#include "kvm/x86.h"
#include "kvmlabs/host_kernel.h"

#define RAM_PAGES    64ull   /* the bound on shadow pages is its minimum, 64 */
#define SLOT1_BASE   RAM_PAGES
#define SLOT1_PAGES  16ull
#define SLOT1_MOVED  (SLOT1_BASE + 8)
#define HEADER_SIZE  8
#define MAX_OPS      256     /* enough to go past the bound on shadow pages */
#define MAX_FAULTS   16      /* one fault builds the whole path: more is no progress */
#define TREE_CAP     256     /* leaves compared with the guest's walk after each operation */

/* TDP mode's memory (gfns). */
#define TDP_RAM_PAGES     1024ull
#define TDP_SLOT1_BASE    0x400ull
#define TDP_SLOT1_PAGES   0x200ull
#define TDP_SLOT1_MOVED   0x700ull
#define TDP_SLOT2_BASE    0xfee00ull
#define TDP_SLOT2_PAGES   16ull

#define P  PT_PRESENT_MASK
#define W  PT_WRITABLE_MASK
#define U  PT_USER_MASK
#define A  PT_ACCESSED_MASK
#define PS PT_PAGE_SIZE_MASK
#define XD PT64_NX_MASK

static const uint8_t maxphyaddrs[8] = { 36, 36, 39, 40, 41, 46, 48, 52 };
static const uint16_t idx_choice[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 255, 256, 510, 511, 512, 767, 1022, 1023 };
/* 0: none; the others are reserved somewhere (SDM Vol. 3 Tables 4-4 to 4-20)
 * or, in a 4 MiB page, address bits (PSE-36). */
static const int8_t extra_bits[16] = { -1, 12, 13, 17, 20, 21, 29, 31, 35, 36, 39, 40, 45, 51, 52, 62 };
static const uint64_t far_gfns[16] = {
	0x100, 0x3ff, 0xfffff, 0x100000, 0x100001, 0xffffff, 0x1000000, 0x7ffffff,
	0xfffffff, 0x10000000, 0xfffffffff, 0x1000, 0x80000, 0x40000, 0x200, 0x123456,
};

enum outcome { DONE, GUEST_PF, EXITED };

struct fz {
	struct kvm_vcpu *vcpu;
	struct kvm *kvm;
	struct paging_mode m;       /* the guest's mode as this target sees it, for the reference walks */
	bool tdp;                   /* EPT: the TDP MMU, accesses by guest-physical address */
	int tdp_max_level;
	gfn_t slot1_base, slot1_pages, slot1_moved;
	bool paging, dead, oom;
	unsigned op;                /* the operation being run, for messages */
	const char *what;
	uint64_t next_table;        /* MAP's next new table, as a page byte */
};

static struct fz fz;
/* KVMLABS_FUZZ_TRACE=1: each operation and its outcome on stderr, to read a finding's input. */
static bool trace;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fuzz: mmu: %s, operation %u (%s): ", fz.tdp ? "TDP (EPT)" : fz.m.levels == 4 ?
		"4-level paging" : fz.m.levels == 3 ? "PAE paging" : "32-bit paging", fz.op, fz.what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define require(cond, ...) ((cond) ? (void)0 : fail(__VA_ARGS__))

/* ---- decoding --------------------------------------------------------------- */

static uint64_t page_gfn(uint8_t t)
{
	if (t < 0xe0)
		return t % RAM_PAGES;
	if (t < 0xf0)
		return SLOT1_BASE + (t - 0xe0);
	return far_gfns[t - 0xf0];
}

static unsigned esz(void)
{
	return fz.m.levels == 2 ? 4 : 8;
}

static unsigned entries(void)
{
	return fz.m.levels == 2 ? 1024 : 512;
}

static unsigned index_of(uint8_t b, unsigned n)
{
	return (idx_choice[b & 15] + (b >> 4)) % n;
}

static uint64_t entry_value(const uint8_t *e)
{
	uint64_t v = page_gfn(e[0]) << PAGE_SHIFT | e[1];
	if (e[2] & 1)
		v |= XD;
	v |= (uint64_t)(e[2] & 2) << 7 | (uint64_t)((e[2] >> 2) & 3) << 9;
	int bit = extra_bits[e[2] >> 4];
	if (bit >= 0)
		v |= 1ull << bit;
	return fz.m.levels == 2 ? (uint32_t)v : v;
}

/* The linear address of 5 index bytes: canonical for 4-level paging (a
 * non-canonical one raises #GP, never #PF), 32 bits otherwise. */
static uint64_t address(const uint8_t *b)
{
	uint64_t va, off = (uint64_t)index_of(b[4], 4096 / esz()) * esz();
	if (fz.m.levels == 2)
		return (uint64_t)index_of(b[2], 1024) << 22 | (uint64_t)index_of(b[3], 1024) << 12 | off;
	va = (uint64_t)index_of(b[2], 512) << 21 | (uint64_t)index_of(b[3], 512) << 12 | off;
	if (fz.m.levels == 3)
		return va | (uint64_t)(b[1] & 3) << 30;
	va |= (uint64_t)index_of(b[0], 512) << 39 | (uint64_t)index_of(b[1], 512) << 30;
	return (uint64_t)((int64_t)(va << 16) >> 16);
}

/* ---- guest memory ----------------------------------------------------------- */

static void *gpa_hva(uint64_t gpa)
{
	return fake_mmu_gpa_to_hva(fz.kvm, gpa);
}

static struct kvm_memory_slot *slot_of(gfn_t gfn)
{
	return gfn_to_memslot(fz.kvm, gfn);
}

static void gset(uint64_t gpa, uint64_t v)
{
	void *p = gpa_hva(gpa);
	if (p)
		memcpy(p, &v, esz());
}

static uint64_t gget(uint64_t gpa)
{
	uint64_t v = 0;
	void *p = gpa_hva(gpa);
	if (p)
		memcpy(&v, p, esz());
	return v;
}

/* The reference walks: guest memory read-only; a flag the walk would have
 * to set is noted (the processor sets it before it uses a translation,
 * SDM Vol. 3 4.8), except in a read-only slot, where it cannot. */
static bool ref_needs_ad;

static int ref_read(void *ctx, uint64_t gpa, void *val, unsigned size)
{
	(void)ctx;
	void *p = gpa_hva(gpa);
	if (!p)
		return -1;
	memcpy(val, p, size);
	return 0;
}

static int ref_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val, unsigned size)
{
	(void)ctx, (void)old, (void)new_val, (void)size;
	struct kvm_memory_slot *s = slot_of(gpa >> PAGE_SHIFT);
	if (s && !(s->flags & KVM_MEM_READONLY))
		ref_needs_ad = true;
	return -1;
}

static const struct paging_mem ref_mem = { .read = ref_read, .cmpxchg = ref_cmpxchg };

static bool ref_walk(struct guest_walker *w, uint64_t va, uint32_t access)
{
	ref_needs_ad = false;
	return paging_walk_addr(w, &fz.m, &ref_mem, va, access);
}

static const char *access_name(uint32_t access)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "CPL%d %s", access & PFERR_USER_MASK ? 3 : 0,
		 access & PFERR_FETCH_MASK ? "fetch" : access & PFERR_WRITE_MASK ? "write" : "read");
	return buf;
}

/* ---- the MMU's structures ---------------------------------------------------- */

static struct kvm_mmu_page *sps[4096];
static struct kvm_mmu_page *by_ptr[4096];
static unsigned nsps;

static int cmp_spt(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)(*(struct kvm_mmu_page *const *)a)->spt;
	uintptr_t y = (uintptr_t)(*(struct kvm_mmu_page *const *)b)->spt;
	return x < y ? -1 : x > y;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
	return x < y ? -1 : x > y;
}

/* The index in sps[] (sorted by table) of the page whose table holds p, or -1. */
static int sp_holding(const void *p)
{
	int lo = 0, hi = (int)nsps - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const uint64_t *spt = sps[mid]->spt;
		if ((const uint64_t *)p < spt)
			hi = mid - 1;
		else if ((const uint64_t *)p >= spt + 512)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

static int sp_by_ptr(const struct kvm_mmu_page *sp)
{
	const void *key = sp;
	void **found = bsearch(&key, by_ptr, nsps, sizeof(*by_ptr), cmp_ptr);
	return found ? (int)((struct kvm_mmu_page **)found - by_ptr) : -1;
}

static unsigned parents_seen[4096], hashed[4096], spt_hashed[4096];
static uint8_t leaf_seen[4096][512 / 8];

static bool gfn_has_shadow(gfn_t gfn)
{
	for (unsigned i = 0; i < nsps; i++)
		if (!sps[i]->role.direct && sps[i]->gfn == gfn)
			return true;
	return false;
}

static bool gfn_logged_dirty(gfn_t gfn)
{
	struct kvm_memory_slot *s = slot_of(gfn);
	if (!s || !s->dirty_bitmap)
		return true;
	uint64_t i = gfn - s->base_gfn;
	return s->dirty_bitmap[i / 64] & (1ull << (i % 64));
}

/* The design's own rules, whenever minikvm is about to enter the guest. */
static void check_structures(void)
{
	struct kvm_arch *a = &fz.kvm->arch;
	nsps = 0;
	for (struct kvm_mmu_page *sp = a->active_oldest; sp; sp = sp->next) {
		require(nsps < 4096 && nsps <= a->n_used_mmu_pages, "the active list is longer than n_used_mmu_pages %u",
			a->n_used_mmu_pages);
		require(!sp->role.invalid, "an invalid shadow page is on the active list");
		sps[nsps++] = sp;
	}
	require(nsps == a->n_used_mmu_pages, "%u pages on the active list, n_used_mmu_pages %u", nsps,
		a->n_used_mmu_pages);
	require(nsps <= a->n_max_mmu_pages, "%u shadow pages, more than the bound %u", nsps, a->n_max_mmu_pages);
	memcpy(by_ptr, sps, nsps * sizeof(*sps));
	qsort(sps, nsps, sizeof(*sps), cmp_spt);
	qsort(by_ptr, nsps, sizeof(*by_ptr), cmp_ptr);
	memset(parents_seen, 0, nsps * sizeof(*parents_seen));
	memset(hashed, 0, nsps * sizeof(*hashed));
	memset(spt_hashed, 0, nsps * sizeof(*spt_hashed));
	memset(leaf_seen, 0, nsps * sizeof(*leaf_seen));

	/* Both hashes hold each page once and nothing else. */
	for (unsigned b = 0; b < KVM_NUM_MMU_PAGES; b++) {
		unsigned len = 0;
		for (struct kvm_mmu_page *p = a->mmu_page_hash[b]; p; p = p->hash_next) {
			int i = sp_by_ptr(p);
			require(i >= 0, "mmu_page_hash holds a page that is not on the active list (freed or invalid)");
			require(++len <= nsps, "mmu_page_hash bucket %u loops", b);
			hashed[i]++;
		}
		len = 0;
		for (struct kvm_mmu_page *p = a->mmu_page_by_spt[b]; p; p = p->spt_next) {
			int i = sp_by_ptr(p);
			require(i >= 0, "mmu_page_by_spt holds a page that is not on the active list (freed or invalid)");
			require(++len <= nsps, "mmu_page_by_spt bucket %u loops", b);
			spt_hashed[i]++;
		}
	}
	unsigned leaves = 0;
	for (unsigned i = 0; i < nsps; i++) {
		struct kvm_mmu_page *sp = sps[i];
		int j = sp_by_ptr(sp);
		require(hashed[j] == 1 && spt_hashed[j] == 1,
			"the shadow page of gfn 0x%llx level %d is %u times in mmu_page_hash, %u in mmu_page_by_spt",
			(unsigned long long)sp->gfn, sp->role.level, hashed[j], spt_hashed[j]);
		require(spte_to_child_sp(fz.kvm, host_virt_to_phys(sp->spt)) == sp,
			"the shadow page of gfn 0x%llx is not found by its table's address", (unsigned long long)sp->gfn);
		require(sp->role.level >= 1 && sp->role.level <= 4, "a shadow page of level %d", sp->role.level);
		for (unsigned k = 0; k < 512; k++) {
			uint64_t e = sp->spt[k];
			if (!(e & P))
				continue;
			if (sp->role.level > 1 && fz.tdp && is_large_pte(e))
				continue;   /* a 2 MiB EPT leaf, off the rmaps: check_ept_tree's */
			if (sp->role.level > 1) {
				int c = sp_holding(host_phys_to_virt(spte_to_hpa(e)));
				require(c >= 0 && sps[c]->spt == host_phys_to_virt(spte_to_hpa(e)),
					"a level-%d spte of gfn 0x%llx points to 0x%llx, the table of no shadow page",
					sp->role.level, (unsigned long long)sp->gfn, (unsigned long long)spte_to_hpa(e));
				require(sps[c]->role.level == sp->role.level - 1,
					"a level-%d shadow page points to one of level %d", sp->role.level,
					sps[c]->role.level);
				parents_seen[c]++;
				continue;
			}
			leaves++;
			gfn_t gfn = sp->role.direct ? sp->gfn + k : sp->gfns[k];
			void *hva = gpa_hva(gfn << PAGE_SHIFT);
			require(hva && spte_to_hpa(e) == host_virt_to_phys(hva),
				"the leaf spte 0x%llx of gfn 0x%llx maps another host page than the gfn's",
				(unsigned long long)e, (unsigned long long)gfn);
			if (e & W) {
				require(!gfn_has_shadow(gfn), "gfn 0x%llx is a shadowed guest table, yet a leaf maps it writable",
					(unsigned long long)gfn);
				require(gfn_logged_dirty(gfn),
					"gfn 0x%llx is writable in the shadow but not in the dirty log: a write would go unlogged",
					(unsigned long long)gfn);
				struct kvm_memory_slot *s = slot_of(gfn);
				require(!(s->flags & KVM_MEM_READONLY), "gfn 0x%llx of a read-only slot is writable",
					(unsigned long long)gfn);
			}
		}
	}
	/* parent_ptes: exactly the sptes that point to the page. */
	for (unsigned i = 0; i < nsps; i++) {
		struct kvm_mmu_page *sp = sps[i];
		struct rmap_iterator iter;
		uint64_t *sptep;
		unsigned n = 0;
		for_each_rmap_spte(&sp->parent_ptes, &iter, sptep) {
			require(++n <= parents_seen[i], "the shadow page of gfn 0x%llx level %d has more parent_ptes than "
				"the %u sptes that point to it", (unsigned long long)sp->gfn, sp->role.level, parents_seen[i]);
			int c = sp_holding(sptep);
			require(c >= 0 && (*sptep & P) && spte_to_hpa(*sptep) == host_virt_to_phys(sp->spt),
				"a parent_pte of the shadow page of gfn 0x%llx does not point to it",
				(unsigned long long)sp->gfn);
		}
		require(n == parents_seen[i], "the shadow page of gfn 0x%llx level %d has %u parent_ptes, %u sptes point "
			"to it", (unsigned long long)sp->gfn, sp->role.level, n, parents_seen[i]);
	}
	/* Each gfn's rmap: exactly the present leaves that map it; write
	 * tracking: the number of its indirect shadow pages. */
	unsigned rmapped = 0;
	for (int s = 0; s < KVM_USER_MEM_SLOTS; s++) {
		struct kvm_memory_slot *slot = &fz.kvm->memslots[s];
		for (uint64_t g = 0; g < slot->npages; g++) {
			gfn_t gfn = slot->base_gfn + g;
			struct rmap_iterator iter;
			uint64_t *sptep;
			for_each_rmap_spte(&slot->arch.rmap[g], &iter, sptep) {
				require(++rmapped <= leaves, "the rmaps hold more sptes than the %u present leaves", leaves);
				int c = sp_holding(sptep);
				require(c >= 0 && sps[c]->role.level == 1 && (*sptep & P),
					"gfn 0x%llx's rmap holds an spte that is not a present leaf of a shadow page",
					(unsigned long long)gfn);
				unsigned k = (unsigned)(sptep - sps[c]->spt);
				gfn_t mapped = sps[c]->role.direct ? sps[c]->gfn + k : sps[c]->gfns[k];
				require(mapped == gfn, "gfn 0x%llx's rmap holds a leaf that maps gfn 0x%llx",
					(unsigned long long)gfn, (unsigned long long)mapped);
				require(!(leaf_seen[c][k / 8] & (1u << (k % 8))), "a leaf of gfn 0x%llx is twice in its rmap",
					(unsigned long long)gfn);
				leaf_seen[c][k / 8] |= (uint8_t)(1u << (k % 8));
			}
			unsigned shadows = 0;
			for (unsigned i = 0; i < nsps; i++)
				shadows += !sps[i]->role.direct && sps[i]->gfn == gfn;
			require(slot->arch.gfn_write_track[g] == shadows,
				"gfn 0x%llx is write-tracked %u times, it has %u indirect shadow pages",
				(unsigned long long)gfn, slot->arch.gfn_write_track[g], shadows);
		}
	}
	require(rmapped == leaves, "the rmaps hold %u sptes, the shadow pages %u present leaves", rmapped, leaves);
}

/* ---- the processor ------------------------------------------------------------ */


/* vcpu_enter_guest() up to the entry (x86.c). False when the vCPU cannot
 * run: a root outside memory (shutdown), or the host out of pages. */
static bool enter(void)
{
	struct kvm_vcpu *vcpu = fz.vcpu;
	if (fz.dead)
		return false;
	int r = fake_mmu_enter(vcpu);
	if (r == 1)
		return true;
	fz.dead = true;
	if (r < 0) {
		require(fz.oom, "kvm_mmu_load() returned %d with host pages to spare", r);
		return false;
	}
	/* Only a root outside guest memory stops the vCPU here (mmu_check_root). */
	require(vcpu->run->exit_reason == KVM_EXIT_SHUTDOWN, "kvm_mmu_load() returned 0 with exit reason %u",
		vcpu->run->exit_reason);
	bool outside = false;
	if (fz.m.levels == 3) {
		for (int i = 0; i < 4; i++)
			outside |= (fz.m.pdptrs[i] & P) && !slot_of((fz.m.pdptrs[i] & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT);
	} else {
		uint64_t mask = fz.m.levels == 2 ? PT32_BASE_ADDR_MASK : PT64_BASE_ADDR_MASK;
		outside = !slot_of((fz.m.cr3 & mask) >> PAGE_SHIFT);
	}
	require(outside, "kvm_mmu_load() shut the VM down, yet its root tables are in guest memory");
	return false;
}

/* A translation the shadow gives, for access: the guest's tables give it too,
 * to the same page, with their accessed and dirty flags set. */
static void check_translation(uint64_t va, uint64_t spte, uint32_t access, const char *how)
{
	struct guest_walker w;
	require(ref_walk(&w, va, access), "0x%llx %s: the shadow allows it (%s), the guest's tables give #PF 0x%x",
		(unsigned long long)va, access_name(access), how, w.fault.error_code);
	void *hva = gpa_hva(w.gfn << PAGE_SHIFT);
	require(hva && spte_to_hpa(spte) == host_virt_to_phys(hva),
		"0x%llx %s: the shadow maps host 0x%llx (%s), the guest's tables gfn 0x%llx", (unsigned long long)va,
		access_name(access), (unsigned long long)spte_to_hpa(spte), how, (unsigned long long)w.gfn);
	require(!ref_needs_ad, "0x%llx %s: the shadow allows it (%s), but the guest's accessed/dirty flags are not "
		"set as the processor would have set them (SDM Vol. 3 4.8)", (unsigned long long)va,
		access_name(access), how);
	require(!(access & PFERR_WRITE_MASK) || gfn_logged_dirty(w.gfn),
		"0x%llx %s: the shadow allows it (%s), but gfn 0x%llx is not in the dirty log", (unsigned long long)va,
		access_name(access), how, (unsigned long long)w.gfn);
}

/* Whether an exit to the emulator is what the access needs at stage 05: MMIO,
 * a store to a read-only slot, or a store to a guest table that unprotecting
 * cannot help (a root, or a table of this very translation). */
/* Does gfn have a valid shadow page of a guest table (the shadow write-protects it)? */
static bool gfn_shadowed(gfn_t gfn)
{
	for (unsigned b = 0; b < KVM_NUM_MMU_PAGES; b++)
		for (struct kvm_mmu_page *p = fz.kvm->arch.mmu_page_hash[b]; p; p = p->hash_next)
			if (p->gfn == gfn && !p->role.direct && !p->role.invalid)
				return true;
	return false;
}

static bool emulation_needed(uint64_t va, uint32_t access)
{
	struct guest_walker w;
	if (!ref_walk(&w, va, access))
		return false;
	struct kvm_memory_slot *s = slot_of(w.gfn);
	if (!s)
		return true;
	if (!(access & PFERR_WRITE_MASK))
		return false;
	if (s->flags & KVM_MEM_READONLY)
		return true;
	/* From lab 07 a write to a guest table the shadow write-protects is the
	 * emulator's: it makes the store and keeps the shadow right
	 * (kvm_mmu_pte_write), where lab 05 unprotected the table. */
	if (LAB_ENABLED(7) && gfn_shadowed(w.gfn))
		return true;
	for (int l = w.level; l <= w.max_level; l++)
		if (!(fz.m.levels == 3 && l == 3) && w.table_gfn[l] == w.gfn)
			return true;
	if (fz.m.levels == 3) {
		for (int i = 0; i < 4; i++)
			if ((fz.m.pdptrs[i] & P) && (fz.m.pdptrs[i] & PT64_BASE_ADDR_MASK) >> PAGE_SHIFT == w.gfn)
				return true;
		return false;
	}
	uint64_t mask = fz.m.levels == 2 ? PT32_BASE_ADDR_MASK : PT64_BASE_ADDR_MASK;
	return (fz.m.cr3 & mask) >> PAGE_SHIFT == w.gfn;
}

/* One access by the guest, run as the processor and minikvm would run it. */
static enum outcome gaccess_run(uint64_t va, uint32_t access, struct fake_mmu_xlate *out);

static enum outcome gaccess(uint64_t va, uint32_t access, struct fake_mmu_xlate *out)
{
	static const char *const names[] = { "completed", "#PF for the guest", "exit" };
	enum outcome o = gaccess_run(va, access, out);
	if (trace)
		fprintf(stderr, "  0x%llx %s: %s%s (#PF 0x%x, %d shadow pages)\n", (unsigned long long)va,
			access_name(access), names[o], fz.dead ? ", the vCPU cannot run" : "",
			o == GUEST_PF ? fz.vcpu->arch.exception.error_code : 0, fz.kvm->arch.n_used_mmu_pages);
	return o;
}

static enum outcome gaccess_run(uint64_t va, uint32_t access, struct fake_mmu_xlate *out)
{
	struct kvm_vcpu *vcpu = fz.vcpu;
	bool user = access & PFERR_USER_MASK, write = access & PFERR_WRITE_MASK, fetch = access & PFERR_FETCH_MASK;
	for (int tries = 0; tries < MAX_FAULTS; tries++) {
		if (!enter())
			return EXITED;
		struct fake_mmu_xlate x = fake_mmu_shadow_xlate(fz.vcpu, va);
		if (x.present && (!user || x.u) && (!write || x.w) && (!fetch || !(fz.m.efer_nx && x.nx))) {
			check_translation(va, x.spte, access, "the access completed");
			*out = x;
			return DONE;
		}
		if (trace)
			fprintf(stderr, "  0x%llx %s: shadow %s, fault %d\n", (unsigned long long)va, access_name(access),
				x.present ? "refuses" : "has no translation", tries + 1);
		uint32_t ec = (x.present ? PFERR_PRESENT_MASK : 0) | (access & (PFERR_WRITE_MASK | PFERR_USER_MASK)) |
			      (fetch && fz.m.efer_nx ? PFERR_FETCH_MASK : 0);
		struct fake_mmu_calls before = fake_mmu_calls;
		vcpu->arch.exception.pending = false;
		int r = kvm_mmu_page_fault(vcpu, va, ec);
		if (fake_mmu_calls.injected_pf != before.injected_pf) {
			require(r == 1, "0x%llx %s: a #PF was injected but kvm_mmu_page_fault returned %d",
				(unsigned long long)va, access_name(access), r);
			struct guest_walker w;
			bool ok = ref_walk(&w, va, access);
			require(!ok, "0x%llx %s: #PF 0x%x injected, the guest's tables allow the access",
				(unsigned long long)va, access_name(access), vcpu->arch.exception.error_code);
			require(vcpu->arch.exception.error_code == w.fault.error_code && vcpu->arch.cr2 == w.fault.address,
				"0x%llx %s: #PF 0x%x CR2 0x%llx injected, the guest's tables give 0x%x at 0x%llx",
				(unsigned long long)va, access_name(access), vcpu->arch.exception.error_code,
				(unsigned long long)vcpu->arch.cr2, w.fault.error_code, (unsigned long long)w.fault.address);
			return GUEST_PF;
		}
		require(fake_mmu_calls.internal_error == before.internal_error,
			"0x%llx %s: #PF error code 0x%x ended in an internal error (suberror %u)", (unsigned long long)va,
			access_name(access), ec, fake_mmu_calls.internal_suberror);
		if (r < 0) {
			require(fz.oom, "0x%llx %s: kvm_mmu_page_fault returned %d with host pages to spare",
				(unsigned long long)va, access_name(access), r);
			fz.dead = true;
			return EXITED;
		}
		if (fake_mmu_calls.emulate != before.emulate) {
			require(emulation_needed(va, access), "0x%llx %s: sent to the emulator, which the access does not need",
				(unsigned long long)va, access_name(access));
			return EXITED;
		}
		require(r == 1, "0x%llx %s: kvm_mmu_page_fault returned %d without an exit", (unsigned long long)va,
			access_name(access), r);
	}
	fail("0x%llx %s: still refused by the shadow after %d page faults handled with 'retry': no progress",
	     (unsigned long long)va, access_name(access), MAX_FAULTS);
}

/* Every translation reachable from the current roots, compared with the
 * guest's walk for each access the shadow allows (up to cap leaves). */
static unsigned tree_left, tables_left;

static void check_leaf(uint64_t va, uint64_t spte, bool w, bool u, bool nx)
{
	check_translation(va, spte, 0, "a leaf of the shadow");
	if (u)
		check_translation(va, spte, PFERR_USER_MASK, "a user leaf of the shadow");
	if (w)
		check_translation(va, spte, PFERR_WRITE_MASK, "a writable leaf of the shadow");
	if (w && u)
		check_translation(va, spte, PFERR_WRITE_MASK | PFERR_USER_MASK, "a writable user leaf of the shadow");
	if (fz.m.efer_nx && !nx) {
		check_translation(va, spte, PFERR_FETCH_MASK, "an executable leaf of the shadow");
		if (u)
			check_translation(va, spte, PFERR_FETCH_MASK | PFERR_USER_MASK,
					  "an executable user leaf of the shadow");
	}
}

static void check_subtree(const uint64_t *table, int level, uint64_t base, bool w, bool u, bool nx)
{
	if (!tables_left--)
		return;
	for (unsigned i = 0; i < 512 && tree_left; i++) {
		uint64_t e = table[i];
		if (!(e & P))
			continue;
		uint64_t va = base | (uint64_t)i << (12 + 9 * (level - 1));
		if (fz.m.levels == 4)
			va = (uint64_t)((int64_t)(va << 16) >> 16);
		fake_mmu_check_spte(fz.vcpu, e, level, va);
		bool cw = w && (e & W), cu = u && (e & U), cnx = nx || (e & XD);
		if (level == 1) {
			tree_left--;
			check_leaf(va, e, cw, cu, cnx);
		} else {
			check_subtree(host_phys_to_virt(spte_to_hpa(e)), level - 1, va, cw, cu, cnx);
		}
	}
}

static void check_tree(unsigned cap)
{
	struct kvm_mmu *mmu = fz.vcpu->arch.mmu;
	if (!fz.paging || !VALID_PAGE(mmu->root_hpa) || mmu->direct_map)
		return;
	tree_left = cap;
	tables_left = 4 * cap;
	if (mmu->root_level == 4) {
		check_subtree(host_phys_to_virt(mmu->root_hpa), 4, 0, true, true, false);
		return;
	}
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t e = fz.vcpu->arch.pae_root[i];
		if (e & P)
			check_subtree(host_phys_to_virt(spte_to_hpa(e)), 2, i << 30, true, true, false);
	}
}

/* ---- the guest's and the VMM's operations -------------------------------------- */

/* The PDPTEs a MOV to CR3 would load, or false for the #GP (SDM Vol. 3 4.4.1). */
static bool read_pdptes(uint64_t cr3, uint64_t pdptrs[4])
{
	for (int i = 0; i < 4; i++) {
		void *p = gpa_hva((cr3 & 0xffffffe0ull) + 8 * i);
		if (!p)
			return false;
		memcpy(&pdptrs[i], p, 8);
		if (!paging_pdpte_valid(&fz.m, pdptrs[i]))
			return false;
	}
	return true;
}

/* PAE: load the PDPTEs as the processor does, and as kvm_load_pdptrs() must. */
static bool load_pdptes(uint64_t cr3)
{
	uint64_t pdptrs[4];
	bool ok = read_pdptes(cr3, pdptrs);
	require(kvm_load_pdptrs(fz.vcpu, cr3) == ok, "kvm_load_pdptrs(0x%llx) says %d, the PDPTEs are %s",
		(unsigned long long)cr3, !ok, ok ? "valid" : "invalid or outside memory");
	if (ok)
		memcpy(fz.m.pdptrs, pdptrs, sizeof(pdptrs));
	return ok;
}

static void set_regs(void)
{
	struct kvm_vcpu *vcpu = fz.vcpu;
	vcpu->arch.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG | (fz.m.cr0_wp ? X86_CR0_WP : 0);
	vcpu->arch.cr4 = (fz.m.levels > 2 ? X86_CR4_PAE : 0) | (fz.m.cr4_pse ? X86_CR4_PSE : 0);
	vcpu->arch.efer = (fz.m.levels == 4 ? EFER_LME | EFER_LMA : 0) | (fz.m.efer_nx ? EFER_NX : 0);
	vcpu->arch.cr3 = fz.m.cr3;
}

/* MOV to CR0 that sets PG: the PDPTEs, a new MMU context. */
static bool activate(void)
{
	fz.paging = true;
	if (fz.m.levels == 3 && !load_pdptes(fz.m.cr3))
		return false;   /* #GP: paging stays off, nothing for the MMU to do */
	set_regs();
	kvm_mmu_reset_context(fz.vcpu);
	return true;
}

static void op_map(const uint8_t *arg, unsigned param)
{
	int leaf = 1 + (int)(param & 3) % 3;
	uint64_t va = address(arg), table, tflags = arg[8];
	int level = fz.m.levels;
	if (fz.m.levels == 3) {
		uint64_t pdpte_gpa = (fz.m.cr3 & 0xffffffe0ull) + ((va >> 30) & 3) * 8, pdpte = 0;
		void *p = gpa_hva(pdpte_gpa);
		if (!p)
			return;
		memcpy(&pdpte, p, 8);
		if (!(pdpte & P)) {
			pdpte = page_gfn((uint8_t)(arg[9] + fz.next_table++)) << PAGE_SHIFT | P;
			memcpy(p, &pdpte, 8);
		}
		table = pdpte & PT64_BASE_ADDR_MASK;
		level = 2;
	} else {
		table = fz.m.cr3 & (fz.m.levels == 2 ? PT32_BASE_ADDR_MASK : PT64_BASE_ADDR_MASK);
	}
	if (leaf > level)
		leaf = level;
	for (;; level--) {
		uint64_t gpa = table + (uint64_t)paging_index(&fz.m, va, level) * esz();
		if (!gpa_hva(gpa))
			return;
		if (level == leaf) {
			uint64_t e = entry_value(arg + 5);
			if (leaf > 1 && !(param & 4))
				e |= PS;
			gset(gpa, e);
			return;
		}
		uint64_t e = gget(gpa);
		if (!(e & P)) {
			e = page_gfn((uint8_t)(arg[9] + fz.next_table++)) << PAGE_SHIFT | P | (tflags & (W | U | A));
			if (fz.m.levels > 2 && (tflags & 0x80))
				e |= XD;
			gset(gpa, fz.m.levels == 2 ? (uint32_t)e : e);
			e = gget(gpa);
		}
		table = e & (fz.m.levels == 2 ? PT32_BASE_ADDR_MASK : PT64_BASE_ADDR_MASK);
	}
}

static void op_store(uint64_t va, uint32_t access, const uint8_t *entry)
{
	struct fake_mmu_xlate x;
	if (gaccess(va, access, &x) != DONE)
		return;
	/* The processor stores through the translation it used: into the host
	 * page the leaf spte maps. */
	uint64_t v = entry_value(entry);
	memcpy((uint8_t *)host_phys_to_virt(spte_to_hpa(x.spte)) + (va & 0xfff & ~(uint64_t)(esz() - 1)), &v, esz());
}

static void op_cr3(uint8_t page, uint8_t slot)
{
	uint64_t cr3 = page_gfn(page) << PAGE_SHIFT;
	if (fz.m.levels == 3)
		cr3 |= (uint64_t)(slot & 0x7f) << 5;
	if (fz.m.levels < 4)
		cr3 = (uint32_t)cr3;
	else if (cr3 >> fz.m.maxphyaddr)
		return;   /* #GP (SDM Vol. 3 4.5): the MMU never sees it */
	if (fz.m.levels == 3 && !load_pdptes(cr3))
		return;
	fz.m.cr3 = cr3;
	fz.vcpu->arch.cr3 = cr3;
	kvm_mmu_new_pgd(fz.vcpu, cr3);
}

/* KVM_SET_USER_MEMORY_REGION of slot 1 or a new flag for a slot, as
 * kvm_main.c makes them (fake_mmu_host.c: a new generation each time; a new
 * slot zaps nothing, the other changes zap every shadow page). */
static void slot_remove(int id)
{
	if (fz.kvm->memslots[id].npages)
		fake_mmu_delete_slot(fz.kvm, id);
}

static void slot_logging(int id, bool on)
{
	struct kvm_memory_slot *s = &fz.kvm->memslots[id];
	if (!s->npages || on == !!s->dirty_bitmap)
		return;
	fake_mmu_set_slot(fz.kvm, id, s->base_gfn, on ? s->flags | KVM_MEM_LOG_DIRTY_PAGES : s->flags & ~KVM_MEM_LOG_DIRTY_PAGES);
}

static void op_slot(unsigned param, uint8_t flags)
{
	struct kvm_memory_slot *s = &fz.kvm->memslots[1];
	switch (param % (fz.tdp ? 4 : 3)) {
	case 0:
		if (!s->npages)
			fake_mmu_add_slot_skewed(fz.kvm, 1, fz.slot1_base, fz.slot1_pages,
						 (flags & 1 ? KVM_MEM_READONLY : 0) | (flags & 2 ? KVM_MEM_LOG_DIRTY_PAGES : 0),
						 fz.tdp && (flags & 4) ? 1 : 0);
		break;
	case 1:
		slot_remove(1);
		break;
	case 2:
		if (s->npages)
			fake_mmu_set_slot(fz.kvm, 1, s->base_gfn == fz.slot1_base ? fz.slot1_moved : fz.slot1_base, s->flags);
		break;
	default:
		if (fz.kvm->memslots[2].npages)
			slot_remove(2);
		else
			fake_mmu_add_slot(fz.kvm, 2, TDP_SLOT2_BASE, TDP_SLOT2_PAGES, KVM_MEM_READONLY);
		break;
	}
}

static void op_dirty(unsigned param)
{
	int id = param & 1;
	struct kvm_memory_slot *s = &fz.kvm->memslots[id];
	if (param & 2) {
		slot_logging(id, !s->dirty_bitmap);
	} else if (s->npages && s->dirty_bitmap) {
		/* KVM_GET_DIRTY_LOG: copy out, clear, write-protect. */
		memset(s->dirty_bitmap, 0, (s->npages + 63) / 64 * 8);
		kvm_mmu_slot_remove_write_access(fz.kvm, s);
	}
}

/* CR0.WP, CR4.PSE, EFER.NXE, as kvm_set_cr0/cr4/efer change them (x86.c). */
static void op_mode(unsigned param)
{
	struct paging_mode old = fz.m;
	if (param & 1)
		fz.m.cr0_wp = !fz.m.cr0_wp;
	if (param & 2)
		fz.m.cr4_pse = !fz.m.cr4_pse;
	if (param & 4)
		fz.m.efer_nx = !fz.m.efer_nx;
	/* PAE paging loads the PDPTEs again when CR4.PSE changes; NXE changes
	 * what is reserved in them. */
	if (fz.m.levels == 3 && (param & 6) && !load_pdptes(fz.m.cr3)) {
		fz.m = old;
		return;
	}
	set_regs();
	kvm_mmu_reset_context(fz.vcpu);
}

static size_t arg_size(unsigned kind)
{
	static const uint8_t sizes[16] = { 5, 10, 5, 8, 2, 5, 1, 0, 1, 0, 1, 0, 5, 5, 5, 5 };
	return sizes[kind];
}

static uint32_t access_of(unsigned param)
{
	static const uint32_t types[4] = { 0, PFERR_WRITE_MASK, PFERR_FETCH_MASK, 0 };
	return types[param & 3] | (param & 4 ? PFERR_USER_MASK : 0);
}

static const char *const op_names[16] = { "SET", "MAP", "ACCESS", "STORE", "CR3", "INVLPG", "UNPROTECT", "DIRTY",
					 "SLOT", "MODE", "OOM", "RESET", "ACCESS", "ACCESS", "ACCESS", "ACCESS" };

static void run_op(unsigned kind, unsigned param, const uint8_t *arg)
{
	struct fake_mmu_xlate x;
	switch (kind) {
	case 3:
		op_store(address(arg), PFERR_WRITE_MASK | (param & 4 ? PFERR_USER_MASK : 0), arg + 5);
		break;
	case 4:
		op_cr3(arg[0], arg[1]);
		break;
	case 5:
		if (enter())
			kvm_mmu_invlpg(fz.vcpu, address(arg));
		break;
	case 6:
		kvm_mmu_unprotect_page(fz.kvm, page_gfn(arg[0]));
		break;
	case 7:
		op_dirty(param);
		break;
	case 8:
		op_slot(param, arg[0]);
		break;
	case 9:
		op_mode(param);
		break;
	case 10:
		fz.oom = true;
		fake_mmu_fail_pages_after(arg[0] == 0xff ? -1 : arg[0]);
		break;
	case 11:
		kvm_mmu_reset_context(fz.vcpu);
		break;
	default:
		gaccess(address(arg), access_of(param), &x);
		break;
	}
}

static void trace_bytes(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", b[i]);
	fputc('\n', stderr);
}

/* ---- TDP mode: the processor walks the EPT tables (lab 06) --------------------------------- */

static const uint64_t tdp_gens[4] = { 1, 2, MMIO_SPTE_GEN_MASK - 1, MMIO_SPTE_GEN_MASK };

static uint64_t tdp_gpa(const uint8_t *b)
{
	uint64_t page = b[1] | (uint64_t)b[2] << 8, off = ((uint64_t)b[3] << 4) & 0xff8, gfn;
	switch (b[0] & 7) {
	case 2:
		gfn = TDP_SLOT1_BASE + page % 0x600;
		break;
	case 3:
		gfn = TDP_SLOT2_BASE - 8 + page % 32;
		break;
	case 4:
		gfn = (page | (uint64_t)b[3] << 16 | (uint64_t)b[4] << 24) & ((1ull << 32) - 1);
		off = 0;
		break;
	case 5:
		gfn = (1ull << 24) - 1 - page % 1024;
		break;
	default:
		gfn = page % TDP_RAM_PAGES;
		break;
	}
	return gfn << PAGE_SHIFT | off;
}

static const char *ept_access_name(unsigned access)
{
	return access & EPT_VIOLATION_ACC_WRITE ? "write" : access & EPT_VIOLATION_ACC_INSTR ? "fetch" : "read";
}

static bool mmio_spte_current(uint64_t spte)
{
	return get_mmio_spte_generation(spte) == (fz.kvm->memslots_generation & MMIO_SPTE_GEN_MASK);
}

/* Every EPT entry reachable from the root (fake_mmu_check_ept_tree: the
 * processor's checks, MMIO sptes, links, leaves against the memslots). */
static void check_ept_tree(void)
{
	fake_mmu_check_ept_tree(fz.vcpu, fz.tdp_max_level, "after the last operation");
}

/* What the access may end in besides a mapping: the emulator, for a gpa
 * without a slot or a write to a read-only one (stage 06: KVM_EXIT_MMIO). */
static bool tdp_emulation_needed(uint64_t gpa, bool write)
{
	struct kvm_memory_slot *s = slot_of(gpa >> PAGE_SHIFT);
	return !s || (write && (s->flags & KVM_MEM_READONLY));
}

/* The memslot lookups the MMU made in the last tdp_exit(). */
static int tdp_lookups;

/* One exit handled as vmx.c does; false when the vCPU left minikvm. */
static bool tdp_exit(uint64_t gpa, uint64_t ec, bool write, const char *what)
{
	struct fake_mmu_calls before = fake_mmu_calls;
	int r = kvm_mmu_page_fault(fz.vcpu, gpa, ec);
	tdp_lookups = fake_mmu_calls.gfn_to_memslot - before.gfn_to_memslot;
	if (fake_mmu_calls.internal_error != before.internal_error)
		return false;   /* the caller judges it */
	if (r < 0) {
		require(fz.oom, "gpa 0x%llx %s: kvm_mmu_page_fault returned %d with host pages to spare",
			(unsigned long long)gpa, what, r);
		fz.dead = true;
		return false;
	}
	if (fake_mmu_calls.emulate != before.emulate) {
		require(tdp_emulation_needed(gpa, write), "gpa 0x%llx %s (error code 0x%llx): sent to the emulator, yet "
			"the gpa is %s RAM", (unsigned long long)gpa, what, (unsigned long long)ec,
			write ? "writable" : "readable");
		return false;
	}
	require(r == 1, "gpa 0x%llx %s: kvm_mmu_page_fault returned %d without an exit", (unsigned long long)gpa, what, r);
	return true;
}

static void tdp_access(uint64_t gpa, unsigned access)
{
	const char *what = ept_access_name(access);
	bool write = access & EPT_VIOLATION_ACC_WRITE;
	for (int tries = 0; tries < MAX_FAULTS; tries++) {
		if (!enter())
			return;
		struct fake_mmu_ept_xlate x =
			fake_mmu_ept_xlate(fz.vcpu, gpa, access, EPT_VIOLATION_GVA_IS_VALID | EPT_VIOLATION_GVA_TRANSLATED);
		if (trace)
			fprintf(stderr, "  gpa 0x%llx %s: %s at level %d (entry 0x%llx)\n", (unsigned long long)gpa, what,
				x.result == FAKE_EPT_MAPPED ? "mapped" : x.result == FAKE_EPT_VIOLATION ? "EPT violation" :
				"EPT misconfiguration", x.level, (unsigned long long)x.spte);
		if (x.result == FAKE_EPT_MAPPED) {
			void *hva = gpa_hva(gpa);
			require(hva && x.hpa == host_virt_to_phys(hva), "gpa 0x%llx %s: the EPT tables give host 0x%llx, the "
				"memslots %s 0x%llx", (unsigned long long)gpa, what, (unsigned long long)x.hpa,
				hva ? "host" : "no page, not even", (unsigned long long)(hva ? host_virt_to_phys(hva) : 0));
			require(!write || !tdp_emulation_needed(gpa, true), "gpa 0x%llx: a write completed in a read-only slot",
				(unsigned long long)gpa);
			require(!write || gfn_logged_dirty(gpa >> PAGE_SHIFT), "gpa 0x%llx: a write completed, not in the "
				"dirty log", (unsigned long long)gpa);
			return;
		}
		uint64_t ec;
		bool fast = false;
		if (x.result == FAKE_EPT_MISCONFIG) {
			require(x.level == 1 && is_mmio_spte(x.spte), "gpa 0x%llx %s: the processor finds the level-%d EPT "
				"entry 0x%llx misconfigured (%s), and it is no MMIO spte", (unsigned long long)gpa, what,
				x.level, (unsigned long long)x.spte, x.misconfig);
			fast = mmio_spte_current(x.spte);
			ec = PFERR_RSVD_MASK;
		} else {
			ec = vmx_ept_violation_error_code(x.qual);
		}
		struct fake_mmu_calls before = fake_mmu_calls;
		bool again = tdp_exit(gpa, ec, write, what);
		require(fake_mmu_calls.internal_error == before.internal_error, "gpa 0x%llx %s: error code 0x%llx ended in "
			"an internal error", (unsigned long long)gpa, what, (unsigned long long)ec);
		if (fast) {
			require(fake_mmu_calls.emulate == before.emulate + 1, "gpa 0x%llx %s: a misconfiguration on an MMIO "
				"spte of the current generation did not go to the emulator", (unsigned long long)gpa, what);
			require(tdp_lookups == 0, "gpa 0x%llx %s: the MMIO fast path looked for a memslot %d times",
				(unsigned long long)gpa, what, tdp_lookups);
		}
		if (!again)
			return;
	}
	fail("gpa 0x%llx %s: still refused by the EPT tables after %d faults handled with 'retry': no progress",
	     (unsigned long long)gpa, what, MAX_FAULTS);
}

/* An exit the tables need not explain: a stale or hostile error code. */
static void tdp_fault(uint64_t gpa, unsigned param)
{
	static const uint64_t bits[4] = { PFERR_PRESENT_MASK, PFERR_WRITE_MASK, PFERR_FETCH_MASK, PFERR_RSVD_MASK };
	uint64_t ec = PFERR_GUEST_FINAL_MASK;
	for (int i = 0; i < 4; i++)
		if (param & (1u << i))
			ec |= bits[i];
	if (!enter())
		return;
	bool mmio_leaf = false;
	struct fake_mmu_ept_xlate x = fake_mmu_ept_xlate(fz.vcpu, gpa, 0, 0);
	mmio_leaf = x.result == FAKE_EPT_MISCONFIG && is_mmio_spte(x.spte);
	struct fake_mmu_calls before = fake_mmu_calls;
	tdp_exit(gpa, ec, ec & PFERR_WRITE_MASK, "FAULT");
	/* A misconfiguration where no MMIO spte is: minikvm's tables are fine,
	 * the exit is not; an internal error is the right end (RET_PF_INVALID). */
	require(fake_mmu_calls.internal_error == before.internal_error || ((ec & PFERR_RSVD_MASK) && !mmio_leaf),
		"gpa 0x%llx: error code 0x%llx ended in an internal error", (unsigned long long)gpa, (unsigned long long)ec);
}

static void tdp_run_op(unsigned kind, unsigned param, const uint8_t *arg)
{
	static const unsigned types[4] = { EPT_VIOLATION_ACC_READ, EPT_VIOLATION_ACC_WRITE, EPT_VIOLATION_ACC_INSTR,
					   EPT_VIOLATION_ACC_READ };
	switch (kind) {
	case 3:
		tdp_fault(tdp_gpa(arg), param);
		break;
	case 4:
		kvm_mmu_unload(fz.vcpu);
		break;
	case 5:
		if (enter())
			kvm_mmu_invlpg(fz.vcpu, tdp_gpa(arg));
		break;
	case 6:
		kvm_mmu_unprotect_page(fz.kvm, page_gfn(arg[0]));
		break;
	case 7:
		op_dirty(param);
		break;
	case 8:
		op_slot(param, arg[0]);
		break;
	case 9:
		kvm_mmu_zap_all(fz.kvm);
		break;
	case 10:
		fz.oom = true;
		fake_mmu_fail_pages_after(arg[0] == 0xff ? -1 : arg[0]);
		break;
	case 11:
		kvm_mmu_reset_context(fz.vcpu);
		break;
	default:
		tdp_access(tdp_gpa(arg), types[param & 3]);
		break;
	}
}

static const char *const tdp_op_names[16] = { "SET", "MAP", "ACCESS", "FAULT", "UNLOAD", "INVLPG", "UNPROTECT",
					     "DIRTY", "SLOT", "ZAP", "OOM", "RESET", "ACCESS", "ACCESS", "ACCESS", "ACCESS" };

static void tdp_run(const uint8_t *data, size_t size)
{
	fz.tdp = true;
	fz.tdp_max_level = data[4] & 2 ? 1 : 2;
	fz.slot1_base = TDP_SLOT1_BASE;
	fz.slot1_pages = TDP_SLOT1_PAGES;
	fz.slot1_moved = TDP_SLOT1_MOVED;
	fz.vcpu = fake_mmu_tdp_vm_create(TDP_RAM_PAGES, fz.tdp_max_level);
	fz.kvm = fz.vcpu->kvm;
	fz.kvm->memslots_generation = tdp_gens[data[5] & 3];
	fz.paging = true;   /* the guest's own mode does not matter under EPT */
	if (data[0] & 64)
		slot_logging(0, true);
	if (data[0] & 128)
		fake_mmu_add_slot(fz.kvm, 1, fz.slot1_base, fz.slot1_pages, 0);
	size_t pos = HEADER_SIZE;
	for (fz.op = 0; fz.op < MAX_OPS && pos < size && !fz.dead; fz.op++) {
		unsigned kind = data[pos] & 15, param = data[pos] >> 4;
		size_t n = arg_size(kind);
		if (size - pos - 1 < n)
			break;
		const uint8_t *arg = data + pos + 1;
		pos += 1 + n;
		fz.what = tdp_op_names[kind];
		if (trace)
			fprintf(stderr, "op %u: %s param %u args", fz.op, fz.what, param), trace_bytes(arg, n);
		if (kind <= 1)
			continue;
		tdp_run_op(kind, param, arg);
		if (enter()) {
			check_structures();
			check_ept_tree();
		}
	}
	fz.what = "the end";
	if (enter()) {
		check_structures();
		check_ept_tree();
	}
}


int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	trace = getenv("KVMLABS_FUZZ_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER_SIZE)
		return -1;
	fake_mmu_fail_pages_after(-1);
	fz = (struct fz){ .what = "set-up", .slot1_base = SLOT1_BASE, .slot1_pages = SLOT1_PAGES,
			  .slot1_moved = SLOT1_MOVED };
	if (data[4] & 1) {
		tdp_run(data, size);
		fake_mmu_fail_pages_after(-1);
		fake_mmu_vm_destroy(fz.vcpu);
		require(fake_mmu_pages_live() == 0, "%u host pages not given back when the VM was destroyed",
			fake_mmu_pages_live());
		return 0;
	}
	fz.m = (struct paging_mode){
		.levels = (data[0] & 3) == 0 ? 2 : (data[0] & 3) == 1 ? 3 : 4,
		.cr0_wp = data[0] & 4, .cr4_pse = data[0] & 8, .efer_nx = data[0] & 16, .gbpages = data[0] & 32,
		.maxphyaddr = maxphyaddrs[data[1] & 7],
	};
	fz.vcpu = fake_mmu_vm_create(RAM_PAGES, fz.m.maxphyaddr, fz.m.gbpages);
	fz.kvm = fz.vcpu->kvm;
	fz.m.cr3 = page_gfn(data[2]) << PAGE_SHIFT;
	if (fz.m.levels == 3)
		fz.m.cr3 |= (uint64_t)(data[3] & 0x7f) << 5;
	if (fz.m.levels < 4)
		fz.m.cr3 = (uint32_t)fz.m.cr3;
	else if (fz.m.cr3 >> fz.m.maxphyaddr)
		fz.m.cr3 = 0;
	fz.next_table = 1;
	if (data[0] & 64)
		slot_logging(0, true);
	if (data[0] & 128)
		fake_mmu_add_slot(fz.kvm, 1, SLOT1_BASE, SLOT1_PAGES, 0);

	size_t pos = HEADER_SIZE;
	bool runnable = true;
	for (fz.op = 0; fz.op < MAX_OPS && pos < size && runnable; fz.op++) {
		unsigned kind = data[pos] & 15, param = data[pos] >> 4;
		size_t n = arg_size(kind);
		if (size - pos - 1 < n)
			break;
		const uint8_t *arg = data + pos + 1;
		pos += 1 + n;
		fz.what = op_names[kind];
		if (trace)
			fprintf(stderr, "op %u: %s param %u args", fz.op, fz.what, param), trace_bytes(arg, n);
		if (kind <= 1) {
			if (fz.paging)
				continue;
			if (kind == 0) {
				uint64_t table = page_gfn(arg[0]) << PAGE_SHIFT;
				gset(table + (uint64_t)index_of(arg[1], entries()) * esz(), entry_value(arg + 2));
			} else {
				op_map(arg, param);
			}
			continue;
		}
		if (!fz.paging && !activate()) {
			runnable = false;
			break;
		}
		if (fz.dead)
			break;
		run_op(kind, param, arg);
		if (enter()) {
			check_structures();
			check_tree(TREE_CAP);
		}
	}
	fz.what = "the end";
	if (!fz.paging && runnable && activate() && enter())
		check_structures();
	if (fz.paging && enter()) {
		check_structures();
		check_tree(~0u);
	}
	fake_mmu_fail_pages_after(-1);
	fake_mmu_vm_destroy(fz.vcpu);
	require(fake_mmu_pages_live() == 0, "%u host pages not given back when the VM was destroyed",
		fake_mmu_pages_live());
	return 0;
}
