/* SPDX-License-Identifier: MIT */
/*
 * Exercise 1: the guest page-table walker (kvm/mmu/paging.c) on synthetic
 * page tables in a small guest memory. The expected results come from the
 * rules of SDM Vol. 3 chapter 4, written out here on their own: 4.3 (32-bit
 * paging), 4.4 (PAE), 4.5 (4-level), 4.6 (access rights), 4.7 (the #PF error
 * code), 4.8 (accessed and dirty flags).
 */
#include <stdio.h>
#include <string.h>

#include <x86/pgtable.h>

#include "kvm/mmu/paging.h"
#include "lab05_tests.h"

#define P   PT_PRESENT_MASK
#define W   PT_WRITABLE_MASK
#define U   PT_USER_MASK
#define A   PT_ACCESSED_MASK
#define D   PT_DIRTY_MASK
#define PS  PT_PAGE_SIZE_MASK
#define XD  PT64_NX_MASK

/* ---- a guest memory of 1 MiB at guest-physical 0 ------------------------------ */

#define GMEM_SIZE (256u * 4096u)
static uint8_t gmem[GMEM_SIZE] __attribute__((aligned(4096)));

static struct {
	unsigned entry_size;      /* what every cmpxchg must use: the format's entry size */
	int cmpxchg_calls;
	bool rom;                 /* the tables are in read-only memory: cmpxchg answers -1 */
	int races;                /* the next cmpxchgs find this entry changed by another processor */
	uint64_t race_gpa, race_val;
} gm;

static uint64_t gm_get(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	ck_assert(gpa + size <= GMEM_SIZE);
	memcpy(&v, gmem + gpa, size);
	return v;
}

static void gm_put(uint64_t gpa, uint64_t v, unsigned size)
{
	ck_assert(gpa + size <= GMEM_SIZE);
	memcpy(gmem + gpa, &v, size);
}

static int gm_read(void *ctx, uint64_t gpa, void *val, unsigned size)
{
	(void)ctx;
	if (gpa >= GMEM_SIZE || GMEM_SIZE - gpa < size)
		return -1;
	memcpy(val, gmem + gpa, size);
	return 0;
}

static int gm_cmpxchg(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val, unsigned size)
{
	(void)ctx;
	gm.cmpxchg_calls++;
	require(size == gm.entry_size, "A/D update of a %u-byte entry where the format's entries have %u bytes",
		size, gm.entry_size);
	require(gpa < GMEM_SIZE, "A/D update at 0x%llx, outside guest memory", (unsigned long long)gpa);
	if (gm.rom)
		return -1;
	if (gm.races > 0) {
		gm.races--;
		gm_put(gm.race_gpa, gm.race_val, size);
	}
	uint64_t mask = size == 4 ? 0xffffffffull : ~0ull;
	if (gm_get(gpa, size) != (old & mask))
		return 1;
	gm_put(gpa, new_val, size);
	return 0;
}

static const struct paging_mem mem = { .read = gm_read, .cmpxchg = gm_cmpxchg };

/* ---- building one translation --------------------------------------------------- */

/* The table of level l is at TABLE(l); a PAE guest's PDPT at PAE_PDPT, at a
 * 32-byte boundary that is not a page boundary (SDM Vol. 3 4.4.1). */
#define TABLE(l)  (0x1000ull * (l))
#define PAE_PDPT  0x5020ull

struct tcase {
	const char *name;
	struct paging_mode m;
	uint64_t addr;
	int leaf;                  /* the level of the entry that maps the page */
	uint64_t frame;            /* the page's guest-physical address */
	uint64_t flags[5];         /* every bit but P, PS and the address, per level */
	uint64_t ent[5];           /* where the entry of each level is (PAE level 3: in PAE_PDPT) */
};

static unsigned esize(const struct tcase *c)
{
	return c->m.levels == 2 ? 4 : 8;
}

/* The index of addr in the table of level l: 10 bits a level with 4-byte
 * entries, 9 with 8-byte ones (SDM Vol. 3 Figures 4-2, 4-5, 4-8). */
static unsigned tindex(const struct tcase *c, int l)
{
	if (c->m.levels == 2)
		return (c->addr >> (12 + 10 * (l - 1))) & 0x3ff;
	return (c->addr >> (12 + 9 * (l - 1))) & 0x1ff;
}

static int top_level(const struct tcase *c)
{
	return c->m.levels == 3 ? 2 : c->m.levels;  /* PAE: the PDPTE comes from a register */
}

static uint64_t page_size(const struct tcase *c, int level)
{
	if (level == 1)
		return 4096;
	if (c->m.levels == 2)
		return 4u << 20;
	return 1ull << (12 + 9 * (level - 1));
}

