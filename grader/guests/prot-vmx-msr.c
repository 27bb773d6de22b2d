/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-msr: RDMSR/WRMSR exits (SDM Vol. 3 26.1.3, MSR bitmaps 25.6.9).
 * The SYSENTER MSRs hold what the VMM set; SYSENTER_EIP keeps a written
 * value; an MSR the hypervisor does not know raises #GP(0) in the guest
 * (what KVM does without ignore_msrs), which the guest's own #GP handler
 * catches and skips. #GP is a fault (SDM Vol. 3 6.5): the EIP it pushes is
 * the RDMSR/WRMSR itself, so a hypervisor that advanced RIP before injecting
 * it shows up in the handler's frame.
 */
#include "rt.h"
#include "trap.h"
#include <x86/trapnr.h>

/* An index no CPU and no hypervisor defines. (0x4b564d00, "KVM\0", would not
 * do: it is KVM's own MSR_KVM_WALL_CLOCK_NEW, which Linux KVM answers.) */
#define BOGUS_MSR 0x6b766d00u

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	idt_init();

	report_eq("msr-sysenter-cs", rdmsr(MSR_IA32_SYSENTER_CS), ABI_SYSENTER_CS_VALUE);
	report_eq("msr-sysenter-esp", rdmsr(MSR_IA32_SYSENTER_ESP), ABI_SYSENTER_ESP_VALUE);

	wrmsr(MSR_IA32_SYSENTER_EIP, 0x00c0ffee);
	report_eq("msr-sysenter-eip-round-trip", rdmsr(MSR_IA32_SYSENTER_EIP), 0x00c0ffee);
	wrmsr(MSR_IA32_SYSENTER_EIP, 0);
	report_eq("msr-sysenter-eip-cleared", rdmsr(MSR_IA32_SYSENTER_EIP), 0);

	uint32_t lo = 0x11111111, hi = 0x22222222, insn;
	fault_expect(GP_VECTOR);
	__asm__ volatile("movl $0f, %[insn]\n\t" FAULT_RESUME_AT_1F "0: rdmsr\n1:"
			 : "+a"(lo), "+d"(hi), [insn] "=&r"(insn) : "c"(BOGUS_MSR) : "memory");
	report(trap_fault.caught == 1 && trap_fault.error == 0, "rdmsr-bogus-gp",
	       "rdmsr 0x%x: %u #GP taken (error 0x%x), returned 0x%x:%x",
	       BOGUS_MSR, trap_fault.caught, trap_fault.error, hi, lo);
	report(trap_fault.caught != 1 || trap_fault.eip == insn, "rdmsr-bogus-gp-at-rdmsr",
	       "the #GP frame's EIP is 0x%x, not the RDMSR at 0x%x: #GP is a fault, so RIP must "
	       "not be advanced when it is injected", trap_fault.eip, insn);

	fault_expect(GP_VECTOR);
	__asm__ volatile("movl $0f, %[insn]\n\t" FAULT_RESUME_AT_1F "0: wrmsr\n1:"
			 : [insn] "=&r"(insn) : "a"(0x1234), "d"(0), "c"(BOGUS_MSR) : "memory");
	report(trap_fault.caught == 1 && trap_fault.error == 0, "wrmsr-bogus-gp",
	       "wrmsr 0x%x: %u #GP taken (error 0x%x)", BOGUS_MSR, trap_fault.caught, trap_fault.error);
	report(trap_fault.caught != 1 || trap_fault.eip == insn, "wrmsr-bogus-gp-at-wrmsr",
	       "the #GP frame's EIP is 0x%x, not the WRMSR at 0x%x: #GP is a fault, so RIP must "
	       "not be advanced when it is injected", trap_fault.eip, insn);
	end();
}
