// SPDX-License-Identifier: MIT
/*
 * The host as a boot loader (runner --native-linux): the bzImage the VMM's
 * command line names, booted directly on the emulator, with no VMM and no
 * minikvm, so that make bench can time the same kernel with and without the
 * kit's hypervisor under it (grader/bench/README.md, "Linux").
 *
 * It does what the VMM's bzImage loader (vmm/loader.c) does for a guest, on
 * the machine itself: the protected-mode kernel at its preferred address,
 * the zero page (struct boot_params) with the setup header, an E820 map of
 * --mem bytes as the VMM gives its guest, the command line and the initrd at
 * the top of that RAM, then the 64-bit entry at load address + 0x200 with RSI
 * at the zero page (Documentation/arch/x86/boot.rst, "64-bit BOOT PROTOCOL").
 * Linux then drives the emulator's own devices (its 8250 is COM1, the
 * transcript). It never comes back: the run ends when the runner's caller
 * or its --timeout stops the emulator.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>
#include <asm/e820.h>
#include <kvmlabs/guest_abi.h>
#include <kvmlabs/host.h>
#include <kvmlabs/vmm_status.h>
#include <x86/insns.h>
#include "console.h"
#include "native_linux.h"

#define BZ_HDR_OFFSET     0x1f1
#define BZ_MAGIC          0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION    0x020c     /* 2.12: xloadflags, the 64-bit entry */
#define BZ_ENTRY64_OFFSET 0x200
/* The 64-bit entry's selectors (boot.rst): __BOOT_CS and __BOOT_DS, 4 GiB flat. */
#define BOOT_CS 0x10
#define BOOT_DS 0x18

static struct boot_params zero_page __attribute__((aligned(4096)));
static char cmdline[ABI_LINUX_CMDLINE_SIZE] __attribute__((aligned(4096)));
static const uint64_t boot_gdt[4] __attribute__((aligned(16))) = {
	0, 0,
	0x00af9a000000ffffull,   /* BOOT_CS: 64-bit code, execute/read */
	0x00cf92000000ffffull,   /* BOOT_DS: data, read/write */
};

static _Noreturn void usage(const char *fmt, const char *what)
{
	printf("kvmlabs-host: --native-linux: ");
	printf(fmt, what);
	printf("\n  it takes the VMM's: run --mem SIZE [--initrd FILE] [--append STRING] BZIMAGE\n");
	host_exit(VMM_EXIT_USAGE);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);
	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	}
	if (end == s || *end || (v & 0xfff))
		usage("--mem %s: a size in bytes, K, M or G, a multiple of 4K", s);
	return v;
}

/* A file of the guest archive, copied out as the VMM's loader gets it. */
static const uint8_t *file(const char *name, size_t *size)
{
	char err[160];
	const uint8_t *data = host_load_file(name, SIZE_MAX, size, err, sizeof(err));
	if (!data)
		usage("%s", err);
	return data;
}

