/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: the device bus and MMIO exits. A PIO exit carries a port, an MMIO
 * exit a guest-physical address that no memslot backs (api.rst 5,
 * KVM_EXIT_MMIO); both end up here, at the device that owns the address.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm.h"

static void bus_lock(struct bus *bus)
{
	while (atomic_flag_test_and_set_explicit(&bus->lock, memory_order_acquire))
		;
}

static void bus_unlock(struct bus *bus)
{
	atomic_flag_clear_explicit(&bus->lock, memory_order_release);
}

int bus_register(struct bus *bus, const struct bus_device *dev)
{
	// @lab 03 bus_register: Insert dev keeping devices sorted by base; refuse overlaps (-EEXIST).
	lab_todo(3, "bus_register");
	// @end
}

const struct bus_device *bus_find(const struct bus *bus, uint64_t addr, unsigned size)
{
	// @lab 03 bus_find: Binary-search the device whose range holds [addr, addr + size).
	lab_todo(3, "bus_find");
	// @end
}

uint64_t bus_read(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size)
{
	const struct bus_device *dev = bus_find(bus, addr, size);
	uint64_t value = ~0ull; /* an unassigned read floats high, as on a PC */
	bus_lock(bus);
	if (dev && dev->read)
		value = dev->read(vcpu, dev->opaque, addr - dev->base, size);
	else
		bus->unassigned++;
	bus_unlock(bus);
	return size == 8 ? value : value & ((1ull << (size * 8)) - 1);
}

void bus_write(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size, uint64_t value)
{
	const struct bus_device *dev = bus_find(bus, addr, size);
	bus_lock(bus);
	if (dev && dev->write)
		dev->write(vcpu, dev->opaque, addr - dev->base, size, value);
	else
		bus->unassigned++;
	bus_unlock(bus);
}

enum exit_action handle_mmio(struct vcpu *vcpu)
{
	// @lab 03 handle_mmio: Serve an MMIO exit through the MMIO bus (reads fill mmio.data).
	lab_todo(3, "handle_mmio");
	// @end
}
