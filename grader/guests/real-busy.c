/* SPDX-License-Identifier: MIT */
/*
 * real-busy: computes for 8 rounds of 2^27 TSC ticks each (25 ms at 5 GHz,
 * 130 ms at 1 GHz) without a single VM exit in a round, then checks that its
 * registers came through.
 *
 * A VMM that runs its vCPU in its own thread gets it out of KVM_RUN now and
 * then with a signal (the kick timer of vm_run_inline(), every 20 ms: how
 * --timeout is noticed): KVM_RUN then returns -EINTR with the guest stopped
 * between two instructions, and the run loop must simply enter it again. A
 * guest that only ever runs for a few milliseconds between exits never sees
 * that happen; this one is interrupted in every round. The rounds are timed
 * with the TSC, not counted in instructions, so that they last as long on a
 * host that runs real-mode code natively as on one that emulates it.
 */
#include "rt.h"

#define ROUNDS      8
#define ROUND_TICKS (1u << 27)

/* Spin until the TSC has advanced by ROUND_TICKS, with no exit, holding
 * known values in the registers the loop does not use (EBP too: the operands
 * are immediates, never addressed through it). Returns the iterations. */
static uint32_t spin(uint32_t *regs_ok)
{
	uint32_t iterations, bad;
	__asm__ volatile("pushl %%ebp\n\t"
			 "movl $0x62757379, %%ebx\n\t"      /* "busy" */
			 "movl $0x0badc0de, %%esi\n\t"
			 "movl $0x5eed5eed, %%ebp\n\t"
			 "xorl %%edi, %%edi\n\t"
			 "rdtsc\n\t"
			 "movl %%eax, %%ecx\n\t"            /* start, low half */
			 "1: incl %%edi\n\t"
			 "rdtsc\n\t"
			 "subl %%ecx, %%eax\n\t"
			 "cmpl %[ticks], %%eax\n\t"
			 "jb 1b\n\t"
			 "xorl %%eax, %%eax\n\t"
			 "cmpl $0x62757379, %%ebx\n\t"
			 "setne %%al\n\t"
			 "cmpl $0x0badc0de, %%esi\n\t"
			 "setne %%ah\n\t"
			 "cmpl $0x5eed5eed, %%ebp\n\t"
			 "setne %%dl\n\t"
			 "orb %%dl, %%al\n\t"
			 "orb %%ah, %%al\n\t"
			 "movzbl %%al, %%eax\n\t"
			 "popl %%ebp"
			 : "=a"(bad), "=D"(iterations)
			 : [ticks] "i"(ROUND_TICKS)
			 : "ebx", "ecx", "edx", "esi", "cc", "memory");
	*regs_ok = !bad;
	return iterations;
}

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);
	unsigned done = 0, regs_ok = 1;
	uint32_t iterations = 0;
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint32_t ok;
		iterations += spin(&ok);
		regs_ok &= ok;
		done++;
		printf("busy: round %u of %u\n", done, ROUNDS);
	}
	/* Reaching this line is the check: a run loop that stops on -EINTR
	 * ends the VM in the first round. */
	printf("busy: %u iterations\n", iterations);
	pass("busy-rounds");
	report(regs_ok, "busy-registers", "EBX, ESI or EBP changed while the guest computed");
	end();
}
