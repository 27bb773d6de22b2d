/* SPDX-License-Identifier: MIT */
/*
 * mb-hello: entered as a multiboot kernel. Checks the boot loader's side of
 * the Multiboot Specification 0.6.96 (section 3.2 machine state, 3.3 boot
 * information): the machine state first — EAX magic, CR0.PE set and CR0.PG
 * clear, EFLAGS.IF and VM clear, A20 enabled, CS, DS, ES, FS, GS and SS with
 * base 0 and a limit reaching the top of RAM (read through each segment: the
 * descriptor caches, not the GDT, which the spec allows to be invalid) —
 * then the information structure EBX points at: its flags, memory sizes that
 * are plausible and really backed by RAM, and the command line if any.
 * Prints "mem: ..." so the grader can compare the sizes with --mem.
 */
#include "rt.h"
#include "trap.h"
#include <x86/trapnr.h>

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower;   /* KiB from 0, at most 640 (flags bit 0) */
	uint32_t mem_upper;   /* KiB from 1 MiB up to the first hole (flags bit 0) */
	uint32_t boot_device; /* flags bit 1 */
	uint32_t cmdline;     /* physical address of a C string (flags bit 2) */
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name; /* flags bit 9 */
};
#define MBI_FLAG_MEM     (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_LOADER  (1u << 9)

extern char _end[];
extern const uint32_t rt_mb_header[];      /* its first dword is the header magic */
extern uint32_t rt_mb_entry_eflags;        /* EFLAGS as the loader left them */

#define MB_HEADER_MAGIC 0x1badb002u

/* One dword read through segment register `seg` at offset `addr`, with a #GP
 * (#SS through SS) beyond the segment's limit caught and counted. */
#define SEG_READ(seg, vector, addr, out)                                                        \
	do {                                                                                    \
		fault_expect(vector);                                                           \
		__asm__ volatile(FAULT_RESUME_AT_1F "movl %%" #seg ":(%1), %0\n1:"              \
				 : "+r"(out) : "r"(addr) : "memory");                           \
	} while (0)

struct seg_probe {
	const char *name;
	uint32_t value;   /* what the read returned */
	uint32_t faulted; /* the read raised #GP/#SS: offset beyond the limit */
};

/* Read `addr` through each of CS, DS, ES, FS, GS, SS. */
static void probe_segments(uintptr_t addr, struct seg_probe p[6])
{
	static const char *const names[6] = { "CS", "DS", "ES", "FS", "GS", "SS" };
	for (int i = 0; i < 6; i++)
		p[i] = (struct seg_probe){ .name = names[i], .value = 0xdeadbeef };
	SEG_READ(cs, GP_VECTOR, addr, p[0].value);
	p[0].faulted = trap_fault.caught;
	SEG_READ(ds, GP_VECTOR, addr, p[1].value);
	p[1].faulted = trap_fault.caught;
	SEG_READ(es, GP_VECTOR, addr, p[2].value);
	p[2].faulted = trap_fault.caught;
	SEG_READ(fs, GP_VECTOR, addr, p[3].value);
	p[3].faulted = trap_fault.caught;
	SEG_READ(gs, GP_VECTOR, addr, p[4].value);
	p[4].faulted = trap_fault.caught;
	SEG_READ(ss, SS_VECTOR, addr, p[5].value);
	p[5].faulted = trap_fault.caught;
}

/* Flat segments (spec 3.2: offset 0, limit 0xffffffff): each reads the
 * header's magic at its physical address (base 0), and each reaches the last
 * dword of RAM without a fault (a limit of 0xfffff bytes or 0xffff would not). */
static void check_flat_segments(uint32_t top)
{
	struct seg_probe p[6];
	int bad = -1;
	probe_segments((uintptr_t)rt_mb_header, p);
	for (int i = 0; i < 6 && bad < 0; i++)
		if (p[i].faulted || p[i].value != MB_HEADER_MAGIC)
			bad = i;
	report(bad < 0, "flat-segment-bases", "%s read 0x%x%s at 0x%x, the multiboot header, want 0x%x: its base is "
	       "not 0", bad < 0 ? "" : p[bad].name, bad < 0 ? 0 : p[bad].value,
	       bad >= 0 && p[bad].faulted ? " (it faulted)" : "", (uint32_t)(uintptr_t)rt_mb_header, MB_HEADER_MAGIC);
	if (!top) {
		skip("flat-segment-limits", "no memory size in the multiboot information");
		return;
	}
	probe_segments(top, p);
	bad = -1;
	for (int i = 0; i < 6 && bad < 0; i++)
		if (p[i].faulted)
			bad = i;
	report(bad < 0, "flat-segment-limits", "a read through %s at 0x%x (the last dword of RAM) faulted: its "
	       "limit is below 4 GiB - 1", bad < 0 ? "" : p[bad].name, top);
}

