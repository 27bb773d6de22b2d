/* SPDX-License-Identifier: MIT */
/*
 * mb-hello: entered as a multiboot kernel. Checks the boot loader's side of
 * the Multiboot Specification 0.6.96 (section 3.2 machine state, 3.3 boot
 * information): EAX magic, the information structure's flags, memory sizes
 * that are plausible and really backed by RAM, and the command line if any.
 * Prints "mem: ..." so the grader can compare the sizes with --mem.
 */
#include "rt.h"

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

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	const struct multiboot_info *mbi = (const void *)(uintptr_t)mbi_gpa;
	uint32_t image_end = (uint32_t)(uintptr_t)_end;

	begin(GUEST_NAME);
	report_eq("eax-magic", magic, ABI_MULTIBOOT_MAGIC);
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
