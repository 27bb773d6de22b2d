/* SPDX-License-Identifier: MIT */
/*
 * prot-mmio: MMIO exits. The test window at ABI_TESTMMIO_GPA is a byte array
 * in the VMM: an access of any size at any offset reads what was last
 * written to those bytes. Writes and reads at 1, 2 and 4 bytes, at several
 * offsets, with overlapping sizes (little-endian byte order), then the VMM's
 * count of MMIO exits in the window must equal the accesses made here. A read
 * from a guest-physical address with neither RAM nor a device returns all
 * ones, and a write there is dropped.
 */
#include "rt.h"

#define WIN ABI_TESTMMIO_GPA
#define UNMAPPED_GPA 0xc0000000u /* far above RAM, below the test window */

static unsigned accesses;

static uint32_t rd(unsigned size, uint32_t off)
{
	accesses++;
	switch (size) {
	case 1: return mmio_read8(WIN + off);
	case 2: return mmio_read16(WIN + off);
	default: return mmio_read32(WIN + off);
	}
}

static void wr(unsigned size, uint32_t off, uint32_t v)
{
	accesses++;
	switch (size) {
	case 1: mmio_write8(WIN + off, (uint8_t)v); break;
	case 2: mmio_write16(WIN + off, (uint16_t)v); break;
	default: mmio_write32(WIN + off, v); break;
	}
}

static void round_trip(const char *name, unsigned size, uint32_t off, uint32_t v)
{
	wr(size, off, v);
	uint32_t got = rd(size, off);
	report(got == v, name, "%u-byte write 0x%x at +0x%x, read back 0x%x", size, v, off, got);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	uint32_t before = testdev_cmd(ABI_CMD_MMIO_ACCESSES, 0);

	round_trip("mmio-byte", 1, 0x000, 0xa5);
	round_trip("mmio-word", 2, 0x010, 0xbeef);
	round_trip("mmio-dword", 4, 0x020, 0xcafef00d);
	round_trip("mmio-byte-high-offset", 1, 0xfff, 0x3c);
	round_trip("mmio-dword-last", 4, 0xffc, 0x13579bdf);
	round_trip("mmio-word-unaligned", 2, 0x101, 0x7e81);

	/* Overlaps: one dword, then its bytes and words, then a byte into its middle. */
	wr(4, 0x40, 0x44332211);
	uint32_t b0 = rd(1, 0x40), b3 = rd(1, 0x43), w1 = rd(2, 0x41);
	report(b0 == 0x11 && b3 == 0x44 && w1 == 0x3322, "mmio-dword-then-narrow",
	       "after dword 0x44332211: byte+0 0x%x byte+3 0x%x word+1 0x%x, want 0x11 0x44 0x3322",
	       b0, b3, w1);
	wr(1, 0x42, 0xee);
	uint32_t d = rd(4, 0x40);
	report(d == 0x44ee2211, "mmio-byte-into-dword", "dword 0x%x want 0x44ee2211", d);
	wr(2, 0x3f, 0x9988); /* straddles the dword's first byte */
	d = rd(4, 0x3c);
	uint32_t d2 = rd(4, 0x40);
	report((d >> 24) == 0x88 && d2 == 0x44ee2299, "mmio-word-straddle",
	       "dwords at +0x3c 0x%x +0x40 0x%x, want 0x88xxxxxx 0x44ee2299", d, d2);

	uint32_t after = testdev_cmd(ABI_CMD_MMIO_ACCESSES, 0);
	report(after - before == accesses, "mmio-exit-count", "VMM counted %u accesses, guest made %u",
	       after - before, accesses);

	mmio_write32(UNMAPPED_GPA, 0);
	uint32_t u4 = mmio_read32(UNMAPPED_GPA);
	uint32_t u1 = mmio_read8(UNMAPPED_GPA + 0x11);
	uint32_t u2 = mmio_read16(UNMAPPED_GPA + 0x22);
	report(u4 == 0xffffffff && u1 == 0xff && u2 == 0xffff, "unmapped-reads-ones",
	       "0x%x read 0x%x/0x%x/0x%x (4/1/2 bytes), want all ones", UNMAPPED_GPA, u4, u1, u2);
	uint32_t after2 = testdev_cmd(ABI_CMD_MMIO_ACCESSES, 0);
	report(after2 == after, "unmapped-not-counted", "test window count moved %u -> %u on accesses elsewhere",
	       after, after2);
	end();
}
