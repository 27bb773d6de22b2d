/* SPDX-License-Identifier: MIT */
/*
 * Guest image loaders: a Linux bzImage, multiboot v1, ELF (32 and 64-bit) and
 * flat binaries, tried in that order, like kvmtool's kvm__load_kernel. Every field of the
 * image is checked against the file and against guest RAM before use: a bad
 * image ends with one line saying what is wrong, never a crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <asm/bootparam.h>
#include <asm/e820.h>
#include <kvmlabs/guest_abi.h>

#include "vmm.h"

/* ELF (System V ABI, "ELF Header" and "Program Header"). */
#define EI_CLASS    4
#define ELFCLASS32  1
#define ELFCLASS64  2
#define EM_386      3
#define EM_X86_64   62
#define ET_EXEC     2
#define PT_LOAD     1

struct elf32_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version, entry, phoff, shoff, flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf32_phdr { uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align; };
struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; };

/* Multiboot v1 (Multiboot Specification 0.6.96, 3.1.1 and 3.3). */
#define MB_HEADER_MAGIC  0x1badb002u
#define MB_SEARCH_BYTES  8192
#define MB_FLAG_AOUT     (1u << 16)
#define MBI_FLAG_MEM     (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS    (1u << 3)

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};
/* One module (spec 3.3, "mods_addr"): [start, end) and its string. */
struct mb_module { uint32_t start, end, string, reserved; };

struct loader {
	struct vm *vm;
	const uint8_t *img;
	size_t size;
	uint64_t start, end;      /* the lowest gpa and highest gpa + memsz loaded so far */
	char *err;
	size_t errlen;
};