static uint64_t expected_gfn(const struct tcase *c)
{
	return (c->frame + (c->addr & (page_size(c, c->leaf) - 1))) >> 12;
}

/* Write the tables for c: each entry points to the next table or, at the
 * leaf, to the frame; nothing else is present. */
static void build(struct tcase *c)
{
	memset(gmem, 0, 0x6000);
	gm.entry_size = esize(c);
	gm.cmpxchg_calls = 0;
	int top = top_level(c);
	for (int l = top; l >= c->leaf; l--) {
		uint64_t e = P | c->flags[l];
		if (l == c->leaf)
			e |= c->frame | (l > 1 ? PS : 0);
		else
			e |= TABLE(l - 1);
		c->ent[l] = TABLE(l) + tindex(c, l) * esize(c);
		gm_put(c->ent[l], e, esize(c));
	}
	if (c->m.levels == 3) {
		unsigned i = (c->addr >> 30) & 3;
		c->m.cr3 = PAE_PDPT;
		memset(c->m.pdptrs, 0, sizeof(c->m.pdptrs));
		c->m.pdptrs[i] = TABLE(2) | P;  /* a PDPTE has no rights (Table 4-8) */
		c->ent[3] = PAE_PDPT + 8 * i;
		gm_put(c->ent[3], c->m.pdptrs[i], 8);
	} else {
		c->m.cr3 = TABLE(top);
	}
}

static const char *access_name(uint32_t access)
{
	static char buf[64];
	snprintf(buf, sizeof(buf), "CPL%d %s", access & PFERR_USER_MASK ? 3 : 0,
		 access & PFERR_FETCH_MASK ? "fetch" : access & PFERR_WRITE_MASK ? "write" : "read");
	return buf;
}

static const char *flags_name(uint64_t f)
{
	static char bufs[5][48];
	static int next;
	char *b = bufs[next++ % 5];
	snprintf(b, sizeof(bufs[0]), "U/S=%d R/W=%d XD=%d", !!(f & U), !!(f & W), !!(f & XD));
	return b;
}

static const char *mode_name(const struct tcase *c)
{
	static char buf[160];
	snprintf(buf, sizeof(buf), "%s (%s, CR0.WP=%d EFER.NXE=%d CR4.PSE=%d MAXPHYADDR=%d) at 0x%llx", c->name,
		 c->m.levels == 4 ? "4-level" : c->m.levels == 3 ? "PAE" : "32-bit", c->m.cr0_wp, c->m.efer_nx,
		 c->m.cr4_pse, c->m.maxphyaddr, (unsigned long long)c->addr);
	return buf;
}

/* Whether I/D is reported (SDM Vol. 3 4.7): a fetch, PAE or 4-level paging,
 * EFER.NXE (no SMEP here). 32-bit paging never reports it. */
static uint32_t id_bit(const struct tcase *c, uint32_t access)
{
	return (access & PFERR_FETCH_MASK) && c->m.levels > 2 && c->m.efer_nx ? PFERR_FETCH_MASK : 0;
}

static uint32_t access_bits(uint32_t access)
{
	return access & (PFERR_WRITE_MASK | PFERR_USER_MASK);
}

static void expect_fault(const struct tcase *c, uint32_t access, uint32_t errcode, const char *why)
{
	struct guest_walker w;
	bool ok = paging_walk_addr(&w, &c->m, &mem, c->addr, access);
	require(!ok, "%s, %s: %s, yet the walk succeeded (gfn 0x%llx)", mode_name(c), access_name(access), why,
		(unsigned long long)w.gfn);
	require(w.fault.error_code == errcode, "%s, %s: %s: #PF error code 0x%x, expected 0x%x", mode_name(c),
		access_name(access), why, w.fault.error_code, errcode);
	require(w.fault.address == c->addr, "%s, %s: %s: CR2 0x%llx, expected the address", mode_name(c),
		access_name(access), why, (unsigned long long)w.fault.address);
}

static void expect_gfn(const struct tcase *c, uint32_t access, uint64_t gfn, const char *why)
{
	struct guest_walker w;
	bool ok = paging_walk_addr(&w, &c->m, &mem, c->addr, access);
	require(ok, "%s, %s: %s: #PF 0x%x instead of a translation", mode_name(c), access_name(access), why,
		w.fault.error_code);
	require(w.gfn == gfn, "%s, %s: %s: gfn 0x%llx, expected 0x%llx", mode_name(c), access_name(access), why,
		(unsigned long long)w.gfn, (unsigned long long)gfn);
	require(w.level == c->leaf, "%s: %s: walker.level %d, expected %d (the leaf's level)", mode_name(c), why,
		w.level, c->leaf);
}

