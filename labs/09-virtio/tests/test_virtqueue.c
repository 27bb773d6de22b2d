/* SPDX-License-Identifier: MIT */
/*
 * The split virtqueue (vmm/virtio/virtqueue.c) on synthetic rings: a 1 MiB
 * heap buffer is the guest's RAM at guest-physical 0, and its map refuses
 * any range that is not wholly inside it. The tests write the rings as a
 * driver would (descriptors, avail entry, avail->idx) and check what the
 * device takes, what it gives back, when it notifies, and that every rule a
 * hostile driver breaks ends with vq->broken and a reason (virtio 1.2 §2.7).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab09_tests.h"
#include "vmm/virtio/virtqueue.h"

#define GUEST_SIZE (1u << 20)
#define DESC_GPA   0x1000u
#define AVAIL_GPA  0x9000u   /* room for 2048 descriptors before it */
#define USED_GPA   0xa000u
#define BUF_GPA    0x20000u
#define IND_GPA    0x18000u

static uint8_t *ram;
static struct virtqueue vq;
static struct virtq_chain chain;
static unsigned int refused;

static void *guest_map(void *opaque, uint64_t gpa, uint64_t len, bool write)
{
	(void)opaque;
	(void)write;
	if (gpa > GUEST_SIZE || len > GUEST_SIZE - gpa) {
		refused++;
		return NULL;
	}
	return ram + gpa;
}

static struct vring_desc *desc(void)
{
	return (struct vring_desc *)(ram + DESC_GPA);
}

static struct vring_avail *avail(void)
{
	return (struct vring_avail *)(ram + AVAIL_GPA);
}

static struct vring_used *used(void)
{
	return (struct vring_used *)(ram + USED_GPA);
}

static uint16_t *used_event(void)
{
	return &avail()->ring[vq.num];
}

static uint16_t *avail_event(void)
{
	return (uint16_t *)&used()->ring[vq.num];
}

static void set_desc(struct vring_desc *table, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	table[i] = (struct vring_desc){ .addr = addr, .len = len, .flags = flags, .next = next };
}

/* The driver makes head available (§2.7.13: entry, then idx). */
static void make_avail(uint16_t head)
{
	avail()->ring[avail()->idx & (vq.num - 1)] = head;
	avail()->idx++;
}

/* A queue of num entries whose indices (both sides) start at start. */
static void queue(uint16_t num, bool event_idx, bool indirect, uint16_t start)
{
	memset(ram, 0, GUEST_SIZE);
	refused = 0;
	struct virtq_mem mem = { .opaque = NULL, .map = guest_map };
	ck_assert_int_eq(virtq_init(&vq, num, DESC_GPA, AVAIL_GPA, USED_GPA, event_idx, indirect, mem), 0);
	ck_assert_msg(!vq.broken, "virtq_init broke a good queue: %s", vq.broken_why);
	vq.last_avail_idx = vq.used_idx = start;
	avail()->idx = used()->idx = start;
}

static void setup(void)
{
	ram = calloc(1, GUEST_SIZE);
	ck_assert_ptr_nonnull(ram);
	queue(8, false, true, 0);
}

static void teardown(void)
{
	free(ram);
}

/* The next pop must break the queue (and consume nothing). */
#define expect_broken(what)                                                                               \
	do {                                                                                              \
		uint16_t last_ = vq.last_avail_idx;                                                       \
		int r_ = virtq_pop(&vq, &chain);                                                          \
		ck_assert_msg(r_ == -1 && vq.broken && vq.broken_why,                                     \
			      "%s: virtq_pop returned %d, broken %d: the driver broke §2.7's rules", what, r_, \
			      vq.broken);                                                                 \
		ck_assert_msg(vq.last_avail_idx == last_, "%s: a failed pop moved last_avail_idx", what); \
		ck_assert_int_eq(virtq_pop(&vq, &chain), -1);                                             \
	} while (0)

