/* SPDX-License-Identifier: MIT */
/*
 * The I/O bus: device ranges on the port (PIO) and memory (MMIO) address
 * spaces, like kvmtool's ioport/mmio trees and Linux's kvm_io_bus.
 *
 * Locking, as in kvmtool's mmio.c: the bus lock guards the device array only
 * and is never held across a device callback. A look-up takes a reference on
 * the device under the bus lock, then calls the device under the device's own
 * lock; bus_unregister() takes the device off the array, and the last
 * reference to go — the bus's own, or that of an access still in flight —
 * releases it. So a device can be unregistered while a vCPU uses it, even
 * from inside its own callback. (Linux gets the same guarantee for
 * kvm_io_bus with SRCU: readers never wait, a writer publishes a new array.)
 */
#ifndef KVMLABS_BUS_H
#define KVMLABS_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vcpu;
struct host_mutex;

// @region bus_device
struct bus_device {
	const char *name;
	uint64_t base, len;
	void *opaque;
	/* size is 1, 2, 4 or 8; offset is relative to base. Called under the
	 * device's own lock: one access of the device at a time. */
	uint64_t (*read)(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size);
	void (*write)(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value);
	/* Called once the device is off its bus and no access is in flight;
	 * where a device model frees it. NULL: nothing to do. */
	void (*release)(struct bus_device *dev);
	/* The bus's bookkeeping (bus_register() sets them up). */
	struct host_mutex *lock;
	atomic_int refs;          /* 1 while registered, +1 per access in flight */
};
// @end

#define BUS_MAX_DEVICES 32

struct bus {
	const char *name;
	/* From lab 03 on sorted by base, so a look-up is a binary search;
	 * before, in the order the devices came. */
	struct bus_device *devices[BUS_MAX_DEVICES];
	int nr_devices;
	struct host_mutex *lock;  /* guards devices[] and nr_devices */
	atomic_uint_least64_t unassigned; /* accesses that hit no device */
};

int bus_init(struct bus *bus, const char *name);
/* Unregister every device left (then free the bus's lock). */
void bus_unregister_all(struct bus *bus);
void bus_exit(struct bus *bus);
/* Put dev on the bus: -EINVAL for an empty or wrapping range, -ENOSPC when
 * full, -EEXIST when it overlaps a device. dev stays the caller's: it must
 * live until its release(). */
int bus_register(struct bus *bus, struct bus_device *dev);
/* Take dev off the bus (-ENOENT if it is not on it); release() follows once
 * no access uses it any more. */
int bus_unregister(struct bus *bus, struct bus_device *dev);
/* Perform one access; unassigned reads return all-ones, writes are dropped. */
uint64_t bus_read(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size);
void bus_write(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size, uint64_t value);

/* Lab 03, called with bus->lock held: keep devices[] sorted, search it. */
int bus_insert(struct bus *bus, struct bus_device *dev);
struct bus_device *bus_find(const struct bus *bus, uint64_t addr, unsigned size);

#endif
