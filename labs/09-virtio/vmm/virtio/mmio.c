// SPDX-License-Identifier: MIT
/*
 * The virtio-mmio transport, version 2 (virtio 1.2 §4.2; kvmtool:
 * virtio/mmio-modern.c; Linux's driver side: drivers/virtio/virtio_mmio.c).
 *
 * A device is a 0x200-byte window of 32-bit registers (below 0x100) and its
 * configuration space (from 0x100). The driver brings it up in the order of
 * §3.1.1 — reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues,
 * DRIVER_OK — and this file enforces that order: the device is the one
 * that must not trust the other side.
 *
 * Decisions where the spec leaves the device a choice (the guests in
 * grader/guests/prot-virtio-*.c check each one):
 *  - Registers take 32-bit accesses only (§4.2.2.2: the driver MUST); other
 *    widths read 0 and writes are dropped.
 *  - A Status write that clears a bit (but for writing 0, the reset) or
 *    skips a step of §3.1.1 sets DEVICE_NEEDS_RESET; FAILED may come any
 *    time. FEATURES_OK for features we did not offer, or without
 *    VIRTIO_F_VERSION_1, is not kept (§2.2: the driver re-reads it).
 *  - QueueReady = 1 before FEATURES_OK, with a size that is not a power of
 *    2 up to QueueNumMax, or with a ring part outside guest RAM leaves the
 *    queue not ready. Queue registers of a ready queue are read-only.
 *  - A QueueNotify before DRIVER_OK, for a queue that is not ready or does
 *    not exist, is ignored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "virtio.h"

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" (§4.2.2) */
#define VIRTIO_MMIO_VENDOR  ABI_TESTDEV_MAGIC /* "KVML" */

/* The features of §6 every one of our devices offers. */
#define VIRTIO_TRANSPORT_FEATURES \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) | (1ull << VIRTIO_RING_F_EVENT_IDX))

static struct virtio_queue *selected_queue(struct virtio_dev *dev)
{
	return dev->queue_sel < dev->ops->num_queues ? &dev->queues[dev->queue_sel] : NULL;
}

void virtio_reset(struct virtio_dev *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	dev->status = 0;
	dev->driver_features = 0;
	dev->device_features_sel = dev->driver_features_sel = dev->queue_sel = 0;
	dev->interrupt_status = 0;
	dev->reset_why = NULL;
	memset(dev->queues, 0, sizeof(dev->queues));
}

static bool negotiated(const struct virtio_dev *dev, unsigned int bit)
{
	return dev->driver_features & (1ull << bit);
}

static void queue_set_ready(struct virtio_dev *dev, struct virtio_queue *q)
{
	// @lab 09 queue_set_ready: Set up queue q from its registers (QueueReady = 1), or leave it not ready.
	lab_todo(9, "queue_set_ready");
	// @end
}

/* The bits of §3.1.1 in the order a driver sets them. */
static const uint32_t status_order[] = {
	VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_FEATURES_OK, VIRTIO_CONFIG_S_DRIVER_OK,
};

static void status_write(struct virtio_dev *dev, uint32_t value)
{
	// @lab 09 status_write: A Status write: reset on 0, else the order of §3.1.1 (DEVICE_NEEDS_RESET when broken) and the feature check at FEATURES_OK.
	lab_todo(9, "status_write");
	// @end
}

/* The low or high half of a 64-bit register. */
static void set_half(uint64_t *reg, bool high, uint32_t value)
{
	*reg = high ? (*reg & 0xffffffffull) | (uint64_t)value << 32 : (*reg & ~0xffffffffull) | value;
}

