/* SPDX-License-Identifier: MIT */
/*
 * long-pg-access: a page-walk permission sweep in the spirit of
 * kvm-unit-tests' x86/access.c. Each case builds a 4-level path to one data
 * page with chosen entries (P, R/W, U/S, XD, A, D at every level; a 4 KiB,
 * 2 MiB or 1 GiB leaf; sometimes a reserved bit), chooses CR0.WP, EFER.NXE,
 * CPL 0 or 3 and a read, write or instruction fetch, makes the access and
 * compares what happened with what the SDM's rules say must happen:
 *
 *   - the walk (SDM Vol. 3 4.5, tables 4-14 to 4-20): stop at the first entry
 *     that is not present, or that sets a reserved bit (bits MAXPHYADDR..51,
 *     XD without EFER.NXE, PS in a PML4E, PS in a PDPTE without 1 GiB pages,
 *     the address bits below a large page's frame);
 *   - access rights (4.6): user accesses need U/S = 1 at every level, user
 *     writes R/W = 1 at every level, supervisor writes too when CR0.WP = 1,
 *     fetches XD = 0 at every level when EFER.NXE = 1 (no SMEP, no SMAP);
 *   - the #PF error code (4.7): P (protection, not "not present"), W/R, U/S
 *     (CPL 3), RSVD, I/D (a fetch, with EFER.NXE = 1), and CR2 = the address;
 *   - A and D (4.8): a translation that succeeds sets A in every entry it
 *     used and D in the leaf on a write; a fault sets no D, and entries below
 *     the one the walk stopped at are left alone.
 *
 * Nothing is tabulated per case: the expectation is computed from those
 * rules. Cases come from a fixed-seed generator keyed by the case number,
 * so a failure names a case that can be rebuilt exactly ("case N: ...").
 *
 * A guest must not write its current root table at stage 05 (minikvm zaps
 * and retries writes to shadowed tables, which cannot work for the loaded
 * root): every case edits the test hierarchy under the identity root and
 * then loads the test root with MOV to CR3, which also flushes the TLB
 * (4.10.4.1), so each case starts from the tables as written.
 */
#include "rt.h"
#include "trap64.h"
#include <x86/cpuid.h>
#include <x86/pgtable.h>
#include <x86/trapnr.h>

#define NCASES       1500
#define MAX_DETAILED 8
#define DATA_OFF     0x238 /* the probed qword inside the data page */
#define RET_OPCODE   0xc3

enum access { ACC_READ, ACC_WRITE, ACC_FETCH };
static const char *const access_name[] = { "read", "write", "fetch" };

/* The test VA lives in one of these PML4 slots: low half, the last low
 * slot, two high-half (sign-extended) ones. Not 256: Linux's PVM flavour
 * of KVM keeps the start of the high half for itself and reports a ring-3
 * access there as not present whatever the guest's entries say. */
static const unsigned pml4_slots[] = { 1, 255, 384, 511 };

