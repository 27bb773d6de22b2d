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
/* Move `len` bytes between the disk at `offset` and the chain's data,
 * which starts `skip` bytes into its readable (OUT) or writable (IN)
 * stream: buffer by buffer, straight from and into guest memory. */
static int blk_transfer(struct blk *blk, const struct virtq_chain *chain, bool to_disk, uint64_t skip,
			uint64_t offset, uint64_t len)
{
	unsigned int first = to_disk ? 0 : chain->n_out;
	unsigned int count = to_disk ? chain->n_out : chain->n_in;
	for (unsigned int i = first; i < first + count && len; i++) {
		const struct virtq_buf *b = &chain->bufs[i];
		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		uint64_t n = b->len - skip < len ? b->len - skip : len;
		uint8_t *p = (uint8_t *)b->host + skip;
		int r = to_disk ? host_disk_write(blk->disk, p, n, offset) : host_disk_read(blk->disk, p, n, offset);
		if (r < 0)
			return r;
		offset += n;
		len -= n;
		skip = 0;
	}
	return len ? -1 : 0;
}
// @stub /* your helpers */
// @end

/* Carry out one request (§5.2.6): the bytes written into the chain's
 * device-writable buffers, status included; -1 if the chain is no request
 * at all (the device then needs a reset). */
static int64_t blk_request(struct virtio_dev *dev, struct virtq_chain *chain)
{
	// @lab 09 blk_request: Carry out one virtio-blk request; return the bytes written into the chain (status byte included).
	struct blk *blk = dev->priv;
	uint64_t out = virtq_chain_out_len(chain), in = virtq_chain_in_len(chain);
	struct virtio_blk_outhdr hdr;

	/* Without a status byte there is nowhere to say anything: the
	 * driver's error, the device needs a reset. */
	if (in == 0) {
		dev->reset_why = "virtio-blk request without a status byte";
		return -1;
	}
	uint8_t status = VIRTIO_BLK_S_OK;
	uint64_t data_in = in - 1; /* the writable bytes before the status */
	uint32_t written = 0;
	if (!virtq_chain_read(chain, 0, &hdr, sizeof(hdr))) {
		status = VIRTIO_BLK_S_IOERR; /* a header shorter than 16 bytes */
		goto done;
	}

	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool is_out = hdr.type == VIRTIO_BLK_T_OUT;
		uint64_t len = is_out ? out - sizeof(hdr) : data_in;
		uint64_t sectors = blk->size / SECTOR_SIZE;
		/* §5.2.6.1: whole sectors, all inside the disk (no overflow:
		 * the sector is checked before it is multiplied). */
		if (len % SECTOR_SIZE || hdr.sector > sectors || len / SECTOR_SIZE > sectors - hdr.sector) {
			status = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (blk_transfer(blk, chain, is_out, is_out ? sizeof(hdr) : 0, hdr.sector * SECTOR_SIZE, len) < 0)
			status = VIRTIO_BLK_S_IOERR;
		else if (!is_out)
			written = (uint32_t)len;
		/* §5.2.5: a driver that did not take VIRTIO_BLK_F_FLUSH may take
		 * the cache for writethrough: a write is durable when it completes. */
		else if (!(dev->driver_features & (1ull << VIRTIO_BLK_F_FLUSH)) && host_disk_flush(blk->disk) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (host_disk_flush(blk->disk) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		/* §5.2.6: up to 20 bytes, NUL-padded, no terminator if full. */
		uint64_t n = data_in < sizeof(blk->id) ? data_in : sizeof(blk->id);
		virtq_chain_write(chain, 0, blk->id, n);
		written = (uint32_t)n;
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
done:
	virtq_chain_write(chain, data_in, &status, 1);
	return written + 1;
	// @stub lab_todo(9, "blk_request");
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
