/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-hlt: HLT exits (SDM Vol. 3 26.1.3, "HLT exiting"). The guest
 * prints its results and then halts with interrupts off instead of using the
 * debug-exit port: with no interrupt to wake it, the VMM must notice that
 * every vCPU halted and end with status 0 (VMM_EXIT_HALTED). A failed check
 * exits through the debug-exit port instead, so it cannot pass as a halt.
 */
#include "rt.h"

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	report(!(read_flags() & X86_EFLAGS_IF), "if-clear-before-hlt", "EFLAGS 0x%lx", read_flags());
	report_eq("testdev-id", inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID), ABI_TESTDEV_MAGIC);
	if (end_report())
		guest_exit(1);
	for (;;)
		__asm__ volatile("cli; hlt");
}