#define expect_pop(what)                                                                                  \
	do {                                                                                              \
		int r_ = virtq_pop(&vq, &chain);                                                          \
		ck_assert_msg(r_ == 1, "%s: virtq_pop returned %d (broken: %s)", what, r_,                \
			      vq.broken_why ? vq.broken_why : "no");                                      \
	} while (0)

/* ---- set-up -------------------------------------------------------------- */

START_TEST(init_checks)
{
	struct virtq_mem mem = { .opaque = NULL, .map = guest_map };
	ck_assert_int_eq(virtq_init(&vq, 6, DESC_GPA, AVAIL_GPA, USED_GPA, false, false, mem), -1);
	ck_assert(vq.broken && vq.broken_why);
	ck_assert_int_eq(virtq_init(&vq, 0, DESC_GPA, AVAIL_GPA, USED_GPA, false, false, mem), -1);
	ck_assert_int_eq(virtq_init(&vq, 8, GUEST_SIZE - 64, AVAIL_GPA, USED_GPA, false, false, mem), -1);
	ck_assert_int_eq(virtq_init(&vq, 8, DESC_GPA, GUEST_SIZE - 8, USED_GPA, false, false, mem), -1);
	ck_assert_int_eq(virtq_init(&vq, 8, DESC_GPA, AVAIL_GPA, UINT64_MAX - 3, false, false, mem), -1);
	ck_assert_int_eq(virtq_init(&vq, 8, DESC_GPA, AVAIL_GPA, USED_GPA, false, false, mem), 0);
	ck_assert(!vq.broken);
	ck_assert_int_eq(virtq_pop(&vq, &chain), 0);
}
END_TEST

/* ---- chains -------------------------------------------------------------- */

START_TEST(chain_out_then_in)
{
	set_desc(desc(), 3, BUF_GPA, 16, VRING_DESC_F_NEXT, 5);
	set_desc(desc(), 5, BUF_GPA + 0x100, 512, VRING_DESC_F_NEXT, 0);
	set_desc(desc(), 0, BUF_GPA + 0x1000, 1, VRING_DESC_F_WRITE, 7);   /* next ignored without NEXT */
	make_avail(3);
	expect_pop("a 2-out 1-in chain");
	ck_assert_uint_eq(chain.head, 3);
	ck_assert_uint_eq(chain.n_out, 2);
	ck_assert_uint_eq(chain.n_in, 1);
	ck_assert_uint_eq(chain.bufs[0].gpa, BUF_GPA);
	ck_assert_uint_eq(chain.bufs[0].len, 16);
	ck_assert(!chain.bufs[0].write);
	ck_assert_ptr_eq(chain.bufs[0].host, ram + BUF_GPA);
	ck_assert_uint_eq(chain.bufs[1].len, 512);
	ck_assert(chain.bufs[2].write);
	ck_assert_ptr_eq(chain.bufs[2].host, ram + BUF_GPA + 0x1000);
	ck_assert_uint_eq(vq.last_avail_idx, 1);
	ck_assert_int_eq(virtq_pop(&vq, &chain), 0);
}
END_TEST

