/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-regs: the register halves of CPUID and WRMSR that the other guests
 * leave alone. CPUID takes a subleaf in ECX: leaf 7 lists its highest subleaf
 * in EAX, and a subleaf beyond it answers all zeros (SDM Vol. 2A, CPUID,
 * "INPUT EAX = 07H"), not subleaf 0's features. WRMSR writes EDX:EAX: the
 * page-attribute table (IA32_PAT, SDM Vol. 3 13.12.2) keeps all 64 bits, so a
 * value whose high half differs from the reset value reads back whole.
 */
#include "rt.h"

#define PAT_HIGH_WB_UC 0x00000006u  /* PA4 = WB, PA5..PA7 = UC: valid memory types */

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	if (a >= 7) {
		cpuid(7, 0, &a, &b, &c, &d);
		uint32_t past = a + 1, b0 = b;
		cpuid(7, past, &a, &b, &c, &d);
		report(!a && !b && !c && !d, "cpuid-subleaf-past-the-last",
		       "leaf 7 subleaf %u (past the last, %u) answered 0x%x 0x%x 0x%x 0x%x (subleaf 0 EBX 0x%x), want zeros",
		       past, past - 1, a, b, c, d, b0);
	} else {
		skip("cpuid-subleaf-past-the-last", "the highest basic leaf is below 7");
	}

	uint64_t pat = rdmsr(MSR_IA32_CR_PAT);
	uint64_t want = (pat & 0xffffffffull) | ((uint64_t)PAT_HIGH_WB_UC << 32);
	if (want == pat)
		want = (pat & 0xffffffffull) | (0x00070406ull << 32);
	wrmsr(MSR_IA32_CR_PAT, want);
	uint64_t got = rdmsr(MSR_IA32_CR_PAT);
	wrmsr(MSR_IA32_CR_PAT, pat);
	report(got == want, "wrmsr-edx-eax", "IA32_PAT written 0x%llx, reads 0x%llx", (unsigned long long)want,
	       (unsigned long long)got);
	report_eq("wrmsr-restored", rdmsr(MSR_IA32_CR_PAT), pat);
	end();
}
