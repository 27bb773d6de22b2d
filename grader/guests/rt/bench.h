/* SPDX-License-Identifier: MIT */
/*
 * What the bench-* guests that time one figure per VM share (grader/bench/
 * README.md): the figure chosen by the RAM size the runner gives the VM,
 * and numbers printed zero-padded, so that a timed run and its twin print
 * the same characters and the exits of their output cancel out of the
 * difference of their counters.
 */
#ifndef RT_BENCH_H
#define RT_BENCH_H

#include "kut.h"

#define BENCH_SEL_MASK   15             /* 4 KiB pages past a multiple of 64 KiB */
#define BENCH_RAM_NEEDED (32ull << 20)

/* The selector: the RAM size's pages past a multiple of 64 KiB, 0 for every
 * figure, 2f for figure f and 2f - 1 for its twin. Less than 32 MiB of RAM
 * skips the guest's figures (check `figures`); a selector beyond its
 * nfigures figures fails. Either way the guest ends here. */
static inline unsigned bench_selector(const char *figures, unsigned nfigures)
{
	uint64_t ram = fw_cfg_ram_size();
	unsigned sel = (unsigned)(ram >> 12) & BENCH_SEL_MASK;
	if (ram < BENCH_RAM_NEEDED) {
		skip(figures, "needs 32 MiB of RAM or more (fw_cfg RAM size)");
		end();
	}
	if (sel > 2 * nfigures) {
		report(0, "figure-selector", "RAM size 0x%llx selects %u: want 0 (every figure) or 1..%u",
		       (unsigned long long)ram, sel, 2 * nfigures);
		end();
	}
	return sel;
}

/* v in decimal, zero-padded to width digits, in buf (width + 1 bytes). */
static inline const char *bench_padded(char *buf, unsigned width, uint64_t v)
{
	buf[width] = '\0';
	for (unsigned i = width; i-- > 0; v /= 10)
		buf[i] = (char)('0' + v % 10);
	return buf;
}

#endif
