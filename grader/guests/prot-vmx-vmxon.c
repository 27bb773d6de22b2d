/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-vmxon: nested VMX is not offered. VMXON with CR4.VMXE clear raises
 * #UD (SDM Vol. 3 VMX instruction reference, VMXON); in a guest VMXON
 * always exits (SDM Vol. 3 26.1.2) and the hypervisor injects the #UD. The guest's
 * #UD handler catches it and resumes after the instruction.
 */
#include "rt.h"
#include "trap.h"
#include <x86/pgtable.h>
#include <x86/trapnr.h>

static uint8_t vmxon_region[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	idt_init();
	report(!(read_cr4() & X86_CR4_VMXE), "cr4-vmxe-clear", "CR4 0x%lx", read_cr4());

	static uint64_t region_pa;
	region_pa = (uint32_t)(uintptr_t)vmxon_region;
	fault_expect(UD_VECTOR);
	__asm__ volatile(FAULT_RESUME_AT_1F "vmxon %0\n1:" : : "m"(region_pa) : "memory", "cc");
	report(trap_fault.caught == 1, "vmxon-ud", "VMXON: %u #UD taken, want 1", trap_fault.caught);
	end();
}