static int fail(struct loader *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copy filesz bytes of the image at offset to guest RAM at gpa, zero-filling
 * up to memsz (the .bss). Both ranges are checked. */
static int load_segment(struct loader *l, uint64_t offset, uint64_t filesz, uint64_t gpa, uint64_t memsz)
{
	if (filesz > memsz)
		return fail(l, "segment at 0x%llx: file size 0x%llx exceeds memory size 0x%llx",
			    (unsigned long long)gpa, (unsigned long long)filesz, (unsigned long long)memsz);
	if (offset > l->size || filesz > l->size - offset)
		return fail(l, "segment at 0x%llx: truncated image (needs bytes 0x%llx..0x%llx of %zu)",
			    (unsigned long long)gpa, (unsigned long long)offset,
			    (unsigned long long)(offset + filesz), l->size);
	if (!memsz)
		return 0;
	/* Through the VM's own address map, as kvmtool's guest_flat_to_host():
	 * the whole segment must lie inside one region, and that region is RAM
	 * (an image never writes the ROM). */
	uint8_t *dst = gpa_to_hva(l->vm, gpa, memsz);
	if (!dst || gpa_to_region(l->vm, gpa) != &l->vm->regions[0])
		return fail(l, "segment 0x%llx..0x%llx lies outside guest RAM (0..0x%llx): try a larger --mem",
			    (unsigned long long)gpa, (unsigned long long)(gpa + memsz),
			    (unsigned long long)l->vm->regions[0].size);
	memcpy(dst, l->img + offset, filesz);
	memset(dst + filesz, 0, memsz - filesz);
	if (gpa < l->start)
		l->start = gpa;
	if (gpa + memsz > l->end)
		l->end = gpa + memsz;
	return 0;
}

static int check_entry(struct loader *l, uint64_t entry)
{
	if (!gpa_to_region(l->vm, entry))
		return fail(l, "entry point 0x%llx is outside guest memory", (unsigned long long)entry);
	return 0;
}

/* ELF32 and ELF64 differ only in field widths: read either into one form. */
struct elf_info {
	uint64_t entry, phoff;
	unsigned phnum, phentsize, machine, type;
};
struct elf_segment { uint64_t type, offset, paddr, filesz, memsz; };

static void elf_header(const struct loader *l, bool is64, struct elf_info *e)
{
	if (is64) {
		struct elf64_ehdr h;
		memcpy(&h, l->img, sizeof(h));
		*e = (struct elf_info){ h.entry, h.phoff, h.phnum, h.phentsize, h.machine, h.type };
	} else {
		struct elf32_ehdr h;
		memcpy(&h, l->img, sizeof(h));
		*e = (struct elf_info){ h.entry, h.phoff, h.phnum, h.phentsize, h.machine, h.type };
	}
}

static void elf_segment(const struct loader *l, bool is64, uint64_t at, struct elf_segment *seg)
{
	if (is64) {
		struct elf64_phdr ph;
		memcpy(&ph, l->img + at, sizeof(ph));
		*seg = (struct elf_segment){ ph.type, ph.offset, ph.paddr, ph.filesz, ph.memsz };
	} else {
		struct elf32_phdr ph;
		memcpy(&ph, l->img + at, sizeof(ph));
		*seg = (struct elf_segment){ ph.type, ph.offset, ph.paddr, ph.filesz, ph.memsz };
	}
}

static int load_elf(struct loader *l, struct boot_info *boot)
{
	/* The class byte is read before the header's size is known: a file
	 * holding only the magic must not be read past its end. */
	if (l->size <= EI_CLASS)
		return fail(l, "truncated ELF header (%zu bytes)", l->size);
	uint8_t class = l->img[EI_CLASS];
	if (class != ELFCLASS32 && class != ELFCLASS64)
		return fail(l, "ELF class %u is neither 32- nor 64-bit", class);
	bool is64 = class == ELFCLASS64;
	size_t ehsize = is64 ? sizeof(struct elf64_ehdr) : sizeof(struct elf32_ehdr);
	size_t phsize = is64 ? sizeof(struct elf64_phdr) : sizeof(struct elf32_phdr);
	if (l->size < ehsize)
		return fail(l, "truncated ELF header");
	struct elf_info e;
	elf_header(l, is64, &e);
	if (e.machine != (is64 ? EM_X86_64 : EM_386) || e.type != ET_EXEC)
		return fail(l, "not an %s executable ELF (machine %u, type %u)", is64 ? "x86-64" : "i386",
			    e.machine, e.type);
	if (e.phentsize != phsize || e.phnum == 0 || e.phoff > l->size ||
	    (uint64_t)e.phnum * e.phentsize > l->size - e.phoff)
		return fail(l, "ELF program headers missing or outside the file");
	for (unsigned i = 0; i < e.phnum; i++) {
		struct elf_segment seg;
		elf_segment(l, is64, e.phoff + i * phsize, &seg);
		if (seg.type == PT_LOAD && load_segment(l, seg.offset, seg.filesz, seg.paddr, seg.memsz) < 0)
			return -1;
	}
	*boot = (struct boot_info){ .entry = e.entry, .mode = is64 ? MODE_LONG : MODE_PROT,
				    .kind = is64 ? "elf64" : "elf32" };
	return 0;
}

static const struct mb_header *find_multiboot(const struct loader *l, size_t *at)
{
	size_t limit = l->size < MB_SEARCH_BYTES ? l->size : MB_SEARCH_BYTES;
	/* The header is 32-bit aligned within the first 8 KiB (spec 3.1.1). */
	for (size_t off = 0; off + 12 <= limit; off += 4) {
		uint32_t w[3];
		memcpy(w, l->img + off, sizeof(w));
		if (w[0] == MB_HEADER_MAGIC && (uint32_t)(w[0] + w[1] + w[2]) == 0) {
			*at = off;
			return (const struct mb_header *)(l->img + off);
		}
	}
	return NULL;
}

static int load_multiboot(struct loader *l, size_t at, struct boot_info *boot)
{
	struct mb_header mb = { 0 };
	memcpy(&mb, l->img + at, l->size - at < sizeof(mb) ? l->size - at : sizeof(mb));
	if (mb.flags & MB_FLAG_AOUT) {
		/* The a.out kludge: the header says where the file goes (spec 3.1.3). */
		if (at + sizeof(mb) > l->size || mb.header_addr < mb.load_addr || mb.header_addr - mb.load_addr > at)
			return fail(l, "multiboot header addresses are inconsistent");
		uint64_t offset = at - (mb.header_addr - mb.load_addr);
		uint64_t filesz = mb.load_end_addr ? mb.load_end_addr - mb.load_addr : l->size - offset;
		uint64_t memsz = mb.bss_end_addr > mb.load_addr + filesz ? mb.bss_end_addr - mb.load_addr : filesz;
		if (load_segment(l, offset, filesz, mb.load_addr, memsz) < 0)
			return -1;
		*boot = (struct boot_info){ .entry = mb.entry_addr, .mode = MODE_PROT };
	} else if (l->size >= 4 && !memcmp(l->img, "\177ELF", 4)) {
		if (load_elf(l, boot) < 0)
			return -1;
		if (boot->mode != MODE_PROT)
			return fail(l, "multiboot v1 kernels are 32-bit ELF");
	} else {
		return fail(l, "multiboot header without the a.out kludge in a non-ELF image");
	}
	boot->multiboot = true;
	boot->kind = "multiboot";
	return 0;
}

/*
 * A Linux bzImage (Documentation/arch/x86/boot.rst, "THE LINUX/x86 BOOT
 * PROTOCOL"), entered at its 64-bit entry as Firecracker and Cloud
 * Hypervisor do: the protected-mode kernel at 1 MiB, the zero page
 * (struct boot_params) with the setup header, E820 map, command line and
 * initrd, and the vCPU in long mode at load address + 0x200 with RSI
 * pointing at the zero page ("64-bit BOOT PROTOCOL"). The real-mode setup
 * code is not run: everything it would have found out is in the zero page.
 */
#define BZ_HDR_OFFSET      0x1f1   /* struct setup_header in the image and in boot_params */
#define BZ_MAGIC           0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION     0x020c  /* 2.12: xloadflags, the 64-bit entry */
#define BZ_ENTRY64_OFFSET  0x200
#define BZ_LOADER_UNDEFINED 0xff   /* type_of_loader: "undefined" (boot.rst) */

static bool is_bzimage(const struct loader *l)
{
	struct setup_header h;
	if (l->size < BZ_HDR_OFFSET + sizeof(h))
		return false;
	memcpy(&h, l->img + BZ_HDR_OFFSET, sizeof(h));
	return h.boot_flag == 0xaa55 && h.header == BZ_MAGIC;
}

static int load_bzimage(struct loader *l, const struct vmm_options *opt, struct boot_info *boot)
{
	struct setup_header h;
	memcpy(&h, l->img + BZ_HDR_OFFSET, sizeof(h));
	if (h.version < BZ_MIN_VERSION || !(h.xloadflags & XLF_KERNEL_64))
		return fail(l, "a bzImage of boot protocol %u.%02u without the 64-bit entry (needs 2.12 and XLF_KERNEL_64)",
			    h.version >> 8, h.version & 0xff);
	uint64_t setup = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup >= l->size)
		return fail(l, "bzImage: its setup code (%llu bytes) is the whole file", (unsigned long long)setup);
	/* The kernel decompresses itself in place: init_size bytes from its load address. */
	uint64_t kernel = l->size - setup, need = h.init_size > kernel ? h.init_size : kernel;
	if (load_segment(l, setup, kernel, ABI_IMAGE_GPA, need) < 0)
		return -1;

	struct boot_params *bp = (struct boot_params *)(l->vm->ram + ABI_BOOT_PARAMS_GPA);
	memset(bp, 0, sizeof(*bp));
	/* The header as the image has it, up to its own end (the jump at 0x200
	 * says how long it is), then what the loader fills in. */
	size_t hdr_len = 0x202 + l->img[0x201] - BZ_HDR_OFFSET;
	memcpy(&bp->hdr, l->img + BZ_HDR_OFFSET, hdr_len < sizeof(h) ? hdr_len : sizeof(h));
	bp->hdr.type_of_loader = BZ_LOADER_UNDEFINED;
	bp->hdr.loadflags |= LOADED_HIGH;
	bp->hdr.code32_start = ABI_IMAGE_GPA;

	/* The command line: --append, then where the virtio-mmio devices are
	 * (virtio_mmio.device=<size>@<base>:<irq>, drivers/virtio/virtio_mmio.c),
	 * as Firecracker adds its devices to the kernel's. */
	char *cmdline = (char *)l->vm->ram + ABI_LINUX_CMDLINE_GPA;
	size_t max = h.cmdline_size && h.cmdline_size < ABI_LINUX_CMDLINE_SIZE ? h.cmdline_size : ABI_LINUX_CMDLINE_SIZE - 1;
	int n = snprintf(cmdline, max + 1, "%s", opt->append ? opt->append : "");
	for (int slot = 0; slot < ABI_VIRTIO_SLOTS && LAB_ENABLED(9) && n >= 0 && (size_t)n <= max; slot++)
		if (slot != ABI_VIRTIO_BLK || opt->disk)
			n += snprintf(cmdline + n, max + 1 - (size_t)n, "%svirtio_mmio.device=0x%x@0x%llx:%d", n ? " " : "",
				      ABI_VIRTIO_MMIO_SIZE, (unsigned long long)ABI_VIRTIO_MMIO_GPA + slot * ABI_VIRTIO_MMIO_SIZE,
				      ABI_VIRTIO_IRQ(slot));
	if (n < 0 || (size_t)n > max)
		return fail(l, "the kernel command line is longer than the %zu bytes this kernel takes", max);
	bp->hdr.cmd_line_ptr = ABI_LINUX_CMDLINE_GPA;

	/* RAM as the BIOS would report it (INT 15h E820): the low 640 KiB less
	 * the EBDA, and everything from 1 MiB; the BIOS area between is not RAM. */
	uint64_t ram = l->vm->opt->mem_size;
	const struct boot_e820_entry map[] = {
		{ 0, ABI_EBDA_GPA, E820_RAM },
		{ ABI_EBDA_GPA, 0x100000 - ABI_EBDA_GPA, E820_RESERVED },
		{ 0x100000, ram - 0x100000, E820_RAM },
	};
	memcpy(bp->e820_table, map, sizeof(map));
	bp->e820_entries = ARRAY_SIZE(map);

	if (l->vm->initrd) {
		/* As high as the kernel allows, page-aligned, above the kernel. */
		uint64_t top = ram < (uint64_t)h.initrd_addr_max + 1 ? ram : (uint64_t)h.initrd_addr_max + 1;
		uint64_t size = l->vm->initrd_size;
		if (size > top || ((top - size) & ~0xfffull) < ABI_IMAGE_GPA + need)
			return fail(l, "--initrd: %llu bytes do not fit between the kernel and the top of RAM",
				    (unsigned long long)size);
		uint64_t at = (top - size) & ~0xfffull;
		memcpy(l->vm->ram + at, l->vm->initrd, size);
		bp->hdr.ramdisk_image = (uint32_t)at;
		bp->hdr.ramdisk_size = (uint32_t)size;
	}
	*boot = (struct boot_info){ .entry = ABI_IMAGE_GPA + BZ_ENTRY64_OFFSET, .mode = MODE_LONG, .linux = true,
				    .kind = "bzImage" };
	return 0;
}

