/* SPDX-License-Identifier: MIT */
/*
 * mb-pio-loop: the exit-cost benchmark. 50000 one-byte writes to port 0x80
 * (the POST port: nothing listens, so each one is a bare PIO exit), then the
 * debug-exit port with 0. A multiboot kernel, so QEMU -kernel runs it too and
 * the same loop can be timed on every hypervisor.
 */
#include "rt.h"

#define PIO_LOOP_ITERATIONS 50000
#define POST_PORT 0x80

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	(void)magic;
	(void)mbi_gpa;
	begin(GUEST_NAME);
	uint32_t left = PIO_LOOP_ITERATIONS;
	__asm__ volatile("1: outb %%al, %[port]\n\t"
			 "decl %[n]\n\t"
			 "jnz 1b"
			 : [n] "+r"(left) : "a"(0), [port] "N"(POST_PORT));
	report(left == 0, "pio-loop", "%u iterations left", left);
	end();
}
