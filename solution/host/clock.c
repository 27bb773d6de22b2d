// SPDX-License-Identifier: MIT
/*
 * host_now_ns() counts TSC ticks; the TSC rate comes from timing a known
 * number of 8254 PIT ticks (1.193182 MHz) with PIT channel 2, whose output
 * can be polled through port 0x61 without interrupts (the method of Linux's
 * pit_calibrate_tsc()). Under Bochs both clocks follow emulated time, so the
 * result is consistent with the PIT the emulator shows.
 */
#include <stdint.h>
#include <stdio.h>

#include <kvmlabs/host.h>
#include <x86/insns.h>
#include "clock.h"

#define PIT_HZ            1193182u
#define PIT_CH2_DATA      0x42
#define PIT_MODE          0x43
#define PIT_CH2_GATE_PORT 0x61    /* bit 0: gate, bit 1: speaker, bit 5: OUT2 */
#define CALIBRATE_MS      10
#define FALLBACK_TSC_HZ   1000000000ull

static uint64_t tsc_hz = FALLBACK_TSC_HZ;
static uint64_t tsc_at_boot;

void clock_init(void)
{
	const uint32_t latch = PIT_HZ * CALIBRATE_MS / 1000;

	tsc_at_boot = rdtsc();
	outb(PIT_CH2_GATE_PORT, (inb(PIT_CH2_GATE_PORT) & ~0x02) | 0x01);
	outb(PIT_MODE, 0xb0);             /* channel 2, lobyte/hibyte, mode 0 */
	outb(PIT_CH2_DATA, latch & 0xff);
	outb(PIT_CH2_DATA, latch >> 8);
	uint64_t t0 = rdtsc();
	uint64_t polls = 0;
	while (!(inb(PIT_CH2_GATE_PORT) & 0x20))
		if (++polls > 100000000ull) {
			printf("kvmlabs-host: the PIT does not count; assuming a %llu MHz TSC\n",
			       FALLBACK_TSC_HZ / 1000000);
			return;
		}
	uint64_t t1 = rdtsc();
	if (t1 > t0)
		tsc_hz = (t1 - t0) * 1000 / CALIBRATE_MS;
}

uint64_t clock_tsc_hz(void)
{
	return tsc_hz;
}

uint64_t host_now_ns(void)
{
	uint64_t ticks = rdtsc() - tsc_at_boot;
	return ticks / tsc_hz * 1000000000ull + ticks % tsc_hz * 1000000000ull / tsc_hz;
}