/* ---- paging_permission_fault ------------------------------------------------- */

START_TEST(ex1_permission_fault_rules)
{
	static const uint32_t accesses[] = { 0, PFERR_WRITE_MASK, PFERR_FETCH_MASK, PFERR_USER_MASK,
					     PFERR_USER_MASK | PFERR_WRITE_MASK, PFERR_USER_MASK | PFERR_FETCH_MASK };
	for (unsigned pte_access = 0; pte_access < 8; pte_access++) {
		unsigned acc = (pte_access & 1 ? ACC_EXEC_MASK : 0) | (pte_access & 2 ? ACC_WRITE_MASK : 0) |
			       (pte_access & 4 ? ACC_USER_MASK : 0);
		for (int wp = 0; wp < 2; wp++)
			for (int nx = 0; nx < 2; nx++)
				for (unsigned i = 0; i < sizeof(accesses) / sizeof(accesses[0]); i++) {
					uint32_t a = accesses[i];
					struct paging_mode m = { .levels = 4, .cr0_wp = wp, .efer_nx = nx, .maxphyaddr = 36 };
					bool user = a & PFERR_USER_MASK, write = a & PFERR_WRITE_MASK;
					bool fetch = a & PFERR_FETCH_MASK;
					/* SDM Vol. 3 4.6.1 with SMEP and SMAP off. */
					bool fault = (user && !(acc & ACC_USER_MASK)) ||
						     (write && !(acc & ACC_WRITE_MASK) && (user || wp)) ||
						     (fetch && nx && !(acc & ACC_EXEC_MASK));
					uint32_t r = paging_permission_fault(&m, acc, a);
					require(!!r == fault,
						"rights exec=%d write=%d user=%d, CR0.WP=%d EFER.NXE=%d, %s: %s",
						!!(acc & ACC_EXEC_MASK), !!(acc & ACC_WRITE_MASK),
						!!(acc & ACC_USER_MASK), wp, nx, access_name(a),
						fault ? "must fault, got 0" : "must be allowed");
					require(!r || (r & PFERR_PRESENT_MASK),
						"a protection fault has P=1 in its error code (SDM Vol. 3 4.7), got 0x%x", r);
				}
	}
}
END_TEST

/* ---- the permission matrix ----------------------------------------------------- */

struct mode_case {
	const char *name;
	int levels, leaf;
	uint64_t frame;
	uint64_t addr;
};

static const struct mode_case modes[] = {
	{ "32-bit, 4 KiB page", 2, 1, 0x00abc000, 0xc0a5b123 },
	{ "32-bit, 4 MiB page", 2, 2, 0x7fc00000, 0xc0a5b123 },
	{ "PAE, 4 KiB page", 3, 1, 0x00abc000, 0xc0a5b123 },
	{ "PAE, 2 MiB page", 3, 2, 0x7fe00000, 0xc0a5b123 },
	{ "4-level, 4 KiB page", 4, 1, 0x00abc000, 0x00005a5a5a5a5123ull },
	{ "4-level, 2 MiB page", 4, 2, 0x7fe00000, 0x00005a5a5a5a5123ull },
	{ "4-level, 1 GiB page", 4, 3, 0x40000000, 0x00005a5a5a5a5123ull },
};

static void mode_init(struct tcase *c, const struct mode_case *mc)
{
	*c = (struct tcase){
		.name = mc->name, .addr = mc->addr, .leaf = mc->leaf, .frame = mc->frame,
		.m = { .levels = (uint8_t)mc->levels, .cr4_pse = true, .gbpages = true, .maxphyaddr = 36 },
	};
}

/* Levels whose entries carry rights: every level of the walk but a PAE PDPTE. */
static bool has_rights(const struct tcase *c, int l)
{
	return l >= c->leaf && l <= top_level(c);
}

/* One case of the matrix: the leaf's flags lf and those of the level-up entry uf
 * (bit 0 U/S, bit 1 R/W, bit 2 XD), CR0.WP, EFER.NXE, the access. */
