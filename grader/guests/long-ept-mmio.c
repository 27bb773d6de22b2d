/* SPDX-License-Identifier: MIT */
/*
 * long-ept-mmio: MMIO sptes and their generation, as far as a guest can see
 * them. A guest-physical page with no memslot gets an MMIO spte on its
 * first access (Linux: mark_mmio_spte; with EPT an entry made deliberately
 * misconfigured, SDM Vol. 3 29.3.3.1), so the next access to that page goes
 * to MMIO handling without a walk. The spte records the memslot generation:
 * once a memslot is added there (ABI_CMD_PLUG_RAM), the generation moved on
 * and the same page must behave as RAM; a hypervisor that trusts the stale
 * MMIO spte sends the access to MMIO handling instead. When the slot goes,
 * the page must be MMIO again, never the memory it had.
 *
 * Every access that may be MMIO runs alone at CPL 3 (rt/user64.h): a
 * hypervisor with an instruction emulator completes it as MMIO (an
 * unassigned address reads all ones, guest_abi.h), one without (minikvm
 * before lab 07) gives the guest #UD. Either is right; what is checked is
 * that every access ended one of those two ways, that two accesses to one
 * page ended the same way (the second took the fast path where there is
 * one), and that RAM behaves as RAM: natively at CPL 3, its value kept.
 * The guest cannot tell the fast path from the slow one: the hypervisor's
 * counters do (minikvm's "tdp:" line, ept_misconfigs).
 *
 * Ring 0 never touches MMIO here: without an emulator that ends the run.
 */
#include "rt.h"
#include "trap64.h"
#include "user64.h"
#include <x86/pgtable.h>

#define HOT_PAGES   ((unsigned)(ABI_HOTPLUG_SIZE / PAGE_SIZE))
#define OFF         0x238ull                      /* the probed qword in a page */
#define HOT(page)   (ABI_HOTPLUG_GPA + (uint64_t)(page) * PAGE_SIZE + OFF) /* identity-mapped */
#define WIN_OFF     0x40ull
#define PATTERN     0x6b766d6c6d6d696full
#define WIN_VALUE   0x5e5a1234u
#define USER_FLAGS  (PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK)

/* Ring 3 needs U/S at every level: the first GiB (code, data, stacks) by
 * 2 MiB pages, the hot-plug range and the test window by 4 KiB pages. */