static uint64_t id_pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t test_pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t id_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t id_pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t t_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t t_pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t t_pt[512] __attribute__((aligned(PAGE_SIZE)));
static uint8_t data_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t user_stack[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* Written and read by the probes, at CPL 0 and 3 alike (the identity map is user-accessible). */
uint64_t probe_val, probe_got;

/* The probes: one access each. Ring 3's end with ud2, whose RIP says the access completed. */
extern const char k_read[], k_write[], k_fetch[];
extern const char u_read[], u_read_done[], u_write[], u_write_done[], u_fetch[], u_fetch_done[];
__asm__(".text\n"
	"k_read:  movq (%rdi), %rax\n\tmovq %rax, probe_got(%rip)\n\tret\n"
	"k_write: movq probe_val(%rip), %rax\n\tmovq %rax, (%rdi)\n\tret\n"
	"k_fetch: call *%rdi\n\tret\n"
	"u_read:  movq (%rdi), %rax\n\tmovq %rax, probe_got(%rip)\nu_read_done: ud2\n"
	"u_write: movq probe_val(%rip), %rax\n\tmovq %rax, (%rdi)\nu_write_done: ud2\n"
	"u_fetch: call *%rdi\nu_fetch_done: ud2\n");

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

/* splitmix64: each case's parameters from its number alone. */
static uint64_t rng_state;
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static unsigned rnd_below(unsigned n) { return (unsigned)(rnd() % n); }
/* True with probability num/den. */
static int chance(unsigned num, unsigned den) { return rnd_below(den) < num; }

struct machine {
	unsigned maxphyaddr;
	int gbpages;
	uint64_t efer, cr0;
};
static struct machine m;

struct pcase {
	unsigned n, slot, leaf; /* leaf: 1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB */
	uint64_t e[5];          /* e[level], levels leaf..4 */
	int wp, nxe, user;
	enum access acc;
	const char *rsvd;       /* which reserved bit the generator set, or NULL */
	uint64_t va;
};

struct outcome {
	int fault;
	uint64_t error;
	unsigned stop;          /* the level the walk stopped at; 0: walked to the leaf */
};

static uint64_t bits(unsigned lo, unsigned hi) { return ((~0ull) >> (63 - hi)) & ~((1ull << lo) - 1); }

static int is_leaf(const struct pcase *c, unsigned level)
{
	return level == 1 || ((level == 2 || (level == 3 && m.gbpages)) && (c->e[level] & PT_PAGE_SIZE_MASK));
}

/* Reserved bits of a present entry (SDM Vol. 3 4.5, tables 4-15 to 4-20). */
static uint64_t rsvd_mask(const struct pcase *c, unsigned level)
{
	uint64_t r = m.maxphyaddr < 52 ? bits(m.maxphyaddr, 51) : 0;
	uint64_t e = c->e[level];
	if (!c->nxe)
		r |= PT64_NX_MASK;
	if (level == 4)
		r |= PT_PAGE_SIZE_MASK;
	if (level == 3 && (e & PT_PAGE_SIZE_MASK))
		r |= m.gbpages ? bits(13, 29) : PT_PAGE_SIZE_MASK;
	if (level == 2 && (e & PT_PAGE_SIZE_MASK))
		r |= bits(13, 20);
	return r;
}

/* What the SDM says the access does (4.5 walk, 4.6 rights, 4.7 error code). */
static struct outcome expect(const struct pcase *c)
{
	struct outcome o = { 0, 0, 0 };
	uint64_t acc = (c->acc == ACC_WRITE ? PFERR_WRITE_MASK : 0) | (c->user ? PFERR_USER_MASK : 0) |
		       (c->acc == ACC_FETCH && c->nxe ? PFERR_FETCH_MASK : 0);
	int u = 1, w = 1, xd = 0;
	for (unsigned l = 4;; l--) {
		uint64_t e = c->e[l];
		if (!(e & PT_PRESENT_MASK)) {
			o = (struct outcome){ 1, acc, l };
			return o;
		}
		if (e & rsvd_mask(c, l)) {
			o = (struct outcome){ 1, acc | PFERR_PRESENT_MASK | PFERR_RSVD_MASK, l };
			return o;
		}
		u &= !!(e & PT_USER_MASK);
		w &= !!(e & PT_WRITABLE_MASK);
		xd |= c->nxe && (e & PT64_NX_MASK);
		if (is_leaf(c, l))
			break;
	}
	int denied;
	if (c->user)
		denied = !u || (c->acc == ACC_WRITE && !w) || (c->acc == ACC_FETCH && xd);
	else
		denied = (c->acc == ACC_WRITE && c->wp && !w) || (c->acc == ACC_FETCH && xd);
	if (denied)
		o = (struct outcome){ 1, acc | PFERR_PRESENT_MASK, 0 };
	return o;
}

static void gen(struct pcase *c, unsigned n)
{
	rng_state = 0x6b766d6c61627305ull ^ ((uint64_t)n << 20);
	memset(c, 0, sizeof(*c));
	c->n = n;
	c->slot = pml4_slots[rnd_below(ARRAY_SIZE(pml4_slots))];
	c->leaf = 1 + rnd_below(m.gbpages ? 3 : 2);
	c->wp = chance(1, 2);
	c->nxe = chance(1, 2);
	c->user = chance(1, 2);
	c->acc = (enum access)rnd_below(3);
	for (unsigned l = c->leaf; l <= 4; l++) {
		uint64_t f = 0;
		f |= chance(15, 16) ? PT_PRESENT_MASK : 0;
		f |= chance(3, 4) ? PT_WRITABLE_MASK : 0;
		f |= chance(3, 4) ? PT_USER_MASK : 0;
		f |= chance(1, 2) ? PT_ACCESSED_MASK : 0;
		f |= chance(1, 2) ? PT_DIRTY_MASK : 0;
		f |= chance(1, 8) ? PT64_NX_MASK : 0;
		c->e[l] = f;
	}
	uint64_t d = pa(data_page);
	c->e[4] |= pa(t_pdpt);
	c->e[3] |= c->leaf == 3 ? PT_PAGE_SIZE_MASK : pa(t_pd);
	if (c->leaf <= 2)
		c->e[2] |= c->leaf == 2 ? (d & ~(LARGE_PAGE_SIZE - 1)) | PT_PAGE_SIZE_MASK : pa(t_pt);
	if (c->leaf == 1)
		c->e[1] |= d;
	if (chance(1, 6)) { /* one reserved bit, in a present entry */
		unsigned l = c->leaf + rnd_below(5 - c->leaf);
		unsigned kind = rnd_below(3);
		if (kind == 0 && m.maxphyaddr < 52) {
			c->e[l] |= 1ull << (m.maxphyaddr + rnd_below(52 - m.maxphyaddr));
			c->rsvd = "address bit >= MAXPHYADDR";
		} else if (l == 4) {
			c->e[l] |= PT_PAGE_SIZE_MASK;
			c->rsvd = "PS in the PML4E";
		} else if (l == 3 && !m.gbpages) {
			c->e[l] |= PT_PAGE_SIZE_MASK;
			c->rsvd = "PS in a PDPTE without 1 GiB pages";
		} else if (l == c->leaf && l > 1) {
			c->e[l] |= 1ull << (13 + rnd_below(l == 3 ? 17 : 8));
			c->rsvd = "a large page's frame bit below its size";
		} else {
			c->e[l] |= PT64_NX_MASK;
			c->nxe = 0;
			c->rsvd = "XD with EFER.NXE = 0";
		}
		c->e[l] |= PT_PRESENT_MASK;
	}
	uint64_t va = ((uint64_t)c->slot << 39) + d;
	if (c->slot >= 256)
		va |= 0xffff000000000000ull; /* canonical: bits 63:48 copy bit 47 */
	c->va = va;
}

static void describe(const struct pcase *c)
{
	static const char *const lname[] = { "", "pte", "pde", "pdpte", "pml4e" };
	printf("  case %u: %s %s at CPL %d, CR0.WP=%d EFER.NXE=%d, VA 0x%llx, %s leaf", c->n,
	       access_name[c->acc], c->user ? "user" : "supervisor", c->user ? 3 : 0, c->wp, c->nxe,
	       (unsigned long long)c->va, c->leaf == 1 ? "4K" : c->leaf == 2 ? "2M" : "1G");
	if (c->rsvd)
		printf(", reserved: %s", c->rsvd);
	printf("\n   ");
	for (unsigned l = 4; l >= c->leaf; l--)
		printf(" %s=0x%llx", lname[l], (unsigned long long)c->e[l]);
	printf("\n");
}

/* The entries each level of the test path lives in. */
static uint64_t *slot_of(const struct pcase *c, unsigned level)
{
	uint64_t d = pa(data_page);
	switch (level) {
	case 4: return &test_pml4[c->slot];
	case 3: return &t_pdpt[0];
	case 2: return &t_pd[PT64_INDEX(d, 2)];
	default: return &t_pt[PT64_INDEX(d, 1)];
	}
}

static unsigned fail_outcome, fail_ad, detailed;
static unsigned seen_ok, seen_np, seen_rsvd, seen_prot, seen_by_kind[2][3];

static void fail(const struct pcase *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const struct pcase *c, const char *fmt, ...)
{
	if (detailed++ >= MAX_DETAILED)
		return;
	va_list ap;
	va_start(ap, fmt);
	printf("case %u: ", c->n);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	describe(c);
}

static void run_case(unsigned n)
{
	struct pcase c;
	gen(&c, n);
	struct outcome want = expect(&c);

	/* Edit everything under the identity root (the test root is not loaded). */
	for (unsigned i = 0; i < ARRAY_SIZE(pml4_slots); i++)
		test_pml4[pml4_slots[i]] = 0;
	for (unsigned l = c.leaf; l <= 4; l++)
		*slot_of(&c, l) = c.e[l];
	uint64_t pattern = 0x5a5a000000000000ull | ((uint64_t)n << 8) | RET_OPCODE;
	*(volatile uint64_t *)(data_page + DATA_OFF) = pattern;
	probe_val = pattern ^ 0x00ffff0000000000ull; /* keeps the ret opcode for fetches */
	probe_got = 0;
	write_cr0(c.wp ? m.cr0 | X86_CR0_WP : m.cr0 & ~X86_CR0_WP);
	wrmsr(MSR_EFER, c.nxe ? m.efer | EFER_NX : m.efer & ~EFER_NX);

	uint64_t va = c.va + DATA_OFF;
	int completed;
	write_cr3(pa(test_pml4));
	if (!c.user) {
		static const char *const k[] = { k_read, k_write, k_fetch };
		completed = trap64_run((void (*)(uint64_t))(uintptr_t)k[c.acc], va);
	} else {
		static const char *const u[] = { u_read, u_write, u_fetch };
		static const char *const done[] = { u_read_done, u_write_done, u_fetch_done };
		trap64_run_user((uint64_t)(uintptr_t)u[c.acc], pa(user_stack + PAGE_SIZE), va);
		completed = trap64_last.vector == UD_VECTOR && trap64_last.rip == (uint64_t)(uintptr_t)done[c.acc];
	}
	write_cr3(pa(id_pml4));
	uint64_t data_now = *(volatile uint64_t *)(data_page + DATA_OFF);

	if (!want.fault) {
		seen_ok++;
		if (!completed)
			fail(&c, "access faulted (vector %llu error 0x%llx CR2 0x%llx at RIP 0x%llx), want no fault",
			     (unsigned long long)trap64_last.vector, (unsigned long long)trap64_last.error,
			     (unsigned long long)trap64_last.cr2, (unsigned long long)trap64_last.rip);
		else if (c.acc == ACC_READ && probe_got != pattern)
			fail(&c, "read 0x%llx, want the data page's 0x%llx", (unsigned long long)probe_got,
			     (unsigned long long)pattern);
		else if (c.acc == ACC_WRITE && data_now != probe_val)
			fail(&c, "data page holds 0x%llx after the write, want 0x%llx", (unsigned long long)data_now,
			     (unsigned long long)probe_val);
		else
			goto outcome_ok;
		fail_outcome++;
		return;
	}
	want.error & PFERR_RSVD_MASK ? seen_rsvd++ : want.error & PFERR_PRESENT_MASK ? seen_prot++ : seen_np++;
	if (completed || trap64_last.vector != PF_VECTOR || trap64_last.error != want.error || trap64_last.cr2 != va ||
	    (c.acc == ACC_FETCH && trap64_last.rip != va) || data_now != pattern) {
		fail(&c, "%s vector %llu error 0x%llx CR2 0x%llx RIP 0x%llx data 0x%llx; want #PF error 0x%llx CR2 0x%llx%s",
		     completed ? "completed;" : "took", (unsigned long long)trap64_last.vector,
		     (unsigned long long)trap64_last.error, (unsigned long long)trap64_last.cr2,
		     (unsigned long long)trap64_last.rip, (unsigned long long)data_now, (unsigned long long)want.error,
		     (unsigned long long)va, c.acc == ACC_FETCH ? " RIP = CR2" : ", data unchanged");
		fail_outcome++;
		return;
	}
outcome_ok:
	seen_by_kind[c.user][c.acc]++;
	/* 4.8: success sets A everywhere used and D in the leaf on a write; a
	 * fault sets no D and may set A only in the entries it read. */
	for (unsigned l = c.leaf; l <= 4; l++) {
		uint64_t got = *slot_of(&c, l), wantv = c.e[l], care = ~0ull;
		if (!want.fault) {
			wantv |= PT_ACCESSED_MASK;
			if (l == c.leaf && c.acc == ACC_WRITE)
				wantv |= PT_DIRTY_MASK;
		} else if (!want.stop || l >= want.stop) {
			care &= ~PT_ACCESSED_MASK;
		}
		if ((got & care) != (wantv & care)) {
			fail(&c, "level %u entry reads 0x%llx after the access, want 0x%llx (mask 0x%llx)", l,
			     (unsigned long long)got, (unsigned long long)wantv, (unsigned long long)care);
			fail_ad++;
			return;
		}
	}
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();

	uint32_t a, b, cx, dx;
	cpuid(0x80000000u, 0, &a, &b, &cx, &dx);
	uint32_t max_ext = a;
	m.maxphyaddr = 36;
	if (max_ext >= 0x80000008u) {
		cpuid(0x80000008u, 0, &a, &b, &cx, &dx);
		m.maxphyaddr = a & 0xff;
	}
	cpuid(0x80000001u, 0, &a, &b, &cx, &dx);
	m.gbpages = !!(dx & CPUID_80000001_EDX_GBPAGES);
	int nx = !!(dx & CPUID_80000001_EDX_NX);
	m.efer = rdmsr(MSR_EFER);
	m.cr0 = read_cr0();
	printf("machine: MAXPHYADDR %u, 1 GiB pages %s, NX %s\n", m.maxphyaddr, m.gbpages ? "yes" : "no",
	       nx ? "yes" : "no");
	report(nx, "cpuid-nx", "CPUID 80000001H:EDX[20] (XD) clear: EFER.NXE cannot be swept");
	if (!m.gbpages)
		skip("sweep-1g-pages", "CPUID 80000001H:EDX[26] clear: PS in a PDPTE is swept as a reserved bit");

	trap64_user_identity(id_pml4, id_pdpt, id_pd);
	test_pml4[0] = id_pml4[0];
	uint64_t vmm_cr3 = read_cr3();
	write_cr3(pa(id_pml4));

	for (unsigned n = 0; n < NCASES; n++)
		run_case(n);

	write_cr0(m.cr0);
	wrmsr(MSR_EFER, m.efer);
	write_cr3(vmm_cr3);
	printf("sweep: %u cases: %u allowed, %u not present, %u reserved bit, %u protection\n", NCASES, seen_ok,
	       seen_np, seen_rsvd, seen_prot);
	report(fail_outcome == 0, "sweep-outcome", "%u of %u cases faulted or not, or with an error code, CR2 or data, "
	       "other than the SDM's rules give (first cases above)", fail_outcome, NCASES);
	report(fail_ad == 0, "sweep-accessed-dirty", "%u of %u cases left A/D flags other than SDM 4.8 gives "
	       "(first cases above)", fail_ad, NCASES);
	/* The sweep only means something if it reached every kind of outcome and access. */
	unsigned least = ~0u;
	for (unsigned u = 0; u < 2; u++)
		for (unsigned k = 0; k < 3; k++)
			least = seen_by_kind[u][k] < least ? seen_by_kind[u][k] : least;
	report(seen_ok >= 100 && seen_np >= 50 && seen_rsvd >= 50 && seen_prot >= 100 && least >= 50, "sweep-coverage",
	       "allowed %u, not present %u, reserved %u, protection %u, fewest of one CPL x access %u", seen_ok,
	       seen_np, seen_rsvd, seen_prot, least);
	end();
}