static void matrix_case(const struct mode_case *mc, int up, int lf, int uf, bool wp, bool nx, uint32_t access)
{
	struct tcase c;
	mode_init(&c, mc);
	c.m.cr0_wp = wp;
	c.m.efer_nx = nx;
	for (int l = 1; l <= 4; l++)
		c.flags[l] = has_rights(&c, l) ? U | W : 0;
	uint64_t lflags = (lf & 1 ? U : 0) | (lf & 2 ? W : 0) | (lf & 4 ? XD : 0);
	uint64_t uflags = (uf & 1 ? U : 0) | (uf & 2 ? W : 0) | (uf & 4 ? XD : 0);
	c.flags[c.leaf] = lflags;
	if (up != c.leaf)
		c.flags[up] = uflags;
	build(&c);

	bool user_ok = true, write_ok = true, xd = false;
	for (int l = c.leaf; l <= top_level(&c); l++) {
		user_ok &= !!(c.flags[l] & U);
		write_ok &= !!(c.flags[l] & W);
		xd |= !!(c.flags[l] & XD);
	}
	bool user = access & PFERR_USER_MASK, write = access & PFERR_WRITE_MASK, fetch = access & PFERR_FETCH_MASK;
	char why[160];
	snprintf(why, sizeof(why), "leaf %s, level-%d entry %s", flags_name(lflags), up,
		 up == c.leaf ? "(the leaf)" : flags_name(uflags));
	if (xd && !nx) {
		/* Without EFER.NXE bit 63 is reserved (SDM Vol. 3 4.4.2, 4.5.4). */
		expect_fault(&c, access, PFERR_PRESENT_MASK | PFERR_RSVD_MASK | access_bits(access), why);
		return;
	}
	bool fault = (user && !user_ok) || (write && !write_ok && (user || wp)) || (fetch && nx && xd);
	if (fault) {
		expect_fault(&c, access, PFERR_PRESENT_MASK | access_bits(access) | id_bit(&c, access), why);
		return;
	}
	struct guest_walker w;
	require(paging_walk_addr(&w, &c.m, &mem, c.addr, access), "%s, %s: %s: allowed, yet #PF 0x%x",
		mode_name(&c), access_name(access), why, w.fault.error_code);
	require(w.gfn == expected_gfn(&c) && w.level == c.leaf, "%s: %s: gfn 0x%llx level %d, expected 0x%llx level %d",
		mode_name(&c), why, (unsigned long long)w.gfn, w.level, (unsigned long long)expected_gfn(&c), c.leaf);
	unsigned acc = (user_ok ? ACC_USER_MASK : 0) | (write_ok ? ACC_WRITE_MASK : 0) |
		       (nx && xd ? 0 : ACC_EXEC_MASK);
	require(w.pte_access == acc, "%s: %s: walker.pte_access 0x%x, expected 0x%x (the rights of every level combined)",
		mode_name(&c), why, w.pte_access, acc);
	uint64_t leaf = gm_get(c.ent[c.leaf], esize(&c));
	require((leaf & A) && !!(leaf & D) == write, "%s, %s: %s: the leaf's A=%d D=%d after the access (SDM Vol. 3 4.8)",
		mode_name(&c), access_name(access), why, !!(leaf & A), !!(leaf & D));
}

START_TEST(ex1_walk_permission_matrix)
{
	const struct mode_case *mc = &modes[_i];
	static const uint32_t accesses[] = { 0, PFERR_WRITE_MASK, PFERR_FETCH_MASK };
	struct tcase c;
	mode_init(&c, mc);
	int nflags = c.m.levels == 2 ? 4 : 8;  /* 4-byte entries have no XD bit */
	/* One level above the leaf varies with the leaf (or none, when the leaf is the top). */
	for (int up = c.leaf; up <= top_level(&c); up++)
		for (int lf = 0; lf < nflags; lf++)
			for (int uf = 0; uf < (up == c.leaf ? 1 : nflags); uf++)
				for (int wp = 0; wp < 2; wp++)
					for (int nx = 0; nx < 2; nx++)
						for (int cpl3 = 0; cpl3 < 2; cpl3++)
							for (int ai = 0; ai < 3; ai++)
								matrix_case(mc, up, lf, uf, wp, nx,
									    accesses[ai] | (cpl3 ? PFERR_USER_MASK : 0));
}
END_TEST

/* ---- not present, at each level ------------------------------------------------- */

START_TEST(ex1_walk_not_present_at_each_level)
{
	const struct mode_case *mc = &modes[_i];
	static const uint32_t accesses[] = { 0, PFERR_WRITE_MASK, PFERR_USER_MASK | PFERR_FETCH_MASK };
	struct tcase c;
	int first = mc->levels == 3 ? 3 : mc->levels;
	for (int l = first; l >= mc->leaf; l--)
		for (int nx = 0; nx < 2; nx++)
			for (unsigned ai = 0; ai < 3; ai++) {
				mode_init(&c, mc);
				c.m.efer_nx = nx;
				for (int k = 1; k <= 4; k++)
					c.flags[k] = U | W;
				build(&c);
				char why[96];
				snprintf(why, sizeof(why), "the level-%d entry is not present", l);
				/* Reserved bits do not count in a not-present entry (SDM Vol. 3 4.7). */
				if (c.m.levels == 3 && l == 3)
					c.m.pdptrs[(c.addr >> 30) & 3] = 0xfff0000000000ffeull;
				else
					gm_put(c.ent[l], (gm_get(c.ent[l], esize(&c)) & ~P) | (esize(&c) == 8 ? 0x7ff0000000000000ull : 0),
					       esize(&c));
				uint32_t a = accesses[ai];
				expect_fault(&c, a, access_bits(a) | id_bit(&c, a), why);
			}
}
END_TEST