uint32_t virtio_mmio_read_reg(struct virtio_dev *dev, uint32_t offset)
{
	struct virtio_queue *q = selected_queue(dev);
	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return dev->device_features_sel < 2 ? (uint32_t)(dev->device_features >> (32 * dev->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? VIRTIO_QUEUE_NUM_MAX : 0; /* 0: no such queue (§4.2.3.2) */
	case VIRTIO_MMIO_QUEUE_READY:
		return q && q->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return dev->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return 0; /* our configuration never changes while a driver reads it */
	default:
		return 0; /* write-only or reserved */
	}
}

void virtio_mmio_write_reg(struct virtio_dev *dev, uint32_t offset, uint32_t value)
{
	struct virtio_queue *q = selected_queue(dev);
	/* Queue registers of a ready queue, or of none, do not change. */
	bool q_writable = q && !q->ready;
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->device_features_sel = value;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* §3.1.1: features are written before FEATURES_OK, never after. */
		if (dev->driver_features_sel < 2 && !(dev->status & VIRTIO_CONFIG_S_FEATURES_OK))
			set_half(&dev->driver_features, dev->driver_features_sel == 1, value);
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->driver_features_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = value;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q_writable)
			q->num = value;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q && value == 1 && !q->ready)
			queue_set_ready(dev, q);
		else if (q && value == 0)
			q->ready = false; /* §4.2.2: the driver takes the queue back */
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		atomic_fetch_add(&dev->stats.notifies, 1);
		if (value < dev->ops->num_queues)
			dev->ops->queue_notify(dev, value);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		dev->interrupt_status &= ~value;
		break;
	case VIRTIO_MMIO_STATUS:
		status_write(dev, value);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q_writable)
			set_half(&q->desc, offset == VIRTIO_MMIO_QUEUE_DESC_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (q_writable)
			set_half(&q->driver, offset == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, value);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (q_writable)
			set_half(&q->device, offset == VIRTIO_MMIO_QUEUE_USED_HIGH, value);
		break;
	default:
		break; /* read-only or reserved */
	}
}

static uint64_t mmio_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu;
	struct virtio_dev *dev = opaque;
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint32_t len = 0;
		const uint8_t *config = dev->ops->config ? dev->ops->config(dev, &len) : NULL;
		uint64_t value = 0, at = offset - VIRTIO_MMIO_CONFIG;
		if (config && at < len)
			memcpy(&value, config + at, size < len - at ? size : len - at);
		return value;
	}
	if (size != 4)
		return 0;
	return virtio_mmio_read_reg(dev, (uint32_t)offset);
}

static void mmio_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	if (size != 4 || offset >= VIRTIO_MMIO_CONFIG)
		return;
	virtio_mmio_write_reg(opaque, (uint32_t)offset, (uint32_t)value);
}

/* The device thread: notifications through the ioeventfd, and the
 * device's periodic work. */
static void *virtio_thread(void *arg)
{
	struct virtio_dev *dev = arg;
	while (!vm_stopping(dev->vm)) {
		long n = host_event_wait(dev->event, 20);
		host_mutex_lock(dev->mmio.lock);
		if (n > 0) {
			atomic_fetch_add(&dev->stats.notifies, (uint64_t)n);
			for (unsigned int q = 0; q < dev->ops->num_queues; q++)
				dev->ops->queue_notify(dev, q);
		}
		if (dev->ops->poll)
			dev->ops->poll(dev);
		host_mutex_unlock(dev->mmio.lock);
	}
	return NULL;
}

static int ioeventfd(struct virtio_dev *dev, unsigned int q, bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = q, .addr = dev->mmio.base + VIRTIO_MMIO_QUEUE_NOTIFY, .len = 4, .fd = dev->event,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	return (int)kvm_ioctl(dev->vm->vm_fd, KVM_IOEVENTFD, &io);
}

/* QueueNotify as an ioeventfd for each queue, served by the device thread,
 * where KVM and the host have them; else (minikvm, --no-ioeventfd) the
 * notification is an MMIO exit served in the vCPU thread. */
static void notify_setup(struct virtio_dev *dev)
{
	struct vm *vm = dev->vm;
	dev->event = -1;
	if (!vm->opt->ioeventfd || !vm_has_cap(vm, KVM_CAP_IOEVENTFD) || host_max_threads() < 2)
		return;
	dev->event = host_event_create();
	if (dev->event < 0)
		return;
	unsigned int q = 0;
	while (q < dev->ops->num_queues && ioeventfd(dev, q, true) == 0)
		q++;
	if (q == dev->ops->num_queues && host_thread_start(&dev->thread, virtio_thread, dev) == 0)
		return;
	while (q-- > 0)
		ioeventfd(dev, q, false);
	host_event_close(dev->event);
	dev->event = -1;
}

