// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio 1.2 §5.2; kvmtool: virtio/blk.c; the driver: Linux's
 * drivers/block/virtio_blk.c): one request queue, a disk of 512-byte
 * sectors backed by a host file (host_disk_*, the host seam).
 *
 * A request is one chain (§5.2.6): a 16-byte header the device reads
 * {type, reserved, sector}, the data, and one status byte the device
 * writes, last. Framing is the driver's choice (§2.7.4): the header may
 * share a descriptor with data, so the device reads the chain as two byte
 * streams, never by descriptor. Every byte the device touches is inside the
 * chain's buffers, which virtqueue.c checked are guest RAM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include "../vmm.h"
#include "virtio.h"

#define SECTOR_SIZE 512
/* seg_max: the most data buffers a request may have — the longest chain
 * the device takes (virtqueue.h) less the header and the status (Linux:
 * virtblk_probe() reads it and never sends more). */
#define BLK_SEG_MAX (VIRTQ_MAX_CHAIN - 2)

struct blk {
	struct host_disk *disk;
	uint64_t size;            /* bytes */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_config config;
};

static const void *blk_config(struct virtio_dev *dev, uint32_t *size)
{
	struct blk *blk = dev->priv;
	*size = sizeof(blk->config);
	return &blk->config;
}

// @lab 09 blk_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* Carry out one request (§5.2.6): the bytes written into the chain's
 * device-writable buffers, status included; -1 if the chain is no request
 * at all (the device then needs a reset). */
static int64_t blk_request(struct virtio_dev *dev, struct virtq_chain *chain)
{
	// @lab 09 blk_request: Carry out one virtio-blk request; return the bytes written into the chain (status byte included).
	lab_todo(9, "blk_request");
	// @end
}

static void blk_notify(struct virtio_dev *dev, unsigned int q)
{
	virtio_queue_drain(dev, q, blk_request);
}

static void blk_release(struct virtio_dev *dev)
{
	struct blk *blk = dev->priv;
	host_disk_close(blk->disk);
	free(blk);
}

static const struct virtio_dev_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH),
	.num_queues = 1,
	.config = blk_config,
	.queue_notify = blk_notify,
	.release = blk_release,
};

struct virtio_dev *virtio_blk_create(struct vm *vm, const char *path)
{
	char err[160];
	struct virtio_dev *dev = calloc(1, sizeof(*dev));
	struct blk *blk = calloc(1, sizeof(*blk));
	if (!dev || !blk) {
		free(dev);
		free(blk);
		vm_stop(vm, VMM_EXIT_KVM_SETUP, "--disk %s: out of memory", path);
		return NULL;
	}
	blk->disk = host_disk_open(path, &blk->size, err, sizeof(err));
	if (!blk->disk) {
		free(dev);
		free(blk);
		vm_stop(vm, VMM_EXIT_USAGE, "--disk %s: %s", path, err);
		return NULL;
	}
	/* GET_ID: the file's name, which is the same on both hosts (the
	 * bare-metal runner packs it under its base name). */
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	size_t n = strlen(name);
	memcpy(blk->id, name, n < sizeof(blk->id) ? n : sizeof(blk->id));
	blk->config.capacity = blk->size / SECTOR_SIZE;
	blk->config.seg_max = BLK_SEG_MAX;
	blk->config.blk_size = SECTOR_SIZE;
	dev->ops = &blk_ops;
	dev->priv = blk;
	return dev;
}
