/* SPDX-License-Identifier: MIT */
/*
 * vmm: the kvmlabs virtual machine monitor.
 *
 *   vmm run [options] IMAGE     boot a guest image
 *   vmm info                    what the KVM behind the seam supports
 *
 * The order of setup is KVM's: VM, then the irqchip (before any vCPU), memory,
 * devices, the image, and finally the vCPUs, each with CPUID, MSRs and
 * registers for the requested mode.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>

#include "vmm.h"

#define DEFAULT_MEM        (32ull << 20)
#define MAX_MEM            (3ull << 30)  /* RAM stays below the MMIO window at 3 GiB */
#define DEFAULT_MAX_OUTPUT (1ull << 20)

static const char usage_text[] =
	"usage: vmm run [options] IMAGE\n"
	"       vmm info\n"
	"       vmm --help | --version\n"
	"\n"
	"Boot IMAGE in a new virtual machine on %s. IMAGE is a multiboot v1 kernel,\n"
	"an ELF executable (32-bit: protected mode, 64-bit: long mode) or a flat binary\n"
	"(real mode at 0x7c00 unless --mode/--load say otherwise).\n"
	"\n"
	"options:\n"
	"  --mem SIZE          guest RAM at physical address 0 (default 32M; K, M, G suffixes; 1M..3G)\n"
	"  --cpus N            number of vCPUs, one thread each (default 1, at most 8)\n"
	"  --mode MODE         real, prot or long: the CPU mode at entry (default: from the image)\n"
	"  --load ADDR         where a flat binary is loaded (default 0x7c00 real, 0x100000 otherwise)\n"
	"  --entry ADDR        override the entry point\n"
	"  --no-irqchip        do not create the in-kernel PIC/IOAPIC/LAPIC (HLT then ends a vCPU)\n"
	"  --dirty-log         log dirty pages of RAM (for the test device's dirty-sync command)\n"
	"  --dirty-report MS   print the pages the guest wrote every MS milliseconds (implies --dirty-log)\n"
	"  --timeout SECONDS   end the VM after this long (status 16)\n"
	"  --max-output BYTES  end the VM when the guest prints more (default 1M; status 18)\n"
	"  --trace             print every VM exit (reason, port/address, size, data) on stderr\n"
	"\n"
	"exit status: (value << 1) | 1 when the guest writes value to port 0xf4; otherwise\n"
	"  0 all vCPUs halted      2 usage            4 bad image        6 KVM unusable\n"
	"  8 triple fault         10 VM entry failed 12 KVM internal error\n"
	" 14 unhandled exit       16 timeout         18 output flood    20 lab not implemented\n"
	" 22 jumped outside memory 24 system event   26 host exception (bare metal)\n";

static struct vm the_vm; /* static: reachable for the leak checker until exit */

void vmm_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
}

const char *kvm_strerror(long err)
{
	static const struct { int err; const char *text; } names[] = {
		{ EPERM, "Operation not permitted" }, { ENOENT, "No such file or directory" },
		{ EINTR, "Interrupted" }, { EIO, "I/O error" }, { E2BIG, "Argument list too long" },
		{ EBADF, "Bad file descriptor" }, { EAGAIN, "Try again" }, { ENOMEM, "Out of memory" },
		{ EACCES, "Permission denied" }, { EFAULT, "Bad address" }, { EBUSY, "Device busy" },
		{ EEXIST, "Already exists" }, { ENODEV, "No such device" }, { EINVAL, "Invalid argument" },
		{ ENOSPC, "No space left" }, { ENOTTY, "Inappropriate ioctl" }, { ENOSYS, "Not implemented" },
		{ ENXIO, "No such device or address" }, { EOPNOTSUPP, "Not supported" },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == -err)
			return names[i].text;
	return "error";
}

/* Called by the run loop before every KVM_RUN and by the supervisor, so the
 * deadline holds with or without a supervisor thread (a vCPU run inline on bare
 * metal): KVM_RUN returns now and then (-EINTR) even when the guest never exits. */
