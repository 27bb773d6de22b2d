/* SPDX-License-Identifier: MIT */
/*
 * long-pg-dirty: the dirty log (KVM_GET_DIRTY_LOG; run with --dirty-log)
 * when the guest writes through its own page tables. With a shadow MMU the
 * log comes from write protection: every spte of the slot is made read-only
 * (Linux: kvm_mmu_slot_remove_write_access), so the first write to each page
 * faults and is logged. Pages written through any mapping must be reported,
 * pages only read must not, whatever address the guest used.
 *
 * The probe region (16 pages at PROBE_GPA, nothing else touches it) is
 * mapped three ways: 4 KiB PTEs at REGION_VA, a second 4 KiB alias of one
 * page at ALIAS_VA, and one 2 MiB page at LARGE_VA (shadowed by 4 KiB
 * direct pages). The guest writes every page through every mapping (so
 * each is mapped writable), syncs (clearing the log), writes some pages
 * through each mapping, reads others through each, syncs again and prints
 *   expect-dirty: region=0x400000+0x10000 wrote=...
 * for the grader to compare with the VMM's second "dirty:" line, as
 * prot-dirty.c does (the protocol is described there and in README.md).
 * The tables live outside the region: the CPU's A/D updates to them are
 * writes the log may rightly report.
 *
 * FRESH_PAGES more pages after the probe pages are touched first after the
 * log was cleared, by a read: a hypervisor that maps a page of a logged
 * slot writable at its first read (rather than at its first write) never
 * sees the write that follows. Half of them are then written.
 */
#include "rt.h"
#include <x86/const.h>
#include <x86/pgtable.h>

#define PROBE_GPA   0x400000ull /* 2 MiB-aligned, so one 2 MiB page covers it */
#define PROBE_PAGES 16u
#define FRESH_PAGES 4u               /* after the probe pages: first touched by a read, after the clear */
#define ALL_PAGES   (PROBE_PAGES + FRESH_PAGES)
#define REGION_VA   0x8000000000ull  /* PML4 slot 1 */
#define ALIAS_VA    0x8000200000ull  /* same PDPT, next PD entry */
#define LARGE_VA    0x8040000000ull  /* PDPT entry 1: a 2 MiB page */
#define ALIAS_PAGE  12u              /* mapped at ALIAS_VA too */
#define OWN_FLAGS   (PT_PRESENT_MASK | PT_WRITABLE_MASK)
#define PAGE        ((uint32_t)PAGE_SIZE)

