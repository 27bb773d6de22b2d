/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-cpuid: CPUID exits unconditionally (SDM Vol. 3 26.1.2), and the
 * hypervisor answers from the VMM's table. Leaf 0: a vendor string and a
 * max leaf >= 1. Leaf 1: ECX bit 5 (VMX) clear, because the hypervisor does
 * not offer nested VMX. Leaf 0x40000000: the kvmlabs signature.
 */
#include "rt.h"
#include <x86/cpuid.h>

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	char vendor[13];
	uint32_t max = cpuid_string(0, CPUID_BDC, vendor);
	unsigned printable = 0;
	for (unsigned i = 0; i < 12; i++)
		printable += vendor[i] >= 0x20 && vendor[i] < 0x7f;
	report(printable == 12, "cpuid-vendor", "vendor has %u printable characters, want 12", printable);
	if (printable == 12)
		printf("cpuid: vendor \"%s\"\n", vendor);
	report(max >= 1, "cpuid-max-leaf", "leaf 0 EAX 0x%x, want >= 1", max);

	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	report(!(c & CPUID_1_ECX_VMX), "cpuid-vmx-hidden", "leaf 1 ECX 0x%x has VMX (bit 5) set", c);

	report_hypervisor_leaves();
	end();
}