/* KVM_CHECK_EXTENSION (api.rst 4.4): > 0 means the kernel has the capability. */
bool vm_has_cap(const struct vm *vm, long cap)
{
	return kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)cap) > 0;
}

bool vm_stopping(struct vm *vm)
{
	if (vm->deadline_ns && host_now_ns() >= vm->deadline_ns)
		vm_stop(vm, VMM_EXIT_TIMEOUT, "timeout: the guest ran for %llu s without ending",
			(unsigned long long)vm->opt->timeout_s);
	return atomic_load(&vm->stopping) != 0;
}

static char stop_message[256];

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
		return; /* the first reason to stop is the one reported */
	vm->exit_status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(stop_message, sizeof(stop_message), fmt, ap);
	va_end(ap);
	if (vm->stop_event >= 0)
		host_event_signal(vm->stop_event);
}

void vmm_output(struct vm *vm, const char *buf, size_t n)
{
	uint64_t before = atomic_fetch_add(&vm->output_bytes, n);
	if (before + n > vm->opt->max_output) {
		vm_stop(vm, VMM_EXIT_OUTPUT_FLOOD, "the guest printed more than %llu bytes (--max-output)",
			(unsigned long long)vm->opt->max_output);
		return;
	}
	fwrite(buf, 1, n, stdout);
	if (memchr(buf, '\n', n))
		fflush(stdout);
}

