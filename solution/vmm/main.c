/* SPDX-License-Identifier: MIT */
/*
 * vmm: the kvmlabs virtual machine monitor. This file is its command line
 * (kvmtool's builtin-run.c options); vmm.c builds and runs the VM.
 *
 *   vmm run [options] IMAGE     boot a guest image
 *   vmm info                    what the KVM behind the seam supports
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

#define DEFAULT_MEM        (32ull << 20)
#define MAX_MEM            (3ull << 30)  /* RAM stays below the MMIO window at 3 GiB */
#define DEFAULT_MAX_OUTPUT (1ull << 20)

static const char usage_text[] =
	"usage: vmm run [options] IMAGE\n"
	"       vmm info\n"
	"       vmm --help | --version\n"
	"\n"
	"Boot IMAGE in a new virtual machine on %s. IMAGE is a Linux bzImage (its\n"
	"64-bit entry), a multiboot v1 kernel, an ELF executable (32-bit: protected mode,\n"
	"64-bit: long mode) or a flat binary (real mode at 0x7c00 unless --mode/--load\n"
	"say otherwise).\n"
	"\n"
	"options:\n"
	"  --mem SIZE          guest RAM at physical address 0 (default 32M; K, M, G suffixes; 1M..3G)\n"
	"  --cpus N            number of vCPUs, one thread each (default 1, at most 8)\n"
	"  --mode MODE         real, prot or long: the CPU mode at entry (default: from the image)\n"
	"  --load ADDR         where a flat binary is loaded (default 0x7c00 real, 0x100000 otherwise)\n"
	"  --entry ADDR        override the entry point\n"
	"  --kernel FILE       the image, as an option (kvmtool's --kernel): a bzImage, for instance\n"
	"  --append STRING     the kernel command line: a bzImage's (the VMM adds its virtio-mmio devices),\n"
	"                      or a multiboot kernel's \"IMAGE STRING\" (as QEMU -append)\n"
	"  --initrd FILE       a bzImage's initrd, at the top of RAM; for a multiboot kernel the first\n"
	"                      module, page-aligned after the image\n"
	"  --ap-start HOW      how vCPUs 1.. start: entry (each at the image entry, the kit's guest ABI)\n"
	"                      or sipi (waiting for INIT-SIPI from vCPU 0's local APIC, as on a PC;\n"
	"                      needs the irqchip). Default: sipi for a multiboot kernel, entry otherwise\n"
	"  --no-irqchip        do not create the in-kernel PIC/IOAPIC/LAPIC (HLT then ends a vCPU)\n"
	"  --no-ioeventfd      serve the doorbell port and virtio notifications in the vCPU thread\n"
	"  --disk FILE         a virtio-blk disk backed by FILE (read and written; 512-byte sectors)\n"
	"  --no-event-idx      virtio devices do not offer VIRTIO_F_EVENT_IDX\n"
	"  --dirty-log         log dirty pages of RAM (for the test device's dirty-sync command)\n"
	"  --dirty-report MS   print the pages the guest wrote every MS milliseconds (implies --dirty-log)\n"
	"  --timeout SECONDS   end the VM after this long (status 16)\n"
	"  --max-output BYTES  end the VM when the guest prints more (default 1M; status 18)\n"
	"  --trace             print every VM exit (reason, port/address, size, data) on stderr\n"
	"\n"
	"N, ADDR, SIZE, BYTES, MS and SECONDS are decimal digits, or 0x and hex digits;\n"
	"SIZE and BYTES may end in K, M or G (KiB, MiB, GiB).\n"
	"\n"
	"exit status: (value << 1) | 1 when the guest writes value to port 0xf4; otherwise\n"
	"  0 all vCPUs halted      2 usage            4 bad image        6 KVM unusable\n"
	"  8 triple fault         10 VM entry failed 12 KVM internal error\n"
	" 14 unhandled exit       16 timeout         18 output flood    20 lab not implemented\n"
	" 22 jumped outside memory 24 system event   26 host exception (bare metal)\n"
	" 28 a sanitizer build (vmm-san, vmm-tsan) found a bug in the VMM\n";

/* A number as the help says: decimal digits, or 0x and hex digits, and for
 * a size one K, M or G (binary units). Nothing else: no sign (strtoull()
 * would wrap "-1" to 2^64 - 1), no leading space or '+', no octal (a leading
 * 0 is refused rather than read two ways), no overflow. Returns NULL, or
 * what is wrong with s. */
