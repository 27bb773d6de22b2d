/* SPDX-License-Identifier: MIT */
/*
 * The two ports every test guest uses, with Bochs' and QEMU's semantics:
 * 0xe9 prints a byte (Bochs port_e9_hack, QEMU isa-debugcon) and a write to
 * 0xf4 ends the VM with status (value << 1) | 1 (QEMU isa-debug-exit), so a
 * guest's own verdict becomes the VMM's exit status.
 */
#include <errno.h>
#include <stdlib.h>

#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "devices.h"

static uint64_t debugcon_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu, (void)opaque, (void)offset, (void)size;
	return ABI_DEBUGCON_PORT; /* reads back 0xe9, how guests detect the port */
}

static void debugcon_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)opaque, (void)offset, (void)size;
	char c = (char)value;
	vmm_output(vcpu->vm, &c, 1);
}

static void debug_exit_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)opaque, (void)offset;
	uint32_t v = (uint32_t)(size == 4 ? value : value & ((1u << (size * 8)) - 1));
	/* Exit statuses are 8 bits wide; keep the low 7 bits of the guest value. */
	vm_stop(vcpu->vm, (int)(((v & 0x7f) << 1) | 1), "guest exit through port 0x%x with value %u",
		ABI_DEBUG_EXIT_PORT, v);
}

static void debug_port_release(struct bus_device *dev)
{
	free(dev);
}

int debug_ports_init(struct vm *vm)
{
	static const struct bus_device ports[] = {
		{ .name = "debugcon", .base = ABI_DEBUGCON_PORT, .len = 1, .read = debugcon_read, .write = debugcon_write },
		{ .name = "debug-exit", .base = ABI_DEBUG_EXIT_PORT, .len = 4, .write = debug_exit_write },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
		struct bus_device *dev = malloc(sizeof(*dev));
		if (!dev)
			return -ENOMEM;
		*dev = ports[i];
		dev->release = debug_port_release;
		int r = bus_register(&vm->pio_bus, dev);
		if (r < 0) {
			free(dev);
			return r;
		}
	}
	return 0;
}
