// SPDX-License-Identifier: MIT
/*
 * Time and waiting for minikvm (kvmlabs/host_kernel.h): the clock of
 * KVM_RUN's time slice and of a blocked vCPU, and the wait a halted vCPU
 * spends in the kernel once lab 08 gives minikvm an in-kernel irqchip.
 *
 * The host runs with interrupts disabled (README.md), so nothing but time can
 * end a wait: host_wait_until() spins on the TSC with PAUSE, which tells the
 * processor (or the emulator) it is a spin-wait loop, and returns at the
 * deadline or after at most HOST_WAIT_STEP_NS so its caller can look at its
 * own conditions again. `hlt` is no better here: with IF=0 nothing would wake
 * it, and under Bochs `cli; hlt` spins at full speed anyway.
 */
#include <stdbool.h>
#include <stdint.h>

#include <kvmlabs/host.h>
#include <kvmlabs/host_kernel.h>

#include "clock.h"
#include "thread.h"

#define HOST_WAIT_STEP_NS 1000000ull   /* 1 ms */

uint64_t host_clock_ns(void)
{
	return host_now_ns();
}

uint64_t host_tsc_khz(void)
{
	return clock_tsc_hz() / 1000;
}

bool host_wait_until(uint64_t deadline_ns)
{
	/* Another thread may run meanwhile (thread.c): a halted vCPU gives the
	 * CPU to the others, then its caller looks at its conditions again. */
	if (host_thread_others()) {
		host_thread_wait();
		return host_clock_ns() >= deadline_ns;
	}
	uint64_t start = host_clock_ns();
	uint64_t until = deadline_ns;
	if (deadline_ns > start && deadline_ns - start > HOST_WAIT_STEP_NS)
		until = start + HOST_WAIT_STEP_NS;
	uint64_t now = start;
	while (now < until) {
		__builtin_ia32_pause();
		now = host_clock_ns();
	}
	return now >= deadline_ns;
}
