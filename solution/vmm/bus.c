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
	if (dev->len == 0 || dev->base + dev->len < dev->base)
		return -EINVAL;
	if (bus->nr_devices == BUS_MAX_DEVICES)
		return -ENOSPC;
	int pos = 0;
	while (pos < bus->nr_devices && bus->devices[pos].base < dev->base)
		pos++;
	/* Only the neighbours can overlap in a sorted list of disjoint ranges. */
	if (pos > 0 && bus->devices[pos - 1].base + bus->devices[pos - 1].len > dev->base)
		return -EEXIST;
	if (pos < bus->nr_devices && dev->base + dev->len > bus->devices[pos].base)
		return -EEXIST;
	memmove(&bus->devices[pos + 1], &bus->devices[pos],
		(size_t)(bus->nr_devices - pos) * sizeof(bus->devices[0]));
	bus->devices[pos] = *dev;
	bus->nr_devices++;
	return 0;
	// @stub lab_todo(3, "bus_register");
	// @end
}

const struct bus_device *bus_find(const struct bus *bus, uint64_t addr, unsigned size)
{
	// @lab 03 bus_find: Binary-search the device whose range holds [addr, addr + size).
	int lo = 0, hi = bus->nr_devices - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const struct bus_device *dev = &bus->devices[mid];
		if (addr < dev->base)
			hi = mid - 1;
		else if (addr - dev->base >= dev->len)
			lo = mid + 1;
		else /* an access straddling the end of a device belongs to nobody */
			return addr - dev->base + size <= dev->len ? dev : NULL;
	}
	return NULL;
	// @stub lab_todo(3, "bus_find");
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
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len;
	if (len != 1 && len != 2 && len != 4 && len != 8) {
		vm_stop(vcpu->vm, VMM_EXIT_INTERNAL_ERROR, "MMIO exit at 0x%llx with length %u",
			(unsigned long long)run->mmio.phys_addr, len);
		return EXIT_STOP;
	}
	if (run->mmio.is_write) {
		uint64_t value = 0;
		memcpy(&value, run->mmio.data, len);
		bus_write(&vcpu->vm->mmio_bus, vcpu, run->mmio.phys_addr, len, value);
	} else {
		uint64_t value = bus_read(&vcpu->vm->mmio_bus, vcpu, run->mmio.phys_addr, len);
		memcpy(run->mmio.data, &value, len);
	}
	return vm_stopping(vcpu->vm) ? EXIT_STOP : EXIT_CONTINUE;
	// @stub lab_todo(3, "handle_mmio");
	// @end
}
