/* SPDX-License-Identifier: MIT */
/*
 * real-hello: the first guest. Prints a line, then checks the real-mode entry
 * state the ABI promises (CS=DS=ES=SS=0, SP=0x7c00, entered at 0x7c00), that
 * CR0.PE is clear, and reads the test device's ID register with `in`.
 */
#include "rt.h"

extern uint16_t rt_entry_sp, rt_entry_ss, rt_entry_ds, rt_entry_es, rt_entry_cs, rt_entry_ip;

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);
	printf("hello from real mode\n");
	report_eq("entry-ip", rt_entry_ip, ABI_REAL_LOAD_GPA);
	report_eq("entry-cs", rt_entry_cs, 0);
	report_eq("entry-ds", rt_entry_ds, 0);
	report_eq("entry-es", rt_entry_es, 0);
	report_eq("entry-ss", rt_entry_ss, 0);
	report_eq("entry-sp", rt_entry_sp, ABI_REAL_LOAD_GPA);
	report(!(read_cr0() & X86_CR0_PE), "cr0-pe-clear", "CR0 0x%lx has PE set", read_cr0());
	report_eq("testdev-id", inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID), ABI_TESTDEV_MAGIC);
	end();
}
