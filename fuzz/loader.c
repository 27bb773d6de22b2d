/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the VMM's image loader as `vmm run [options] IMAGE` runs
 * it — the "image" step (the image and --initrd read through host_load_file)
 * and the "boot" step (load_image() into guest RAM with the multiboot
 * information, then the GDT and page tables), in a VM whose memory map is the
 * VMM's own (RAM at 0 and the read-only ROM slot, each added with
 * vm_add_region()), with no /dev/kvm behind it (fuzz_host.c).
 *
 * An input is a 20-byte header of command-line options, then the files:
 *   byte 0      bits 0-1: --mode (0: from the image, 1 real, 2 prot, 3 long)
 *               bit 2: --load (bytes 4-7), bit 3: --entry (bytes 8-15)
 *               bits 4-7: --mem, (n + 1) MiB
 *   byte 1      bits 0-1: --ap-start (0 and 3: from the image, 1 entry, 2 sipi)
 *               bit 2: --append, bit 3: --initrd
 *               bits 4-7: the --initrd path is "initrd" after 300 * n slashes
 *               (a long name must be refused, not overflow the MBI page)
 *   bytes 2-3   bits 0-13: length of the --append string, little-endian
 *               bits 14-15: a file zero-padded to a size no small input has:
 *               1 the image to --mem + 1 bytes (larger than RAM), 2 the
 *               --initrd file to --mem - 1 MiB + 4 KiB (smaller than RAM, too
 *               large after an image at 1 MiB), 3 the --initrd to --mem + 1
 *   bytes 4-7   --load, little-endian
 *   bytes 8-15  --entry, little-endian
 *   bytes 16-19 length of the --initrd file, little-endian
 *   then        the image, the --initrd file, the --append string (the last
 *               two from the end of the input, by their lengths)
 * Values the command line refuses (main.c's option table) never reach the
 * loader: such inputs are skipped. fuzz/seeds.py writes the kit's guest
 * images in this form for the seed corpus.
 *
 * Beyond the sanitizers, the target checks what the VMM promises: an image
 * the loader refuses ends the VM with status 4 (bad image) and a message
 * naming the file; one it accepts enters at an address inside guest memory
 * (real mode: below 1 MiB); a multiboot kernel finds its command line and
 * module where the information structure says (Multiboot Specification
 * 0.6.96, 3.3), the module's bytes intact, page-aligned after the image.
 * RAM past --mem and the whole ROM are mapped without write access, so a
 * write there is a crash, not a silent success.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <kvmlabs/guest_abi.h>

#include "fuzz_host.h"
#include "vmm/vmm.h"

#define HEADER_SIZE   20
#define MAX_RAM       (16ull << 20)
#define CLI_MAX_LOAD  (3ull << 30) /* main.c: --load's upper bound, the MMIO window at 3 GiB */
#define IMAGE_PATH    "guest.img"
#define MBI_FLAG_MODS (1u << 3)    /* Multiboot Specification 3.3 */

/* The multiboot information as the loader writes it (spec 3.3). */
struct mbi { uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr; };
struct mbi_module { uint32_t start, end, string, reserved; };

static uint8_t *ram, *rom;
static uint64_t ram_writable;
static char append[0x3fff + 1];
static char initrd_path[15 * 300 + sizeof("initrd")];

static void check(bool ok, const char *what, const struct vm *vm)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz: %s (status %d, message '%s')\n", what, vm->exit_status, vm->stop_message);
	abort();
}

