/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-reinject: an event whose delivery a VM exit interrupts must be
 * delivered again (SDM Vol. 3 28.2.4, IDT-vectoring information; Linux:
 * vmx_complete_interrupts()).
 *
 * The event is a single-step #DB: RFLAGS.TF set, one instruction, and the
 * processor raises a trap right after it. A trap does not come back by
 * itself: if its delivery is lost, the guest simply goes on (and with TF
 * still set, traps one instruction later). The single-stepped instruction
 * moves ESP to a page the guest has never touched, so delivering the #DB —
 * pushing EFLAGS, CS and EIP — is the first access to that page. At stage 04
 * minikvm maps guest pages on demand from #PF exits (nonpaging MMU), so that
 * push causes a VM exit in the middle of the delivery. The handler must then
 * run exactly once, with the frame's EIP right after the single-stepped
 * instruction. The same step with every page of the delivery already in use
 * (stack, IDT, GDT) comes first, so a hypervisor whose single-step is broken
 * anyway is told apart.
 */
#include "rt.h"
#include "trap.h"
#include <x86/trapnr.h>

/* Far from the image at 1 MiB and inside the default 32 MiB of RAM: the page
 * below it is touched first by the #DB's own push. */
#define UNTOUCHED_STACK_TOP 0x00800000u

static volatile uint32_t db_count, db_eip;
static uint8_t mapped_stack[4096] __attribute__((aligned(4096)));

static void on_debug(struct trap_frame *f)
{
	db_count++;
	db_eip = f->eip;
	f->eflags &= ~X86_EFLAGS_TF; /* one step only */
}

/* Single-step one MOV to `stack`; returns the address right after it (where
 * the #DB trap must be taken). The handler runs on `stack`. */
static uint32_t step_onto(uint32_t stack)
{
	uint32_t after;
	db_count = 0;
	db_eip = 0;
	__asm__ volatile("movl %%esp, %%edx\n\t"
			 "pushfl\n\t"
			 "orl %[tf], (%%esp)\n\t"
			 "popfl\n\t"                  /* TF=1: the trap follows the next instruction */
			 "movl %[stack], %%esp\n\t"   /* the single-stepped instruction */
			 "1: movl %%edx, %%esp\n\t"
			 "movl $1b, %[after]"
			 : [after] "=r"(after)
			 : [stack] "r"(stack), [tf] "i"(X86_EFLAGS_TF)
			 : "edx", "memory", "cc");
	return after;
}

static void check_step(const char *name, uint32_t stack, const char *what)
{
	uint32_t want = step_onto(stack);
	const char *why = db_count == 0 ? "it was never delivered"
			  : db_count > 1  ? "it was delivered more than once"
			  : db_eip != want ? "it was lost, and TF, still set, raised another one instruction later"
					   : "";
	report(db_count == 1 && db_eip == want, name, "%s: handler ran %u time(s), last at EIP 0x%x, want once at 0x%x: %s",
	       what, db_count, db_eip, want, why);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	idt_init();
	trap_exception_handler[DB_VECTOR] = on_debug;

	/* Delivery reads the IDT gate and the GDT's code descriptor and pushes
	 * on the stack: touch all three first (idt_init() wrote the IDT). */
	struct dt_reg gdtr;
	sgdt(&gdtr);
	(void)*(volatile uint64_t *)(uintptr_t)(gdtr.base + ABI_SEL_CODE32);
	memset(mapped_stack, 0, sizeof(mapped_stack));
	check_step("single-step-trap", (uint32_t)(uintptr_t)(mapped_stack + sizeof(mapped_stack)), "single-step #DB");
	/* Delivery pushes onto the untouched page: a #PF exit interrupts it. */
	check_step("single-step-trap-redelivered", UNTOUCHED_STACK_TOP,
		   "single-step #DB whose delivery a VM exit interrupted (#PF on a stack page never touched before), "
		   "so the hypervisor must deliver it again (IDT-vectoring information, SDM 28.2.4)");
	end();
}
