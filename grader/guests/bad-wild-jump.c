/* SPDX-License-Identifier: MIT */
/*
 * bad-wild-jump: jumps to 0xc0000000, where there is neither RAM nor ROM.
 * Fetching code from there cannot work; the VMM must end the run cleanly
 * (VMM_EXIT_WILD_JUMP, or at least a KVM error status), never hang or crash.
 */
#include "rt.h"

#define NOWHERE 0xc0000000u

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	printf("jumping to 0x%x\n", NOWHERE);
	__asm__ volatile("jmp *%0" : : "r"(NOWHERE));
	__builtin_unreachable();
}
