/* SPDX-License-Identifier: MIT */
/*
 * virtio devices (lab 09): a device model behind the virtio-mmio transport.
 *
 * The split is kvmtool's (virtio/core.c, virtio/mmio.c, virtio/blk.c,
 * virtio/console.c) and Linux's on the driver side (virtio_ring.c,
 * virtio_mmio.c, virtio_blk.c, virtio_console.c):
 *  - virtqueue.c is the ring, nothing else (§2.7);
 *  - mmio.c is the transport: the register file, the status machine and
 *    feature negotiation (§2.1, §2.2, §3.1, §4.2), notifications in
 *    (QueueNotify, an ioeventfd where KVM has one) and out (the interrupt);
 *  - core.c is what every device model shares: the guest-memory map of its
 *    rings, draining a queue, signalling used buffers, DEVICE_NEEDS_RESET;
 *  - console.c and blk.c are device types (§5.3, §5.2): what a chain means.
 *
 * Locking: every field below is guarded by the device's bus lock
 * (mmio.bus.lock), taken by the bus around register accesses and by the
 * device thread around queue work, so a register write never races a
 * request in progress.
 */
#ifndef KVMLABS_VMM_VIRTIO_VIRTIO_H
#define KVMLABS_VMM_VIRTIO_VIRTIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../bus.h"
#include "virtqueue.h"

struct vm;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES 2
/* QueueNumMax (§4.2.2): what each of our queues can be at most. */
#define VIRTIO_QUEUE_NUM_MAX 256

/* What makes a device type. */
struct virtio_dev_ops {
	const char *name;                  /* "virtio-blk": in messages */
	uint32_t device_id;                /* §5: VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE */
	uint64_t features;                 /* its own feature bits (§5.x.3); the transport adds §6's */
	unsigned int num_queues;
	/* Its configuration space (§4.2.2, Config at 0x100): bytes the guest
	 * reads at any width; writes are dropped (none of our fields is
	 * writable without a feature we do not offer). */
	const void *(*config)(struct virtio_dev *dev, uint32_t *size);
	/* Queue q may have available buffers: take them (virtio_queue_drain). */
	void (*queue_notify)(struct virtio_dev *dev, unsigned int q);
	/* Periodic work of the device thread (console input); NULL: none. */
	void (*poll)(struct virtio_dev *dev);
	/* The device was reset (Status = 0): forget requests in progress. */
	void (*reset)(struct virtio_dev *dev);
	/* Free what the device model allocated (the device is off its bus). */
	void (*release)(struct virtio_dev *dev);
};

/* One queue as the transport's registers describe it (§4.2.2). */
struct virtio_queue {
	uint32_t num;                      /* QueueNum */
	uint64_t desc, driver, device;     /* QueueDesc, QueueDriver, QueueDevice */
	bool ready;                        /* QueueReady: vq is set up */
	struct virtqueue vq;
};

struct virtio_dev_stats {
	atomic_uint_least64_t notifies;    /* QueueNotify writes that reached the device */
	atomic_uint_least64_t interrupts;  /* interrupts sent */
	atomic_uint_least64_t requests;    /* chains completed */
};

struct virtio_dev {
	struct vm *vm;
	const struct virtio_dev_ops *ops;
	void *priv;                        /* the device model's state */
	int slot, irq;

	/* The transport's registers (§4.2.2). */
	uint32_t status;
	uint64_t device_features;          /* ops->features + the transport's */
	uint64_t driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status;
	struct virtio_queue queues[VIRTIO_MAX_QUEUES];
	const char *reset_why;             /* why DEVICE_NEEDS_RESET was set */

	/* Notifications without the VMM's run loop: KVM signals `event` on a
	 * QueueNotify write (KVM_IOEVENTFD), the device thread serves it. */
	int event;
	struct host_thread *thread;
	struct bus_device mmio;
	struct virtio_dev_stats stats;
};

/* core.c */
/* The map of guest memory the rings and buffers live in: guest RAM only
 * (region 0), never the ROM, MMIO or RAM the guest may unplug. */
struct virtq_mem virtio_guest_memory(struct vm *vm);
/* Tell the driver about used buffers on queue q if it wants to hear
 * (virtq_should_notify): InterruptStatus bit 0 and the interrupt. */
void virtio_signal_used(struct virtio_dev *dev, unsigned int q);
/* The driver broke a rule: DEVICE_NEEDS_RESET (§2.1.2), InterruptStatus
 * bit 1 and the interrupt; no queue is served until a reset. */
void virtio_needs_reset(struct virtio_dev *dev, const char *why);
/* Whether the device may use its queues: DRIVER_OK and not NEEDS_RESET. */
bool virtio_live(const struct virtio_dev *dev);
/* Take every available chain on queue q with handle(), which returns the
 * bytes it wrote into the chain's device-writable buffers, or -1 if the
 * driver broke a rule (the device then needs a reset); push each, keep
 * notifications off while draining (§2.7.10), signal once at the end. */
void virtio_queue_drain(struct virtio_dev *dev, unsigned int q,
			int64_t (*handle)(struct virtio_dev *dev, struct virtq_chain *chain));
/* Copy len bytes at offset off of the chain's device-readable buffers to
 * buf (false if the buffers are shorter), and the reverse for the
 * device-writable ones. */
bool virtq_chain_read(const struct virtq_chain *chain, uint64_t off, void *buf, uint64_t len);
bool virtq_chain_write(const struct virtq_chain *chain, uint64_t off, const void *buf, uint64_t len);
uint64_t virtq_chain_out_len(const struct virtq_chain *chain);
uint64_t virtq_chain_in_len(const struct virtq_chain *chain);

/* mmio.c: the transport */
int virtio_mmio_register(struct vm *vm, struct virtio_dev *dev, int slot);
/* Registers below 0x100 (§4.2.2); exported for the unit tests. */
uint32_t virtio_mmio_read_reg(struct virtio_dev *dev, uint32_t offset);
void virtio_mmio_write_reg(struct virtio_dev *dev, uint32_t offset, uint32_t value);
void virtio_reset(struct virtio_dev *dev);

/* The device types. */
struct virtio_dev *virtio_console_create(struct vm *vm);
struct virtio_dev *virtio_blk_create(struct vm *vm, const char *path);

/* The "virtio" subsystem (stage 09): the board's virtio-mmio slots. */
int virtio_init(struct vm *vm);
void virtio_exit(struct vm *vm);

#endif
