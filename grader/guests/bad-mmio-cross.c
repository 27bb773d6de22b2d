/* SPDX-License-Identifier: MIT */
/*
 * bad-mmio-cross: accesses that cross a page boundary into or out of MMIO
 * (run with --mem=32M). KVM's emulator splits such an access at the page
 * boundary (emulator_read_write() in arch/x86/kvm/x86.c): the part in a
 * memslot it does itself, each MMIO part becomes one KVM_EXIT_MMIO whose
 * length is whatever lies on that side of the boundary — 3, 5, 6 or 7 bytes
 * as well as 1, 2, 4 and 8 (api.rst 5, KVM_EXIT_MMIO: "len" up to 8). A VMM
 * must serve every such length; this guest checks the bytes it gets back:
 *
 *   - the test window's last bytes, the rest of the access in unassigned
 *     space (reads all ones, writes dropped);
 *   - unassigned space just below the ROM, the rest of the access in the ROM;
 *   - a write across two pages of the ROM (both parts MMIO exits, dropped);
 *   - the last bytes of RAM, the rest of the access beyond it.
 */
#include "rt.h"

#define WIN     ABI_TESTMMIO_GPA
#define ROM     ABI_ROM_GPA
#define RAM_END 0x2000000ull /* --mem=32M */

static uint8_t win8(uint32_t off)
{
	return mmio_read8(WIN + off);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	/* 8 bytes at 0xffd: 3 in the window, 5 beyond it. */
	mmio_write64(WIN + 0xffd, 0x8877665544332211ull);
	report(win8(0xffd) == 0x11 && win8(0xffe) == 0x22 && win8(0xfff) == 0x33, "window-write-3-of-8",
	       "window bytes 0xffd..0xfff read 0x%x 0x%x 0x%x, want 0x11 0x22 0x33", win8(0xffd), win8(0xffe),
	       win8(0xfff));
	report_eq("window-read-3-of-8", mmio_read64(WIN + 0xffd), 0xffffffffff332211ull);
	report_eq("window-read-1-of-4", mmio_read32(WIN + 0xfff), 0xffffff33u);
	report_eq("window-read-2-of-2-within", mmio_read16(WIN + 0xffe), 0x3322u);

	/* 8 bytes at ROM - 5: 5 unassigned, then 3 bytes of the ROM's signature. */
	static const char sig[] = ABI_ROM_SIGNATURE;
	uint64_t want = 0xffffffffffull | (uint64_t)(uint8_t)sig[0] << 40 | (uint64_t)(uint8_t)sig[1] << 48 |
			(uint64_t)(uint8_t)sig[2] << 56;
	report_eq("unassigned-into-rom-read", mmio_read64(ROM - 5), want);

	/* 4 bytes at ROM + 0xffe (2 + 2) and 8 bytes at ROM + 0x1ffd (3 + 5),
	 * every part an MMIO exit: the ROM must read back unchanged (byte i
	 * holds i & 0xff). */
	uint32_t before = testdev_cmd(ABI_CMD_ROM_WRITES, 0);
	mmio_write32(ROM + 0xffe, 0xdeadbeef);
	mmio_write64(ROM + 0x1ffd, 0x0123456789abcdefull);
	uint32_t after = testdev_cmd(ABI_CMD_ROM_WRITES, 0);
	report_eq("rom-cross-write-unchanged", mmio_read32(ROM + 0xffe), 0x0100fffeu);
	report_eq("rom-cross-write-unchanged-8", mmio_read64(ROM + 0x1ffd), 0x0403020100fffefdull);
	report(after - before >= 2, "rom-cross-writes-counted", "the VMM counted %u ROM writes, want at least 2",
	       after - before);

	/* 8 bytes at RAM_END - 6: 6 in RAM, 2 beyond it. */
	mmio_write64(RAM_END - 6, 0x1122334455667788ull);
	report_eq("ram-into-unassigned-write", *(volatile uint32_t *)(uintptr_t)(RAM_END - 6), 0x55667788u);
	report_eq("ram-into-unassigned-read", mmio_read64(RAM_END - 6), 0xffff334455667788ull);
	end();
}
