/* SPDX-License-Identifier: MIT */
/*
 * prot-gdtr: the GDT register the VMM loads (SDM Vol. 3 3.5.1, "Segment
 * Descriptor Tables"): base ABI_GDT_GPA, and a limit that is the offset of the
 * table's last byte, size - 1, for the four descriptors of guest_abi.h (null,
 * 32-bit code, data, 64-bit code), no more: a larger limit would let a
 * selector past the table load whatever memory follows it.
 */
#include "rt.h"

#define GDT_LAST_BYTE (ABI_SEL_CODE64 + 7) /* the 64-bit code descriptor is the table's last */

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	struct dt_reg gdtr;
	sgdt(&gdtr);
	report_eq("gdtr-base", gdtr.base, ABI_GDT_GPA);
	report(gdtr.limit == GDT_LAST_BYTE, "gdtr-limit", "GDTR limit 0x%x, want 0x%x: size - 1 for %u descriptors",
	       gdtr.limit, GDT_LAST_BYTE, (GDT_LAST_BYTE + 1) / 8);

	/* A data selector loads from the table the register points at. */
	__asm__ volatile("mov %0, %%gs" : : "r"(ABI_SEL_DATA) : "memory");
	report_eq("gs-from-the-table", read_gs(), ABI_SEL_DATA);
	end();
}
