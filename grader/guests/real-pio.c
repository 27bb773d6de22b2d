/* SPDX-License-Identifier: MIT */
/*
 * real-pio: port I/O exits at every width. The test device's scratch register
 * must return what was written at 1, 2 and 4 bytes, and a narrower read of a
 * wider value returns its low bytes (the VMM masks to the access size). Its ID
 * register identifies it. A port no device claims ignores writes and reads as
 * all ones, like a floating ISA bus.
 */
#include "rt.h"

#define SCRATCH (ABI_TESTDEV_PORT + ABI_TESTDEV_SCRATCH)
#define UNASSIGNED_PORT 0x1234 /* no device in guest_abi.h, beyond the ISA range */

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);

	outb(SCRATCH, 0x5a);
	report_eq("scratch-byte", inb(SCRATCH), 0x5a);
	outw(SCRATCH, 0xa55a);
	report_eq("scratch-word", inw(SCRATCH), 0xa55a);
	outl(SCRATCH, 0x12345678);
	report_eq("scratch-dword", inl(SCRATCH), 0x12345678);
	report_eq("scratch-dword-read-byte", inb(SCRATCH), 0x78);
	report_eq("scratch-dword-read-word", inw(SCRATCH), 0x5678);
	outl(SCRATCH, 0xfedcba98);
	report_eq("scratch-dword-again", inl(SCRATCH), 0xfedcba98);

	report_eq("testdev-id", inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID), ABI_TESTDEV_MAGIC);

	outb(UNASSIGNED_PORT, 0x00);
	outw(UNASSIGNED_PORT, 0x0000);
	outl(UNASSIGNED_PORT, 0x00000000);
	report_eq("unassigned-read-byte", inb(UNASSIGNED_PORT), 0xff);
	report_eq("unassigned-read-word", inw(UNASSIGNED_PORT), 0xffff);
	report_eq("unassigned-read-dword", inl(UNASSIGNED_PORT), 0xffffffff);
	/* The unassigned writes must not have reached the test device. */
	report_eq("scratch-untouched", inl(SCRATCH), 0xfedcba98);
	end();
}