/* ---- reserved bits ---------------------------------------------------------------- */

struct rsvd_case {
	const char *name;
	int levels, leaf, level;   /* the entry at level gets bit */
	int bit;
	uint8_t maxphyaddr;
	bool nx, gbpages;
	bool reserved;
};

static const struct rsvd_case rsvd_cases[] = {
	/* 4-level: bits 51:MAXPHYADDR at every level; 62:52 are ignored (Tables 4-14 to 4-19). */
	{ "4-level PML4E, bit MAXPHYADDR", 4, 1, 4, 36, 36, false, false, true },
	{ "4-level PDPTE, bit 51", 4, 1, 3, 51, 36, false, false, true },
	{ "4-level PDE, bit 40 with MAXPHYADDR 40", 4, 1, 2, 40, 40, false, false, true },
	{ "4-level PTE, bit 39 with MAXPHYADDR 40", 4, 1, 1, 39, 40, false, false, false },
	{ "4-level PTE, bit 45", 4, 1, 1, 45, 36, false, false, true },
	{ "4-level PTE, bit 52 (ignored)", 4, 1, 1, 52, 36, false, false, false },
	{ "4-level PTE, bit 62 (ignored)", 4, 1, 1, 62, 36, false, false, false },
	{ "4-level PTE, XD without EFER.NXE", 4, 1, 1, 63, 36, false, false, true },
	{ "4-level PTE, XD with EFER.NXE", 4, 1, 1, 63, 36, true, false, false },
	{ "4-level PML4E, XD without EFER.NXE", 4, 1, 4, 63, 36, false, false, true },
	{ "4-level PML4E, PS", 4, 1, 4, 7, 36, false, true, true },
	{ "4-level PTE, PAT (bit 7)", 4, 1, 1, 7, 36, false, false, false },
	{ "4-level PDPTE, PS without 1 GiB pages", 4, 3, 3, -1, 36, false, false, true },
	{ "4-level 1 GiB page, bit 13", 4, 3, 3, 13, 36, false, true, true },
	{ "4-level 1 GiB page, bit 29", 4, 3, 3, 29, 36, false, true, true },
	{ "4-level 1 GiB page, PAT (bit 12)", 4, 3, 3, 12, 36, false, true, false },
	{ "4-level 2 MiB page, bit 13", 4, 2, 2, 13, 36, false, false, true },
	{ "4-level 2 MiB page, bit 20", 4, 2, 2, 20, 36, false, false, true },
	{ "4-level 2 MiB page, PAT (bit 12)", 4, 2, 2, 12, 36, false, false, false },
	{ "4-level PDE of a table, bit 8 (ignored)", 4, 1, 2, 8, 36, false, false, false },
	/* PAE: bits 62:MAXPHYADDR (Tables 4-10 to 4-12). */
	{ "PAE PDE, bit 52", 3, 1, 2, 52, 36, false, false, true },
	{ "PAE PTE, bit 62", 3, 1, 1, 62, 36, true, false, true },
	{ "PAE PTE, bit MAXPHYADDR", 3, 1, 1, 36, 36, false, false, true },
	{ "PAE PTE, bit 35", 3, 1, 1, 35, 36, false, false, false },
	{ "PAE PTE, XD without EFER.NXE", 3, 1, 1, 63, 36, false, false, true },
	{ "PAE PTE, XD with EFER.NXE", 3, 1, 1, 63, 36, true, false, false },
	{ "PAE 2 MiB page, bit 20", 3, 2, 2, 20, 36, false, false, true },
	{ "PAE 2 MiB page, bit 13", 3, 2, 2, 13, 36, false, false, true },
	/* 32-bit paging: only a 4 MiB page has reserved bits: 21, and 20:(M-19)
	 * with PSE-36's address bits M-1:32 in 20:13, M = min(MAXPHYADDR, 40) (Table 4-4). */
	{ "32-bit 4 MiB page, bit 21", 2, 2, 2, 21, 40, false, false, true },
	{ "32-bit 4 MiB page, bit 17 with MAXPHYADDR 36", 2, 2, 2, 17, 36, false, false, true },
	{ "32-bit 4 MiB page, bit 16 with MAXPHYADDR 36", 2, 2, 2, 16, 36, false, false, false },
	{ "32-bit 4 MiB page, bit 20 with MAXPHYADDR 40", 2, 2, 2, 20, 40, false, false, false },
	{ "32-bit PDE of a table, bit 9 (ignored)", 2, 1, 2, 9, 36, false, false, false },
	{ "32-bit PTE, bit 8 (G)", 2, 1, 1, 8, 36, false, false, false },
};

