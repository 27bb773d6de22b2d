/* SPDX-License-Identifier: MIT */
/*
 * A split virtqueue as the device side sees it (virtio 1.2 §2.7; kvmtool:
 * virtio/core.c, struct virt_queue; Linux: drivers/vhost/vringh.c). The ring's
 * three parts live in guest memory at the addresses the driver wrote to the
 * transport; every access goes through the queue's memory map, which refuses
 * what is not guest RAM, so a hostile driver can make a request fail or the
 * device need a reset, never make the VMM read or write outside the guest.
 */
#ifndef KVMLABS_VMM_VIRTIO_VIRTQUEUE_H
#define KVMLABS_VMM_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

/* Guest memory for the queue: a host pointer to len bytes at gpa, or NULL
 * if they are not all guest RAM (write: the device will write them). */
struct virtq_mem {
	void *opaque;
	void *(*map)(void *opaque, uint64_t gpa, uint64_t len, bool write);
};

/* The longest chain a device takes: a queue's size bounds it anyway
 * (§2.7.5.3.1: a chain longer than the queue is the driver's error). */
#define VIRTQ_MAX_CHAIN 128

struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;               /* device-writable (VIRTQ_DESC_F_WRITE) */
	void *host;               /* the map of gpa..+len */
};

/* One available chain: its head (the id to give back) and its buffers, the
 * device-readable ones first, then the device-writable ones (§2.7.4.2). */
struct virtq_chain {
	uint16_t head;
	unsigned int n_out, n_in;
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

struct virtqueue {
	uint16_t num;             /* size: a power of 2, at most 32768 (§2.7) */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx;           /* VIRTIO_F_EVENT_IDX negotiated (§2.7.10) */
	bool indirect;            /* VIRTIO_F_INDIRECT_DESC negotiated (§2.7.5.3) */
	uint16_t last_avail_idx;  /* the next available entry the device takes */
	uint16_t used_idx;        /* the device's used index (what used->idx will say) */
	uint16_t signalled_used;  /* used_idx when the driver was last notified */
	bool signalled_used_valid;
	/* The driver broke the ring's rules: the device needs a reset
	 * (DEVICE_NEEDS_RESET, §2.1.2), and why, for the log. */
	bool broken;
	const char *broken_why;
	struct virtq_mem mem;
};

/* Set up a queue the driver has described (its size and three addresses),
 * with the negotiated features; -1 (and broken) if the parts are not all in
 * guest RAM or the size is not a power of 2. */
int virtq_init(struct virtqueue *vq, uint16_t num, uint64_t desc, uint64_t avail, uint64_t used, bool event_idx,
	       bool indirect, struct virtq_mem mem);
/* The next available chain: 1 with *chain filled, 0 if none, -1 if the
 * driver broke the rules (loops, a chain longer than the queue, out-of-range
 * indices or addresses, an indirect table inside an indirect one, a
 * readable buffer after a writable one, an avail index more than num ahead):
 * vq->broken set. */
int virtq_pop(struct virtqueue *vq, struct virtq_chain *chain);
/* Give a chain back: used element (head, bytes written), used->idx advanced
 * after the element is in place (§2.7.8). */
int virtq_push(struct virtqueue *vq, uint16_t head, uint32_t len);
/* Must the device notify the driver of used buffers now (§2.7.7.2: the
 * avail ring's NO_INTERRUPT flag, or with EVENT_IDX used_event)? Records
 * the notification when it says yes. */
bool virtq_should_notify(struct virtqueue *vq);
/* Does the device want notifications of available buffers (§2.7.10:
 * used->flags NO_NOTIFY, or with EVENT_IDX avail_event set to the next
 * entry)? */
void virtq_enable_notify(struct virtqueue *vq, bool enable);

/* The event-index test (§2.7.7.2; Linux's vring_need_event): has new_idx
 * moved past event_idx since old? All 16-bit, wrapping. */
bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old);

#endif
