/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-triple-fault: a guest that cannot deliver an exception. With an
 * IDT limit of 0, UD2's #UD cannot be delivered, which is #GP, then #DF, then
 * a triple fault (SDM Vol. 3 6.15, interrupt 8). In VMX non-root operation
 * that is a VM exit (SDM Vol. 3 26.2, basic exit reason 2), which KVM reports
 * as KVM_EXIT_SHUTDOWN: VMM status 8.
 */
#include "rt.h"

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	pass("about-to-triple-fault");
	struct dt_reg empty = { .limit = 0, .base = 0 };
	lidt(&empty);
	__asm__ volatile("ud2");
	/* Not reached; if it is, say so and fail. */
	report(0, "triple-fault", "execution continued after ud2 with an empty IDT");
	end();
}
