/* SPDX-License-Identifier: MIT */
/*
 * The board: every device the VMM plugs in, in order (kvmtool's dev_init
 * list). Each device model allocates its state, registers it on a bus and
 * frees it in its release(), once it is off the bus and idle. The order is
 * the order devices come up in, not the order of their addresses, as on any
 * real board: the bus keeps itself sorted.
 */
#include "../vmm.h"
#include "devices.h"

static const struct {
	const char *name;
	int (*init)(struct vm *vm);
} board[] = {
	{ "testdev", testdev_init }, /* ports 0x700-0x70f, the test MMIO window and the ROM */
	{ "uart8250", uart8250_init },
	{ "debug ports", debug_ports_init },
	/* What QEMU gives the kvm-unit-tests x86 images (guest_abi.h). */
	{ "fw_cfg", fw_cfg_init },
	{ "pc-testdev", pc_testdev_init },
};

/* The "devices" subsystem. */
int devices_init(struct vm *vm)
{
	for (size_t i = 0; i < ARRAY_SIZE(board); i++) {
		int r = board[i].init(vm);
		if (r < 0) {
			vm_stop(vm, VMM_EXIT_KVM_SETUP, "setting up device %s: %s", board[i].name, vmm_strerror(r));
			devices_exit(vm);
			return r;
		}
	}
	return 0;
}

/* Later subsystems took their own devices down before: what is left on the
 * buses is the board's. */
void devices_exit(struct vm *vm)
{
	bus_unregister_all(&vm->mmio_bus);
	bus_unregister_all(&vm->pio_bus);
}
