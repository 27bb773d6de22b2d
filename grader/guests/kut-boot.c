/* SPDX-License-Identifier: MIT */
/*
 * kut-boot: a multiboot kernel booted the way the kvm-unit-tests x86 images
 * are (their scripts/arch-run.bash gives QEMU -kernel IMAGE -append ARGS
 * -initrd ENV): run with --initrd ENV --append "env-size=N" --cpus C --mem M,
 * where ENV holds NR_CPUS=C and MEMSIZE=M (in MiB) lines and N is its size.
 *
 * Nothing the VMM says is taken on trust: the command line must be NUL-
 * terminated in a bounded length, the module must lie after the image and
 * inside RAM, page-aligned as the header asks (flags bit 0), and be as long
 * as the command line says; then fw_cfg (the selector at 0x510, data at
 * 0x511) must give the signature, the CPU count and the RAM size the
 * environment names, as lib/x86/fwcfg.c reads them; an unknown key and the
 * bytes after an item read 0. Last, the pc-testdev register at 0xe0 and its
 * MMIO window keep what is written, byte lanes included.
 */
#include "kut.h"

#define CMDLINE_MAX 4096
#define ENV_MAX     16384 /* kvm-unit-tests' ENV_SIZE: the most it copies */

extern char _end[];

/* Decimal, as atol() in lib/string.c; -1 if `s` does not start with a digit. */
static long parse_decimal(const char *s, const char *end)
{
	long v = -1;
	for (; s < end && *s >= '0' && *s <= '9' && v < 100000000; s++)
		v = (v < 0 ? 0 : v * 10) + (*s - '0');
	return v;
}

/* The value of `key` in a "KEY=VALUE KEY=VALUE" or "KEY=VALUE\n..." text of n bytes. */
static long lookup(const char *text, uint32_t n, const char *key, char sep)
{
	uint32_t klen = 0;
	while (key[klen])
		klen++;
	for (uint32_t i = 0; i + klen < n; i++) {
		if ((i == 0 || text[i - 1] == sep) && !memcmp(text + i, key, klen) && text[i + klen] == '=')
			return parse_decimal(text + i + klen + 1, text + n);
	}
	return -1;
}

static void check_fw_cfg(long nr_cpus, long memsize_mib, uint32_t mem_upper)
{
	char sig[5] = { 0 };
	uint32_t s = (uint32_t)fw_cfg_read(ABI_FW_CFG_SIGNATURE_KEY, 4);
	memcpy(sig, &s, 4);
	report(!memcmp(sig, ABI_FW_CFG_SIGNATURE, 4), "fw-cfg-signature", "read \"%s\" (0x%x), want \"QEMU\"", sig, s);
	uint32_t id = (uint32_t)fw_cfg_read(ABI_FW_CFG_ID, 4);
	report(id & 1, "fw-cfg-id", "feature bitmap 0x%x lacks bit 0 (the I/O interface in use)", id);

	uint64_t nb = fw_cfg_read(ABI_FW_CFG_NB_CPUS, 2), max = fw_cfg_read(ABI_FW_CFG_MAX_CPUS, 2);
	report(nr_cpus > 0 && nb == (uint64_t)nr_cpus, "fw-cfg-nb-cpus", "NB_CPUS %llu, the environment's NR_CPUS %ld",
	       (unsigned long long)nb, nr_cpus);
	report(max >= nb && max <= 255, "fw-cfg-max-cpus", "MAX_CPUS %llu, NB_CPUS %llu", (unsigned long long)max,
	       (unsigned long long)nb);
	uint64_t ram = fw_cfg_read(ABI_FW_CFG_RAM_SIZE, 8);
	report(memsize_mib > 0 && ram == (uint64_t)memsize_mib << 20, "fw-cfg-ram-size",
	       "RAM_SIZE 0x%llx, the environment's MEMSIZE %ld MiB", (unsigned long long)ram, memsize_mib);
	/* The multiboot memory map agrees: upper memory runs from 1 MiB to the end of RAM. */
	report(((uint64_t)mem_upper + 1024) << 10 == ram, "mbi-mem-upper-matches",
	       "mem_upper %u KiB + 1 MiB vs RAM_SIZE 0x%llx", mem_upper, (unsigned long long)ram);

	/* Selecting rewinds; an item's bytes end in zeros; an unknown key reads 0. */
	uint64_t again = fw_cfg_read(ABI_FW_CFG_SIGNATURE_KEY, 8);
	report(again == s, "fw-cfg-reselect-rewinds", "signature read again as 0x%llx (8 bytes), want 0x%x",
	       (unsigned long long)again, s);
	uint64_t unknown = fw_cfg_read(0x7fff, 8);
	report(unknown == 0, "fw-cfg-unknown-key-zero", "key 0x7fff read 0x%llx", (unsigned long long)unknown);
	uint64_t arch = fw_cfg_read(0x8000 | ABI_FW_CFG_NB_CPUS, 2);
	report(arch == 0, "fw-cfg-arch-bit-is-key", "key 0x8005 read %llu: bit 15 is part of the key",
	       (unsigned long long)arch);
}

