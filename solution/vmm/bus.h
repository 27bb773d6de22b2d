/* SPDX-License-Identifier: MIT */
/*
 * The I/O bus: device ranges on the port (PIO) and memory (MMIO) address
 * spaces, like kvmtool's ioport/mmio trees and Linux's kvm_io_bus.
 */
#ifndef KVMLABS_BUS_H
#define KVMLABS_BUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct vcpu;

// @region bus_device
struct bus_device {
	const char *name;
	uint64_t base, len;
	void *opaque;
	/* size is 1, 2, 4 or 8; offset is relative to base. */
	uint64_t (*read)(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size);
	void (*write)(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value);
};
// @end

#define BUS_MAX_DEVICES 32

/* Devices sorted by base, so a lookup is a binary search. One lock serialises
 * device callbacks across vCPU threads (device models stay single-threaded). */
struct bus {
	const char *name;
	struct bus_device devices[BUS_MAX_DEVICES];
	int nr_devices;
	atomic_flag lock;
	uint64_t unassigned;      /* accesses that hit no device */
};

int bus_register(struct bus *bus, const struct bus_device *dev);
const struct bus_device *bus_find(const struct bus *bus, uint64_t addr, unsigned size);
/* Perform one access; unassigned reads return all-ones, writes are dropped. */
uint64_t bus_read(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size);
void bus_write(struct bus *bus, struct vcpu *vcpu, uint64_t addr, unsigned size, uint64_t value);

#endif