/* A20 enabled (spec 3.2): a dword above 1 MiB does not alias the one 1 MiB
 * below it. Two different values, so a coincidence cannot pass. */
static void check_a20(void)
{
	static volatile uint32_t high;
	volatile uint32_t *low = (volatile uint32_t *)((uintptr_t)&high - 0x100000);
	uint32_t saved = *low, aliased = 0;
	for (uint32_t v = 0xa20a20a2; v != 0xa20a20a4; v++) {
		high = v;
		aliased += *low == v;
	}
	*low = saved;
	report(aliased < 2, "a20-enabled", "0x%x reads what was written at 0x%x: address line 20 is masked",
	       (uint32_t)(uintptr_t)low, (uint32_t)(uintptr_t)&high);
}

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	const struct multiboot_info *mbi = (const void *)(uintptr_t)mbi_gpa;
	uint32_t image_end = (uint32_t)(uintptr_t)_end;

	begin(GUEST_NAME);
	report_eq("eax-magic", magic, ABI_MULTIBOOT_MAGIC);

	/* The machine state of spec 3.2, before anything else is trusted. */
	unsigned long cr0 = read_cr0();
	report(cr0 & X86_CR0_PE, "cr0-pe-set", "CR0 0x%lx: PE clear, the kernel was not entered in protected mode", cr0);
	report(!(cr0 & X86_CR0_PG), "cr0-pg-clear", "CR0 0x%lx: PG set, paging must be off", cr0);
	report(!(rt_mb_entry_eflags & (X86_EFLAGS_IF | X86_EFLAGS_VM)), "eflags-if-vm-clear",
	       "EFLAGS at entry 0x%x: IF and VM must be clear", rt_mb_entry_eflags);
	check_a20();
	uint32_t top = 0;
	if (!(cr0 & X86_CR0_PE)) {
		skip("flat-segment-bases", "not in protected mode");
		skip("flat-segment-limits", "not in protected mode");
	} else {
		idt_init();
		if (mbi_gpa && (mbi->flags & MBI_FLAG_MEM))
			top = ABI_IMAGE_GPA + mbi->mem_upper * 1024 - 4;
		check_flat_segments(top);
	}
	report(mbi_gpa != 0 && (mbi_gpa + sizeof(*mbi) <= ABI_IMAGE_GPA || mbi_gpa >= image_end),
	       "mbi-outside-image", "MBI at 0x%x overlaps the image 0x%x..0x%x",
	       mbi_gpa, ABI_IMAGE_GPA, image_end);
	if (mbi_gpa == 0)
		end();

	printf("mbi: at 0x%x flags=0x%x\n", mbi_gpa, mbi->flags);
	report(mbi->flags & MBI_FLAG_MEM, "mbi-mem-flag", "flags 0x%x lack bit 0", mbi->flags);
	if (mbi->flags & MBI_FLAG_MEM) {
		uint32_t lower = mbi->mem_lower, upper = mbi->mem_upper;
		printf("mem: lower=%uKiB upper=%uKiB total=%uMiB\n", lower, upper, (upper + 1024) / 1024);
		report(lower >= 64 && lower <= 640, "mem-lower-plausible",
		       "mem_lower %u KiB, want 64..640", lower);
		/* We run at 1 MiB, so upper memory reaches at least our end;
		 * and it ends below the 4 GiB a 32-bit field can describe. */
		report(upper >= (image_end - ABI_IMAGE_GPA) / 1024 && upper <= 0x3ffc00,
		       "mem-upper-plausible", "mem_upper %u KiB, image needs %u KiB",
		       upper, (image_end - ABI_IMAGE_GPA) / 1024);
		/* The last dword of upper memory must be RAM: it keeps what we write. */
		volatile uint32_t *last = (volatile uint32_t *)(uintptr_t)(ABI_IMAGE_GPA + upper * 1024 - 4);
		uint32_t old = *last;
		*last = 0x5a17c0de;
		uint32_t got = *last;
		*last = old;
		report(got == 0x5a17c0de, "mem-upper-is-ram", "top of upper memory 0x%x read 0x%x want 0x5a17c0de",
		       (uint32_t)(uintptr_t)last, got);
	}
	if (mbi->flags & MBI_FLAG_CMDLINE) {
		const char *s = (const char *)(uintptr_t)mbi->cmdline;
		unsigned n = 0;
		while (n < 4096 && s[n])
			n++;
		report(n < 4096, "cmdline-terminated", "no NUL in the first 4096 bytes at 0x%x", mbi->cmdline);
		if (n < 4096)
			printf("cmdline: \"%s\"\n", s);
	} else {
		skip("cmdline-terminated", "no command line (flags bit 2 clear)");
	}
	if (mbi->flags & MBI_FLAG_LOADER)
		printf("loader: %s\n", (const char *)(uintptr_t)mbi->boot_loader_name);
	end();
}
