// SPDX-License-Identifier: MIT
/*
 * The host kernel's C entry: bring up the console, CPU tables and memory,
 * read the guest archive, then hand the machine to the VMM:
 * vmm_main(argc, argv) runs on top of minikvm exactly as the Linux build runs
 * on /dev/kvm, and its return value is the exit status of the whole run.
 */
#include <stdint.h>
#include <stdio.h>

#include <kvmlabs/host.h>
#include <kvmlabs/kvm_seam.h>
#include <kvmlabs/vmm_status.h>
#include <x86/insns.h>
#include "archive.h"
#include "boot_info.h"
#include "clock.h"
#include "console.h"
#include "cpu.h"
#include "memory.h"
#include "native_linux.h"
#include "panic.h"
#include "selftest.h"

_Noreturn void kmain(struct boot_info *bi);

static void print_boot_details(const struct boot_info *bi, int argc, char **argv)
{
	memory_print_map(bi);
	printf("kvmlabs-host: kernel %p-%p, archive %#lx-%#lx (%lu bytes), %lu pages free\n",
	       (void *)kernel_start, (void *)kernel_end, bi->archive_addr,
	       bi->archive_addr + bi->archive_size, bi->archive_size, memory_free_pages());
	for (size_t i = 0; i < archive_entry_count(); i++)
		printf("kvmlabs-host: file %s (%lu bytes)\n", archive_entry(i)->name, archive_entry(i)->size);
	for (int i = 0; i < argc; i++)
		printf("kvmlabs-host: argv[%d] = %s\n", i, argv[i]);
	printf("kvmlabs-host: in C %lu ms (emulated) after power-on\n",
	       rdtsc() / (clock_tsc_hz() / 1000));
}

_Noreturn void kmain(struct boot_info *bi)
{
	console_init();
	cpu_init();
	if (bi->magic != BOOT_INFO_MAGIC)
		host_panic("no boot information from the boot code");
	memory_init(bi);
	clock_init();

	int argc;
	char **argv;
	const char *why = archive_init(bi, &argc, &argv);
	if (why)
		host_panic("guest archive unusable: %s", why);

	uint32_t flags = archive_flags();
	printf("kvmlabs-host: %lu MiB RAM, TSC %lu MHz, %zu guest file(s), VMM on %s\n",
	       memory_ram_bytes() >> 20, clock_tsc_hz() / 1000000, archive_entry_count(), kvm_seam_name());
	if (flags & ARCHIVE_FLAG_VERBOSE)
		print_boot_details(bi, argc, argv);
	if (flags & ARCHIVE_FLAG_SELFTEST)
		selftest_run();
	if (flags & ARCHIVE_FLAG_FAULT)
		selftest_fault();
	if (flags & ARCHIVE_FLAG_OVERFLOW)
		selftest_stack_overflow();
	if (flags & ARCHIVE_FLAG_HANG)
		selftest_hang();
	if (flags & ARCHIVE_FLAG_TRIPLE)
		selftest_triple_fault();
	if (flags & ARCHIVE_FLAG_NATIVE_LINUX)
		native_linux_boot(bi->archive_addr + bi->archive_size, memory_ram_bytes(), argc, argv);

	host_exit(vmm_main(argc, argv));
}