/* A chain as long as the queue is legal (§2.7.5.2). */
START_TEST(chain_whole_queue)
{
	for (unsigned int i = 0; i < 8; i++)
		set_desc(desc(), i, BUF_GPA + i * 16, 16, i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(0);
	expect_pop("a chain of all 8 descriptors");
	ck_assert_uint_eq(chain.n_out, 8);
}
END_TEST

START_TEST(wrap_16bit)
{
	queue(8, false, false, 65533);
	for (unsigned int i = 0; i < 6; i++) {
		set_desc(desc(), i, BUF_GPA + i * 64, 64, VRING_DESC_F_WRITE, 0);
		make_avail((uint16_t)i);
	}
	ck_assert_uint_eq(avail()->idx, 3);
	for (unsigned int i = 0; i < 6; i++) {
		expect_pop("across avail->idx's wrap");
		ck_assert_uint_eq(chain.head, i);
		ck_assert_int_eq(virtq_push(&vq, chain.head, 64), 0);
		uint16_t at = (uint16_t)(65533 + i);
		ck_assert_uint_eq(used()->ring[at & 7].id, i);
		ck_assert_uint_eq(used()->idx, (uint16_t)(at + 1));
	}
	ck_assert_uint_eq(vq.last_avail_idx, 3);
	ck_assert_int_eq(virtq_pop(&vq, &chain), 0);
}
END_TEST

/* A full ring: exactly num entries ahead is legal (§2.7.6). */
START_TEST(full_ring)
{
	queue(8, false, false, 65530);
	for (unsigned int i = 0; i < 8; i++) {
		set_desc(desc(), i, BUF_GPA, 8, 0, 0);
		make_avail((uint16_t)i);
	}
	for (unsigned int i = 0; i < 8; i++)
		expect_pop("a full ring");
	ck_assert_int_eq(virtq_pop(&vq, &chain), 0);
}
END_TEST

START_TEST(indirect_table)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 16, VRING_DESC_F_NEXT, 2);
	set_desc(ind, 2, BUF_GPA + 0x100, 32, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(ind, 1, BUF_GPA + 0x200, 1, VRING_DESC_F_WRITE, 0);
	/* a direct readable buffer, then the table (WRITE on it ignored, §2.7.5.3.2) */
	set_desc(desc(), 4, BUF_GPA + 0x300, 8, VRING_DESC_F_NEXT, 6);
	set_desc(desc(), 6, IND_GPA, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	make_avail(4);
	expect_pop("a direct buffer then an indirect table of 3");
	ck_assert_uint_eq(chain.head, 4);
	ck_assert_uint_eq(chain.n_out, 2);
	ck_assert_uint_eq(chain.n_in, 2);
	ck_assert_uint_eq(chain.bufs[0].gpa, BUF_GPA + 0x300);
	ck_assert_uint_eq(chain.bufs[1].gpa, BUF_GPA);
	ck_assert_uint_eq(chain.bufs[2].gpa, BUF_GPA + 0x100);
	ck_assert_uint_eq(chain.bufs[3].gpa, BUF_GPA + 0x200);
	ck_assert_ptr_eq(chain.bufs[3].host, ram + BUF_GPA + 0x200);
}
END_TEST

/* An indirect table of VIRTQ_MAX_CHAIN entries, longer than the queue, is
 * legal: its length bounds it, not the queue's size. */
START_TEST(indirect_max)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	for (unsigned int i = 0; i < VIRTQ_MAX_CHAIN; i++)
		set_desc(ind, i, BUF_GPA, 4, i + 1 < VIRTQ_MAX_CHAIN ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	set_desc(desc(), 0, IND_GPA, VIRTQ_MAX_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_pop("an indirect table of VIRTQ_MAX_CHAIN entries");
	ck_assert_uint_eq(chain.n_out, VIRTQ_MAX_CHAIN);
}
END_TEST

/* Decision: a zero-length buffer is accepted, with host == NULL and its
 * address never mapped. */
START_TEST(zero_length)
{
	set_desc(desc(), 0, UINT64_MAX, 0, VRING_DESC_F_NEXT, 1);
	set_desc(desc(), 1, BUF_GPA, 0, VRING_DESC_F_WRITE, 0);
	make_avail(0);
	expect_pop("zero-length buffers");
	ck_assert_uint_eq(chain.n_out, 1);
	ck_assert_uint_eq(chain.n_in, 1);
	ck_assert_uint_eq(chain.bufs[0].len, 0);
	ck_assert_ptr_null(chain.bufs[0].host);
	ck_assert_ptr_null(chain.bufs[1].host);
}
END_TEST

/* ---- hostile drivers ----------------------------------------------------- */

START_TEST(hostile_loop)
{
	set_desc(desc(), 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(desc(), 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	make_avail(0);
	expect_broken("descriptors 0 and 1 point at each other");
}
END_TEST

START_TEST(hostile_self_loop)
{
	set_desc(desc(), 2, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
	make_avail(2);
	expect_broken("descriptor 2's next is 2");
}
END_TEST

START_TEST(hostile_next_range)
{
	set_desc(desc(), 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 8);
	make_avail(0);
	expect_broken("next == num");
}
END_TEST

START_TEST(hostile_head_range)
{
	make_avail(8);
	expect_broken("an available head == num");
}
END_TEST

START_TEST(hostile_avail_ahead)
{
	queue(8, false, false, 65533);
	avail()->idx = (uint16_t)(65533 + 9);
	expect_broken("avail->idx 9 ahead of a queue of 8");
}
END_TEST

START_TEST(hostile_avail_behind)
{
	queue(8, false, false, 100);
	avail()->idx = 99;   /* moved back: 65535 "ahead" */
	expect_broken("avail->idx moved back");
}
END_TEST

static void indirect_len(uint32_t len, const char *what)
{
	set_desc(desc(), 0, IND_GPA, len, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken(what);
}

START_TEST(hostile_indirect_len)
{
	static const struct {
		uint32_t len;
		const char *what;
	} cases[] = {
		{ 0, "an indirect table of length 0" },
		{ 17, "an indirect table of length 17" },
		{ 8, "an indirect table of length 8" },
		{ (VIRTQ_MAX_CHAIN + 1) * 16, "an indirect table of VIRTQ_MAX_CHAIN + 1 entries" },
		{ UINT32_MAX & ~15u, "an indirect table of 4 GiB - 16" },
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		queue(8, false, true, 0);
		indirect_len(cases[i].len, cases[i].what);
	}
}
END_TEST

START_TEST(hostile_indirect_nested)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(ind, 1, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	set_desc(desc(), 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken("an indirect descriptor inside an indirect table");
}
END_TEST

START_TEST(hostile_indirect_next)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 8, 0, 0);
	set_desc(desc(), 0, IND_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(desc(), 1, BUF_GPA, 8, 0, 0);
	make_avail(0);
	expect_broken("INDIRECT and NEXT together");
}
END_TEST

START_TEST(hostile_indirect_unnegotiated)
{
	queue(8, false, false, 0);
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 8, 0, 0);
	set_desc(desc(), 0, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken("INDIRECT without VIRTIO_F_INDIRECT_DESC");
}
END_TEST

START_TEST(hostile_indirect_loop)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	set_desc(ind, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	set_desc(desc(), 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken("a loop inside an indirect table");
}
END_TEST

START_TEST(hostile_indirect_next_range)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);   /* a table of 2 */
	set_desc(desc(), 0, IND_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken("next beyond the indirect table");
}
END_TEST

START_TEST(hostile_indirect_outside)
{
	set_desc(desc(), 0, GUEST_SIZE - 16, 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken("an indirect table past the end of RAM");
	ck_assert_uint_gt(refused, 0);
}
END_TEST

START_TEST(hostile_read_after_write)
{
	set_desc(desc(), 0, BUF_GPA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(desc(), 1, BUF_GPA, 8, 0, 0);
	make_avail(0);
	expect_broken("a readable buffer after a writable one");
}
END_TEST

START_TEST(hostile_read_after_write_indirect)
{
	struct vring_desc *ind = (struct vring_desc *)(ram + IND_GPA);
	set_desc(ind, 0, BUF_GPA, 8, 0, 0);
	set_desc(desc(), 0, BUF_GPA, 8, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(desc(), 1, IND_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(0);
	expect_broken("a readable buffer in the table after a direct writable one");
}
END_TEST

START_TEST(hostile_buffer_outside)
{
	static const struct {
		uint64_t gpa;
		uint32_t len;
	} cases[] = {
		{ GUEST_SIZE, 1 },
		{ GUEST_SIZE - 4, 8 },
		{ UINT64_MAX - 3, 8 },   /* gpa + len wraps */
		{ 0x100000000ull, 4096 },
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		queue(8, false, false, 0);
		set_desc(desc(), 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
		set_desc(desc(), 1, cases[i].gpa, cases[i].len, VRING_DESC_F_WRITE, 0);
		make_avail(0);
		expect_broken("a buffer not in guest RAM");
	}
}
END_TEST

/* More buffers than the device takes, without a loop: a queue of 256. */
START_TEST(hostile_too_many)
{
	queue(256, false, false, 0);
	for (unsigned int i = 0; i < 256; i++)
		set_desc(desc(), i, BUF_GPA, 4, i < 255 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	make_avail(0);
	expect_broken("a chain of 256 buffers");
}
END_TEST

/* A broken queue stays broken: no pop, no push, no notification. */
START_TEST(broken_sticks)
{
	make_avail(9);
	expect_broken("head 9");
	ck_assert_int_eq(virtq_push(&vq, 0, 0), -1);
	ck_assert_uint_eq(used()->idx, 0);
	ck_assert(!virtq_should_notify(&vq));
}
END_TEST

/* ---- used ring ----------------------------------------------------------- */

START_TEST(push_order)
{
	ck_assert_int_eq(virtq_push(&vq, 5, 100), 0);
	ck_assert_int_eq(virtq_push(&vq, 2, 0), 0);
	ck_assert_uint_eq(used()->ring[0].id, 5);
	ck_assert_uint_eq(used()->ring[0].len, 100);
	ck_assert_uint_eq(used()->ring[1].id, 2);
	ck_assert_uint_eq(used()->idx, 2);
	ck_assert_uint_eq(vq.used_idx, 2);
	/* the device's head out of range: refused, nothing written */
	ck_assert_int_eq(virtq_push(&vq, 8, 1), -1);
	ck_assert_uint_eq(used()->idx, 2);
	/* a driver that writes used->idx changes nothing */
	used()->idx = 1234;
	ck_assert_int_eq(virtq_push(&vq, 1, 7), 0);
	ck_assert_uint_eq(used()->ring[2].id, 1);
	ck_assert_uint_eq(used()->idx, 3);
}
END_TEST

/* ---- notifications ------------------------------------------------------- */

START_TEST(notify_flags)
{
	ck_assert_int_eq(virtq_push(&vq, 0, 0), 0);
	ck_assert(virtq_should_notify(&vq));
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;
	ck_assert_int_eq(virtq_push(&vq, 0, 0), 0);
	ck_assert(!virtq_should_notify(&vq));
	*used_event() = 0;   /* ignored without EVENT_IDX */
	avail()->flags = 0;
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(notify_event_idx_wrap)
{
	queue(8, true, false, 65533);
	avail()->flags = VRING_AVAIL_F_NO_INTERRUPT;   /* ignored with EVENT_IDX */
	ck_assert_msg(virtq_should_notify(&vq), "the first decision after set-up notifies");
	ck_assert_uint_eq(vq.signalled_used, 65533);
	*used_event() = 65534;   /* wake me when used->idx passes 65534 */
	virtq_push(&vq, 0, 0);   /* used 65534 */
	ck_assert(!virtq_should_notify(&vq));
	virtq_push(&vq, 0, 0);   /* used 65535: entry 65534 is used */
	ck_assert(virtq_should_notify(&vq));
	ck_assert_uint_eq(vq.signalled_used, 65535);
	*used_event() = 1;
	virtq_push(&vq, 0, 0);   /* used 0 */
	ck_assert(!virtq_should_notify(&vq));
	virtq_push(&vq, 0, 0);   /* used 1 */
	ck_assert(!virtq_should_notify(&vq));
	virtq_push(&vq, 0, 0);   /* used 2: entry 1 is used */
	ck_assert(virtq_should_notify(&vq));
	ck_assert(!virtq_should_notify(&vq));   /* nothing new */
	/* several pushes passing used_event at once: one notification */
	*used_event() = 3;
	for (int i = 0; i < 5; i++)
		virtq_push(&vq, 0, 0);
	ck_assert(virtq_should_notify(&vq));
}
END_TEST

START_TEST(enable_notify)
{
	virtq_enable_notify(&vq, false);
	ck_assert_uint_eq(used()->flags, VRING_USED_F_NO_NOTIFY);
	virtq_enable_notify(&vq, true);
	ck_assert_uint_eq(used()->flags, 0);

	queue(8, true, false, 65535);
	set_desc(desc(), 0, BUF_GPA, 8, 0, 0);
	make_avail(0);
	expect_pop("one chain");
	virtq_enable_notify(&vq, true);
	ck_assert_uint_eq(*avail_event(), 0);   /* the next entry, after the wrap */
	make_avail(0);
	expect_pop("one chain");
	virtq_enable_notify(&vq, false);
	ck_assert_uint_eq(*avail_event(), 0);   /* left where it was */
	virtq_enable_notify(&vq, true);
	ck_assert_uint_eq(*avail_event(), 1);
}
END_TEST

START_TEST(need_event_table)
{
	static const struct {
		uint16_t event, new_idx, old;
		bool want;
	} cases[] = {
		{ 0, 1, 0, true },            /* entry 0 used: event 0 passed */
		{ 1, 1, 0, false },           /* event 1 not yet */
		{ 0, 0, 0, false },           /* nothing new */
		{ 5, 10, 0, true },
		{ 9, 10, 0, true },
		{ 10, 10, 0, false },
		{ 4, 10, 5, false },          /* passed before old: already told */
		{ 5, 10, 5, true },
		{ 65535, 0, 65535, true },    /* across the wrap */
		{ 65535, 1, 65534, true },
		{ 0, 1, 65535, true },
		{ 1, 1, 65535, false },
		{ 100, 5, 65530, false },
		{ 2, 5, 65530, true },
		{ 65532, 5, 65530, true },
		{ 65529, 5, 65530, false },
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(virtq_need_event(cases[i].event, cases[i].new_idx, cases[i].old) == cases[i].want,
			      "virtq_need_event(event %u, new %u, old %u) should be %d (§2.7.7)", cases[i].event,
			      cases[i].new_idx, cases[i].old, cases[i].want);
}
END_TEST

Suite *virtqueue_suite(void)
{
	Suite *s = suite_create("virtqueue");
	TCase *tc;

	tc = tcase_create("chains");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, init_checks);
	tcase_add_test(tc, chain_out_then_in);
	tcase_add_test(tc, chain_whole_queue);
	tcase_add_test(tc, wrap_16bit);
	tcase_add_test(tc, full_ring);
	tcase_add_test(tc, indirect_table);
	tcase_add_test(tc, indirect_max);
	tcase_add_test(tc, zero_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hostile_loop);
	tcase_add_test(tc, hostile_self_loop);
	tcase_add_test(tc, hostile_next_range);
	tcase_add_test(tc, hostile_head_range);
	tcase_add_test(tc, hostile_avail_ahead);
	tcase_add_test(tc, hostile_avail_behind);
	tcase_add_test(tc, hostile_indirect_len);
	tcase_add_test(tc, hostile_indirect_nested);
	tcase_add_test(tc, hostile_indirect_next);
	tcase_add_test(tc, hostile_indirect_unnegotiated);
	tcase_add_test(tc, hostile_indirect_loop);
	tcase_add_test(tc, hostile_indirect_next_range);
	tcase_add_test(tc, hostile_indirect_outside);
	tcase_add_test(tc, hostile_read_after_write);
	tcase_add_test(tc, hostile_read_after_write_indirect);
	tcase_add_test(tc, hostile_buffer_outside);
	tcase_add_test(tc, hostile_too_many);
	tcase_add_test(tc, broken_sticks);
	suite_add_tcase(s, tc);

	tc = tcase_create("used");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, push_order);
	tcase_add_test(tc, notify_flags);
	tcase_add_test(tc, notify_event_idx_wrap);
	tcase_add_test(tc, enable_notify);
	tcase_add_test(tc, need_event_table);
	suite_add_tcase(s, tc);
	return s;
}