static void check_pc_testdev(void)
{
	outl(ABI_PC_TESTDEV_PORT, 0x11223344);
	uint32_t whole = inl(ABI_PC_TESTDEV_PORT);
	uint8_t lane2 = inb(ABI_PC_TESTDEV_PORT + 2);
	outw(ABI_PC_TESTDEV_PORT + 1, 0xaabb);
	uint32_t mixed = inl(ABI_PC_TESTDEV_PORT);
	report(whole == 0x11223344 && lane2 == 0x22 && mixed == 0x11aabb44, "pc-testdev-port",
	       "read 0x%x, byte 2 0x%x, after a word at 0xe1 0x%x; want 0x11223344 0x22 0x11aabb44", whole, lane2, mixed);
	uintptr_t w = ABI_PC_TESTDEV_MMIO_GPA;
	mmio_write32(w + ABI_PC_TESTDEV_MMIO_SIZE - 4, 0xfeedc0de);
	mmio_write8(w + 1, 0x5a);
	uint32_t top = mmio_read32(w + ABI_PC_TESTDEV_MMIO_SIZE - 4);
	uint8_t low = mmio_read8(w + 1);
	report(top == 0xfeedc0de && low == 0x5a, "pc-testdev-mmio", "window read 0x%x and 0x%x", top, low);
}

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	begin(GUEST_NAME);
	report_eq("eax-magic", magic, ABI_MULTIBOOT_MAGIC);
	const struct mb_info *mbi = (const void *)(uintptr_t)mbi_gpa;
	uint32_t want = MBI_FLAG_MEM | MBI_FLAG_CMDLINE | MBI_FLAG_MODS;
	report(mbi_gpa && (mbi->flags & want) == want, "mbi-flags", "MBI at 0x%x, flags 0x%x lack some of 0x%x",
	       mbi_gpa, mbi_gpa ? mbi->flags : 0, want);
	if (!mbi_gpa || (mbi->flags & want) != want)
		end();
	uint64_t ram_top = 0x100000 + (uint64_t)mbi->mem_upper * 1024;

	/* The command line: "IMAGE ARGS", the image's name first, as QEMU's. */
	const char *cmd = (const char *)(uintptr_t)mbi->cmdline;
	uint32_t n = 0;
	while (mbi->cmdline + n < ram_top && n < CMDLINE_MAX && cmd[n])
		n++;
	report(n < CMDLINE_MAX && mbi->cmdline + n < ram_top, "cmdline-terminated",
	       "no NUL in %u bytes at 0x%x", n, mbi->cmdline);
	printf("cmdline: \"%s\"\n", n < CMDLINE_MAX ? cmd : "");
	uint32_t first = 0;
	while (first < n && cmd[first] != ' ')
		first++;
	report(first > 0, "cmdline-image-name-first", "the command line starts with '%c', not the image's name", cmd[0]);
	long env_size = lookup(cmd, n, "env-size", ' ');
	report(env_size >= 0, "cmdline-args", "no env-size=N after the image's name (run with --append \"env-size=N\")");

	/* The module: the environment, where the header asks, inside RAM. */
	report_eq("mods-count", mbi->mods_count, 1);
	if (mbi->mods_count != 1 || mbi->mods_addr + sizeof(struct mb_module) > ram_top)
		end();
	const struct mb_module *mod = (const void *)(uintptr_t)mbi->mods_addr;
	uint32_t size = mod->end - mod->start;
	report(mod->start >= (uint32_t)(uintptr_t)_end && mod->end >= mod->start && mod->end <= ram_top,
	       "module-placed", "module 0x%x..0x%x, image ends at 0x%x, RAM at 0x%llx", mod->start, mod->end,
	       (uint32_t)(uintptr_t)_end, (unsigned long long)ram_top);
	report(!(mod->start & 0xfff), "module-page-aligned", "module at 0x%x (the header's flags bit 0 asks for 4 KiB)",
	       mod->start);
	report(env_size >= 0 && size == (uint32_t)env_size, "module-size", "module of %u bytes, the command line "
	       "says %ld", size, env_size);
	if (mod->start < (uint32_t)(uintptr_t)_end || mod->end < mod->start || mod->end > ram_top || size > ENV_MAX)
		end();
	const char *env = (const char *)(uintptr_t)mod->start;
	long nr_cpus = lookup(env, size, "NR_CPUS", '\n'), memsize = lookup(env, size, "MEMSIZE", '\n');
	report(nr_cpus > 0 && memsize > 0, "env-parsed", "NR_CPUS %ld MEMSIZE %ld in the module", nr_cpus, memsize);
	printf("env: NR_CPUS=%ld MEMSIZE=%ld\n", nr_cpus, memsize);

	check_fw_cfg(nr_cpus, memsize, mbi->mem_upper);
	check_pc_testdev();
	end();
}
