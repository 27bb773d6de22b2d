/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-lmsw: LMSW loads CR0[3:0] (PE, MP, EM, TS) from its operand but
 * can only set PE, never clear it (SDM Vol. 2A, LMSW). The hypervisor owns
 * PE, MP and EM, so LMSW changing MP exits with a CR-access qualification of
 * access type 3 (SDM Vol. 3 Table 28-3); SMSW (which does not exit) and MOV
 * from CR0 must read what LMSW loaded.
 */
#include "rt.h"

static inline void lmsw(uint16_t v) { __asm__ volatile("lmsw %0" : : "r"(v) : "memory"); }

static inline uint16_t smsw(void)
{
	uint16_t v;
	__asm__ volatile("smsw %0" : "=r"(v));
	return v;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	unsigned long cr0 = read_cr0();
	lmsw((uint16_t)((cr0 | X86_CR0_MP) & 0xf));
	unsigned long mp = read_cr0();
	uint16_t msw = smsw();
	report((mp & X86_CR0_MP) && (msw & X86_CR0_MP) && (mp & ~(unsigned long)X86_CR0_MP) == (cr0 & ~(unsigned long)X86_CR0_MP),
	       "lmsw-sets-mp", "CR0 0x%lx, LMSW of MP: CR0 0x%lx, SMSW 0x%x", cr0, mp, msw);

	lmsw((uint16_t)(cr0 & ~(unsigned long)(X86_CR0_PE | X86_CR0_MP) & 0xf));
	unsigned long after = read_cr0();
	report((after & X86_CR0_PE) && !(after & X86_CR0_MP), "lmsw-keeps-pe",
	       "LMSW of 0x%lx: CR0 0x%lx, want PE still set and MP clear", cr0 & ~(unsigned long)(X86_CR0_PE | X86_CR0_MP) & 0xf, after);
	write_cr0(cr0);
	report_eq("cr0-restored", read_cr0(), cr0);
	end();
}
