/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-cpuid: CPUID exits unconditionally (SDM Vol. 3 26.1.2), and the
 * hypervisor answers from the VMM's table. Leaf 0: a vendor string and a
 * max leaf >= 1. Leaf 1: ECX bit 5 (VMX) clear, because the hypervisor does
 * not offer nested VMX. Leaf 0x40000000: the kvmlabs signature.
 */
#include "rt.h"

#define CPUID_1_ECX_VMX (1u << 5)

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	if (cpu != 0)
		halt_forever();
	begin(GUEST_NAME);

	uint32_t a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	char vendor[13];
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	vendor[12] = 0;
	unsigned printable = 0;
	for (unsigned i = 0; i < 12; i++)
		printable += vendor[i] >= 0x20 && vendor[i] < 0x7f;
	report(printable == 12, "cpuid-vendor", "vendor bytes 0x%x 0x%x 0x%x, want 12 printable characters", b, d, c);
	if (printable == 12)
		printf("cpuid: vendor \"%s\"\n", vendor);
	report(a >= 1, "cpuid-max-leaf", "leaf 0 EAX 0x%x, want >= 1", a);

	cpuid(1, 0, &a, &b, &c, &d);
	report(!(c & CPUID_1_ECX_VMX), "cpuid-vmx-hidden", "leaf 1 ECX 0x%x has VMX (bit 5) set", c);

	cpuid(ABI_CPUID_HV_LEAF, 0, &a, &b, &c, &d);
	char sig[13];
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	report(memcmp(sig, ABI_CPUID_HV_SIGNATURE, 12) == 0, "cpuid-hv-signature",
	       "EBX:ECX:EDX 0x%x 0x%x 0x%x, want \"kvmlabs-vmm\"", b, c, d);
	report(a >= ABI_CPUID_HV_FEATURES, "cpuid-hv-max-leaf", "0x40000000 EAX 0x%x, want >= 0x40000001", a);
	end();
}