static uint64_t root[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_large[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_alias[512] __attribute__((aligned(PAGE_SIZE)));

/* Which page each access goes to, and through which mapping. */
static const uint8_t write_4k[] = { 2, 6 };
static const uint8_t write_alias = ALIAS_PAGE;
static const uint8_t write_large[] = { 9, 15 };
static const uint8_t read_4k[] = { 3, 7 };
static const uint8_t read_large[] = { 5, 10 };

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static volatile uint32_t *at(uint64_t va, unsigned page) { return (volatile uint32_t *)(uintptr_t)(va + page * PAGE + 0x40); }

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	uint64_t vmm_cr3 = read_cr3();
	report(pa(&pt_alias[512]) <= PROBE_GPA || pa(root) >= PROBE_GPA + ALL_PAGES * PAGE, "tables-outside-region",
	       "the guest's tables at 0x%llx..0x%llx overlap the probe region", (unsigned long long)pa(root),
	       (unsigned long long)pa(&pt_alias[512]));

	root[0] = ((const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK))[0];
	root[PT64_INDEX(REGION_VA, 4)] = pa(pdpt) | OWN_FLAGS;
	pdpt[PT64_INDEX(REGION_VA, 3)] = pa(pd) | OWN_FLAGS;
	pd[PT64_INDEX(REGION_VA, 2)] = pa(pt) | OWN_FLAGS;
	for (unsigned i = 0; i < ALL_PAGES; i++)
		pt[i] = (PROBE_GPA + i * PAGE_SIZE) | OWN_FLAGS;
	pd[PT64_INDEX(ALIAS_VA, 2)] = pa(pt_alias) | OWN_FLAGS;
	pt_alias[0] = (PROBE_GPA + ALIAS_PAGE * PAGE_SIZE) | OWN_FLAGS;
	pdpt[PT64_INDEX(LARGE_VA, 3)] = pa(pd_large) | OWN_FLAGS;
	pd_large[0] = PROBE_GPA | OWN_FLAGS | PT_PAGE_SIZE_MASK;
	write_cr3(pa(root));

	/* Map everything in, writable, before the log is cleared: taking the
	 * log must write-protect pages already mapped writable again, or the
	 * writes below go unseen. (Each page is written 0 and still reads 0.) */
	uint32_t sum = 0;
	for (unsigned i = 0; i < PROBE_PAGES; i++) {
		*at(REGION_VA, i) = 0;
		*at(LARGE_VA, i) = 0;
		sum += *at(REGION_VA, i) + *at(LARGE_VA, i);
	}
	*at(ALIAS_VA, 0) = 0;
	sum += *at(ALIAS_VA, 0);

	uint32_t first = testdev_cmd(ABI_CMD_DIRTY_SYNC, 0);
	report(first != ~0u, "dirty-sync-clear", "DIRTY_SYNC failed (DATA 0x%x): is --dirty-log on?", first);

	for (unsigned i = 0; i < ARRAY_SIZE(write_4k); i++)
		*at(REGION_VA, write_4k[i]) = 0xd1d1d100u + write_4k[i];
	*at(ALIAS_VA, 0) = 0xd1d1d100u + write_alias;
	for (unsigned i = 0; i < ARRAY_SIZE(write_large); i++)
		*at(LARGE_VA, write_large[i]) = 0xd1d1d100u + write_large[i];
	for (unsigned i = 0; i < ARRAY_SIZE(read_4k); i++)
		sum += *at(REGION_VA, read_4k[i]);
	for (unsigned i = 0; i < ARRAY_SIZE(read_large); i++)
		sum += *at(LARGE_VA, read_large[i]);
	for (unsigned f = 0; f < FRESH_PAGES; f++) {
		sum += *at(REGION_VA, PROBE_PAGES + f);
		if (f % 2 == 0)
			*at(REGION_VA, PROBE_PAGES + f) = 0xd1d1d100u + PROBE_PAGES + f;
	}

	uint32_t count = testdev_cmd(ABI_CMD_DIRTY_SYNC, 0);
	write_cr3(vmm_cr3);

	/* The grader's claim: every page written, in order. */
	uint8_t wrote[ALL_PAGES] = { 0 };
	for (unsigned i = 0; i < ARRAY_SIZE(write_4k); i++)
		wrote[write_4k[i]] = 1;
	wrote[write_alias] = 1;
	for (unsigned i = 0; i < ARRAY_SIZE(write_large); i++)
		wrote[write_large[i]] = 1;
	for (unsigned f = 0; f < FRESH_PAGES; f += 2)
		wrote[PROBE_PAGES + f] = 1;
	unsigned nwrote = 0;
	printf("expect-dirty: region=0x%x+0x%x wrote=", (uint32_t)PROBE_GPA, ALL_PAGES * PAGE);
	for (unsigned i = 0; i < ALL_PAGES; i++)
		if (wrote[i])
			printf("%s0x%x", nwrote++ ? "," : "", (uint32_t)PROBE_GPA + i * PAGE);
	printf("\n");

	report(count != ~0u && count >= nwrote, "dirty-count", "second DIRTY_SYNC counted %u pages (0x%x), want >= %u",
	       count, count, nwrote);
	report(sum == 0, "probe-region-untouched", "the region's pages summed to 0x%x before anyone wrote them, want 0",
	       sum);
	/* The writes landed in the pages meant, through every mapping. */
	unsigned good = 0;
	for (unsigned i = 0; i < ALL_PAGES; i++) {
		uint32_t want = wrote[i] ? 0xd1d1d100u + i : 0;
		good += *(volatile uint32_t *)(uintptr_t)(PROBE_GPA + i * PAGE + 0x40) == want;
	}
	report(good == ALL_PAGES, "probe-writes-kept", "%u of %u pages hold what was written through the guest's "
	       "mappings (or 0 if none was)", good, ALL_PAGES);
	end();
}
