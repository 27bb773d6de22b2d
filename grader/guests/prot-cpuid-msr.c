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
	begin_alone(cpu, GUEST_NAME);

	char vendor[13];
	uint32_t max = cpuid_string(0, CPUID_BDC, vendor);
	printf("cpuid: vendor \"%s\" max leaf 0x%x\n", vendor, max);
	report(max >= 1 && max < 0x100, "cpuid-max-leaf", "leaf 0 EAX 0x%x, want 1..0xff", max);
	report_hypervisor_leaves();

	uint32_t a, b, c, d;
	cpuid(ABI_CPUID_HV_FEATURES, 0, &a, &b, &c, &d);
	report_eq("cpuid-hv-features", a, ABI_HV_FEATURES_EAX);

	report_eq("msr-sysenter-cs", rdmsr(MSR_IA32_SYSENTER_CS), ABI_SYSENTER_CS_VALUE);
	report_eq("msr-sysenter-esp", rdmsr(MSR_IA32_SYSENTER_ESP), ABI_SYSENTER_ESP_VALUE);
	end();
}
