/* SPDX-License-Identifier: MIT */
/*
 * real-hello: the first guest. Prints a line, then checks the real-mode entry
 * state the ABI promises (CS=DS=ES=SS=0, SP=0x7c00, entered at 0x7c00), that
 * CR0.PE is clear, and reads the test device's ID register with `in`.
 *
 * First, that the vCPU did not fault before the guest's first instruction:
 * a real-mode exception pushes FLAGS, CS and IP (6 bytes) and continues at the
 * vector in the interrupt vector table at 0 — all zeros in fresh RAM, so the
 * vCPU runs the zeros up to the image and enters it at 0x7c00 after all, with
 * CS reloaded by the real-mode rule, SP 6 bytes low and the frame at SS:SP.
 * An entry state with CS.base other than CS.selector * 16 (KVM's reset value
 * 0xffff0000 left in place) does that on a KVM that emulates real mode.
 */
#include "rt.h"

extern uint16_t rt_entry_sp, rt_entry_ss, rt_entry_ds, rt_entry_es, rt_entry_cs, rt_entry_ip;
extern uint16_t rt_entry_frame[3];

/* The frame of an exception taken right at entry: SP 6 bytes low, and the
 * FLAGS word the ABI's entry state has (only bit 1, the fixed one). */
static int faulted_at_entry(void)
{
	return rt_entry_sp == ABI_REAL_LOAD_GPA - 6 && rt_entry_frame[2] == X86_EFLAGS_FIXED;
}

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);
	printf("hello from real mode\n");
	report(!faulted_at_entry(), "entry-no-fault",
	       "the vCPU took an exception before the guest's first instruction (an exception frame IP 0x%x "
	       "CS 0x%x FLAGS 0x%x at SP 0x%x): the real-mode entry state is invalid, e.g. CS.base is not "
	       "CS.selector * 16", rt_entry_frame[0], rt_entry_frame[1], rt_entry_frame[2], rt_entry_sp);
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