START_TEST(ex1_walk_reserved_bits)
{
	const struct rsvd_case *rc = &rsvd_cases[_i];
	static const uint32_t accesses[] = { 0, PFERR_WRITE_MASK | PFERR_USER_MASK, PFERR_FETCH_MASK };
	for (unsigned ai = 0; ai < 3; ai++) {
		struct tcase c = {
			.name = rc->name, .leaf = rc->leaf,
			.addr = rc->levels == 4 ? 0x00005a5a40000000ull : 0x40000000,
			.frame = rc->leaf == 3 ? 0x40000000 : rc->leaf == 2 ? 0x00c00000 : 0x00abc000,
			.m = { .levels = (uint8_t)rc->levels, .cr4_pse = true, .gbpages = rc->gbpages,
			       .efer_nx = rc->nx, .maxphyaddr = rc->maxphyaddr },
		};
		for (int l = 1; l <= 4; l++)
			c.flags[l] = U | W;
		if (rc->bit >= 0)
			c.flags[rc->level] |= 1ull << rc->bit;
		build(&c);
		uint32_t a = accesses[ai];
		if (rc->reserved)
			expect_fault(&c, a, PFERR_PRESENT_MASK | PFERR_RSVD_MASK | access_bits(a) | id_bit(&c, a),
				     "a reserved bit is set");
		else if (rc->nx && rc->bit == 63 && (a & PFERR_FETCH_MASK))
			expect_fault(&c, a, PFERR_PRESENT_MASK | PFERR_FETCH_MASK, "XD forbids the fetch");
		else {
			struct guest_walker w;
			require(paging_walk_addr(&w, &c.m, &mem, c.addr, a),
				"%s, %s: the bit is not reserved here, yet #PF 0x%x", mode_name(&c), access_name(a),
				w.fault.error_code);
		}
	}
}
END_TEST

/* ---- pages of every size ------------------------------------------------------------- */

START_TEST(ex1_walk_page_sizes_and_pse)
{
	struct tcase c;
	/* The offset in the page goes through to the gfn (SDM Vol. 3 Figures 4-3, 4-7, 4-9, 4-10). */
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		static const uint64_t offsets[] = { 0, 0x1000, 0x1ff123, 0x3ff000 };
		for (unsigned o = 0; o < 4; o++) {
			mode_init(&c, &modes[i]);
			uint64_t size = page_size(&c, c.leaf);
			c.addr = (c.addr & ~(size - 1)) | (offsets[o] & (size - 1));
			for (int l = 1; l <= 4; l++)
				c.flags[l] = U | W;
			build(&c);
			expect_gfn(&c, 0, expected_gfn(&c), "the page's frame plus the offset in it");
		}
	}

	/* PSE-36: a 4 MiB page's physical-address bits 39:32 sit in PDE bits 20:13 (Table 4-4). */
	mode_init(&c, &modes[1]);
	c.m.maxphyaddr = 40;
	c.frame = 0x7fc00000 | (0xa5ull << 13);
	c.flags[2] = U | W;
	build(&c);
	expect_gfn(&c, 0, (0xa57fc00000ull + (c.addr & 0x3fffff)) >> 12, "PSE-36: PDE bits 20:13 are address bits 39:32");

	/* Without CR4.PSE, PS in a 32-bit PDE is ignored: the PDE points to a page table (4.3). */
	mode_init(&c, &modes[0]);
	for (int l = 1; l <= 2; l++)
		c.flags[l] = U | W;
	c.m.cr4_pse = false;
	build(&c);
	gm_put(c.ent[2], gm_get(c.ent[2], 4) | PS, 4);
	expect_gfn(&c, 0, expected_gfn(&c), "CR4.PSE=0: PS in the PDE is ignored");
}
END_TEST

/* ---- accessed and dirty flags ------------------------------------------------------------ */

