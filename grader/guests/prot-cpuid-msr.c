/* SPDX-License-Identifier: MIT */
/*
 * prot-cpuid-msr: what the VMM put in the CPUID table (KVM_SET_CPUID2) and
 * the MSRs it set (KVM_SET_MSRS): the hypervisor leaves 0x40000000/1 with the
 * kvmlabs signature and ABI version, a sane leaf 0, and SYSENTER_CS/ESP.
 */
#include "rt.h"

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
	printf("cpuid: vendor \"%s\" max leaf 0x%x\n", vendor, a);
	report(a >= 1 && a < 0x100, "cpuid-max-leaf", "leaf 0 EAX 0x%x, want 1..0xff", a);

	cpuid(ABI_CPUID_HV_LEAF, 0, &a, &b, &c, &d);
	char sig[13];
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = 0;
	report(a >= ABI_CPUID_HV_FEATURES, "cpuid-hv-max-leaf", "0x40000000 EAX 0x%x, want >= 0x40000001", a);
	report(memcmp(sig, ABI_CPUID_HV_SIGNATURE, 12) == 0, "cpuid-hv-signature",
	       "EBX:ECX:EDX 0x%x 0x%x 0x%x (\"%s\"), want \"kvmlabs-vmm\"", b, c, d, sig);

	cpuid(ABI_CPUID_HV_FEATURES, 0, &a, &b, &c, &d);
	report_eq("cpuid-hv-features", a, ABI_HV_FEATURES_EAX);

	report_eq("msr-sysenter-cs", rdmsr(ABI_MSR_SYSENTER_CS), ABI_SYSENTER_CS_VALUE);
	report_eq("msr-sysenter-esp", rdmsr(ABI_MSR_SYSENTER_ESP), ABI_SYSENTER_ESP_VALUE);
	end();
}
