/* SPDX-License-Identifier: MIT */
/*
 * prot-rom: the read-only memory slot at ABI_ROM_GPA (KVM_MEM_READONLY).
 * Reads come from memory without exits: the signature at offset 0, and
 * byte i >= 16 holds i & 0xff. Writes exit to the VMM as MMIO, which drops
 * them and counts them: the ROM reads back unchanged and ABI_CMD_ROM_WRITES
 * grows by exactly the writes made here.
 */
#include "rt.h"
#include <x86/const.h>

#define ROM ABI_ROM_GPA

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	static const char sig[] = ABI_ROM_SIGNATURE;
	const volatile char *rom = (const volatile char *)ROM;
	unsigned i;
	for (i = 0; i < sizeof(sig) - 1; i++)
		if (rom[i] != sig[i])
			break;
	report(i == sizeof(sig) - 1, "rom-signature", "byte %u is 0x%x, want 0x%x ('%s')",
	       i, (uint8_t)rom[i], (uint8_t)sig[i], sig);

	static const uint32_t probes[] = { 16, 17, 0xff, 0x100, 0x1234, 0x8000, 0xabcd, 0xfffe, 0xffff };
	unsigned bad = 0, first_bad = 0;
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		if (mmio_read8(ROM + probes[i]) != (probes[i] & 0xff) && !bad++)
			first_bad = probes[i];
	}
	report(bad == 0, "rom-pattern", "%u of %u probes wrong, first at +0x%x reads 0x%x want 0x%x",
	       bad, i, first_bad, mmio_read8(ROM + first_bad), first_bad & 0xff);
	report_eq("rom-dword-read", mmio_read32(ROM + 0x1010), 0x13121110);

	uint32_t before = testdev_cmd(ABI_CMD_ROM_WRITES, 0);
	mmio_write8(ROM + 0x100, 0xaa);
	mmio_write16(ROM + 0x202, 0xbbbb);
	mmio_write32(ROM + 0x304, 0xcccccccc);
	mmio_write32(ROM + 0x0, 0xdddddddd);
	unsigned writes = 4;
	uint8_t b = mmio_read8(ROM + 0x100);
	uint16_t w = mmio_read16(ROM + 0x202);
	uint32_t d = mmio_read32(ROM + 0x304);
	report(b == 0x00 && w == 0x0302 && d == 0x07060504, "rom-unchanged-after-write",
	       "read 0x%x 0x%x 0x%x, want 0x0 0x302 0x7060504", b, w, d);
	report(rom[0] == sig[0] && rom[3] == sig[3], "rom-signature-after-write",
	       "bytes 0 and 3 read 0x%x 0x%x", (uint8_t)rom[0], (uint8_t)rom[3]);
	uint32_t after = testdev_cmd(ABI_CMD_ROM_WRITES, 0);
	report(after - before == writes, "rom-write-count", "VMM counted %u writes, guest made %u",
	       after - before, writes);
	end();
}
