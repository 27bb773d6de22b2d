/* SPDX-License-Identifier: MIT */
#include "../vmm.h"
#include "devices.h"

/* The board: every device the VMM plugs in, in order (the ROM uses testdev's state). */
static const struct {
	const char *name;
	int (*setup)(struct vm *vm);
} board[] = {
	{ "debug ports", debug_ports_setup },
	{ "uart8250", uart8250_setup },
	{ "testdev", testdev_setup },
	{ "rom", rom_setup },
};

int devices_setup(struct vm *vm)
{
	for (size_t i = 0; i < sizeof(board) / sizeof(board[0]); i++) {
		int r = board[i].setup(vm);
		if (r < 0) {
			vmm_error("setting up device %s: %s", board[i].name, kvm_strerror(r));
			return r;
		}
	}
	return 0;
}
