// SPDX-License-Identifier: MIT
/*
 * The split virtqueue, device side (virtio 1.2 §2.7).
 *
 * The ring is guest memory the driver writes while we read it, so two rules
 * hold throughout:
 *  - every byte is reached through vq->mem.map, which refuses what is not
 *    guest RAM: a hostile address is a refused map, never a host access;
 *  - every field the driver controls is read once into a local (a
 *    descriptor is copied whole before it is checked), so the driver cannot
 *    change a value between its check and its use.
 * A rule the driver breaks sets vq->broken with the reason and the queue
 * stays in that state until the transport resets it (DEVICE_NEEDS_RESET,
 * §2.1.2); nothing is consumed by a failed pop.
 *
 * The fields are little-endian (§2.7, "legacy interfaces" aside); this VMM
 * runs on x86, so the __virtio16/32/64 fields of <linux/virtio_ring.h> are
 * read and written as they are.
 *
 * Decisions where the spec leaves the device a choice:
 *  - A zero-length buffer is accepted (§2.7.5 does not forbid it); it is
 *    returned in the chain with host == NULL and its address unchecked, as
 *    no byte of it is ever accessed. Devices treat it as any buffer too short
 *    for what they need.
 *  - An indirect descriptor may follow direct ones in a chain; it ends the
 *    chain (it may not have NEXT, §2.7.5.3.1).
 *  - A chain of more than VIRTQ_MAX_CHAIN buffers is refused as broken even
 *    on a larger queue: the device has no room for it.
 */
#include <stddef.h>
#include <string.h>

#include <kvmlabs/lab.h>

#include "virtqueue.h"

static int vq_fail(struct virtqueue *vq, const char *why)
{
	if (!vq->broken) {
		vq->broken = true;
		vq->broken_why = why;
	}
	return -1;
}

/* A full barrier between a store to the ring and a later load of the
 * driver's fields (Linux: virtio_mb(); kvmtool: mb()): on x86 only MFENCE
 * (or a locked instruction) keeps a load from passing an earlier store
 * (SDM Vol. 3A 9.2.3.4). The C11 fence says the same, but ThreadSanitizer
 * builds refuse it, and the driver on the other side is no C11 thread. */
static inline void vq_mb(void)
{
	__asm__ __volatile__("mfence" ::: "memory");
}

/* The host view of gpa..gpa+len, or NULL (also when the range wraps). */
static void *vq_map(struct virtqueue *vq, uint64_t gpa, uint64_t len, bool write)
{
	if (gpa + len < gpa)
		return NULL;
	return vq->mem.map(vq->mem.opaque, gpa, len, write);
}

/* The sizes of the three parts (§2.7, the table of alignments and sizes):
 * the avail ring ends with used_event, the used ring with avail_event, both
 * present whether or not VIRTIO_F_EVENT_IDX is negotiated. */
static uint64_t desc_size(uint16_t num)
{
	return 16ull * num;
}

static uint64_t avail_size(uint16_t num)
{
	return 6 + 2ull * num;
}

static uint64_t used_size(uint16_t num)
{
	return 6 + 8ull * num;
}

/* The avail and used rings, or NULL with the queue broken: the driver may
 * have unplugged the RAM they were in since set-up. */
static struct vring_avail *vq_avail(struct virtqueue *vq)
{
	struct vring_avail *avail = vq_map(vq, vq->avail_gpa, avail_size(vq->num), false);
	if (!avail)
		vq_fail(vq, "available ring not in guest RAM");
	return avail;
}

static struct vring_used *vq_used(struct virtqueue *vq)
{
	struct vring_used *used = vq_map(vq, vq->used_gpa, used_size(vq->num), true);
	if (!used)
		vq_fail(vq, "used ring not in guest RAM");
	return used;
}

int virtq_init(struct virtqueue *vq, uint16_t num, uint64_t desc, uint64_t avail, uint64_t used, bool event_idx,
	       bool indirect, struct virtq_mem mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->num = num;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->mem = mem;

	/* §2.7: Queue Size is a power of 2 no larger than 32768. */
	if (num == 0 || (num & (num - 1)) || num > 32768)
		return vq_fail(vq, "queue size not a power of 2 in 1..32768");
	/* §2.7: descriptor table 16-byte aligned, avail ring 2, used ring 4. */
	if ((desc & 15) || (avail & 1) || (used & 3))
		return vq_fail(vq, "ring part misaligned (desc 16, avail 2, used 4: §2.7)");
	if (!vq_map(vq, desc, desc_size(num), false))
		return vq_fail(vq, "descriptor table not in guest RAM");
	if (!vq_avail(vq) || !vq_used(vq))
		return -1;
	return 0;
}