START_TEST(ex1_walk_sets_accessed_and_dirty)
{
	struct tcase c;
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		for (int write = 0; write < 2; write++) {
			mode_init(&c, &modes[i]);
			for (int l = 1; l <= 4; l++)
				c.flags[l] = U | W;
			build(&c);
			uint64_t pdpt_before = gm_get(PAE_PDPT, 8) ^ gm_get(PAE_PDPT + 8, 8) ^ gm_get(PAE_PDPT + 16, 8) ^
					       gm_get(PAE_PDPT + 24, 8);
			struct guest_walker w;
			uint32_t access = write ? PFERR_WRITE_MASK : 0;
			require(paging_walk_addr(&w, &c.m, &mem, c.addr, access), "%s: no translation", mode_name(&c));
			/* A in every entry the walk used, D in the leaf of a write only (SDM Vol. 3 4.8). */
			for (int l = top_level(&c); l >= c.leaf; l--) {
				uint64_t e = gm_get(c.ent[l], esize(&c));
				require(e & A, "%s, %s: the level-%d entry's A flag is not set", mode_name(&c),
					access_name(access), l);
				bool want_d = write && l == c.leaf;
				require(!!(e & D) == want_d, "%s, %s: the level-%d entry has D=%d, expected %d",
					mode_name(&c), access_name(access), l, !!(e & D), want_d);
				require(w.ptes[l] == e, "%s: walker.ptes[%d] is 0x%llx, the entry now 0x%llx", mode_name(&c),
					l, (unsigned long long)w.ptes[l], (unsigned long long)e);
			}
			require(w.dirty == (bool)write, "%s, %s: walker.dirty %d", mode_name(&c), access_name(access),
				w.dirty);
			/* PAE PDPTEs live in registers and have no A flag (Table 4-8: bit 5 reserved). */
			if (c.m.levels == 3)
				require((gm_get(PAE_PDPT, 8) ^ gm_get(PAE_PDPT + 8, 8) ^ gm_get(PAE_PDPT + 16, 8) ^
					 gm_get(PAE_PDPT + 24, 8)) == pdpt_before,
					"%s: the PDPT in memory was written", mode_name(&c));
		}
	}
}
END_TEST

START_TEST(ex1_walk_retries_when_an_entry_changes)
{
	struct tcase c;
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		/* Another processor clears P in the leaf between the read and the A update:
		 * the cmpxchg reports it and the walk starts again (4.8, Linux: FNAME(walk_addr_generic)). */
		mode_init(&c, &modes[i]);
		for (int l = 1; l <= 4; l++)
			c.flags[l] = U | W;
		build(&c);
		gm.races = 1;
		gm.race_gpa = c.ent[c.leaf];
		gm.race_val = gm_get(c.ent[c.leaf], esize(&c)) & ~P;
		expect_fault(&c, PFERR_WRITE_MASK, PFERR_WRITE_MASK, "the leaf became not present during the walk");

		/* ... or points the leaf at another frame: the walk returns that one, with its A and D set. */
		mode_init(&c, &modes[i]);
		for (int l = 1; l <= 4; l++)
			c.flags[l] = U | W;
		build(&c);
		uint64_t other = c.frame + page_size(&c, c.leaf) * 2;
		gm.races = 1;
		gm.race_gpa = c.ent[c.leaf];
		gm.race_val = (gm_get(c.ent[c.leaf], esize(&c)) & ~(uint64_t)(c.m.levels == 2 ? 0xfffff000u : PT64_BASE_ADDR_MASK)) |
			      other;
		c.frame = other;
		expect_gfn(&c, PFERR_WRITE_MASK, expected_gfn(&c), "the leaf changed to another frame during the walk");
		uint64_t leaf = gm_get(c.ent[c.leaf], esize(&c));
		require((leaf & (A | D)) == (A | D), "%s: after the retry the new leaf has A=%d D=%d", mode_name(&c),
			!!(leaf & A), !!(leaf & D));

		/* Tables in read-only memory: the flags cannot be set, the translation stands. */
		mode_init(&c, &modes[i]);
		for (int l = 1; l <= 4; l++)
			c.flags[l] = U | W;
		build(&c);
		gm.rom = true;
		expect_gfn(&c, PFERR_WRITE_MASK, expected_gfn(&c), "tables in read-only memory");
		gm.rom = false;
	}
}
END_TEST

/* ---- bad tables, CR2, PDPTEs ------------------------------------------------------------- */

START_TEST(ex1_walk_tables_outside_memory)
{
	struct tcase c;
	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		/* A table outside guest memory reads as not present (as Linux's walker does). */
		mode_init(&c, &modes[i]);
		for (int l = 1; l <= 4; l++)
			c.flags[l] = U | W;
		build(&c);
		if (c.m.levels == 3)
			c.m.pdptrs[(c.addr >> 30) & 3] = 0x7ff00000ull | P;
		else
			c.m.cr3 = 0x7ff00000;
		expect_fault(&c, PFERR_USER_MASK, PFERR_USER_MASK, "the top table is outside guest memory");

		if (c.leaf == 1) {
			build(&c);
			gm_put(c.ent[2], 0x7ff00000 | P | U | W, esize(&c));
			expect_fault(&c, PFERR_WRITE_MASK, PFERR_WRITE_MASK, "the page table is outside guest memory");
		}
	}
}
END_TEST