static void mmio_release(struct bus_device *bus_dev)
{
	struct virtio_dev *dev = bus_dev->opaque;
	if (dev->ops->release)
		dev->ops->release(dev);
	free(dev);
}

int virtio_mmio_register(struct vm *vm, struct virtio_dev *dev, int slot)
{
	dev->vm = vm;
	dev->slot = slot;
	dev->device_features = dev->ops->features | VIRTIO_TRANSPORT_FEATURES;
	if (!vm->opt->event_idx)
		dev->device_features &= ~(1ull << VIRTIO_RING_F_EVENT_IDX);
	dev->irq = irq_request(vm, ABI_VIRTIO_IRQ(slot), dev->ops->name);
	if (dev->irq < 0)
		return dev->irq;
	dev->mmio = (struct bus_device){
		.name = dev->ops->name, .base = ABI_VIRTIO_MMIO_GPA + (uint64_t)slot * ABI_VIRTIO_MMIO_SIZE,
		.len = ABI_VIRTIO_MMIO_SIZE, .opaque = dev, .read = mmio_read, .write = mmio_write,
		.release = mmio_release,
	};
	int r = bus_register(&vm->mmio_bus, &dev->mmio);
	if (r < 0)
		return r;
	notify_setup(dev);
	return 0;
}

/* The device thread ends with the VM (vm_stopping()); then the ioeventfds
 * go, then the device (its release() once the bus lets it go). */
static void virtio_mmio_unregister(struct vm *vm, struct virtio_dev *dev)
{
	if (dev->thread)
		host_thread_join(dev->thread);
	if (dev->event >= 0) {
		for (unsigned int q = 0; q < dev->ops->num_queues; q++)
			ioeventfd(dev, q, false);
		host_event_close(dev->event);
	}
	uint64_t requests = atomic_load(&dev->stats.requests);
	if (requests || vm->opt->trace)
		fprintf(stderr, "vmm: %s: %llu requests, %llu notifications, %llu interrupts\n", dev->ops->name,
			(unsigned long long)requests, (unsigned long long)atomic_load(&dev->stats.notifies),
			(unsigned long long)atomic_load(&dev->stats.interrupts));
	bus_unregister(&vm->mmio_bus, &dev->mmio);
}

/* The "virtio" subsystem: the console always, the disk with --disk. */
int virtio_init(struct vm *vm)
{
	struct virtio_dev *devs[ABI_VIRTIO_SLOTS] = { 0 };
	devs[ABI_VIRTIO_CONSOLE] = virtio_console_create(vm);
	if (!devs[ABI_VIRTIO_CONSOLE])
		return -ENOMEM;
	if (vm->opt->disk) {
		devs[ABI_VIRTIO_BLK] = virtio_blk_create(vm, vm->opt->disk);
		if (!devs[ABI_VIRTIO_BLK]) {
			devs[ABI_VIRTIO_CONSOLE]->ops->release(devs[ABI_VIRTIO_CONSOLE]);
			free(devs[ABI_VIRTIO_CONSOLE]);
			return -EINVAL; /* virtio_blk_create() said why */
		}
	}
	for (int slot = 0; slot < ABI_VIRTIO_SLOTS; slot++) {
		if (!devs[slot])
			continue;
		int r = virtio_mmio_register(vm, devs[slot], slot);
		if (r < 0) {
			vm_stop(vm, VMM_EXIT_KVM_SETUP, "setting up %s: %s", devs[slot]->ops->name, vmm_strerror(r));
			for (int s = slot; s < ABI_VIRTIO_SLOTS; s++) {
				if (devs[s]) {
					if (devs[s]->ops->release)
						devs[s]->ops->release(devs[s]);
					free(devs[s]);
				}
			}
			virtio_exit(vm);
			return r;
		}
		vm->virtio[slot] = devs[slot];
	}
	return 0;
}

void virtio_exit(struct vm *vm)
{
	for (int slot = 0; slot < ABI_VIRTIO_SLOTS; slot++) {
		if (vm->virtio[slot])
			virtio_mmio_unregister(vm, vm->virtio[slot]);
		vm->virtio[slot] = NULL;
	}
}