static uint64_t pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_low[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_3g[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_hot[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_win[512] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static void map_4k(uint64_t *pt, uint64_t gpa, unsigned pages)
{
	pd_3g[PT64_INDEX(gpa, 2)] = pa(pt) | USER_FLAGS;
	for (unsigned i = 0; i < pages; i++)
		pt[PT64_INDEX(gpa, 1) + i] = (gpa + (uint64_t)i * PAGE_SIZE) | USER_FLAGS;
}

/* Every access that may be MMIO, counted by how it ended. */
static unsigned n_done, n_ud, n_other;

static enum user_end tally(enum user_end e)
{
	e == USER_DONE ? n_done++ : e == USER_UD ? n_ud++ : n_other++;
	return e;
}

static uint64_t ones(unsigned size) { return size == 8 ? ~0ull : (1ull << (8 * size)) - 1; }

/* A load of a page that has no memory: MMIO, so all ones or #UD. */
struct mmio_load {
	enum user_end end;
	uint64_t value;
};

static struct mmio_load mmio_load(uint64_t va, unsigned size)
{
	struct mmio_load l = { USER_FAULT, 0 };
	l.end = tally(user_load(va, size, &l.value));
	return l;
}

static int mmio_ok(struct mmio_load l, unsigned size)
{
	return l.end == USER_UD || (l.end == USER_DONE && l.value == ones(size));
}

static void say(const char *what, struct mmio_load l)
{
	if (l.end == USER_DONE)
		printf("  %s: completed, read 0x%llx\n", what, (unsigned long long)l.value);
	else if (l.end == USER_UD)
		printf("  %s: #UD\n", what);
	else
		printf("  %s: vector %llu at RIP 0x%llx\n", what, (unsigned long long)trap64_last.vector,
		       (unsigned long long)trap64_last.rip);
}

/* The test window (one page of the VMM's bytes): a store and two loads. */
static void test_window(void)
{
	uint64_t va = ABI_TESTMMIO_GPA + WIN_OFF;
	uint32_t before = testdev_cmd(ABI_CMD_MMIO_ACCESSES, 0);
	enum user_end st = tally(user_store(va, 4, WIN_VALUE));
	struct mmio_load l1 = { USER_FAULT, 0 }, l2 = { USER_FAULT, 0 }, l3 = { USER_FAULT, 0 };
	l1.end = tally(user_load(va, 4, &l1.value));
	l2.end = tally(user_load(va, 4, &l2.value));
	l3.end = tally(user_load(va + 2, 2, &l3.value));
	uint32_t seen = testdev_cmd(ABI_CMD_MMIO_ACCESSES, 0) - before;

	unsigned done = (st == USER_DONE) + (l1.end == USER_DONE) + (l2.end == USER_DONE) + (l3.end == USER_DONE);
	int ends = (st == USER_DONE || st == USER_UD) && l1.end != USER_FAULT && l2.end != USER_FAULT &&
		   l3.end != USER_FAULT;
	report(ends, "mmio-window-ends", "store %s, loads %s, %s, %s: each must complete as MMIO or be #UD",
	       user_end_name(st), user_end_name(l1.end), user_end_name(l2.end), user_end_name(l3.end));
	report(l1.end == l2.end, "mmio-window-same-page", "two loads of one window dword: %s, then %s",
	       user_end_name(l1.end), user_end_name(l2.end));
	report(seen == done, "mmio-window-count", "MMIO_ACCESSES grew by %u, want %u (the accesses that completed)",
	       seen, done);
	/* The window starts zeroed; a store that completed is what loads see. */
	uint32_t want = st == USER_DONE ? WIN_VALUE : 0;
	int values = (l1.end != USER_DONE || l1.value == want) && (l2.end != USER_DONE || l2.value == want) &&
		     (l3.end != USER_DONE || l3.value == want >> 16);
	report(values, "mmio-window-value", "loads read 0x%llx, 0x%llx, 0x%llx; want 0x%x, 0x%x, 0x%x (store %s)",
	       (unsigned long long)l1.value, (unsigned long long)l2.value, (unsigned long long)l3.value, want, want,
	       want >> 16, user_end_name(st));
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	trap64_user_identity(pml4, pdpt, pd_low);
	pdpt[PT64_INDEX(ABI_HOTPLUG_GPA, 3)] = pa(pd_3g) | USER_FLAGS;
	map_4k(pt_hot, ABI_HOTPLUG_GPA, HOT_PAGES);
	map_4k(pt_win, ABI_TESTMMIO_GPA, 1);
	uint64_t vmm_cr3 = read_cr3();
	write_cr3(pa(pml4));

	test_window();

	/* Nothing at ABI_HOTPLUG_GPA yet: two loads of page 0 (the second finds
	 * the first's MMIO spte), one of page 15, a store to page 1 (dropped). */
	struct mmio_load a = mmio_load(HOT(0), 8), b = mmio_load(HOT(0) + 8, 8), c = mmio_load(HOT(15), 4);
	enum user_end s = tally(user_store(HOT(1), 8, PATTERN));
	int ok = mmio_ok(a, 8) && mmio_ok(b, 8) && mmio_ok(c, 4) && (s == USER_DONE || s == USER_UD);
	if (!ok) {
		say("load of page 0", a), say("load of page 0 again", b), say("load of page 15", c);
		printf("  store to page 1: %s\n", user_end_name(s));
	}
	report(ok, "mmio-unplugged-ends", "accesses to a page without memory must complete as MMIO (loads read "
	       "all ones) or be #UD");
	report(a.end == b.end, "mmio-same-page", "two loads of one page without memory: %s, then %s",
	       user_end_name(a.end), user_end_name(b.end));

	/* RAM comes: page 0 still has its MMIO spte, of the old generation. */
	uint32_t r = testdev_cmd(ABI_CMD_PLUG_RAM, 2);
	report(r == 0, "plug-bad-arg", "PLUG_RAM 2 answered %u, want 0 (refused)", r);
	r = testdev_cmd(ABI_CMD_PLUG_RAM, 1);
	report(r == 1, "plug-cmd", "PLUG_RAM 1 answered %u, want 1", r);
	if (r != 1)
		end();
	r = testdev_cmd(ABI_CMD_PLUG_RAM, 1);
	report(r == 0, "plug-twice-refused", "PLUG_RAM 1 while plugged answered %u, want 0", r);

	uint64_t v = ~0ull;
	enum user_end e = user_store(HOT(0), 8, PATTERN);
	report(e == USER_DONE, "plug-store", "a CPL-3 store to the page just plugged %s (RAM: it must complete "
	       "natively; a stale MMIO spte sends it to MMIO handling)", user_end_name(e));
	e = user_load(HOT(0), 8, &v);
	report(e == USER_DONE && v == PATTERN, "plug-load", "the load after it %s, read 0x%llx, want 0x%llx",
	       user_end_name(e), (unsigned long long)v, PATTERN);
	e = user_load(HOT(0) + 8, 8, &v);
	uint64_t v1 = ~0ull;
	enum user_end e1 = user_load(HOT(1), 8, &v1);
	report(e == USER_DONE && v == 0 && e1 == USER_DONE && v1 == 0, "plug-zeroed", "page 0's next qword %s "
	       "0x%llx, page 1 (its MMIO store was dropped) %s 0x%llx; want 0 both (fresh RAM)", user_end_name(e),
	       (unsigned long long)v, user_end_name(e1), (unsigned long long)v1);
	volatile uint64_t *k = (volatile uint64_t *)(uintptr_t)HOT(0);
	report(*k == PATTERN, "plug-cpl0-sees", "ring 0 reads 0x%llx, want ring 3's 0x%llx",
	       (unsigned long long)*k, PATTERN);

	/* Every page, written at CPL 3, read at CPL 0 and back at CPL 3. */
	unsigned bad = 0, first = ~0u;
	for (unsigned i = 0; i < HOT_PAGES; i++) {
		uint64_t tag = PATTERN ^ ((uint64_t)i << 40);
		if (user_store(HOT(i) + 16, 8, tag) != USER_DONE ||
		    *(volatile uint64_t *)(uintptr_t)(HOT(i) + 16) != tag ||
		    user_load(HOT(i) + 16, 8, &v) != USER_DONE || v != tag)
			first = bad++ ? first : i;
	}
	report(bad == 0, "plug-every-page", "%u of %u pages did not keep a tag stored at CPL 3 (first: page %u)", bad,
	       HOT_PAGES, first);

	/* The slot goes: the page is MMIO again, whatever spte it had. */
	r = testdev_cmd(ABI_CMD_PLUG_RAM, 0);
	report(r == 1, "unplug-cmd", "PLUG_RAM 0 answered %u, want 1", r);
	r = testdev_cmd(ABI_CMD_PLUG_RAM, 0);
	report(r == 0, "unplug-twice-refused", "PLUG_RAM 0 with nothing plugged answered %u, want 0", r);
	struct mmio_load x = mmio_load(HOT(0), 8), y = mmio_load(HOT(0), 8);
	ok = mmio_ok(x, 8) && mmio_ok(y, 8);
	if (!ok)
		say("load after unplug", x), say("load after unplug, again", y);
	report(ok, "unplug-mmio-again", "the unplugged page must complete as MMIO (all ones, not its old "
	       "0x%llx) or be #UD", PATTERN);
	report(x.end == y.end, "unplug-same-page", "two loads of the unplugged page: %s, then %s",
	       user_end_name(x.end), user_end_name(y.end));
	report(x.end == a.end, "unplug-as-before", "a load of the unplugged page %s, one before the plug %s: "
	       "one host, one way", user_end_name(x.end), user_end_name(a.end));

	/* Plugged again: fresh memory, not the old page. Left plugged: the
	 * VMM takes the slot down with its devices. */
	r = testdev_cmd(ABI_CMD_PLUG_RAM, 1);
	e = r == 1 ? user_load(HOT(0), 8, &v) : USER_FAULT;
	report(r == 1 && e == USER_DONE && v == 0, "replug-fresh", "PLUG_RAM 1 answered %u; the load %s, read "
	       "0x%llx, want 0", r, user_end_name(e), (unsigned long long)v);

	write_cr3(vmm_cr3);
	printf("mmio: %u accesses to MMIO: %u completed, %u #UD (no instruction emulator), %u other\n",
	       n_done + n_ud + n_other, n_done, n_ud, n_other);
	end();
}