START_TEST(ex1_walk_upper_half_and_cr2)
{
	/* Bits 47:39 index the PML4 (SDM Vol. 3 4.5.4); CR2 holds the whole linear address. */
	struct tcase c;
	mode_init(&c, &modes[4]);
	c.addr = 0xffff8000c0a5b123ull;
	for (int l = 1; l <= 4; l++)
		c.flags[l] = W;  /* supervisor only */
	build(&c);
	require(c.ent[4] == TABLE(4) + 256 * 8, "test setup");
	expect_gfn(&c, 0, expected_gfn(&c), "an upper-half address (PML4 index 256)");
	build(&c);
	expect_fault(&c, PFERR_USER_MASK, PFERR_PRESENT_MASK | PFERR_USER_MASK, "CPL3 read of a supervisor page");
	gm_put(c.ent[4], 0, 8);
	expect_fault(&c, PFERR_WRITE_MASK, PFERR_WRITE_MASK, "the PML4E is not present");
}
END_TEST

START_TEST(ex1_pae_pdptes)
{
	struct paging_mode m = { .levels = 3, .maxphyaddr = 36, .efer_nx = true };
	/* SDM Vol. 3 Table 4-8: bits 2:1, 8:5 and 63:MAXPHYADDR reserved, even bit 63 with NXE. */
	static const struct {
		uint64_t pdpte;
		bool valid;
	} cases[] = {
		{ 0, true }, { 0x1000 | P, true }, { 0x1000 | P | PT_PWT_MASK | PT_PCD_MASK, true },
		{ 0x1000 | P | (7ull << 9), true }, { 0xfffff000ull | P, true }, { 0xffffffffffffeull, true },
		{ 0x1000 | P | W, false }, { 0x1000 | P | U, false }, { 0x1000 | P | A, false },
		{ 0x1000 | P | D, false }, { 0x1000 | P | PS, false }, { 0x1000 | P | PT_GLOBAL_MASK, false },
		{ 0x1000 | P | (1ull << 36), false }, { 0x1000 | P | XD, false },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		require(paging_pdpte_valid(&m, cases[i].pdpte) == cases[i].valid, "PDPTE 0x%llx: %s",
			(unsigned long long)cases[i].pdpte, cases[i].valid ? "valid" : "reserved bits set");

	/* The walk starts at the PDPTE register for bits 31:30, not at the table in memory (4.4.1). */
	struct tcase c;
	for (unsigned q = 0; q < 4; q++) {
		mode_init(&c, &modes[2]);
		c.addr = (q << 30) | 0x0a5b123;
		for (int l = 1; l <= 4; l++)
			c.flags[l] = U | W;
		build(&c);
		gm_put(PAE_PDPT + 8 * q, 0, 8);  /* memory changed since the last CR3 load */
		expect_gfn(&c, 0, expected_gfn(&c), "PDPTE register present, PDPT in memory changed since");
		c.m.pdptrs[q] = 0;
		gm_put(PAE_PDPT + 8 * q, TABLE(2) | P, 8);
		for (int nx = 0; nx < 2; nx++) {
			c.m.efer_nx = nx;
			uint32_t a = PFERR_USER_MASK | PFERR_FETCH_MASK;
			expect_fault(&c, a, PFERR_USER_MASK | id_bit(&c, a), "PDPTE register not present");
		}
	}
}
END_TEST

Suite *paging_suite(void)
{
	Suite *s = suite_create("paging");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, ex1_permission_fault_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("matrix");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, ex1_walk_permission_matrix, 0, (int)(sizeof(modes) / sizeof(modes[0])));
	tcase_add_loop_test(tc, ex1_walk_not_present_at_each_level, 0, (int)(sizeof(modes) / sizeof(modes[0])));
	tcase_add_loop_test(tc, ex1_walk_reserved_bits, 0, (int)(sizeof(rsvd_cases) / sizeof(rsvd_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("walk");
	tcase_add_test(tc, ex1_walk_page_sizes_and_pse);
	tcase_add_test(tc, ex1_walk_sets_accessed_and_dirty);
	tcase_add_test(tc, ex1_walk_retries_when_an_entry_changes);
	tcase_add_test(tc, ex1_walk_tables_outside_memory);
	tcase_add_test(tc, ex1_walk_upper_half_and_cr2);
	tcase_add_test(tc, ex1_pae_pdptes);
	suite_add_tcase(s, tc);
	return s;
}
