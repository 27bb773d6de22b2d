/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-io: I/O instruction exits (SDM Vol. 3 26.1.3; the exit
 * qualification of 28.2.1 gives size, direction and port). The UART
 * output itself is the first test; then the test device's scratch register
 * at 1, 2 and 4 bytes and its ID register.
 */
#include "rt.h"

#define SCRATCH (ABI_TESTDEV_PORT + ABI_TESTDEV_SCRATCH)

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	outb(SCRATCH, 0xc3);
	report_eq("pio-out-in-byte", inb(SCRATCH), 0xc3);
	outw(SCRATCH, 0x8001);
	report_eq("pio-out-in-word", inw(SCRATCH), 0x8001);
	outl(SCRATCH, 0x80000001);
	report_eq("pio-out-in-dword", inl(SCRATCH), 0x80000001);
	report_eq("pio-in-byte-of-dword", inb(SCRATCH), 0x01);
	report_eq("testdev-id", inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID), ABI_TESTDEV_MAGIC);
	end();
}
