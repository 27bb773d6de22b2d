/* SPDX-License-Identifier: MIT */
/*
 * prot-hello: the protected-mode entry state. CR0.PE set and PG clear, the
 * VMM's GDT at ABI_GDT_GPA with flat 4 GiB code and data descriptors
 * (SDM Vol. 3 3.4.5), CS=0x08 and data selectors 0x10, IF clear, EDI/ESI the
 * vCPU index and count; a segment register reloaded from that GDT works, and
 * so does the stack.
 */
#include "rt.h"

/* Access byte and flags nibble of a flat ring-0 descriptor (SDM Vol. 3 3.4.5.1). */
#define DESC_ACCESS(d) ((uint32_t)((d) >> 40) & 0xfe) /* without the accessed bit */
#define DESC_FLAGS(d)  ((uint32_t)((d) >> 52) & 0xf)  /* G, D/B, L, AVL */
#define DESC_BASE(d)   ((uint32_t)(((d) >> 16) & 0xffffff) | (uint32_t)(((d) >> 56) << 24))
#define DESC_LIMIT(d)  ((uint32_t)((d) & 0xffff) | (uint32_t)(((d) >> 48) & 0xf) << 16)

static void check_descriptor(const char *name, uint64_t d, uint32_t access, uint32_t flags)
{
	report(DESC_ACCESS(d) == access && DESC_FLAGS(d) == flags && DESC_BASE(d) == 0 &&
	       DESC_LIMIT(d) == 0xfffff, name,
	       "descriptor 0x%llx: access 0x%x flags 0x%x base 0x%x limit 0x%x, want access 0x%x flags 0x%x base 0 limit 0xfffff",
	       d, DESC_ACCESS(d), DESC_FLAGS(d), DESC_BASE(d), DESC_LIMIT(d), access, flags);
}

static unsigned sum_down(unsigned n)
{
	volatile unsigned here = n; /* keeps one frame per level on the stack */
	return n ? here + sum_down(n - 1) : 0;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	if (cpu != 0)
		halt_forever();
	unsigned long flags = read_flags();

	begin(GUEST_NAME);
	report(ncpus >= 1 && ncpus <= 64, "entry-esi-cpu-count", "ESI %u, want 1..64", ncpus);
	report(!(flags & X86_EFLAGS_IF), "entry-if-clear", "EFLAGS 0x%lx has IF set", flags);
	unsigned long cr0 = read_cr0();
	report(cr0 & X86_CR0_PE, "cr0-pe-set", "CR0 0x%lx", cr0);
	report(!(cr0 & X86_CR0_PG), "cr0-pg-clear", "CR0 0x%lx", cr0);
	report_eq("cs-selector", read_cs(), ABI_SEL_CODE32);
	report_eq("ds-selector", read_ds(), ABI_SEL_DATA);
	report_eq("es-selector", read_es(), ABI_SEL_DATA);
	report_eq("ss-selector", read_ss(), ABI_SEL_DATA);

	struct dt_reg gdtr;
	sgdt(&gdtr);
	report(gdtr.base == ABI_GDT_GPA && gdtr.limit >= ABI_SEL_DATA + 7, "gdt-base",
	       "GDTR base 0x%lx limit 0x%x, want base 0x%x limit >= 0x%x",
	       gdtr.base, gdtr.limit, ABI_GDT_GPA, ABI_SEL_DATA + 7);
	if (gdtr.base == ABI_GDT_GPA) {
		const volatile uint64_t *gdt = (const volatile uint64_t *)ABI_GDT_GPA;
		/* present, DPL 0, code execute/read; G=1 D=1 */
		check_descriptor("gdt-code32", gdt[ABI_SEL_CODE32 / 8], 0x9a, 0xc);
		/* present, DPL 0, data read/write; G=1 B=1 */
		check_descriptor("gdt-data", gdt[ABI_SEL_DATA / 8], 0x92, 0xc);
	}

	/* Reload FS from the GDT and store through it; read back through DS. */
	static volatile uint32_t cell;
	uint16_t fs;
	__asm__ volatile("movw %w2, %%fs\n\t"
			 "movl $0x600dda7a, %%fs:(%1)\n\t"
			 "movw %%fs, %w0"
			 : "=r"(fs) : "r"(&cell), "r"((uint16_t)ABI_SEL_DATA) : "memory");
	report(fs == ABI_SEL_DATA && cell == 0x600dda7a, "data-segment-round-trip",
	       "fs 0x%x, stored 0x600dda7a through fs, ds reads 0x%x", fs, cell);

	extern char rt_stacks[];
	uintptr_t sp = (uintptr_t)&flags;
	report(sp > (uintptr_t)rt_stacks && sp < (uintptr_t)rt_stacks + 4096, "stack-own",
	       "stack at 0x%x, want within 0x%x+0x1000", (uint32_t)sp, (uint32_t)(uintptr_t)rt_stacks);
	report_eq("stack-recursion", sum_down(40), 40 * 41 / 2);
	end();
}
