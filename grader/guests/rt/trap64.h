/* SPDX-License-Identifier: MIT */
/*
 * Exceptions and user mode for long-mode guests (long-*.elf): a GDT with
 * ring-3 code and data and a 64-bit TSS, an IDT whose 32 exception gates
 * lead to one handler, and two ways to run code that may fault:
 *
 *   trap64_run(fn, arg)            fn(arg) at CPL 0
 *   trap64_run_user(rip, rsp, arg) code at CPL 3 (RDI = arg), which ends by
 *                                  taking an exception (ud2 when it is done)
 *
 * An exception taken while one of them runs is recorded in trap64_last and
 * ends the run: execution continues after the trap64_run*() call, on its
 * stack, with its callee-saved registers (a longjmp, not a return from the
 * exception): no exception handler returns, so nothing depends on how a host
 * KVM that emulates CPL 0 code runs IRET from one (HOST-KVM.md); ring 3 is
 * entered with IRETQ, which that host does run. Any other exception is reported
 * as "not ok unexpected-exception" and ends the guest.
 *
 * Ring 3 needs its code and stack mapped with U/S = 1 at every level (SDM
 * Vol. 3 4.6.1): the VMM's identity map is supervisor-only, so a guest that
 * enters user mode builds its own tables.
 */
#ifndef RT_TRAP64_H
#define RT_TRAP64_H

/* The VMM's four descriptors keep their selectors (guest_abi.h), so loading
 * this GDT needs no far jump; ring 3's code and data and the TSS follow. */
#define TRAP64_SEL_KCODE  0x18
#define TRAP64_SEL_UCODE  (0x28 | 3)
#define TRAP64_SEL_UDATA  (0x30 | 3)
#define TRAP64_SEL_TSS    0x38
#define TRAP64_VECTORS    32

#define TRAP64_FRAME_SIZE 176 /* 15 GPRs, vector, error, RIP, CS, RFLAGS, RSP, SS */

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* What the stubs leave on the stack (SDM Vol. 3 6.14.2, figure 6-9: SS, RSP,
 * RFLAGS, CS, RIP and the error code pushed by the CPU in 64-bit mode; the
 * stub adds 0 where the vector has no error code, the vector and the GPRs). */
struct trap64_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct trap64_frame) == TRAP64_FRAME_SIZE, "trap64_frame layout (trap64.S)");

/* The exception that ended the last trap64_run*(). */
struct trap64_event {
	uint64_t vector, error, rip, cr2; /* cr2: read in the handler, #PF only */
	uint64_t cpl;                     /* CS.RPL of the interrupted code */
	uint64_t rsp;
};
extern struct trap64_event trap64_last;

/* Loads the GDT, TSS and IDT; exceptions from ring 3 are delivered on a
 * ring-0 stack of the runtime's own (TSS.RSP0). */
void trap64_init(void);

/* Fills pml4[0] -> pdpt[0] -> pd with an identity map of the first GiB in
 * 2 MiB pages, present, writable and user-accessible at every level, so
 * ring 3 can run the image's code on its stacks. The three tables are the
 * caller's (4 KiB-aligned, identity-mapped: their address is their GPA). */
void trap64_user_identity(uint64_t *pml4, uint64_t *pdpt, uint64_t *pd);

/* 1: fn returned; 0: an exception ended it (trap64_last). */
int trap64_run(void (*fn)(uint64_t), uint64_t arg);
/* Always 0: ring-3 code ends by an exception (trap64_last). */
int trap64_run_user(uint64_t rip, uint64_t rsp, uint64_t arg);
#endif

#endif
