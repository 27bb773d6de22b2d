/* SPDX-License-Identifier: MIT */
/*
 * real-entry-regs: the general registers of the real-mode entry state
 * (guest_abi.h): EDI = the vCPU's index, 0, and ESI = the number of vCPUs, 1
 * (run without --cpus). The runtime's entry (rt/real-entry.S) records both
 * before its own code uses DI and SI.
 */
#include "rt.h"

extern uint32_t rt_entry_edi, rt_entry_esi;

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);
	report_eq("entry-edi-vcpu-index", rt_entry_edi, 0);
	report_eq("entry-esi-vcpu-count", rt_entry_esi, 1);
	end();
}
