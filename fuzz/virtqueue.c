/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the split virtqueue, device side
 * (solution/vmm/virtio/virtqueue.c), on rings a hostile driver wrote. The
 * input is an 8-byte header, n_ops operation bytes, then the first bytes of
 * the guest memory (MEM_SIZE bytes at MEM_BASE, zero past the input):
 *   byte 0   bits 0-3: log2 of the queue size; bit 4: VIRTIO_F_EVENT_IDX;
 *            bit 5: VIRTIO_F_INDIRECT_DESC; bit 6: the size plus one (not a
 *            power of 2 but for 1 + 1); bit 7: the device's indices start
 *            at 0xfffe (as after 65534 chains), so both wrap at 16 bits
 *   byte 1   n_ops, at most MAX_OPS
 *   bytes 2-7  the offsets from MEM_BASE of the descriptor table, the avail
 *            ring and the used ring (16 bits each, little-endian: a part may
 *            cross the end of memory or be misaligned)
 * An operation byte: bits 0-2 the kind, bits 3-7 an argument a:
 *   0 virtq_pop          1 virtq_push of the oldest chain popped (len a)
 *   2 virtq_should_notify  3, 4 virtq_enable_notify(true, false)
 *   5 the driver makes head a available (ring entry, then idx + 1)
 *   6 the driver moves avail->idx by a + 1 (past what it wrote); a = 31:
 *     the guest's RAM is unplugged, map refuses all of it from then on
 *   7 virtq_push of a head >= the queue size (must be refused)
 * Guest memory is allocated exactly and poisoned (ASan) but for the ranges
 * the code under test maps during the call in progress, so a read or write
 * past what it mapped, inside guest memory or outside, is a report. Checks
 * (abort(), "fuzz: ..." on stderr): map never returns memory outside the
 * guest; a chain has a head < num, at most VIRTQ_MAX_CHAIN buffers (at most
 * num without indirect tables), readable before writable ones, each one's
 * host pointer the map of its whole range; a failed pop sets broken and
 * consumes nothing; a broken queue stays broken and never maps guest memory
 * again; the used index advances by exactly the successful pushes, and
 * used->idx says so after each.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include "vmm/virtio/virtqueue.h"

#define MEM_BASE 0x100000ull
#define MEM_SIZE 0x10000ull
#define HDR_SIZE 8
#define MAX_OPS  64
#define WRAP_IDX 0xfffe

static uint8_t *mem;             /* MEM_SIZE bytes, malloc'd exactly */
static uint64_t mem_limit;       /* what map still gives: MEM_SIZE, 0 once unplugged */
static bool refuse_all;          /* the queue is broken: no map may come */

static void fail(const char *why)
{
	fprintf(stderr, "fuzz: %s\n", why);
	abort();
}

static void *map(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	(void)opaque, (void)write;
	if (refuse_all)
		fail("a broken queue maps guest memory");
	if (gpa < MEM_BASE || gpa - MEM_BASE > mem_limit || len > mem_limit - (gpa - MEM_BASE))
		return NULL;
	uint8_t *p = mem + (gpa - MEM_BASE);
	ASAN_UNPOISON_MEMORY_REGION(p, len);
	return p;
}

/* Between calls into the queue: only the harness (the driver) touches memory. */
static void poison(void)
{
	ASAN_POISON_MEMORY_REGION(mem, MEM_SIZE);
}

static void unpoison(void)
{
	ASAN_UNPOISON_MEMORY_REGION(mem, MEM_SIZE);
}

