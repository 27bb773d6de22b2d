// SPDX-License-Identifier: MIT
/*
 * Stand-in for the VMM, linked when solution/vmm/vmm.mk provides no VMM_SRCS.
 * It uses only what the real VMM may use (host.h, kvm_seam.h, the libc
 * subset), so the kernel, the archive and the runner can be tested alone:
 * it prints its argv, loads every argument that names an archived file, and
 * returns the number given by "--exit N" (default 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/host.h>
#include <kvmlabs/kvm_seam.h>
#include <kvmlabs/lab.h>
#include <kvmlabs/vmm_status.h>

int vmm_main(int argc, char **argv);

int vmm_main(int argc, char **argv)
{
	int status = 0;
	printf("standin-vmm: no VMM linked; %d argument(s)\n", argc);
	for (int i = 0; i < argc; i++) {
		printf("standin-vmm: argv[%d] = \"%s\"\n", i, argv[i]);
		if (!strcmp(argv[i], "--exit") && i + 1 < argc)
			status = (int)strtol(argv[i + 1], NULL, 0);
	}
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;
		char err[160];
		size_t size = 0;
		unsigned char *data = host_load_file(argv[i], 64 << 20, &size, err, sizeof(err));
		if (!data) {
			printf("standin-vmm: %s\n", err);
			continue;
		}
		unsigned int sum = 0;
		for (size_t j = 0; j < size; j++)
			sum += data[j];
		printf("standin-vmm: loaded %s: %zu bytes, byte sum %u\n", argv[i], size, sum);
		free(data);
	}
	int kvm = kvm_seam_open();
	printf("standin-vmm: kvm_seam_open() on %s = %d\n", kvm_seam_name(), kvm);
	if (kvm >= 0)
		kvm_seam_close(kvm);
	return status;
}

_Noreturn void lab_todo(int lab, const char *name)
{
	printf("lab %02d: %s() not implemented\n", lab, name);
	host_exit(VMM_EXIT_NOT_IMPLEMENTED);
}