static const char *parse_u64(const char *s, uint64_t *out, bool size_suffix)
{
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
		return "a leading 0 is not accepted (octal?): write decimal, or hex after 0x";
	}
	uint64_t v = 0;
	const char *p = s;
	for (;; p++) {
		unsigned digit;
		if (*p >= '0' && *p <= '9')
			digit = (unsigned)(*p - '0');
		else if (base == 16 && ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f'))
			digit = (unsigned)((*p | 0x20) - 'a' + 10);
		else
			break;
		if (v > (~0ull - digit) / base)
			return "too large";
		v = v * base + digit;
	}
	if (p == s)
		return base == 16 ? "no hex digits after 0x" : "not a number: decimal digits, or hex after 0x";
	unsigned shift = 0;
	if (size_suffix && *p) {
		static const char units[] = "KMG";
		const char *u = strchr(units, *p & ~0x20);
		if (!u || !*u)
			return "the only suffixes are K, M and G";
		shift = 10 * (unsigned)(u - units + 1);
		p++;
	}
	if (*p)
		return size_suffix ? "not a size: digits, then K, M or G" : "not a number: decimal digits, or hex after 0x";
	if (shift && v > (~0ull >> shift))
		return "too large";
	*out = v << shift;
	return NULL;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("vmm: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'vmm --help'.\n", stderr);
	return VMM_EXIT_USAGE;
}

/* Options: a table, so --help, parsing and errors cannot disagree. `lab`
 * is the lab whose subsystem an option needs beyond its default (--cpus 2:
 * vCPU threads, lab 03); a build for an earlier stage refuses it. */
enum opt_kind { OPT_FLAG, OPT_NUMBER, OPT_SIZE, OPT_CHOICE, OPT_STRING };
struct opt_def {
	const char *name;
	enum opt_kind kind;
	size_t offset;      /* into struct vmm_options */
	uint64_t min, max;
	int lab;
	const char *const *choices; /* OPT_CHOICE: names indexed by the enum value; NULL entries not selectable */
};
#define OPT_AT(field) offsetof(struct vmm_options, field)
static const char *const mode_choices[] = { [MODE_REAL] = "real", [MODE_PROT] = "prot", [MODE_LONG] = "long", NULL };
static const char *const ap_start_choices[] = { [AP_START_ENTRY] = "entry", [AP_START_SIPI] = "sipi", NULL };
static const struct opt_def opt_defs[] = {
	{ "--mem",          OPT_SIZE,   OPT_AT(mem_size),        1ull << 20, MAX_MEM,    1, NULL },
	{ "--cpus",         OPT_NUMBER, OPT_AT(cpus),            1, VMM_MAX_VCPUS,       3, NULL },
	{ "--mode",         OPT_CHOICE, OPT_AT(mode),            0, 0,                   1, mode_choices },
	{ "--load",         OPT_NUMBER, OPT_AT(load_addr),       0, MAX_MEM,             1, NULL },
	{ "--entry",        OPT_NUMBER, OPT_AT(entry),           0, ~0ull - 1,           1, NULL },
	{ "--no-irqchip",   OPT_FLAG,   OPT_AT(irqchip),         0, 0,                   1, NULL },
	{ "--no-ioeventfd", OPT_FLAG,   OPT_AT(ioeventfd),       0, 0,                   3, NULL },
	{ "--dirty-log",    OPT_FLAG,   OPT_AT(dirty_log),       1, 0,                   3, NULL },
	{ "--dirty-report", OPT_NUMBER, OPT_AT(dirty_report_ms), 1, 3600000,             3, NULL },
	{ "--timeout",      OPT_NUMBER, OPT_AT(timeout_s),       1, 86400,               1, NULL },
	{ "--max-output",   OPT_SIZE,   OPT_AT(max_output),      1, ~0ull >> 1,          1, NULL },
	{ "--trace",        OPT_FLAG,   OPT_AT(trace),           1, 0,                   1, NULL },
	{ "--kernel",       OPT_STRING, OPT_AT(image),           0, 0,                   1, NULL },
	{ "--append",       OPT_STRING, OPT_AT(append),          0, 0,                   1, NULL },
	{ "--initrd",       OPT_STRING, OPT_AT(initrd),          0, 0,                   1, NULL },
	{ "--ap-start",     OPT_CHOICE, OPT_AT(ap_start),        0, 0,                   3, ap_start_choices },
	{ "--disk",         OPT_STRING, OPT_AT(disk),            0, 0,                   9, NULL },
	{ "--no-event-idx", OPT_FLAG,   OPT_AT(event_idx),       0, 0,                   9, NULL },
};

/* An option asks for more than its default, and the build has no lab for it. */
static int needs_lab(const struct opt_def *d, const char *arg)
{
	fprintf(stderr, "vmm: %.*s needs lab %02d; this VMM is built for stage %02d\n",
		(int)strcspn(arg, "="), arg, d->lab, KVMLABS_STAGE);
	return VMM_EXIT_USAGE;
}