/* The device uses the chain it popped: the first and last byte of each buffer. */
static void check_chain(const struct virtqueue *vq, const struct virtq_chain *c)
{
	unsigned int n = c->n_out + c->n_in;
	if (c->head >= vq->num)
		fail("pop returned a head >= the queue size");
	if (n == 0 || n > VIRTQ_MAX_CHAIN || (!vq->indirect && n > vq->num))
		fail("pop returned a chain with no buffer or more than the queue allows");
	for (unsigned int i = 0; i < n; i++) {
		const struct virtq_buf *b = &c->bufs[i];
		if (b->write != (i >= c->n_out))
			fail("pop returned a readable buffer after a writable one");
		if (b->len == 0) {
			if (b->host)
				fail("a zero-length buffer has a host pointer");
			continue;
		}
		if (b->gpa < MEM_BASE || b->gpa - MEM_BASE > MEM_SIZE || b->len > MEM_SIZE - (b->gpa - MEM_BASE))
			fail("pop returned a buffer outside guest memory");
		if ((uint8_t *)b->host != mem + (b->gpa - MEM_BASE))
			fail("a buffer's host pointer is not the map of its address");
		volatile uint8_t *h = b->host;
		uint8_t first = h[0], last = h[b->len - 1];
		if (b->write) {
			h[0] = first ^ 0x5a;
			h[b->len - 1] = last ^ 0xa5;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR_SIZE)
		return 0;
	if (!mem && !(mem = malloc(MEM_SIZE)))
		abort();
	unpoison();
	refuse_all = false;
	mem_limit = MEM_SIZE;

	uint8_t flags = data[0];
	unsigned int n_ops = data[1] < MAX_OPS ? data[1] : MAX_OPS;
	uint16_t off[3];
	for (int i = 0; i < 3; i++)
		off[i] = (uint16_t)(data[2 + 2 * i] | data[3 + 2 * i] << 8);
	data += HDR_SIZE, size -= HDR_SIZE;
	if (n_ops > size)
		n_ops = (unsigned int)size;
	const uint8_t *ops = data;
	data += n_ops, size -= n_ops;
	size_t image = size < MEM_SIZE ? size : MEM_SIZE;
	memcpy(mem, data, image);
	memset(mem + image, 0, MEM_SIZE - image);

	uint32_t num = (1u << (flags & 15)) + !!(flags & 0x40);
	struct virtqueue vq;
	struct virtq_mem m = { .opaque = NULL, .map = map };
	poison();
	int r = virtq_init(&vq, (uint16_t)num, MEM_BASE + off[0], MEM_BASE + off[1], MEM_BASE + off[2], flags & 0x10,
			   flags & 0x20, m);
	unpoison();
	if ((r < 0) != vq.broken)
		fail("init's result and broken disagree");
	if (r == 0 && (num & (num - 1)))
		fail("init accepted a size that is not a power of 2");
	if (r == 0 && (flags & 0x80))
		vq.last_avail_idx = vq.used_idx = WRAP_IDX;

	uint16_t start_used = vq.used_idx, start_avail = vq.last_avail_idx;
	unsigned int pushes = 0, pops = 0;
	uint16_t popped[MAX_OPS];       /* the heads popped and not yet pushed, oldest first */
	unsigned int popped_n = 0;
	bool in_memory = !vq.broken;    /* init found all three parts in guest memory */
	static struct virtq_chain chain;

	for (unsigned int k = 0; k < n_ops; k++) {
		uint8_t kind = ops[k] & 7, a = ops[k] >> 3;
		bool was_broken = vq.broken;
		uint16_t before_used = vq.used_idx, before_avail = vq.last_avail_idx;

		if (kind == 6 && a == 31) {
			mem_limit = 0;
			continue;
		}
		if (kind == 5 || kind == 6) {
			if (!in_memory)
				continue;
			struct vring_avail *av = (struct vring_avail *)(mem + off[1]);
			uint16_t idx = av->idx;
			if (kind == 5)
				av->ring[idx & (vq.num - 1)] = a;
			av->idx = (uint16_t)(idx + (kind == 5 ? 1 : a + 1));
			continue;
		}

		bool called = true, pushed = false;
		refuse_all = was_broken;
		poison();
		switch (kind) {
		case 0:
			r = virtq_pop(&vq, &chain);
			if (r == 1) {
				check_chain(&vq, &chain);
				popped[popped_n++] = chain.head;
				pops++;
			}
			break;
		case 1:
			if (popped_n == 0) {
				r = 0, called = false;
				break;
			}
			r = virtq_push(&vq, popped[0], a);
			if (r == 0) {
				memmove(popped, popped + 1, --popped_n * sizeof(popped[0]));
				pushes++;
				pushed = true;
			}
			break;
		case 2:
			r = virtq_should_notify(&vq);
			if (r && was_broken)
				fail("a broken queue asks to notify");
			break;
		case 3:
		case 4:
			virtq_enable_notify(&vq, kind == 3);
			r = 0;
			break;
		case 7:
			r = virtq_push(&vq, (uint16_t)(vq.num + a), 0);
			if (r != -1)
				fail("push accepted a head >= the queue size");
			if (vq.used_idx != before_used)
				fail("a refused push moved the used index");
			break;
		}
		unpoison();
		refuse_all = false;

		if (was_broken && !vq.broken)
			fail("a broken queue is no longer broken");
		if (vq.broken && vq.used_idx != before_used)
			fail("the used index moved on a broken queue");
		if (kind == 0 && r < 0 && !vq.broken)
			fail("pop failed but the queue is not broken");
		if (kind == 0 && r <= 0 && vq.last_avail_idx != before_avail)
			fail("a pop that returned no chain consumed one");
		if (was_broken && called && (kind == 0 || kind == 1) && r != -1)
			fail("a broken queue did not refuse");
		if (pushed && ((struct vring_used *)(mem + off[2]))->idx != vq.used_idx)
			fail("used->idx is not the device's used index after a push");
		if ((uint16_t)(vq.used_idx - start_used) != (uint16_t)pushes)
			fail("the used index did not advance by exactly the pushes");
		if ((uint16_t)(vq.last_avail_idx - start_avail) != (uint16_t)pops)
			fail("the avail index did not advance by exactly the chains popped");
	}
	return 0;
}
