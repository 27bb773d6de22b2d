/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: the device bus and MMIO exits. A PIO exit carries a port, an MMIO
 * exit a guest-physical address that no memslot backs (api.rst 5,
 * KVM_EXIT_MMIO); both end up here, at the device that owns the address.
 * bus.h explains the locking.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm.h"

// @lab 03 bus_helpers: Your own types and static helpers for this file.
// @stub /* your helpers */
// @end

int bus_insert(struct bus *bus, struct bus_device *dev)
{
	// @lab 03 bus_insert: Insert dev keeping devices sorted by base; refuse overlaps (-EEXIST).
	if (dev->len == 0 || dev->base + dev->len < dev->base)
		return -EINVAL;
	if (bus->nr_devices == BUS_MAX_DEVICES)
		return -ENOSPC;
	int pos = 0;
	while (pos < bus->nr_devices && bus->devices[pos]->base < dev->base)
		pos++;
	/* Only the neighbours can overlap in a sorted list of disjoint ranges. */
	if (pos > 0 && bus->devices[pos - 1]->base + bus->devices[pos - 1]->len > dev->base)
		return -EEXIST;
	if (pos < bus->nr_devices && dev->base + dev->len > bus->devices[pos]->base)
		return -EEXIST;
	memmove(&bus->devices[pos + 1], &bus->devices[pos],
		(size_t)(bus->nr_devices - pos) * sizeof(bus->devices[0]));
	bus->devices[pos] = dev;
	bus->nr_devices++;
	return 0;
	// @stub lab_todo(3, "bus_insert");
	// @end
}

