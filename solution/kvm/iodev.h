/* SPDX-License-Identifier: MIT */
/*
 * In-kernel devices on minikvm's I/O buses (Linux: include/kvm/iodev.h and
 * the kvm_io_bus of virt/kvm/kvm_main.c). A port or MMIO access a device of
 * the in-kernel irqchip (lab 08) claims is served inside minikvm and never
 * reaches the VMM: the PIC at ports 0x20/0xa0, the PIT at 0x40-0x43, the
 * IOAPIC's and each LAPIC's MMIO pages.
 */
#ifndef KVMLABS_KVM_IODEV_H
#define KVMLABS_KVM_IODEV_H

#include <stdint.h>

struct kvm;
struct kvm_vcpu;
struct kvm_io_device;

/* read/write return 0 when the device took the access, -EOPNOTSUPP when it is
 * not the device's (another device, or userspace, gets it). */
struct kvm_io_device_ops {
	int (*read)(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val);
	int (*write)(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, const void *val);
};

struct kvm_io_device {
	const struct kvm_io_device_ops *ops;
};

enum kvm_bus { KVM_MMIO_BUS, KVM_PIO_BUS, KVM_NR_BUSES };

#define KVM_IO_BUS_MAX_DEVS 8

struct kvm_io_range {
	uint64_t addr;
	int len;
	struct kvm_io_device *dev;
};

struct kvm_io_bus {
	int dev_count;
	struct kvm_io_range range[KVM_IO_BUS_MAX_DEVS];
};

/* kvm_main.c. register: -ENOSPC when the bus is full. read/write: 0 when a
 * device took the access, -EOPNOTSUPP when none did. */
int kvm_io_bus_register_dev(struct kvm *kvm, enum kvm_bus bus, uint64_t addr, int len, struct kvm_io_device *dev);
void kvm_io_bus_unregister_dev(struct kvm *kvm, enum kvm_bus bus, struct kvm_io_device *dev);
int kvm_io_bus_write(struct kvm_vcpu *vcpu, enum kvm_bus bus, uint64_t addr, int len, const void *val);
int kvm_io_bus_read(struct kvm_vcpu *vcpu, enum kvm_bus bus, uint64_t addr, int len, void *val);

#endif
