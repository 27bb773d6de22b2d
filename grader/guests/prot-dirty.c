/* SPDX-License-Identifier: MIT */
/*
 * prot-dirty: the dirty log (KVM_GET_DIRTY_LOG; run with --dirty-log). The
 * guest clears the log with one DIRTY_SYNC, writes one dword into each of a
 * known set of pages in a probe region nothing else touches (and only reads
 * another), syncs again and prints which pages it wrote:
 *   expect-dirty: region=0x400000+0x10000 wrote=0x401000,0x403000,...
 * The VMM prints "dirty: <count> <gpa>..." on the second sync; the grader
 * checks that the VMM's set inside the region is exactly the written set.
 * The guest itself checks the count covers at least the pages it wrote.
 */
#include "rt.h"
#include <x86/const.h>
#include <x86/pgtable.h>

#define PROBE_GPA   0x400000u
#define PROBE_PAGES 16u
#define PAGE        ((uint32_t)PAGE_SIZE) /* the dirty log's unit, 32 bits for printf */
#define READ_ONLY_PAGE 7u /* read, never written: must not show up dirty */

static const uint8_t written_pages[] = { 1, 3, 4, 9, 15 };
#define NWRITTEN ARRAY_SIZE(written_pages)

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	uint32_t first = testdev_cmd(ABI_CMD_DIRTY_SYNC, 0);
	report(first != ~0u, "dirty-sync-clear", "DIRTY_SYNC failed (DATA 0x%x): is --dirty-log on?", first);

	for (unsigned i = 0; i < NWRITTEN; i++)
		*(volatile uint32_t *)(uintptr_t)(PROBE_GPA + written_pages[i] * PAGE + 0x80) = 0xd1d1d1d1u + i;
	uint32_t seen = *(volatile uint32_t *)(uintptr_t)(PROBE_GPA + READ_ONLY_PAGE * PAGE);

	uint32_t count = testdev_cmd(ABI_CMD_DIRTY_SYNC, 0);
	printf("expect-dirty: region=0x%x+0x%x wrote=", PROBE_GPA, PROBE_PAGES * PAGE);
	for (unsigned i = 0; i < NWRITTEN; i++)
		printf("%s0x%x", i ? "," : "", PROBE_GPA + written_pages[i] * PAGE);
	printf("\n");

	report(count != ~0u && count >= NWRITTEN, "dirty-count", "second DIRTY_SYNC counted %u pages (0x%x), want >= %u",
	       count, count, (unsigned)NWRITTEN);
	report(seen == 0, "probe-region-untouched", "page %u read 0x%x before anyone wrote it, want 0",
	       READ_ONLY_PAGE, seen);

	/* The writes themselves landed (the log is about RAM, so RAM must hold them). */
	unsigned good = 0;
	for (unsigned i = 0; i < NWRITTEN; i++)
		good += *(volatile uint32_t *)(uintptr_t)(PROBE_GPA + written_pages[i] * PAGE + 0x80) == 0xd1d1d1d1u + i;
	report(good == NWRITTEN, "probe-writes-kept", "%u of %u written dwords read back", good, (unsigned)NWRITTEN);
	end();
}
