/* SPDX-License-Identifier: MIT */
/*
 * long-emu-ud0: the undefined opcodes of rt/emu-ud.h at CPL 0. A hypervisor
 * that emulates an instruction at CPL 0 must raise the guest's #UD (or
 * #GP(0) past 15 bytes) as the CPU does, RIP at the instruction: never run
 * it, skip it, or end the run.
 */
#include "emu-ud.h"

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	for (unsigned i = 0; i < ARRAY_SIZE(ud_cases); i++)
		ud_one(&ud_cases[i], 0);
	end();
}