_Noreturn void native_linux_boot(uint64_t host_end, uint64_t ram_bytes, int argc, char **argv)
{
	const char *image = NULL, *initrd = NULL, *append = "";
	uint64_t ram = 0;
	for (int i = argc > 1 && !strcmp(argv[1], "run") ? 2 : 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '=');
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		const char **str = NULL;
		bool mem = false;
		if (a[0] != '-') {
			if (image)
				usage("%s: one image only", a);
			image = a;
			continue;
		}
		if (n == 5 && !strncmp(a, "--mem", n))
			mem = true;
		else if (n == 8 && !strncmp(a, "--initrd", n))
			str = &initrd;
		else if (n == 8 && !strncmp(a, "--append", n))
			str = &append;
		else
			usage("%s: not an option a native boot takes", a);
		const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v)
			usage("%s needs a value", a);
		if (mem)
			ram = parse_size(v);
		else
			*str = v;
	}
	if (!image || !ram)
		usage("%s", !image ? "no image" : "no --mem");

	size_t size, initrd_size = 0;
	const uint8_t *img = file(image, &size), *rd = initrd ? file(initrd, &initrd_size) : NULL;
	struct setup_header h;
	if (size < BZ_HDR_OFFSET + sizeof(h))
		usage("%s: not a bzImage", image);
	memcpy(&h, img + BZ_HDR_OFFSET, sizeof(h));
	if (h.boot_flag != 0xaa55 || h.header != BZ_MAGIC || h.version < BZ_MIN_VERSION ||
	    !(h.xloadflags & XLF_KERNEL_64))
		usage("%s: not a bzImage with the 64-bit entry (boot protocol 2.12)", image);
	uint64_t setup = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	uint64_t kernel = size - setup, need = h.init_size > kernel ? h.init_size : kernel;
	uint64_t load = h.pref_address;   /* where it decompresses to: nothing to move */
	uint64_t top = ram < (uint64_t)h.initrd_addr_max + 1 ? ram : (uint64_t)h.initrd_addr_max + 1;
	uint64_t initrd_at = (top - initrd_size) & ~0xfffull;
	/* Everything the host still reads lies below the kernel's load address:
	 * the host and its archive, and the copies of the files. */
	uint64_t below = host_end;
	if ((uint64_t)(uintptr_t)img + size > below)
		below = (uint64_t)(uintptr_t)img + size;
	if (rd && (uint64_t)(uintptr_t)rd + initrd_size > below)
		below = (uint64_t)(uintptr_t)rd + initrd_size;
	if (setup >= size || below > load || ram > ram_bytes || initrd_size > top || load + need > initrd_at)
		usage("%s: the kernel, its decompression room and the initrd do not fit in --mem above the host", image);

	memcpy((void *)load, img + setup, kernel);
	memset(&zero_page, 0, sizeof(zero_page));
	size_t hdr_len = 0x202 + img[0x201] - BZ_HDR_OFFSET;
	memcpy(&zero_page.hdr, img + BZ_HDR_OFFSET, hdr_len < sizeof(h) ? hdr_len : sizeof(h));
	zero_page.hdr.type_of_loader = 0xff;
	zero_page.hdr.loadflags |= LOADED_HIGH;
	zero_page.hdr.code32_start = (uint32_t)load;
	size_t max = h.cmdline_size && h.cmdline_size < sizeof(cmdline) ? h.cmdline_size : sizeof(cmdline) - 1;
	if (strlen(append) > max)
		usage("--append %s: longer than the kernel takes", append);
	strcpy(cmdline, append);
	zero_page.hdr.cmd_line_ptr = (uint32_t)(uintptr_t)cmdline;
	/* The VMM's guest map (vmm/loader.c): the RAM is --mem, whatever the emulator has. */
	const struct boot_e820_entry map[] = {
		{ 0, ABI_EBDA_GPA, E820_RAM },
		{ ABI_EBDA_GPA, 0x100000 - ABI_EBDA_GPA, E820_RESERVED },
		{ 0x100000, ram - 0x100000, E820_RAM },
	};
	memcpy(zero_page.e820_table, map, sizeof(map));
	zero_page.e820_entries = sizeof(map) / sizeof(map[0]);
	if (rd) {
		memcpy((void *)initrd_at, rd, initrd_size);
		zero_page.hdr.ramdisk_image = (uint32_t)initrd_at;
		zero_page.hdr.ramdisk_size = (uint32_t)initrd_size;
	}
	printf("kvmlabs-host: native Linux: %s at %#lx, initrd %s, %lu MiB RAM, command line \"%s\": no VMM, no "
	       "minikvm\n", image, load, initrd ? initrd : "none", ram >> 20, cmdline);
	console_drain();

	/* The 8259s stay masked (cpu_init) and COM1's interrupts off (console.c):
	 * Linux sets both up itself. Interrupts off, its GDT, its selectors, RSI. */
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdtr = { sizeof(boot_gdt) - 1,
										     (uint64_t)boot_gdt };
	__asm__ volatile("cli\n\t"
			 "lgdt %0\n\t"
			 "mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "mov %1, %%ss\n\t"
			 "pushq %2\n\t"
			 "pushq %3\n\t"
			 "lretq"
			 : : "m"(gdtr), "r"((uint32_t)BOOT_DS), "i"(BOOT_CS), "r"(load + BZ_ENTRY64_OFFSET),
			   "S"(&zero_page) : "memory");
	__builtin_unreachable();
}