// @lab 09 virtqueue_helpers: Your own types and static helpers for this file.
/*
 * Walk one chain in a table of `size` descriptors at table_gpa (the queue's
 * own table, or an indirect table), from `first`, appending its buffers to
 * *chain: 0 at its end, 1 with *indirect_desc filled if it ends in an
 * indirect descriptor (only outside an indirect table), -1 broken.
 */
static int walk(struct virtqueue *vq, uint64_t table_gpa, uint32_t size, uint16_t first, bool in_indirect,
		struct virtq_chain *chain, struct vring_desc *indirect_desc)
{
	const struct vring_desc *table = vq_map(vq, table_gpa, 16ull * size, false);
	if (!table)
		return vq_fail(vq, in_indirect ? "indirect table not in guest RAM" : "descriptor table not in guest RAM");

	uint16_t i = first;
	/* §2.7.5.2, §2.7.5.3.1: a chain is no longer than its table, so more
	 * steps than entries means the next fields loop. */
	for (uint32_t steps = 0;; steps++) {
		if (steps >= size)
			return vq_fail(vq, in_indirect ? "indirect chain loops" : "descriptor chain loops or is longer than the queue");
		if (i >= size)
			return vq_fail(vq, in_indirect ? "next index beyond the indirect table" : "next index >= queue size");

		struct vring_desc d;
		memcpy(&d, &table[i], sizeof(d)); /* once: the driver may be changing it */

		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* §2.7.5.3.1: the driver MUST NOT set INDIRECT without
			 * the feature, inside an indirect table, or together
			 * with NEXT. */
			if (!vq->indirect)
				return vq_fail(vq, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
			if (in_indirect)
				return vq_fail(vq, "indirect descriptor inside an indirect table");
			if (d.flags & VRING_DESC_F_NEXT)
				return vq_fail(vq, "indirect descriptor with NEXT set");
			*indirect_desc = d;
			return 1;
		}

		unsigned int n = chain->n_out + chain->n_in;
		if (n >= VIRTQ_MAX_CHAIN)
			return vq_fail(vq, "chain longer than VIRTQ_MAX_CHAIN buffers");
		bool write = d.flags & VRING_DESC_F_WRITE;
		/* §2.7.4.2: device-readable buffers come before writable ones. */
		if (!write && chain->n_in)
			return vq_fail(vq, "device-readable buffer after a device-writable one");

		struct virtq_buf *b = &chain->bufs[n];
		b->gpa = d.addr;
		b->len = d.len;
		b->write = write;
		b->host = NULL;
		if (d.len) {
			b->host = vq_map(vq, d.addr, d.len, write);
			if (!b->host)
				return vq_fail(vq, "buffer not in guest RAM");
		}
		if (write)
			chain->n_in++;
		else
			chain->n_out++;

		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

// @stub /* your helpers */
// @end

int virtq_pop(struct virtqueue *vq, struct virtq_chain *chain)
{
	// @lab 09 virtq_pop: Take the next available chain with every check of §2.7.5 and §2.7.13; 0 if none, -1 (broken) if the driver broke a rule.
	if (vq->broken)
		return -1;
	struct vring_avail *avail = vq_avail(vq);
	if (!avail)
		return -1;

	/* §2.7.13.3: the driver writes the ring entry, then idx (with
	 * a barrier between); we read idx first and the entry after, so an
	 * acquire load keeps the entry's read from moving before it. */
	uint16_t avail_idx = __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
	uint16_t pending = (uint16_t)(avail_idx - vq->last_avail_idx);
	if (pending == 0)
		return 0;
	/* There are never more than num chains available (§2.7.6). */
	if (pending > vq->num)
		return vq_fail(vq, "avail index more than the queue size ahead");

	uint16_t head = __atomic_load_n(&avail->ring[vq->last_avail_idx & (vq->num - 1)], __ATOMIC_RELAXED);
	if (head >= vq->num)
		return vq_fail(vq, "available head >= queue size");

	chain->head = head;
	chain->n_out = chain->n_in = 0;
	struct vring_desc ind = { 0 };
	int r = walk(vq, vq->desc_gpa, vq->num, head, false, chain, &ind);
	if (r < 0)
		return -1;
	if (r == 1) {
		/* §2.7.5.3: an indirect table is len / 16 descriptors, the
		 * first at index 0, chained by next within the table. */
		if (ind.len == 0 || ind.len % 16 || ind.len / 16 > VIRTQ_MAX_CHAIN)
			return vq_fail(vq, "indirect table length not a non-zero multiple of 16 up to VIRTQ_MAX_CHAIN entries");
		if (walk(vq, ind.addr, ind.len / 16, 0, true, chain, &ind) < 0)
			return -1;
	}
	vq->last_avail_idx++;
	return 1;
	// @stub lab_todo(9, "virtq_pop");
	// @end
}

int virtq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	// @lab 09 virtq_push: Give a chain back: the used element, then used->idx (§2.7.8).
	if (vq->broken)
		return -1;
	if (head >= vq->num)
		return -1; /* the device's own error: nothing written */
	struct vring_used *used = vq_used(vq);
	if (!used)
		return -1;

	/* §2.7.8: the element first, then idx, with a write barrier between
	 * (a release store), so a driver that sees the new idx sees the
	 * element. Our own used_idx is the truth: a driver that wrote
	 * used->idx changes nothing here. */
	struct vring_used_elem *e = &used->ring[vq->used_idx & (vq->num - 1)];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	vq->used_idx++;
	__atomic_store_n(&used->idx, vq->used_idx, __ATOMIC_RELEASE);
	return 0;
	// @stub lab_todo(9, "virtq_push");
	// @end
}

bool virtq_should_notify(struct virtqueue *vq)
{
	// @lab 09 virtq_should_notify: Decide whether the driver wants an interrupt now (§2.7.7.2), by its flag or with EVENT_IDX by used_event.
	if (vq->broken)
		return false;
	struct vring_avail *avail = vq_avail(vq);
	if (!avail)
		return false;

	/* The used->idx store must be visible before we read the driver's
	 * flags or used_event (a store then a load: a full barrier, as
	 * Linux's virtio_mb() in vhost_notify), or we and the driver could
	 * each decide the other will act. */
	vq_mb();

	bool notify;
	if (!vq->event_idx) {
		/* §2.7.7: without EVENT_IDX, the NO_INTERRUPT flag. */
		uint16_t flags = __atomic_load_n(&avail->flags, __ATOMIC_RELAXED);
		notify = !(flags & VRING_AVAIL_F_NO_INTERRUPT);
	} else {
		/* §2.7.7: with EVENT_IDX, used_event (after the avail ring)
		 * says the used index the driver wants to hear about; notify
		 * if used->idx moved past it since the last notification. The
		 * first decision after set-up always notifies. */
		uint16_t used_event = __atomic_load_n(&avail->ring[vq->num], __ATOMIC_RELAXED);
		notify = !vq->signalled_used_valid || virtq_need_event(used_event, vq->used_idx, vq->signalled_used);
	}
	if (notify) {
		vq->signalled_used = vq->used_idx;
		vq->signalled_used_valid = true;
	}
	return notify;
	// @stub lab_todo(9, "virtq_should_notify");
	// @end
}

void virtq_enable_notify(struct virtqueue *vq, bool enable)
{
	// @lab 09 virtq_enable_notify: Ask for (or stop asking for) notifications of available buffers (§2.7.10): NO_NOTIFY, or with EVENT_IDX avail_event.
	if (vq->broken)
		return;
	struct vring_used *used = vq_used(vq);
	if (!used)
		return;
	if (!vq->event_idx) {
		/* §2.7.10: without EVENT_IDX, the NO_NOTIFY flag. */
		__atomic_store_n(&used->flags, enable ? 0 : VRING_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	} else if (enable) {
		/* §2.7.10: avail_event (after the used ring) = the next entry
		 * we will take: the driver notifies when it makes that one
		 * available. Disabling leaves it where it is: the driver then
		 * notifies at most once more. */
		__atomic_store_n((uint16_t *)&used->ring[vq->num], vq->last_avail_idx, __ATOMIC_RELAXED);
	}
	/* The store must be visible before the caller looks at avail->idx
	 * again (it must, after enabling, or a buffer made available in
	 * between is never seen): a store then a load, a full barrier. */
	vq_mb();
	// @stub lab_todo(9, "virtq_enable_notify");
	// @end
}

/* The event-index test (§2.7.7.2; Linux's vring_need_event): has new_idx
 * moved past event_idx since old? All 16-bit, wrapping. */
bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	// @lab 09 virtq_need_event: Whether event_idx lies in [old, new_idx), counting in 16-bit wrapping arithmetic.
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
	// @stub lab_todo(9, "virtq_need_event");
	// @end
}
