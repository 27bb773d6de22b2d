/* SPDX-License-Identifier: MIT */
/*
 * Guest image loaders: multiboot v1, ELF (32 and 64-bit) and flat binaries,
 * tried in that order, like kvmtool's kvm__load_kernel. Every field of the
 * image is checked against the file and against guest RAM before use: a bad
 * image ends with one line saying what is wrong, never a crash.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct mb_header {
	uint32_t magic, flags, checksum;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};
struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr, syms[4], mmap_length, mmap_addr;
};

struct loader {
	struct vm *vm;
	const uint8_t *img;
	size_t size;
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
	/* The multiboot information structure (spec 3.3), with the command line after it. */
	struct mb_info mbi = {
		.flags = MBI_FLAG_MEM | MBI_FLAG_CMDLINE,
		.mem_lower = 639,
		.mem_upper = (uint32_t)((l->vm->regions[0].size - 0x100000) / 1024),
		.cmdline = ABI_MBI_GPA + sizeof(struct mb_info),
	};
	memcpy(l->vm->ram + ABI_MBI_GPA, &mbi, sizeof(mbi));
	memcpy(l->vm->ram + mbi.cmdline, "vmm", 4);
	boot->multiboot = true;
	boot->kind = "multiboot";
	return 0;
}

int load_image(struct vm *vm, const uint8_t *img, size_t size, const struct vmm_options *opt,
	       struct boot_info *boot, char *err, size_t errlen)
{
	struct loader l = { .vm = vm, .img = img, .size = size, .err = err, .errlen = errlen };
	size_t mb_at;
	int r;
	if (size == 0)
		return fail(&l, "empty image");
	if (find_multiboot(&l, &mb_at))
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
	return check_entry(&l, boot->entry);
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
	return 0;
}

void guest_image_exit(struct vm *vm)
{
	free(vm->image);
	vm->image = NULL;
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
