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
/* your helpers */
// @end

int virtq_pop(struct virtqueue *vq, struct virtq_chain *chain)
{
	// @lab 09 virtq_pop: Take the next available chain with every check of §2.7.5 and §2.7.13; 0 if none, -1 (broken) if the driver broke a rule.
	lab_todo(9, "virtq_pop");
	// @end
}

int virtq_push(struct virtqueue *vq, uint16_t head, uint32_t len)
{
	// @lab 09 virtq_push: Give a chain back: the used element, then used->idx (§2.7.8).
	lab_todo(9, "virtq_push");
	// @end
}

bool virtq_should_notify(struct virtqueue *vq)
{
	// @lab 09 virtq_should_notify: Decide whether the driver wants an interrupt now (§2.7.7.2), by its flag or with EVENT_IDX by used_event.
	lab_todo(9, "virtq_should_notify");
	// @end
}

void virtq_enable_notify(struct virtqueue *vq, bool enable)
{
	// @lab 09 virtq_enable_notify: Ask for (or stop asking for) notifications of available buffers (§2.7.10): NO_NOTIFY, or with EVENT_IDX avail_event.
	lab_todo(9, "virtq_enable_notify");
	// @end
}

/* The event-index test (§2.7.7.2; Linux's vring_need_event): has new_idx
 * moved past event_idx since old? All 16-bit, wrapping. */
bool virtq_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old)
{
	// @lab 09 virtq_need_event: Whether event_idx lies in [old, new_idx), counting in 16-bit wrapping arithmetic.
	lab_todo(9, "virtq_need_event");
	// @end
}
