/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-cr: control-register accesses (SDM Vol. 3 25.6.6 guest/host masks
 * and read shadows; CR-access exits 26.1.3,
 * their exit qualification 28.2.1). The hypervisor may force bits the guest did not
 * ask for (CR0.PG and PE for a guest without unrestricted guest, CR4.VMXE);
 * the read shadows must hide them: CR0 reads PE=1 PG=0, CR4 reads VMXE=0.
 * Bits the guest owns round-trip: CR0.WP, CR0.AM, CR0.TS (also via CLTS),
 * CR4.PSE, and CR3 keeps any value while paging is off.
 */
#include "rt.h"

static void cr0_toggle(const char *name, unsigned long bit)
{
	unsigned long cr0 = read_cr0();
	write_cr0(cr0 | bit);
	unsigned long set = read_cr0();
	write_cr0(cr0 & ~bit);
	unsigned long clear = read_cr0();
	write_cr0(cr0);
	report((set & bit) && !(clear & bit) && (set & ~bit) == (clear & ~bit), name,
	       "CR0 with bit 0x%lx set reads 0x%lx, cleared reads 0x%lx", bit, set, clear);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	unsigned long cr0 = read_cr0();
	report((cr0 & X86_CR0_PE) && !(cr0 & X86_CR0_PG), "cr0-shadow", "CR0 0x%lx, want PE=1 PG=0", cr0);
	unsigned long cr4 = read_cr4();
	report(!(cr4 & X86_CR4_VMXE), "cr4-vmxe-hidden", "CR4 0x%lx has VMXE (bit 13)", cr4);

	cr0_toggle("cr0-wp-round-trip", X86_CR0_WP);
	cr0_toggle("cr0-am-round-trip", X86_CR0_AM);

	write_cr0(cr0 | X86_CR0_TS);
	unsigned long ts = read_cr0();
	__asm__ volatile("clts");
	unsigned long cleared = read_cr0();
	report((ts & X86_CR0_TS) && !(cleared & X86_CR0_TS), "cr0-ts-clts",
	       "after setting TS CR0 0x%lx, after clts 0x%lx", ts, cleared);

	write_cr4(cr4 | X86_CR4_PSE);
	unsigned long pse = read_cr4();
	write_cr4(cr4);
	unsigned long back = read_cr4();
	report((pse & X86_CR4_PSE) && back == cr4 && !(pse & X86_CR4_VMXE), "cr4-pse-round-trip",
	       "CR4 with PSE 0x%lx, restored 0x%lx, want 0x%lx", pse, back, cr4);

	unsigned long cr3 = read_cr3();
	write_cr3(0x12345000);
	unsigned long got = read_cr3();
	write_cr3(cr3);
	report(got == 0x12345000 && read_cr3() == cr3, "cr3-round-trip", "wrote 0x12345000, read 0x%lx; restored 0x%lx",
	       got, read_cr3());

	cr0 = read_cr0();
	report((cr0 & X86_CR0_PE) && !(cr0 & X86_CR0_PG), "cr0-shadow-after", "CR0 0x%lx", cr0);
	end();
}
