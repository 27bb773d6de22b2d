/* SPDX-License-Identifier: MIT */
/*
 * prot-bus-edges: the port bus at the ends of a device's range. A device owns
 * [base, base + len); an access belongs to it only if the whole access lies
 * there. So an access that starts at a device's last port and runs past its
 * end belongs to nobody and reads all ones, like the port just past the
 * device, and a write that straddles the end reaches nobody; the last port
 * alone still answers. Checked at the end of COM1 (0x3f8-0x3ff, whose last
 * port is the scratch register SCR) and of the test device (0x700-0x70f), and
 * across the test device's start.
 */
#include "rt.h"

#define COM1_SCR    0x3ff                     /* 8250 scratch register: COM1's last port */
#define TESTDEV_END (ABI_TESTDEV_PORT + 0x10) /* the first port after the test device */

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	outb(COM1_SCR, 0x5a);
	report_eq("uart-scr-round-trip", inb(COM1_SCR), 0x5a);
	report_eq("word-straddling-uart-end", inw(COM1_SCR), 0xffff);
	report_eq("dword-straddling-uart-end", inl(COM1_SCR - 1), 0xffffffffu);
	outw(COM1_SCR, 0x1234);
	report_eq("straddling-write-reaches-nobody", inb(COM1_SCR), 0x5a);

	report_eq("testdev-id", inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID), ABI_TESTDEV_MAGIC);
	report_eq("port-past-testdev", inb(TESTDEV_END), 0xff);
	report_eq("dword-straddling-testdev-end", inl(TESTDEV_END - 2), 0xffffffffu);
	report_eq("dword-straddling-testdev-start", inl(ABI_TESTDEV_PORT - 2), 0xffffffffu);
	end();
}
