/* SPDX-License-Identifier: MIT */
/*
 * Lab 03 unit tests, run as one program: the device bus, MMIO exits and
 * memslots (lab03_bus_memory.c); CPUID/MSRs, vCPU threads, irqfd/ioeventfd
 * and the dirty log (lab03_cpu_irq.c). Test names start with the exercise
 * they check (README.md, "### Exercise N").
 */
#include "lab03.h"
#include "ut_vmm.h"

int main(void)
{
	Suite *suites[] = { lab03_bus_memory_suite(), lab03_cpu_irq_suite() };
	return ut_run(suites, 2);
}
