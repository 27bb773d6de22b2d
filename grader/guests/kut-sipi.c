/* SPDX-License-Identifier: MIT */
/*
 * kut-sipi: a multiboot kernel that starts its application processors as
 * the kvm-unit-tests do (lib/x86/smp.c, x86/trampolines.S), run with
 * --cpus 2..4: fw_cfg says how many CPUs there are; the BSP starts them
 * with INIT and a start-up IPI through the runtime's trampoline (rt/ap.h:
 * each AP wakes in real mode at CS:IP = vector << 8 : 0, records its CS and
 * switches to protected mode) and each checks in with its APIC ID. The APs
 * must not run before the SIPI: a VMM that starts them at the image entry
 * fails here.
 */
#include "ap.h"
#include "kut.h"

#define WAIT_ROUNDS    500000       /* each round is a port read: >= 0.5 s on any host */
#define EARLY_ROUNDS   5000         /* >= 5 ms: an AP started with the BSP has run its first lines */

static volatile uint32_t entries, aps_up, apic_ids;

static void kut_ap_main(void)
{
	uint32_t id = apic_read(APIC_ID) >> 24;
	if (id < 32)
		__asm__ volatile("lock orl %1, %0" : "+m"(apic_ids) : "r"(1u << id) : "memory");
	atomic_inc(&aps_up);
}

static void wait_for(uint32_t want, unsigned rounds)
{
	for (unsigned i = 0; i < rounds && aps_up < want && entries < 2; i++)
		(void)inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID);
}

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	(void)mbi_gpa;
	atomic_inc(&entries);
	begin(GUEST_NAME);
	report_eq("eax-magic", magic, ABI_MULTIBOOT_MAGIC);
	uint32_t ncpus = (uint32_t)fw_cfg_read(ABI_FW_CFG_NB_CPUS, 2);
	report(ncpus >= 2 && ncpus <= AP_MAX + 1, "fw-cfg-nb-cpus", "NB_CPUS %u, want 2..%u (run with --cpus 2..4)",
	       ncpus, AP_MAX + 1);
	if (ncpus < 2 || ncpus > AP_MAX + 1)
		end();

	/* Before any INIT-SIPI, no AP may run: give one that was wrongly
	 * started time to show itself. */
	wait_for(1, EARLY_ROUNDS);
	report(aps_up == 0 && entries == 1, "aps-wait-for-sipi",
	       "%u AP(s) checked in and %u vCPU(s) ran the entry before the BSP sent INIT-SIPI", aps_up, entries);

	uint64_t base = rdmsr(MSR_IA32_APICBASE);
	report(base & MSR_IA32_APICBASE_ENABLE, "apic-enabled", "IA32_APIC_BASE 0x%llx: the local APIC is off",
	       (unsigned long long)base);
	ap_start_all(kut_ap_main);
	wait_for(ncpus - 1, WAIT_ROUNDS);

	report(aps_up == ncpus - 1, "aps-up", "%u of %u APs checked in after INIT-SIPI", aps_up, ncpus - 1);
	uint32_t want = ((1u << ncpus) - 1) & ~1u;
	report(apic_ids == want, "ap-apic-ids", "APIC IDs seen 0x%x, want 0x%x", apic_ids, want);
	report_eq("ap-start-cs", ap_trampoline_cs(), AP_SIPI_VECTOR << 8);
	report_eq("entered-once", entries, 1);
	end();
}
