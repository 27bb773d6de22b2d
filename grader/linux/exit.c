// SPDX-License-Identifier: MIT
/*
 * kvmlabs-exit VALUE: end the VM through the kit's debug-exit port
 * (guest_abi.h ABI_DEBUG_EXIT_PORT): the VMM exits with (VALUE << 1) | 1.
 * The capstone's /init runs it last; Linux without ACPI has no other way
 * to power a PC off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

#include <kvmlabs/guest_abi.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kvmlabs-exit VALUE\n");
		return 2;
	}
	if (ioperm(ABI_DEBUG_EXIT_PORT, 4, 1) < 0) {
		perror("kvmlabs-exit: ioperm");
		return 1;
	}
	outl((unsigned int)strtoul(argv[1], NULL, 0), ABI_DEBUG_EXIT_PORT);
	fprintf(stderr, "kvmlabs-exit: the VMM did not end the VM\n");
	return 1;
}