/* Append a NUL-terminated string to the information page; 0 if it is full. */
static uint32_t mbi_string(struct loader *l, uint32_t *at, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, n = la + (b ? 1 + lb : 0) + 1;
	if (n > ABI_MBI_GPA + ABI_MBI_SIZE - *at)
		return 0;
	uint8_t *dst = l->vm->ram + *at;
	memcpy(dst, a, la);
	if (b) {
		dst[la] = ' ';
		memcpy(dst + la + 1, b, lb);
	}
	dst[n - 1] = 0;
	uint32_t gpa = *at;
	*at += (uint32_t)n;
	return gpa;
}

/* The multiboot information (spec 3.3) in its page at ABI_MBI_GPA: the
 * structure, the module list, the strings. As QEMU's multiboot loader does
 * (hw/i386/multiboot.c), the command line is the image's name, a space and
 * --append, and each module is placed page-aligned after the image; the
 * kvm-unit-tests read their environment from the first module and their
 * arguments from the command line after its first word (lib/x86/setup.c,
 * lib/argv.c). */
static int multiboot_info(struct loader *l, const struct vmm_options *opt)
{
	struct vm *vm = l->vm;
	uint64_t ram = vm->regions[0].size;
	if (l->start < ABI_MBI_GPA + ABI_MBI_SIZE && l->end > ABI_MBI_GPA)
		return fail(l, "the image (0x%llx..0x%llx) overlaps the multiboot information at 0x%x..0x%x",
			    (unsigned long long)l->start, (unsigned long long)l->end, ABI_MBI_GPA,
			    ABI_MBI_GPA + ABI_MBI_SIZE);
	struct mb_info mbi = {
		.flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE,
		.mem_lower = 639,
		.mem_upper = (uint32_t)((ram - 0x100000) / 1024),
	};
	uint32_t at = ABI_MBI_GPA + sizeof(mbi);
	if (vm->initrd) {
		struct mb_module mod = { 0 };
		uint64_t after = l->end > ABI_MBI_GPA + ABI_MBI_SIZE ? l->end : ABI_MBI_GPA + ABI_MBI_SIZE;
		uint64_t start = (after + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
		if (start > ram || vm->initrd_size > ram - start)
			return fail(l, "--initrd %s (%zu bytes) does not fit in guest RAM after the image "
				    "(0x%llx..0x%llx of 0..0x%llx): try a larger --mem", opt->initrd, vm->initrd_size,
				    (unsigned long long)start, (unsigned long long)(start + vm->initrd_size),
				    (unsigned long long)ram);
		memcpy(vm->ram + start, vm->initrd, vm->initrd_size);
		mod.start = (uint32_t)start;
		mod.end = (uint32_t)(start + vm->initrd_size);
		mbi.mods_addr = at;
		mbi.mods_count = 1;
		mbi.flags |= MBI_FLAG_MODS;
		at += sizeof(mod);
		mod.string = mbi_string(l, &at, opt->initrd, NULL);
		if (!mod.string)
			return fail(l, "--initrd: the file name is too long for the multiboot information page");
		memcpy(vm->ram + mbi.mods_addr, &mod, sizeof(mod));
	}
	mbi.cmdline = mbi_string(l, &at, opt->image, opt->append);
	if (!mbi.cmdline)
		return fail(l, "--append: the command line (%zu bytes) does not fit in the multiboot information page "
			    "(%u bytes at 0x%x)", strlen(opt->append ? opt->append : "") + strlen(opt->image) + 2,
			    ABI_MBI_SIZE, ABI_MBI_GPA);
	memcpy(vm->ram + ABI_MBI_GPA, &mbi, sizeof(mbi));
	return 0;
}

int load_image(struct vm *vm, const uint8_t *img, size_t size, const struct vmm_options *opt,
	       struct boot_info *boot, char *err, size_t errlen)
{
	struct loader l = { .vm = vm, .img = img, .size = size, .start = ~0ull, .err = err, .errlen = errlen };
	size_t mb_at;
	int r;
	if (size == 0)
		return fail(&l, "empty image");
	if (is_bzimage(&l))
		r = load_bzimage(&l, opt, boot);
	else if (find_multiboot(&l, &mb_at))
		r = load_multiboot(&l, mb_at, boot);
	else if (size >= 4 && !memcmp(img, "\177ELF", 4))
		r = load_elf(&l, boot);
	else {
		enum cpu_mode mode = opt->mode == MODE_AUTO ? MODE_REAL : opt->mode;
		uint64_t at = opt->load_addr != ~0ull ? opt->load_addr
			      : mode == MODE_REAL ? ABI_REAL_LOAD_GPA : ABI_IMAGE_GPA;
		r = load_segment(&l, 0, size, at, size);
		*boot = (struct boot_info){ .entry = at, .mode = mode, .kind = "flat" };
	}
	if (r < 0)
		return r;
	if (opt->mode != MODE_AUTO)
		boot->mode = opt->mode;
	if (opt->entry != ~0ull)
		boot->entry = opt->entry;
	if (boot->mode == MODE_REAL && boot->entry >= 0x100000)
		return fail(&l, "real-mode entry 0x%llx is above 1 MiB", (unsigned long long)boot->entry);
	if (check_entry(&l, boot->entry) < 0)
		return -1;
	boot->image_end = l.end;
	/* A multiboot kernel is a standard guest: the spec defines only the
	 * boot processor's state (3.2), the others wait for INIT-SIPI as on
	 * any PC. The kit's ELF and flat images start them all at the entry. */
	boot->ap_start = opt->ap_start != AP_START_AUTO ? opt->ap_start
			 : boot->multiboot ? AP_START_SIPI : AP_START_ENTRY;
	if (boot->multiboot)
		return multiboot_info(&l, opt);
	if (boot->linux)
		return 0;
	if (opt->append || opt->initrd)
		return fail(&l, "%s: only a multiboot kernel or a bzImage takes a command line and an initrd; this is a %s image",
			    opt->append ? "--append" : "--initrd", boot->kind);
	return 0;
}

/* The "image" subsystem: read the file before anything else, so that a
 * missing or oversize image is reported as such even without /dev/kvm. */
int guest_image_init(struct vm *vm)
{
	char err[256];
	vm->image = host_load_file(vm->opt->image, vm->opt->mem_size, &vm->image_size, err, sizeof(err));
	if (!vm->image) {
		vm_stop(vm, VMM_EXIT_BAD_IMAGE, "%s: %s", vm->opt->image, err);
		return -EINVAL;
	}
	if (vm->opt->initrd) {
		vm->initrd = host_load_file(vm->opt->initrd, vm->opt->mem_size, &vm->initrd_size, err, sizeof(err));
		if (!vm->initrd) {
			vm_stop(vm, VMM_EXIT_BAD_IMAGE, "--initrd %s: %s", vm->opt->initrd, err);
			guest_image_exit(vm);
			return -EINVAL;
		}
	}
	return 0;
}

void guest_image_exit(struct vm *vm)
{
	free(vm->image);
	vm->image = NULL;
	free(vm->initrd);
	vm->initrd = NULL;
}

static const char *const mode_names[] = {
	[MODE_REAL] = "real-mode", [MODE_PROT] = "protected-mode", [MODE_LONG] = "long-mode",
};

/* The "boot" subsystem: the image into guest RAM, and for protected and long
 * mode the GDT and page tables a boot loader would have left (lab 02). */
int guest_boot_init(struct vm *vm)
{
	char err[256];
	struct boot_info *boot = &vm->boot;
	if (load_image(vm, vm->image, vm->image_size, vm->opt, boot, err, sizeof(err)) < 0) {
		vm_stop(vm, VMM_EXIT_BAD_IMAGE, "%s: %s", vm->opt->image, err);
		return -EINVAL;
	}
	guest_image_exit(vm); /* in guest memory now */
	if (boot->mode != MODE_REAL && !LAB_ENABLED(2)) {
		vm_stop(vm, VMM_EXIT_BAD_IMAGE, "%s: a %s image needs lab 02; this VMM is built for stage %02d",
			vm->opt->image, mode_names[boot->mode], KVMLABS_STAGE);
		return -EINVAL;
	}
	if (boot->mode != MODE_REAL)
		gdt_build((uint64_t *)(vm->ram + ABI_GDT_GPA));
	if (boot->mode == MODE_LONG)
		page_tables_build(vm->ram, vm->opt->mem_size);
	return 0;
}