static int parse_run_options(int argc, char **argv, struct vmm_options *opt)
{
	static const struct vmm_options defaults = {
		.mem_size = DEFAULT_MEM, .cpus = 1, .mode = MODE_AUTO, .load_addr = ~0ull, .entry = ~0ull,
		.irqchip = true, .ioeventfd = true, .event_idx = true, .max_output = DEFAULT_MAX_OUTPUT,
	};
	*opt = defaults;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (arg[0] != '-' || !arg[1]) {
			if (opt->image)
				return usage_error("more than one image given: '%s'", arg);
			opt->image = arg;
			continue;
		}
		/* Both "--mem 64M" and "--mem=64M". */
		const char *eq = strchr(arg, '=');
		size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct opt_def *d = NULL;
		for (size_t k = 0; k < ARRAY_SIZE(opt_defs); k++)
			if (strlen(opt_defs[k].name) == len && !strncmp(arg, opt_defs[k].name, len))
				d = &opt_defs[k];
		if (!d)
			return usage_error("unknown option '%s'", arg);
		void *field = (char *)opt + d->offset;
		if (d->kind == OPT_FLAG) {
			if (eq)
				return usage_error("option '%s' takes no value", arg);
			if (!LAB_ENABLED(d->lab))
				return needs_lab(d, arg);
			*(bool *)field = d->min; /* min holds the value a flag sets */
			continue;
		}
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!value)
			return usage_error("option '%s' needs a value", arg);
		if (d->kind == OPT_STRING) {
			if (!LAB_ENABLED(d->lab))
				return needs_lab(d, arg);
			if (d->offset == OPT_AT(image) && opt->image)
				return usage_error("more than one image given: '%s'", value);
			*(const char **)field = value;
			continue;
		}
		if (d->kind == OPT_CHOICE) {
			/* Enums whose value 0 is "not given": choices[0] is NULL. */
			int pick = 0;
			for (int k = 1; d->choices[k]; k++)
				if (!strcmp(value, d->choices[k]))
					pick = k;
			if (!pick) {
				fprintf(stderr, "vmm: %.*s takes", (int)len, arg);
				for (int k = 1; d->choices[k]; k++)
					fprintf(stderr, "%s%s", k == 1 ? " " : d->choices[k + 1] ? ", " : " or ", d->choices[k]);
				fprintf(stderr, ", not '%s'\nTry 'vmm --help'.\n", value);
				return VMM_EXIT_USAGE;
			}
			if (!LAB_ENABLED(d->lab))
				return needs_lab(d, arg);
			*(int *)field = pick;
			continue;
		}
		uint64_t v;
		const char *bad = parse_u64(value, &v, d->kind == OPT_SIZE);
		if (bad) {
			fprintf(stderr, "vmm: %.*s: '%s': %s\nTry 'vmm --help'.\n", (int)len, arg, value, bad);
			return VMM_EXIT_USAGE;
		}
		if (v < d->min || v > d->max) {
			fprintf(stderr, "vmm: %.*s: '%s' is not a %s between %llu and %llu\n", (int)len, arg, value,
				d->kind == OPT_SIZE ? "size" : "number", (unsigned long long)d->min,
				(unsigned long long)d->max);
			return VMM_EXIT_USAGE;
		}
		if (!LAB_ENABLED(d->lab) && v != *(const uint64_t *)((const char *)&defaults + d->offset))
			return needs_lab(d, arg);
		*(uint64_t *)field = v;
	}
	if (!opt->image)
		return usage_error("no image given%s", "");
	if (opt->mem_size & (PAGE_SIZE - 1))
		return usage_error("--mem must be a multiple of 4K%s", "");
	if (opt->dirty_report_ms)
		opt->dirty_log = true;
	return 0;
}

static int vmm_info(void)
{
	static const struct { long cap; const char *name; } caps[] = {
		{ KVM_CAP_USER_MEMORY, "user-memory" }, { KVM_CAP_READONLY_MEM, "readonly-mem" },
		{ KVM_CAP_IRQCHIP, "irqchip" }, { KVM_CAP_IRQFD, "irqfd" }, { KVM_CAP_IOEVENTFD, "ioeventfd" },
		{ KVM_CAP_NR_VCPUS, "nr-vcpus" }, { KVM_CAP_MAX_VCPUS, "max-vcpus" },
		{ KVM_CAP_NR_MEMSLOTS, "nr-memslots" }, { KVM_CAP_EXT_CPUID, "ext-cpuid" },
	};
	int fd = vmm_open_kvm();
	if (fd < 0)
		return VMM_EXIT_KVM_SETUP;
	printf("kernel: %s\napi-version: %ld\n", kvm_seam_name(), kvm_ioctl(fd, KVM_GET_API_VERSION, NULL));
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		printf("%s: %ld\n", caps[i].name, kvm_ioctl(fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)caps[i].cap));
	kvm_seam_close(fd);
	return 0;
}

int vmm_main(int argc, char **argv)
{
	static struct vmm_options opt;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		printf(usage_text, kvm_seam_name());
		return argc < 2 ? VMM_EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vmm (kvmlabs) stage %d on %s\n", KVMLABS_STAGE, kvm_seam_name());
		return 0;
	}
	if (!strcmp(argv[1], "info"))
		return vmm_info();
	if (strcmp(argv[1], "run"))
		return usage_error("unknown command '%s'", argv[1]);
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf(usage_text, kvm_seam_name());
			return 0;
		}
	int r = parse_run_options(argc - 2, argv + 2, &opt);
	return r ? r : vmm_run(&opt);
}
