// SPDX-License-Identifier: MIT
/*
 * What every virtio device model shares (kvmtool: virtio/core.c): the map
 * of guest memory its rings live in, the drain loop, used-buffer
 * notifications and DEVICE_NEEDS_RESET.
 */
#include <stdio.h>
#include <string.h>

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>

#include "../vmm.h"
#include "virtio.h"

/* Guest RAM only: a ring or buffer in the ROM slot would be written behind
 * KVM's back, and hot-plugged RAM can go while a device thread uses it. */
static void *ram_map(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	struct vm *vm = opaque;
	(void)write;
	uint64_t size = vm->opt->mem_size;
	if (gpa > size || len > size - gpa)
		return NULL;
	return vm->ram + gpa;
}

struct virtq_mem virtio_guest_memory(struct vm *vm)
{
	return (struct virtq_mem){ .opaque = vm, .map = ram_map };
}

bool virtio_live(const struct virtio_dev *dev)
{
	return (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void virtio_interrupt(struct virtio_dev *dev, uint32_t why)
{
	dev->interrupt_status |= why;
	atomic_fetch_add(&dev->stats.interrupts, 1);
	irq_raise(dev->vm, dev->irq);
}

void virtio_signal_used(struct virtio_dev *dev, unsigned int q)
{
	if (virtq_should_notify(&dev->queues[q].vq))
		virtio_interrupt(dev, VIRTIO_MMIO_INT_VRING);
	else if (dev->queues[q].vq.broken)
		virtio_needs_reset(dev, dev->queues[q].vq.broken_why);
}

void virtio_needs_reset(struct virtio_dev *dev, const char *why)
{
	if (dev->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	dev->reset_why = why;
	/* On stderr, once per reset: the guest's own test may want exactly this. */
	fprintf(stderr, "vmm: %s: device needs reset: %s\n", dev->ops->name, why);
	virtio_interrupt(dev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_queue_drain(struct virtio_dev *dev, unsigned int q,
			int64_t (*handle)(struct virtio_dev *dev, struct virtq_chain *chain))
{
	struct virtio_queue *queue = &dev->queues[q];
	struct virtqueue *vq = &queue->vq;
	/* About 4 KiB, on the stack: two devices' threads may drain at once. */
	struct virtq_chain chain;
	bool pushed = false;

	if (!virtio_live(dev) || !queue->ready)
		return;
	/* §2.7.10: no notifications while we are draining anyway; back on
	 * before the last look, so a buffer added after it is notified. */
	virtq_enable_notify(vq, false);
	for (;;) {
		int r = virtq_pop(vq, &chain);
		if (r == 0) {
			virtq_enable_notify(vq, true);
			r = virtq_pop(vq, &chain);
			if (r == 0)
				break;
			virtq_enable_notify(vq, false);
		}
		if (r < 0)
			break;
		int64_t written = handle(dev, &chain);
		if (written < 0) {
			virtio_needs_reset(dev, dev->reset_why ? dev->reset_why : "request the device cannot parse");
			return;
		}
		if (virtq_push(vq, chain.head, (uint32_t)written) < 0)
			break;
		atomic_fetch_add(&dev->stats.requests, 1);
		pushed = true;
	}
	if (queue->vq.broken) {
		virtio_needs_reset(dev, queue->vq.broken_why);
		return;
	}
	if (pushed)
		virtio_signal_used(dev, q);
}

uint64_t virtq_chain_out_len(const struct virtq_chain *chain)
{
	uint64_t n = 0;
	for (unsigned int i = 0; i < chain->n_out; i++)
		n += chain->bufs[i].len;
	return n;
}

uint64_t virtq_chain_in_len(const struct virtq_chain *chain)
{
	uint64_t n = 0;
	for (unsigned int i = chain->n_out; i < chain->n_out + chain->n_in; i++)
		n += chain->bufs[i].len;
	return n;
}

/* Copy between buf and the bytes [off, off + len) of the buffers
 * first..first+count, as if they were one array. */
static bool chain_copy(const struct virtq_chain *chain, unsigned int first, unsigned int count, uint64_t off,
		       void *buf, uint64_t len, bool to_guest)
{
	uint8_t *p = buf;
	for (unsigned int i = first; i < first + count && len; i++) {
		const struct virtq_buf *b = &chain->bufs[i];
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		uint64_t n = b->len - off < len ? b->len - off : len;
		if (to_guest)
			memcpy((uint8_t *)b->host + off, p, n);
		else
			memcpy(p, (const uint8_t *)b->host + off, n);
		p += n;
		len -= n;
		off = 0;
	}
	return len == 0;
}

bool virtq_chain_read(const struct virtq_chain *chain, uint64_t off, void *buf, uint64_t len)
{
	return chain_copy(chain, 0, chain->n_out, off, buf, len, false);
}

bool virtq_chain_write(const struct virtq_chain *chain, uint64_t off, const void *buf, uint64_t len)
{
	return chain_copy(chain, chain->n_out, chain->n_in, off, (void *)buf, len, true);
}
