/* SPDX-License-Identifier: MIT */
/*
 * bad-ram-end: jumps to the first byte after RAM (run with --mem=32M). There
 * is neither RAM nor ROM at that address: the VMM must tell it apart from an
 * error inside guest memory and end with VMM_EXIT_WILD_JUMP, as for
 * bad-wild-jump's 0xc0000000. The boundary is the one a region look-up gets
 * wrong with '<=' for '<'.
 */
#include "rt.h"

#define RAM_END 0x2000000u /* --mem=32M */

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	printf("jumping to 0x%x, the end of RAM\n", RAM_END);
	__asm__ volatile("jmp *%0" : : "r"(RAM_END));
	__builtin_unreachable();
}
