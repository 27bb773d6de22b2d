// SPDX-License-Identifier: MIT
/*
 * virtio-console with one port (virtio 1.2 §5.3; kvmtool: virtio/console.c;
 * the driver: Linux's drivers/char/virtio_console.c, hvc0). The worked
 * example of a device model: a queue per direction, no feature of its own.
 *
 * transmitq (1): each device-readable buffer is guest output, printed as the
 * UART's is (vmm_output()); nothing is written back, so used len is 0.
 * receiveq (0): host console input fills device-writable buffers. A chain is
 * taken only when there is input for it, so with no input the driver's
 * buffers stay available. Input goes to whoever asks first: the UART when
 * the guest polls it, or this device, whose thread polls every 20 ms where
 * there is one (else when the driver notifies the receiveq).
 */
#include <stdlib.h>

#include <linux/virtio_console.h>
#include <linux/virtio_ids.h>

#include "../vmm.h"
#include "virtio.h"

enum { CONSOLE_RXQ, CONSOLE_TXQ, CONSOLE_QUEUES };

struct console {
	struct virtio_console_config config;
	int pending;              /* a byte of input read but not yet delivered, or -1 */
};

static const void *console_config(struct virtio_dev *dev, uint32_t *size)
{
	struct console *con = dev->priv;
	*size = sizeof(con->config);
	return &con->config;
}

static int64_t console_tx(struct virtio_dev *dev, struct virtq_chain *chain)
{
	for (unsigned int i = 0; i < chain->n_out; i++)
		if (chain->bufs[i].len)
			vmm_output(dev->vm, chain->bufs[i].host, chain->bufs[i].len);
	return 0;
}

/* Deliver waiting input into receive buffers, one chain at a time. */
static void console_rx(struct virtio_dev *dev)
{
	struct console *con = dev->priv;
	struct virtio_queue *queue = &dev->queues[CONSOLE_RXQ];
	struct virtq_chain chain;
	bool pushed = false;

	if (!virtio_live(dev) || !queue->ready)
		return;
	for (;;) {
		if (con->pending < 0)
			con->pending = host_console_getc();
		if (con->pending < 0)
			break;
		int r = virtq_pop(&queue->vq, &chain);
		if (r <= 0)
			break; /* no buffer: the byte waits (or the ring is broken) */
		uint32_t n = 0;
		uint64_t room = virtq_chain_in_len(&chain);
		if (room == 0) {
			/* §5.3.6.1: receive buffers are device-writable. */
			virtio_needs_reset(dev, "virtio-console receive buffer with no device-writable byte");
			return;
		}
		while (n < room && con->pending >= 0) {
			uint8_t byte = (uint8_t)con->pending;
			virtq_chain_write(&chain, n++, &byte, 1);
			con->pending = host_console_getc();
		}
		if (virtq_push(&queue->vq, chain.head, n) < 0)
			break;
		pushed = true;
	}
	if (queue->vq.broken)
		virtio_needs_reset(dev, queue->vq.broken_why);
	else if (pushed)
		virtio_signal_used(dev, CONSOLE_RXQ);
}

static void console_notify(struct virtio_dev *dev, unsigned int q)
{
	if (q == CONSOLE_TXQ)
		virtio_queue_drain(dev, q, console_tx);
	else
		console_rx(dev);
}

static void console_release(struct virtio_dev *dev)
{
	free(dev->priv);
}

static const struct virtio_dev_ops console_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.features = 0, /* no SIZE, no MULTIPORT, no EMERG_WRITE (§5.3.3) */
	.num_queues = CONSOLE_QUEUES,
	.config = console_config,
	.queue_notify = console_notify,
	.poll = console_rx,
	.release = console_release,
};

struct virtio_dev *virtio_console_create(struct vm *vm)
{
	(void)vm;
	struct virtio_dev *dev = calloc(1, sizeof(*dev));
	struct console *con = calloc(1, sizeof(*con));
	if (!dev || !con) {
		free(dev);
		free(con);
		return NULL;
	}
	con->pending = -1;
	dev->ops = &console_ops;
	dev->priv = con;
	return dev;
}
