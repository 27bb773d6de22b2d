/* SPDX-License-Identifier: MIT */
/*
 * long-hello: the long-mode entry state. EFER.LME and LMA (SDM Vol. 3 2.2.1),
 * CR0.PG, CR4.PAE, CS=0x18 with a 64-bit code descriptor (L=1, D=0) in the
 * VMM's GDT, CR3 = ABI_PML4_GPA. Then a software walk of the VMM's page
 * tables (SDM Vol. 3 4.5) must find identity mappings with 2 MiB pages (PS)
 * for the guest's own code, its stack and the ROM at ABI_ROM_GPA, and the
 * ROM must read through that mapping.
 */
#include "rt.h"
#include <x86/pgtable.h>

struct walk {
	uint64_t pa;
	unsigned page_shift; /* PAGE_SHIFT, LARGE_PAGE_SHIFT or HUGE_PAGE_SHIFT; 0 = not mapped */
	uint64_t leaf;
};

static struct walk walk(uint64_t cr3, uint64_t va)
{
	struct walk w = { 0, 0, 0 };
	const volatile uint64_t *table = (const volatile uint64_t *)(uintptr_t)(cr3 & PT64_BASE_ADDR_MASK);
	for (unsigned level = 4; level >= 1; level--) {
		unsigned shift = PT64_LEVEL_SHIFT(level);
		uint64_t e = table[PT64_INDEX(va, level)];
		if (!(e & PT_PRESENT_MASK))
			return w;
		if (level == 1 || ((level == 2 || level == 3) && (e & PT_PAGE_SIZE_MASK))) {
			uint64_t mask = (1ull << shift) - 1;
			w.pa = ((e & PT64_BASE_ADDR_MASK) & ~mask) | (va & mask);
			w.page_shift = shift;
			w.leaf = e;
			return w;
		}
		table = (const volatile uint64_t *)(uintptr_t)(e & PT64_BASE_ADDR_MASK);
	}
	return w;
}

static void check_identity(const char *name, const char *ps_name, uint64_t cr3, uint64_t va)
{
	struct walk w = walk(cr3, va);
	report(w.page_shift && w.pa == va, name, "VA 0x%llx maps to PA 0x%llx (page shift %u), want identity",
	       (unsigned long long)va, (unsigned long long)w.pa, w.page_shift);
	report(w.page_shift == LARGE_PAGE_SHIFT && (w.leaf & PT_PAGE_SIZE_MASK), ps_name, "VA 0x%llx: leaf 0x%llx page shift %u, want a PD entry with PS (2 MiB)",
	       (unsigned long long)va, (unsigned long long)w.leaf, w.page_shift);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	begin_alone(cpu, GUEST_NAME);
	report(ncpus >= 1, "entry-esi-cpu-count", "ESI %u", ncpus);

	uint64_t efer = rdmsr(MSR_EFER);
	report((efer & EFER_LME) && (efer & EFER_LMA), "efer-lme-lma", "EFER 0x%llx, want LME (bit 8) and LMA (bit 10)",
	       (unsigned long long)efer);
	uint64_t cr0 = read_cr0(), cr4 = read_cr4(), cr3 = read_cr3();
	report((cr0 & X86_CR0_PG) && (cr0 & X86_CR0_PE), "cr0-pg-pe", "CR0 0x%llx", (unsigned long long)cr0);
	report(cr4 & X86_CR4_PAE, "cr4-pae", "CR4 0x%llx", (unsigned long long)cr4);
	report((cr3 & PT64_BASE_ADDR_MASK) == ABI_PML4_GPA, "cr3-pml4", "CR3 0x%llx want 0x%x", (unsigned long long)cr3, ABI_PML4_GPA);
	report_eq("cs-selector", read_cs(), ABI_SEL_CODE64);

	struct dt_reg gdtr;
	sgdt(&gdtr);
	if (gdtr.base == ABI_GDT_GPA && gdtr.limit >= ABI_SEL_CODE64 + 7) {
		uint64_t d = ((const volatile uint64_t *)ABI_GDT_GPA)[ABI_SEL_CODE64 / 8];
		unsigned access = (unsigned)(d >> 40) & 0xfe, l = (unsigned)(d >> 53) & 1, db = (unsigned)(d >> 54) & 1;
		report(access == 0x9a && l == 1 && db == 0, "gdt-code64", "descriptor 0x%llx: access 0x%x L %u D %u, want 0x9a L 1 D 0",
		       (unsigned long long)d, access, l, db);
	} else {
		report(0, "gdt-code64", "GDTR base 0x%llx limit 0x%x, want base 0x%x limit >= 0x%x",
		       (unsigned long long)gdtr.base, gdtr.limit, ABI_GDT_GPA, ABI_SEL_CODE64 + 7);
	}

	uint64_t local = 0;
	check_identity("map-code", "map-code-2mib", cr3, (uint64_t)(uintptr_t)&guest_main);
	check_identity("map-stack", "map-stack-2mib", cr3, (uint64_t)(uintptr_t)&local);
	check_identity("map-rom", "map-rom-2mib", cr3, ABI_ROM_GPA);
	struct walk top = walk(cr3, 0xfffff000ull);
	report(top.page_shift && top.pa == 0xfffff000ull, "map-4gib-end", "VA 0xfffff000 maps to 0x%llx (shift %u)",
	       (unsigned long long)top.pa, top.page_shift);

	static const char sig[] = ABI_ROM_SIGNATURE;
	report(memcmp((const void *)(uintptr_t)ABI_ROM_GPA, sig, sizeof(sig) - 1) == 0, "rom-read-64",
	       "ROM at 0x%x does not start with \"%s\"", ABI_ROM_GPA, sig);
	end();
}
