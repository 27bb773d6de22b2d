/* SPDX-License-Identifier: MIT */
/*
 * prot-apic-id: run with --cpus 2..4. CPUID leaf 1 EBX[31:24] is the initial
 * APIC ID (SDM Vol. 2A, CPUID), which the VMM sets to the vCPU's index, the
 * one EDI holds at entry: each vCPU reads its own. vCPU 0 waits, bounded, for
 * the others and reports what each saw.
 */
#include "rt.h"

#define WAIT_ROUNDS 500000 /* each round is a port read: >= 0.5 s on any host */
#define MAX_CPUS    8

static volatile uint32_t seen[MAX_CPUS], cpus_in;

static uint32_t apic_id(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	if (cpu >= MAX_CPUS)
		halt_forever();
	seen[cpu] = apic_id() + 1; /* 0: not reported */
	atomic_inc(&cpus_in);
	if (cpu != 0)
		halt_forever();

	begin(GUEST_NAME);
	unsigned rounds = 0;
	while (cpus_in < ncpus && rounds < WAIT_ROUNDS) {
		(void)inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID);
		rounds++;
	}
	report(ncpus >= 2 && ncpus <= MAX_CPUS, "cpu-count", "ESI says %u vCPUs, want 2..%u", ncpus, MAX_CPUS);
	report(cpus_in == ncpus, "all-cpus-in", "%u of %u vCPUs read their APIC ID", cpus_in, ncpus);
	unsigned right = 0;
	for (uint32_t i = 0; i < ncpus && i < MAX_CPUS; i++) {
		if (seen[i] == i + 1)
			right++;
		else
			printf("vCPU %u: CPUID.1:EBX[31:24] = %d, want %u\n", i, (int)seen[i] - 1, i);
	}
	report(right == ncpus, "initial-apic-id", "%u of %u vCPUs read their own index in CPUID.1:EBX[31:24]", right, ncpus);
	end();
}