/* RAM beyond --mem must stay untouched: take away write access from it. */
static void ram_limit(uint64_t size)
{
	if (size == ram_writable)
		return;
	if (mprotect(ram, size, PROT_READ | PROT_WRITE) || mprotect(ram + size, MAX_RAM - size, PROT_READ))
		fuzz_unreachable("mprotect failed");
	ram_writable = size;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	ram = host_alloc_guest_ram(MAX_RAM);
	rom = host_alloc_guest_ram(ABI_ROM_SIZE);
	if (!ram || !rom || mprotect(rom, ABI_ROM_SIZE, PROT_READ))
		fuzz_unreachable("no memory for the fuzz VM");
	ram_writable = MAX_RAM;
	return 0;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* A multiboot kernel's view of what the loader left in RAM. */
static void check_multiboot(const struct vm *vm, const struct vmm_options *opt, const uint8_t *initrd,
			    size_t initrd_len, size_t initrd_size)
{
	struct mbi mbi;
	uint64_t size = opt->mem_size;
	memcpy(&mbi, ram + ABI_MBI_GPA, sizeof(mbi));
	check(mbi.cmdline >= ABI_MBI_GPA && mbi.cmdline < ABI_MBI_GPA + ABI_MBI_SIZE, "the command line is in the MBI page",
	      vm);
	const char *cmdline = (const char *)ram + mbi.cmdline;
	size_t room = ABI_MBI_GPA + ABI_MBI_SIZE - mbi.cmdline;
	check(memchr(cmdline, 0, room) != NULL, "the command line ends inside the MBI page", vm);
	check(!strncmp(cmdline, IMAGE_PATH, strlen(IMAGE_PATH)), "the command line starts with the image's name", vm);
	if (opt->append)
		check(cmdline[strlen(IMAGE_PATH)] == ' ' && !strcmp(cmdline + strlen(IMAGE_PATH) + 1, opt->append),
		      "the command line is 'IMAGE --append'", vm);
	if (!opt->initrd) {
		check(!(mbi.flags & MBI_FLAG_MODS), "no --initrd, no modules", vm);
		return;
	}
	check(mbi.flags & MBI_FLAG_MODS && mbi.mods_count == 1, "--initrd is the one module", vm);
	check(mbi.mods_addr >= ABI_MBI_GPA && mbi.mods_addr + sizeof(struct mbi_module) <= ABI_MBI_GPA + ABI_MBI_SIZE,
	      "the module list is in the MBI page", vm);
	struct mbi_module mod;
	memcpy(&mod, ram + mbi.mods_addr, sizeof(mod));
	check(mod.start % PAGE_SIZE == 0 && mod.start >= vm->boot.image_end, "the module is page-aligned after the image",
	      vm);
	check(mod.end - mod.start == initrd_size && mod.end <= size, "the module is the file, inside RAM", vm);
	check(!memcmp(ram + mod.start, initrd, initrd_len), "the module holds the file's bytes", vm);
	for (size_t i = initrd_len; i < initrd_size; i += PAGE_SIZE / 4)
		check(ram[mod.start + i] == 0, "the module holds the file's padding", vm);
	check(mod.string >= ABI_MBI_GPA && mod.string < ABI_MBI_GPA + ABI_MBI_SIZE &&
		      !strcmp((const char *)ram + mod.string, opt->initrd),
	      "the module's string is its file name", vm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER_SIZE)
		return -1; /* not an input of this target: keep it out of the corpus */
	static const enum cpu_mode modes[] = { MODE_AUTO, MODE_REAL, MODE_PROT, MODE_LONG };
	static const enum ap_start ap_starts[] = { AP_START_AUTO, AP_START_ENTRY, AP_START_SIPI, AP_START_AUTO };
	struct vmm_options opt = {
		.mem_size = ((uint64_t)(data[0] >> 4) + 1) << 20,
		.cpus = 1,
		.mode = modes[data[0] & 3],
		.load_addr = data[0] & 4 ? le(data + 4, 4) : ~0ull,
		.entry = data[0] & 8 ? le(data + 8, 8) : ~0ull,
		.irqchip = true,
		.ioeventfd = true,
		.max_output = 1 << 20,
		.ap_start = ap_starts[data[1] & 3],
		.image = IMAGE_PATH,
	};
	if ((data[0] & 4 && opt.load_addr > CLI_MAX_LOAD) || (data[0] & 8 && opt.entry == ~0ull))
		return -1;
	uint16_t lengths = (uint16_t)le(data + 2, 2);
	size_t append_len = data[1] & 4 ? lengths & 0x3fff : 0;
	size_t initrd_len = data[1] & 8 ? le(data + 16, 4) : 0;
	size_t body = size - HEADER_SIZE;
	if (append_len > body || initrd_len > body - append_len)
		return -1;
	size_t image_len = body - append_len - initrd_len, initrd_size = initrd_len;
	const uint8_t *image = data + HEADER_SIZE, *initrd = image + image_len;
	if (data[1] & 4) {
		/* An argument is a C string: what follows a NUL never reaches the VMM. */
		memcpy(append, initrd + initrd_len, append_len);
		append[append_len] = 0;
		opt.append = append;
	}

	ram_limit(opt.mem_size);
	fuzz_files_reset();
	unsigned padding = lengths >> 14;
	fuzz_file_add(IMAGE_PATH, image, image_len, padding == 1 ? opt.mem_size + 1 : 0);
	if (data[1] & 8) {
		size_t slashes = 300u * (data[1] >> 4);
		memset(initrd_path, '/', slashes);
		strcpy(initrd_path + slashes, "initrd");
		opt.initrd = initrd_path;
		uint64_t padded = padding == 2 ? opt.mem_size - (1 << 20) + PAGE_SIZE : padding == 3 ? opt.mem_size + 1 : 0;
		if (initrd_size < padded)
			initrd_size = padded;
		fuzz_file_add(initrd_path, initrd, initrd_len, initrd_size);
	}

	struct vm vm;
	vm_init_state(&vm, &opt);
	vm.ram = ram;
	if (vm_add_region(&vm, "ram", 0, opt.mem_size, ram, 0) ||
	    vm_add_region(&vm, "rom", ABI_ROM_GPA, ABI_ROM_SIZE, rom, KVM_MEM_READONLY))
		fuzz_unreachable("vm_add_region refused the VMM's own memory map");

	int r = guest_image_init(&vm);
	if (r == 0)
		r = guest_boot_init(&vm);
	guest_image_exit(&vm);

	if (r < 0) {
		check(vm.stopping && vm.exit_status == VMM_EXIT_BAD_IMAGE, "a refused image must end with status 4", &vm);
		const char *m = vm.stop_message;
		check((!strncmp(m, IMAGE_PATH ": ", strlen(IMAGE_PATH ": ")) && m[strlen(IMAGE_PATH ": ")]) ||
			      !strncmp(m, "--initrd ", strlen("--initrd ")),
		      "a refused image must be named, with the reason", &vm);
		return 0;
	}
	check(!vm.stopping, "an accepted image must not stop the VM", &vm);
	check(vm.boot.kind && vm.boot.mode >= MODE_REAL && vm.boot.mode <= MODE_LONG, "the boot description is complete",
	      &vm);
	check(vm.boot.ap_start != AP_START_AUTO, "how the APs start is decided", &vm);
	check(gpa_to_region(&vm, vm.boot.entry) != NULL, "the entry point lies in guest memory", &vm);
	check(vm.boot.mode != MODE_REAL || vm.boot.entry < 0x100000, "a real-mode entry lies below 1 MiB", &vm);
	if (vm.boot.multiboot)
		check_multiboot(&vm, &opt, initrd, initrd_len, initrd_size);
	else
		check(!opt.append && !opt.initrd, "only a multiboot kernel takes --append and --initrd", &vm);
	return 0;
}