struct bus_device *bus_find(const struct bus *bus, uint64_t addr, unsigned size)
{
	// @lab 03 bus_find: Binary-search the device whose range holds [addr, addr + size).
	int lo = 0, hi = bus->nr_devices - 1;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct bus_device *dev = bus->devices[mid];
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

/* Before lab 03 a bus is a plain list: devices in the order they came, found
 * by a scan, overlaps not checked. The board of stages 01-02 is small and
 * fixed, so that is all it needs. */
static int bus_append(struct bus *bus, struct bus_device *dev)
{
	if (bus->nr_devices == BUS_MAX_DEVICES)
		return -ENOSPC;
	bus->devices[bus->nr_devices++] = dev;
	return 0;
}

static struct bus_device *bus_scan(const struct bus *bus, uint64_t addr, unsigned size)
{
	for (int i = 0; i < bus->nr_devices; i++) {
		struct bus_device *dev = bus->devices[i];
		if (addr >= dev->base && addr - dev->base < dev->len && addr - dev->base + size <= dev->len)
			return dev;
	}
	return NULL;
}

int bus_init(struct bus *bus, const char *name)
{
	*bus = (struct bus){ .name = name, .lock = host_mutex_create() };
	return bus->lock ? 0 : -ENOMEM;
}

static void bus_device_put(struct bus_device *dev)
{
	if (atomic_fetch_sub(&dev->refs, 1) != 1)
		return;
	host_mutex_destroy(dev->lock);
	dev->lock = NULL;
	if (dev->release)
		dev->release(dev);
}

int bus_register(struct bus *bus, struct bus_device *dev)
{
	dev->lock = host_mutex_create();
	if (!dev->lock)
		return -ENOMEM;
	atomic_store(&dev->refs, 1); /* the bus's reference */
	host_mutex_lock(bus->lock);
	int r = LAB_ENABLED(3) ? bus_insert(bus, dev) : bus_append(bus, dev);
	host_mutex_unlock(bus->lock);
	if (r < 0) {
		host_mutex_destroy(dev->lock);
		dev->lock = NULL;
	}
	return r;
}

int bus_unregister(struct bus *bus, struct bus_device *dev)
{
	host_mutex_lock(bus->lock);
	int pos = 0;
	while (pos < bus->nr_devices && bus->devices[pos] != dev)
		pos++;
	bool found = pos < bus->nr_devices;
	if (found) {
		memmove(&bus->devices[pos], &bus->devices[pos + 1],
			(size_t)(bus->nr_devices - pos - 1) * sizeof(bus->devices[0]));
		bus->nr_devices--;
	}
	host_mutex_unlock(bus->lock);
	if (!found)
		return -ENOENT;
	bus_device_put(dev); /* the bus's reference; an access in flight keeps its own */
	return 0;
}

void bus_unregister_all(struct bus *bus)
{
	if (!bus->lock)
		return;
	while (bus->nr_devices > 0)
		bus_unregister(bus, bus->devices[bus->nr_devices - 1]);
}

void bus_exit(struct bus *bus)
{
	bus_unregister_all(bus);
	host_mutex_destroy(bus->lock);
	bus->lock = NULL;
}

/* The device of an access, with a reference taken under the bus lock: it stays
 * valid after the lock is dropped, even if it is unregistered meanwhile. */
static struct bus_device *bus_get(struct bus *bus, uint64_t addr, unsigned size)
{
	host_mutex_lock(bus->lock);
	struct bus_device *dev = LAB_ENABLED(3) ? bus_find(bus, addr, size) : bus_scan(bus, addr, size);
	if (dev)
		atomic_fetch_add(&dev->refs, 1);
	else
		atomic_fetch_add(&bus->unassigned, 1);
	host_mutex_unlock(bus->lock);
	return dev;
}

uint64_t bus_read(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size)
{
	uint64_t value = ~0ull; /* an unassigned read floats high, as on a PC */
	struct bus_device *dev = bus_get(bus, addr, size);
	if (dev) {
		host_mutex_lock(dev->lock);
		if (dev->read)
			value = dev->read(vcpu, dev->opaque, addr - dev->base, size);
		host_mutex_unlock(dev->lock);
		bus_device_put(dev);
	}
	return size == 8 ? value : value & ((1ull << (size * 8)) - 1);
}

void bus_write(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size, uint64_t value)
{
	struct bus_device *dev = bus_get(bus, addr, size);
	if (dev) {
		host_mutex_lock(dev->lock);
		if (dev->write)
			dev->write(vcpu, dev->opaque, addr - dev->base, size, value);
		host_mutex_unlock(dev->lock);
		bus_device_put(dev);
	}
}

enum exit_action handle_mmio(struct vcpu *vcpu)
{
	// @lab 03 handle_mmio: Serve an MMIO exit through the MMIO bus (reads fill mmio.data).
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len;
	uint64_t addr = run->mmio.phys_addr;
	/* An access that crosses a page boundary reaches us split at that
	 * boundary, one exit per MMIO part (KVM's emulator_read_write()), so any
	 * length from 1 to 8 comes (api.rst 5, KVM_EXIT_MMIO: data[8]). Devices
	 * take 1, 2, 4 or 8 bytes, at any alignment: pass those on whole, and
	 * serve a 3, 5, 6 or 7 as naturally aligned pieces in address order, as
	 * QEMU's access_with_adjusted_size() splits what a device cannot take. */
	if (len == 0 || len > sizeof(run->mmio.data)) {
		vm_stop(vcpu->vm, VMM_EXIT_INTERNAL_ERROR, "MMIO exit at 0x%llx with length %u (KVM gives 1 to 8)",
			(unsigned long long)addr, len);
		return EXIT_STOP;
	}
	bool whole = !(len & (len - 1));
	for (unsigned done = 0, size; done < len; done += size) {
		for (size = whole ? len : 8; size > len - done || (!whole && ((addr + done) & (size - 1))); size /= 2)
			;
		if (run->mmio.is_write) {
			uint64_t value = 0;
			memcpy(&value, run->mmio.data + done, size);
			bus_write(&vcpu->vm->mmio_bus, vcpu, addr + done, size, value);
		} else {
			uint64_t value = bus_read(&vcpu->vm->mmio_bus, vcpu, addr + done, size);
			memcpy(run->mmio.data + done, &value, size);
		}
	}
	return vm_stopping(vcpu->vm) ? EXIT_STOP : EXIT_CONTINUE;
	// @stub lab_todo(3, "handle_mmio");
	// @end
}