static bool parse_u64(const char *s, uint64_t *out, bool size_suffix)
{
	if (!s || !*s)
		return false;
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	unsigned shift = 0;
	if (size_suffix && *end) {
		const char *units = "KMG";
		const char *u = strchr(units, *end & ~0x20);
		if (!u || end[1])
			return false;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
	}
	if (*end || (shift && v > (~0ull >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("vmm: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'vmm --help'.\n", stderr);
	return VMM_EXIT_USAGE;
}

/* Options: a table, so --help, parsing and errors cannot disagree. */
enum opt_kind { OPT_FLAG, OPT_NUMBER, OPT_SIZE, OPT_MODE };
struct opt_def {
	const char *name;
	enum opt_kind kind;
	size_t offset;      /* into struct vmm_options */
	uint64_t min, max;
};
#define OPT_AT(field) offsetof(struct vmm_options, field)
static const struct opt_def opt_defs[] = {
	{ "--mem",          OPT_SIZE,   OPT_AT(mem_size),        1ull << 20, MAX_MEM },
	{ "--cpus",         OPT_NUMBER, OPT_AT(cpus),            1, VMM_MAX_VCPUS },
	{ "--mode",         OPT_MODE,   OPT_AT(mode),            0, 0 },
	{ "--load",         OPT_NUMBER, OPT_AT(load_addr),       0, MAX_MEM },
	{ "--entry",        OPT_NUMBER, OPT_AT(entry),           0, ~0ull - 1 },
	{ "--no-irqchip",   OPT_FLAG,   OPT_AT(irqchip),         0, 0 },
	{ "--dirty-log",    OPT_FLAG,   OPT_AT(dirty_log),       1, 0 },
	{ "--dirty-report", OPT_NUMBER, OPT_AT(dirty_report_ms), 1, 3600000 },
	{ "--timeout",      OPT_NUMBER, OPT_AT(timeout_s),       1, 86400 },
	{ "--max-output",   OPT_SIZE,   OPT_AT(max_output),      1, ~0ull >> 1 },
	{ "--trace",        OPT_FLAG,   OPT_AT(trace),           1, 0 },
};

static int parse_run_options(int argc, char **argv, struct vmm_options *opt)
{
	*opt = (struct vmm_options){
		.mem_size = DEFAULT_MEM, .cpus = 1, .mode = MODE_AUTO, .load_addr = ~0ull, .entry = ~0ull,
		.irqchip = true, .max_output = DEFAULT_MAX_OUTPUT,
	};
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
		for (size_t k = 0; k < sizeof(opt_defs) / sizeof(opt_defs[0]); k++)
			if (strlen(opt_defs[k].name) == len && !strncmp(arg, opt_defs[k].name, len))
				d = &opt_defs[k];
		if (!d)
			return usage_error("unknown option '%s'", arg);
		void *field = (char *)opt + d->offset;
		if (d->kind == OPT_FLAG) {
			if (eq)
				return usage_error("option '%s' takes no value", arg);
			*(bool *)field = d->min; /* min holds the value a flag sets */
			continue;
		}
		const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!value)
			return usage_error("option '%s' needs a value", arg);
		if (d->kind == OPT_MODE) {
			static const char *const modes[] = { [MODE_REAL] = "real", [MODE_PROT] = "prot", [MODE_LONG] = "long" };
			enum cpu_mode m = MODE_AUTO;
			for (int k = MODE_REAL; k <= MODE_LONG; k++)
				if (!strcmp(value, modes[k]))
					m = (enum cpu_mode)k;
			if (m == MODE_AUTO)
				return usage_error("--mode takes real, prot or long, not '%s'", value);
			opt->mode = m;
			continue;
		}
		uint64_t v;
		if (!parse_u64(value, &v, d->kind == OPT_SIZE) || v < d->min || v > d->max) {
			fprintf(stderr, "vmm: %.*s: '%s' is not a %s between %llu and %llu\n", (int)len, arg, value,
				d->kind == OPT_SIZE ? "size" : "number", (unsigned long long)d->min,
				(unsigned long long)d->max);
			return VMM_EXIT_USAGE;
		}
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

static int setup_vcpu(struct vm *vm, struct vcpu *vcpu, int id, const struct boot_info *boot)
{
	int r = vcpu_create(vm, vcpu, id);
	if (r == 0)
		r = vcpu_setup_cpuid(vcpu);
	if (r == 0)
		r = vcpu_setup_msrs(vcpu);
	if (r < 0)
		return r;
	switch (boot->mode) {
	case MODE_REAL: r = vcpu_setup_real(vcpu, boot->entry); break;
	case MODE_LONG: r = vcpu_setup_long(vcpu, boot->entry); break;
	default:        r = vcpu_setup_protected(vcpu, boot->entry); break;
	}
	if (r < 0) {
		vmm_error("setting up vCPU %d registers: %s", id, kvm_strerror(r));
		return r;
	}
	if (boot->multiboot) {
		struct kvm_regs regs;
		if (kvm_ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
			return -EIO;
		regs.rax = ABI_MULTIBOOT_MAGIC;
		regs.rbx = ABI_MBI_GPA;
		if (kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
			return -EIO;
	}
	if (id > 0 && vm->has_irqchip) {
		/* With an in-kernel LAPIC, APs wait for INIT-SIPI; the ABI starts
		 * every vCPU at the entry, so make them runnable (api.rst 4.38). */
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
		r = (int)kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
		if (r < 0)
			vmm_error("KVM_SET_MP_STATE for vCPU %d: %s", id, kvm_strerror(r));
	}
	return r;
}

static int vmm_run(const struct vmm_options *opt)
{
	struct vm *vm = &the_vm;
	*vm = (struct vm){ .opt = opt, .kvm_fd = -1, .vm_fd = -1, .stop_event = -1, .doorbell_event = -1 };
	vm->pio_bus.name = "pio";
	vm->mmio_bus.name = "mmio";

	char err[256];
	size_t size;
	uint64_t max_image = opt->mem_size;
	uint8_t *img = host_load_file(opt->image, max_image, &size, err, sizeof(err));
	if (!img) {
		vmm_error("%s: %s", opt->image, err);
		return VMM_EXIT_BAD_IMAGE;
	}
	if (host_max_threads() == 1 && opt->cpus > 1) {
		vmm_error("this host runs one vCPU; --cpus %llu needs a threaded host", (unsigned long long)opt->cpus);
		return VMM_EXIT_USAGE;
	}

	vm->kvm_fd = kvm_open_checked();
	if (vm->kvm_fd < 0 || vm_create(vm) < 0 || irq_setup(vm) < 0)
		return VMM_EXIT_KVM_SETUP;
	int ev = host_event_create();
	vm->stop_event = ev < 0 ? -1 : ev;

	vm->ram = host_alloc_guest_ram(opt->mem_size);
	if (!vm->ram) {
		vmm_error("cannot allocate %llu bytes of guest RAM", (unsigned long long)opt->mem_size);
		return VMM_EXIT_KVM_SETUP;
	}
	int r = vm_add_region(vm, "ram", 0, opt->mem_size, vm->ram, opt->dirty_log ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	if (r < 0 || devices_setup(vm) < 0 || doorbell_setup(vm) < 0) {
		vmm_error("setting up guest memory and devices failed%s%s", r < 0 ? ": " : "", r < 0 ? kvm_strerror(r) : "");
		return VMM_EXIT_KVM_SETUP;
	}

	struct boot_info boot;
	r = load_image(vm, img, size, opt, &boot, err, sizeof(err));
	free(img);
	if (r < 0) {
		vmm_error("%s: %s", opt->image, err);
		vm_stop(vm, VMM_EXIT_BAD_IMAGE, "bad image");
		doorbell_teardown(vm);
		return VMM_EXIT_BAD_IMAGE;
	}
	if (boot.mode != MODE_REAL)
		gdt_build((uint64_t *)(vm->ram + ABI_GDT_GPA));
	if (boot.mode == MODE_LONG)
		page_tables_build(vm->ram, opt->mem_size);

	vm->nr_vcpus = (int)opt->cpus;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		if (setup_vcpu(vm, &vm->vcpus[i], i, &boot) < 0) {
			vm_stop(vm, VMM_EXIT_KVM_SETUP, "vCPU setup failed");
			doorbell_teardown(vm);
			return VMM_EXIT_KVM_SETUP;
		}
	}
	if (opt->trace)
		fprintf(stderr, "vmm: %s image %s, entry 0x%llx, %d vCPU(s), %s on %s\n", boot.kind, opt->image,
			(unsigned long long)boot.entry, vm->nr_vcpus, vm->has_irqchip ? "irqchip" : "no irqchip",
			kvm_seam_name());

	vm->start_ns = host_now_ns();
	if (opt->timeout_s)
		vm->deadline_ns = vm->start_ns + opt->timeout_s * 1000000000ull;
	r = vm_run_vcpus(vm);
	if (r < 0)
		vm_stop(vm, VMM_EXIT_KVM_SETUP, "running the vCPUs failed");
	doorbell_teardown(vm);
	fflush(stdout);
	fprintf(stderr, "vmm: %s (exit status %d)\n", stop_message, vm->exit_status);
	return vm->exit_status;
}

static int vmm_info(void)
{
	static const struct { long cap; const char *name; } caps[] = {
		{ KVM_CAP_USER_MEMORY, "user-memory" }, { KVM_CAP_READONLY_MEM, "readonly-mem" },
		{ KVM_CAP_IRQCHIP, "irqchip" }, { KVM_CAP_IRQFD, "irqfd" }, { KVM_CAP_IOEVENTFD, "ioeventfd" },
		{ KVM_CAP_NR_VCPUS, "nr-vcpus" }, { KVM_CAP_MAX_VCPUS, "max-vcpus" },
		{ KVM_CAP_NR_MEMSLOTS, "nr-memslots" }, { KVM_CAP_EXT_CPUID, "ext-cpuid" },
	};
	int fd = kvm_open_checked();
	if (fd < 0)
		return VMM_EXIT_KVM_SETUP;
	printf("kernel: %s\napi-version: %ld\n", kvm_seam_name(), kvm_ioctl(fd, KVM_GET_API_VERSION, NULL));
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
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

_Noreturn void lab_todo(int lab, const char *name)
{
	fflush(stdout);
	fprintf(stderr, "vmm: lab %02d: %s() not implemented (exit status %d)\n", lab, name, VMM_EXIT_NOT_IMPLEMENTED);
	host_exit(VMM_EXIT_NOT_IMPLEMENTED);
}
