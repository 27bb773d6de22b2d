/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: virtio-blk behind the virtio-mmio transport
 * (solution/vmm/virtio/: mmio.c, core.c, blk.c, virtqueue.c), driven as a
 * hostile driver drives it. The board is the VMM's own: virtio_init() puts
 * the console and the disk on the MMIO bus, and every register access goes
 * through bus_write()/bus_read() as a vCPU's MMIO exit would. KVM has no
 * ioeventfd (fuzz_host.c), so QueueNotify is served in the calling thread,
 * as on minikvm. Guest RAM is RAM_SIZE bytes at GPA 0; the disk a few
 * sectors of the target's (fuzz_disk_set).
 *
 * An input is a 4-byte header, the operations, then the first bytes of
 * guest RAM (zero past the input):
 *   byte 0     bits 0-2: the disk is n + 1 sectors; bit 3: the disk is 1000
 *              bytes, which the host refuses (virtio_init must fail and say
 *              why); bit 4: --no-event-idx; bit 5: a disk name longer than
 *              GET_ID's 20 bytes; bit 6: every read, write and flush of the
 *              disk fails (-EIO)
 *   byte 1     byte i of the disk is i * 7 + this
 *   bytes 2-3  length of the operations, little-endian
 * An operation (at most MAX_OPS of them) is a byte, kind (bits 0-3) and a
 * (bits 4-7), and its arguments (v16 and v32 little-endian; QCFG is a byte
 * and three v16, below). "The queue" is queue 0 as the device holds it.
 *   0 WRITE reg v32  register (reg & 0x7f) * 4 + (a >> 2) written with v at
 *                    width 4, 1, 2, 8 (a & 3); 8 bytes: v in both halves
 *   1 READ reg       the same address read, the value checked
 *   2 STATUS v8      Status = v (any order of §3.1.1's steps)
 *   3 FEATURES       DriverFeatures, both halves: VERSION_1 (a & 1),
 *                    EVENT_IDX (a & 2), INDIRECT_DESC (a & 4), a bit never
 *                    offered, VIRTIO_BLK_F_RO (a & 8)
 *   4 QUEUE QCFG     QueueSel = 0, 1, 2, ~0 (a & 3), QueueNum, the three
 *                    addresses, QueueReady = 1
 *   5 AVAIL v8       the driver makes head v | a << 8 available (ring
 *                    entry, then idx + 1)
 *   6 NOTIFY         QueueNotify = a (15: ~0)
 *   7 REQUEST l sec slot v16   a well-formed request (below), made
 *                    available and notified; what it does is checked
 *   8 MEMW v16 v16   the driver writes 16 bits of RAM at an offset
 *   9 BUMP           avail->idx += a + 1 (15: 0x8000), past what it wrote
 *  10 RESET          Status = 0
 *  11 ACK            InterruptACK = what InterruptStatus says (a = 0) or a
 *  12 UNREADY        QueueSel = 0, 1, 2, ~0 (a & 3), QueueReady = 0
 *  13 BRINGUP QCFG   §3.1.1 whole: reset, ACKNOWLEDGE, DRIVER, VERSION_1 and
 *                    EVENT_IDX (a & 1), INDIRECT_DESC (a & 2), RO (a & 4),
 *                    without VERSION_1 (a & 8), FEATURES_OK, queue 0, DRIVER_OK
 *  14, 15            QueueNotify = 0
 * QCFG: bits 0-3 log2 of QueueNum, bit 4 QueueNum + 1, bit 5 the addresses'
 * high halves all ones, bit 6 their low halves + RAM_SIZE (just past RAM),
 * bit 7 no QueueReady = 1; then the descriptor table's, the avail ring's and
 * the used ring's offsets. REQUEST: a bits 0-1 the data (IN, OUT: n
 * sectors; GET_ID: 10 * n bytes), bits 2-3 the type (IN, OUT, FLUSH,
 * GET_ID); l bits 0-1 the framing (0 one descriptor per part, 1 header and
 * data in one (OUT) or data and status in one, 2 an indirect table, 3 the
 * header and the data each split in two at odd lengths), bit 2 a type the
 * device does not know, bit 3 no device-writable byte at all, bit 4 an
 * 8-byte header (and no OUT data), bit 5 sector ~0 - sec; the descriptors
 * from slot on, the header at the offset, the data, the status byte and the
 * indirect table after it.
 *
 * RAM is malloc'd exactly and poisoned (ASan) while the device runs, but for
 * what it may touch: nothing on a register access; on a QueueNotify of a live
 * device with its queue ready, the ring's three parts and every buffer and
 * indirect table of the chains available, unless a device-writable byte
 * overlaps one the device reads (the device would then change its own
 * input, and this target would not know what it may touch: only ASan's
 * bounds hold then). Checks ("fuzz: ..." and abort()), after every register
 * access:
 *  - no call takes longer than CALL_LIMIT_NS;
 *  - the step bits of Status are a prefix of §3.1.1's order; FEATURES_OK only
 *    with VERSION_1 and features the device offers; NEEDS_RESET goes only
 *    with a reset, comes with a configuration interrupt and one log line;
 *    a reset leaves every register and queue as at power-on;
 *  - a ready queue is a power of 2 up to QueueNumMax with its parts aligned
 *    and in guest RAM, set up after FEATURES_OK; queue 1 does not exist;
 *  - used index == avail index taken on a live device (one behind at most
 *    when it needs a reset); a device that needs a reset takes no request;
 *  - a register read changes nothing, returns §4.2.2's values and the
 *    configuration's bytes (the disk's capacity, blk_size, a seg_max whose
 *    requests the device takes, §5.2.4); a write of another width, to the configuration or to a
 *    read-only register changes nothing;
 *  - the disk is used only in a QueueNotify of a live device, inside its
 *    capacity, from and into guest RAM, and changes only by host_disk_write;
 * and on a QueueNotify whose layout was checked: the device takes no more
 * chains than were available (never more than the queue size) and all of
 * them if it stays live; it writes only device-writable buffers and the used
 * ring; used->idx and each used element are right; each disk read or write
 * is the data of an IN or OUT request at its sector, each flush a FLUSH. A
 * REQUEST alone in the ring, clear of everything else, must complete with
 * the status, used length, data and disk of virtio 1.2 §5.2.6, and (without
 * EVENT_IDX) interrupt as avail->flags asks (§2.7.7.2). fuzz/seeds.py
 * writes the seed corpus in this form.
 */
#define _GNU_SOURCE /* fopencookie, memmem */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sanitizer/asan_interface.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "fuzz_host.h"
#include "vmm/vmm.h"
#include "vmm/virtio/virtio.h"

#define RAM_SIZE      0x10000u
#define HDR_SIZE      4
#define SECTOR        512u
#define DISK_MAX      (8 * SECTOR)
#define DISK_REFUSED  1000u
#define CALL_LIMIT_NS 1000000000ull
#define MAX_RANGES    40000
#define MAX_OPS       128  /* operations of an input: the rest is ignored */
#define FILL          0xa5 /* what the driver leaves in a buffer the device is to write */
#define UNSUPP_TYPE   VIRTIO_BLK_T_DISCARD
#define STEPS         (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK | \
		       VIRTIO_CONFIG_S_DRIVER_OK)

/* The target's own bookkeeping, which need not guide the fuzzer nor pay for
 * its comparison tracing (it runs over whole rings and RAM). */
#define HARNESS __attribute__((no_sanitize("coverage")))

static const char *const disk_names[] = { "vda.img", "disks/a-disk-whose-name-is-longer-than-twenty-bytes.img" };

static uint8_t *ram;                    /* RAM_SIZE bytes, malloc'd exactly */
static uint8_t ram_before[RAM_SIZE];    /* RAM before a QueueNotify, to see what the device wrote */
static uint8_t disk[DISK_MAX], shadow[DISK_MAX]; /* the disk, and what host_disk_write made of it */
static size_t disk_size;
static bool disk_fails;                 /* the host fails every request of the disk */
static struct vmm_options opt;
static struct vm vm;
static struct virtio_dev *dev;          /* virtio-blk, on the bus at base */
static uint64_t base;
static FILE *out;                       /* stderr: the VMM's own goes to vmm_log */
static FILE *vmm_log;
static unsigned int reset_lines;        /* "device needs reset" lines the VMM printed */

/* A range of RAM the device may read (S) or write (W) in a QueueNotify;
 * tag: the available chain it belongs to, -1 the ring. */
struct range {
	uint32_t lo, hi;
	bool write;
	int tag;
};

/* The QueueNotify in progress, for the disk's watch and the checks after it. */
static struct {
	bool notifying;       /* of queue 0, the device live and the queue ready */
	bool checked;         /* the layout is known: no W range overlaps an S one */
	bool used_alone;      /* no chain's W range overlaps the used ring */
	int last_tag;         /* the last chain available */
	bool last_alone;      /* its W ranges overlap no other W range */
	uint16_t avail_idx;   /* avail->idx when the notification came */
	bool want_alone;      /* a REQUEST asks whether its chain is alone */
	struct range r[MAX_RANGES];
	unsigned int n;
	struct range w[MAX_RANGES]; /* the W ranges merged, in order */
	unsigned int nw;
	struct range u[MAX_RANGES]; /* all of them merged, widened to ASan's 8-byte granules */
	unsigned int nu;
	unsigned int reads, writes, flushes;
} now;

static _Noreturn void fail(const char *why)
{
	fprintf(out, "fuzz: %s\n", why);
	abort();
}

static void check(bool ok, const char *why)
{
	if (!ok)
		fail(why);
}

static ssize_t vmm_log_write(void *cookie, const char *buf, size_t n)
{
	(void)cookie;
	if (memmem(buf, n, "device needs reset", strlen("device needs reset")))
		reset_lines++;
	return (ssize_t)n;
}

static bool in_ram(uint64_t gpa, uint64_t len)
{
	return gpa <= RAM_SIZE && len <= RAM_SIZE - gpa;
}

static uint16_t rd16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, ram + gpa, 2);
	return v;
}

static void wr16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static bool live(void)
{
	return (dev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static bool negotiated(unsigned int bit)
{
	return dev->driver_features & (1ull << bit);
}

/* §2.7 and the transport's decisions (mmio.c): what a ready queue must be. */
HARNESS static bool queue_valid(uint64_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	return num && num <= VIRTIO_QUEUE_NUM_MAX && !(num & (num - 1)) && !(desc & 15) && !(avail & 1) && !(used & 3) &&
	       in_ram(desc, 16 * num) && in_ram(avail, 6 + 2 * num) && in_ram(used, 6 + 8 * num);
}

/* The first of n bytes where a and b differ, or n: harness memory only
 * (not poisoned), so no ASan check either. */
__attribute__((no_sanitize("coverage", "address"))) static size_t differ(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
	}
	for (; i < n && a[i] == b[i]; i++)
		;
	return i;
}

static bool same(const void *a, const void *b, size_t n)
{
	return differ(a, b, n) == n;
}

/* ---- the chains as the device walks them ------------------------------------------- */

struct ref_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct ref_chain {
	unsigned int n;
	struct ref_buf bufs[VIRTQ_MAX_CHAIN];
	uint64_t ind_gpa;     /* its indirect table, if table_len */
	uint32_t table_len;
};

/* The chain from head by the rules that end a walk in virtqueue.c, from RAM
 * as it is: every descriptor and buffer the device can reach from there. */
HARNESS static void ref_walk(const struct virtqueue *vq, uint16_t head, struct ref_chain *c)
{
	uint64_t table = vq->desc_gpa;
	uint32_t size = vq->num, steps = 0;
	uint16_t i = head;
	bool indirect = false;

	c->n = 0;
	c->table_len = 0;
	while (steps < size && i < size && in_ram(table + 16ull * i, 16)) {
		struct vring_desc d;
		memcpy(&d, ram + table + 16ull * i, sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (indirect || !d.len || d.len % 16 || d.len / 16 > VIRTQ_MAX_CHAIN || !in_ram(d.addr, d.len))
				return;
			c->ind_gpa = d.addr;
			c->table_len = d.len;
			table = d.addr;
			size = d.len / 16;
			i = 0;
			steps = 0;
			indirect = true;
			continue;
		}
		if (c->n == VIRTQ_MAX_CHAIN || (d.len && !in_ram(d.addr, d.len)))
			return;
		c->bufs[c->n++] = (struct ref_buf){ d.addr, d.len, d.flags & VRING_DESC_F_WRITE };
		if (!(d.flags & VRING_DESC_F_NEXT))
			return;
		i = d.next;
		steps++;
	}
}

HARNESS static uint64_t ref_len(const struct ref_chain *c, bool write)
{
	uint64_t n = 0;
	for (unsigned int i = 0; i < c->n; i++)
		n += c->bufs[i].write == write ? c->bufs[i].len : 0;
	return n;
}

/* The first len bytes of the chain's device-readable stream. */
HARNESS static bool ref_read(const struct ref_chain *c, void *buf, uint64_t len)
{
	uint8_t *p = buf;
	for (unsigned int i = 0; i < c->n && len; i++) {
		if (c->bufs[i].write)
			continue;
		uint64_t n = c->bufs[i].len < len ? c->bufs[i].len : len;
		memcpy(p, ram + c->bufs[i].gpa, n);
		p += n;
		len -= n;
	}
	return len == 0;
}

/* ---- what a QueueNotify may touch ---------------------------------------------------- */

HARNESS static void range_add(uint64_t gpa, uint64_t len, bool write, int tag)
{
	if (!len || !in_ram(gpa, len))
		return;
	if (now.n == MAX_RANGES)
		fail("MAX_RANGES is too small for the chains of one queue");
	now.r[now.n++] = (struct range){ (uint32_t)gpa, (uint32_t)(gpa + len), write, tag };
}

HARNESS static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

HARNESS static bool overlap(const struct range *a, const struct range *b)
{
	return a->lo < b->hi && b->lo < a->hi;
}

/* Do the W ranges of `tag` overlap a W range of anything else? */
HARNESS static bool w_shared(int tag)
{
	for (unsigned int i = 0; i < now.n; i++) {
		if (now.r[i].tag != tag || !now.r[i].write)
			continue;
		for (unsigned int j = 0; j < now.n; j++)
			if (now.r[j].tag != tag && now.r[j].write && overlap(&now.r[i], &now.r[j]))
				return true;
	}
	return false;
}

/* Append r to the merged ranges m[0..*n) (r starts at or after the last). */
HARNESS static void merge(struct range *m, unsigned int *n, struct range r)
{
	if (*n && r.lo <= m[*n - 1].hi) {
		if (r.hi > m[*n - 1].hi)
			m[*n - 1].hi = r.hi;
	} else {
		m[(*n)++] = r;
	}
}

/* Before a QueueNotify of a live device: the ring's parts and the chains
 * available, which are all the device reads and writes as long as it writes
 * nothing it reads. */
HARNESS static void layout(const struct virtqueue *vq)
{
	now.n = 0;
	now.avail_idx = rd16(vq->avail_gpa + 2);
	range_add(vq->desc_gpa, 16ull * vq->num, false, -1);
	range_add(vq->avail_gpa, 6 + 2ull * vq->num, false, -1);
	range_add(vq->used_gpa, 6 + 8ull * vq->num, true, -1);
	uint16_t pending = (uint16_t)(now.avail_idx - vq->last_avail_idx);
	if (pending > vq->num)
		pending = 0; /* the device refuses the ring at once */
	now.last_tag = pending - 1;
	for (uint16_t k = 0; k < pending; k++) {
		uint16_t head = rd16(vq->avail_gpa + 4 + 2ull * ((vq->last_avail_idx + k) & (vq->num - 1)));
		if (head >= vq->num)
			break;
		static struct ref_chain c;
		ref_walk(vq, head, &c);
		range_add(c.ind_gpa, c.table_len, false, k);
		for (unsigned int i = 0; i < c.n; i++)
			range_add(c.bufs[i].gpa, c.bufs[i].len, c.bufs[i].write, k);
	}
	qsort(now.r, now.n, sizeof(now.r[0]), range_cmp);
	uint32_t s_end = 0, w_end = 0;
	now.checked = true;
	for (unsigned int i = 0; i < now.n; i++) {
		const struct range *r = &now.r[i];
		if (r->lo < (r->write ? s_end : w_end))
			now.checked = false;
		if (r->write && r->hi > w_end)
			w_end = r->hi;
		if (!r->write && r->hi > s_end)
			s_end = r->hi;
	}
	now.used_alone = !w_shared(-1);
	now.last_alone = now.want_alone && now.last_tag >= 0 && !w_shared(now.last_tag);
	now.nw = now.nu = 0;
	for (unsigned int i = 0; i < now.n; i++) {
		struct range r = now.r[i];
		if (r.write)
			merge(now.w, &now.nw, r);
		r.lo &= ~7u;
		r.hi = (r.hi + 7) & ~7u;
		merge(now.u, &now.nu, r);
	}
}

HARNESS static bool in_w(uint32_t at)
{
	unsigned int lo = 0, hi = now.nw;
	while (lo < hi) {
		unsigned int half = lo + (hi - lo) / 2;
		if (at < now.w[half].lo)
			hi = half;
		else if (at >= now.w[half].hi)
			lo = half + 1;
		else
			return true;
	}
	return false;
}

/* ---- the disk's watch -------------------------------------------------------------- */

/* Is this transfer the data of the request being served (the chain the
 * device took last), at its sector, never its header or status byte? */
static void check_transfer(enum fuzz_disk_op op, uint64_t gpa, size_t len, uint64_t offset)
{
	const struct virtqueue *vq = &dev->queues[0].vq;
	uint16_t head = rd16(vq->avail_gpa + 4 + 2ull * ((uint16_t)(vq->last_avail_idx - 1) & (vq->num - 1)));
	static struct ref_chain c;
	struct virtio_blk_outhdr h;
	ref_walk(vq, head, &c);
	check(ref_read(&c, &h, sizeof(h)), "the disk was used for a chain without a whole request header");
	uint32_t want = op == FUZZ_DISK_FLUSH ? VIRTIO_BLK_T_FLUSH : op == FUZZ_DISK_WRITE ? VIRTIO_BLK_T_OUT
											      : VIRTIO_BLK_T_IN;
	/* §5.2.5: without VIRTIO_BLK_F_FLUSH the device is writethrough, so an
	 * OUT is flushed too. */
	bool writethrough = !(dev->driver_features & (1ull << VIRTIO_BLK_F_FLUSH));
	if (op == FUZZ_DISK_FLUSH && writethrough && h.type == VIRTIO_BLK_T_OUT)
		want = VIRTIO_BLK_T_OUT;
	if (h.type != want)
		fail(op == FUZZ_DISK_WRITE ? "the disk was written for a request that is not OUT"
		     : op == FUZZ_DISK_READ ? "the disk was read for a request that is not IN"
					    : "the disk was flushed for a request that is not FLUSH");
	if (op == FUZZ_DISK_FLUSH)
		return;
	check(h.sector <= disk_size / SECTOR, "a transfer for a request whose sector is past the disk");
	bool write = op == FUZZ_DISK_READ;            /* the buffers the data is in */
	uint64_t skip = write ? 0 : sizeof(h);        /* OUT: the header comes first */
	uint64_t end = ref_len(&c, write) - (write ? 1 : 0); /* IN: the status byte comes last */
	uint64_t at = 0;
	for (unsigned int i = 0; i < c.n; i++) {
		const struct ref_buf *b = &c.bufs[i];
		if (b->write != write)
			continue;
		if (gpa >= b->gpa && gpa + len <= b->gpa + b->len) {
			uint64_t s = at + (gpa - b->gpa);
			if (s >= skip && s + len <= end && h.sector * SECTOR + (s - skip) == offset)
				return;
		}
		at += b->len;
	}
	fail("a disk transfer is not the request's data at its sector");
}

static void disk_watch(enum fuzz_disk_op op, const void *buf, size_t len, uint64_t offset)
{
	check(now.notifying, "the disk was used outside a QueueNotify of the request queue");
	check(live() && dev->queues[0].ready, "the disk was used by a device that needs a reset or a queue not ready");
	if (op == FUZZ_DISK_FLUSH) {
		if (now.checked)
			check_transfer(op, 0, 0, 0);
		now.flushes++;
		return;
	}
	check(offset <= disk_size && len <= disk_size - offset, "the device asked the disk for bytes past its capacity");
	const uint8_t *p = buf;
	check(p >= ram && len <= RAM_SIZE && (size_t)(p - ram) <= RAM_SIZE - len,
	      "a disk transfer from or into memory that is not guest RAM");
	if (now.checked)
		check_transfer(op, (uint64_t)(p - ram), len, offset);
	if (op == FUZZ_DISK_WRITE) {
		if (!disk_fails)
			memcpy(shadow + offset, buf, len);
		now.writes++;
	} else {
		now.reads++;
	}
}

/* ---- register accesses, and the checks after each ---------------------------------- */

struct step {
	struct virtio_dev dev;
	unsigned long pulses;
	unsigned int reset_lines, io;
	uint64_t requests;
};

HARNESS static void step_begin(struct step *s)
{
	memcpy(&s->dev, dev, sizeof(*dev));
	s->pulses = fuzz_irq_pulses(dev->irq);
	s->reset_lines = reset_lines;
	s->io = now.reads + now.writes + now.flushes;
	s->requests = atomic_load(&dev->stats.requests);
}

HARNESS static bool writable_reg(uint32_t off)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
	case VIRTIO_MMIO_DRIVER_FEATURES:
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
	case VIRTIO_MMIO_QUEUE_SEL:
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_NOTIFY:
	case VIRTIO_MMIO_INTERRUPT_ACK:
	case VIRTIO_MMIO_STATUS:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		return true;
	}
	return false;
}

HARNESS static uint64_t device_features(void)
{
	uint64_t f = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH) |
		     (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	return f | (opt.event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0);
}

HARNESS static void step_check(const struct step *s, bool write, uint32_t off, unsigned int size, uint64_t value)
{
	static const struct virtio_queue none;
	uint32_t st = dev->status, was = s->dev.status;
	bool reset = write && size == 4 && off == VIRTIO_MMIO_STATUS && (uint32_t)value == 0;

	if (!write || size != 4 || !writable_reg(off))
		check(same(&s->dev, dev, sizeof(*dev)),
		      write ? "a write of another width, to the configuration or to a read-only register changed the device"
			    : "a register read changed the device");
	if (reset)
		check(!dev->status && !dev->driver_features && !dev->device_features_sel && !dev->driver_features_sel &&
			      !dev->queue_sel && !dev->interrupt_status && same(&dev->queues[0], &none, sizeof(none)),
		      "a reset left a register or a queue as it was");
	check(dev->device_features == device_features(), "the device's features changed or are not the ones it offers");

	/* §3.1.1, as the transport enforces it. */
	uint32_t steps = st & STEPS;
	check(steps == 0 || steps == VIRTIO_CONFIG_S_ACKNOWLEDGE ||
		      steps == (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER) ||
		      steps == (STEPS & ~VIRTIO_CONFIG_S_DRIVER_OK) || steps == STEPS,
	      "the status steps are not a prefix of §3.1.1's order");
	check(!(st & VIRTIO_CONFIG_S_FEATURES_OK) ||
		      (!(dev->driver_features & ~dev->device_features) && negotiated(VIRTIO_F_VERSION_1)),
	      "FEATURES_OK kept with features not offered or without VERSION_1");
	check(!(was & VIRTIO_CONFIG_S_NEEDS_RESET) || (st & VIRTIO_CONFIG_S_NEEDS_RESET) || reset,
	      "DEVICE_NEEDS_RESET cleared without a reset");
	bool needs_reset = !(was & VIRTIO_CONFIG_S_NEEDS_RESET) && (st & VIRTIO_CONFIG_S_NEEDS_RESET);
	check(reset_lines - s->reset_lines == (needs_reset ? 1u : 0u),
	      "DEVICE_NEEDS_RESET set without its log line, or the line without it");
	check(!needs_reset || ((dev->interrupt_status & VIRTIO_MMIO_INT_CONFIG) &&
			       fuzz_irq_pulses(dev->irq) > s->pulses),
	      "DEVICE_NEEDS_RESET set without a configuration change interrupt");
	check(fuzz_irq_pulses(dev->irq) == s->pulses || dev->interrupt_status,
	      "an interrupt with nothing in InterruptStatus");

	/* The queues. */
	check(same(&dev->queues[1], &none, sizeof(none)), "queue 1, which virtio-blk does not have, changed");
	const struct virtio_queue *q = &dev->queues[0];
	if (q->ready) {
		check(queue_valid(q->num, q->desc, q->driver, q->device) && q->vq.num == q->num &&
			      q->vq.desc_gpa == q->desc && q->vq.avail_gpa == q->driver && q->vq.used_gpa == q->device,
		      "a ready queue is not a power of 2 up to QueueNumMax, aligned and in guest RAM");
		check(st & VIRTIO_CONFIG_S_FEATURES_OK, "a queue is ready without FEATURES_OK");
		uint16_t behind = (uint16_t)(q->vq.last_avail_idx - q->vq.used_idx);
		check(behind == 0 || (behind == 1 && (st & VIRTIO_CONFIG_S_NEEDS_RESET)),
		      "the used index is not the avail index the device took");
	}
	if ((was & VIRTIO_CONFIG_S_NEEDS_RESET) && (st & VIRTIO_CONFIG_S_NEEDS_RESET))
		check(atomic_load(&dev->stats.requests) == s->requests && now.reads + now.writes + now.flushes == s->io,
		      "a device that needs a reset took a request");
}

static void timed(uint64_t t0)
{
	if (host_now_ns() - t0 > CALL_LIMIT_NS)
		fail("a register access took longer than CALL_LIMIT_NS");
}

/* What the device took and wrote in a QueueNotify whose layout is known. */
HARNESS static void notify_check(const struct virtqueue *vq, uint16_t last0, uint16_t used0)
{
	uint16_t pending = (uint16_t)(now.avail_idx - last0), taken = (uint16_t)(vq->last_avail_idx - last0);
	uint16_t used = (uint16_t)(vq->used_idx - used0);
	check(pending <= vq->num || !live(), "the device took from a ring whose avail index is more than its size ahead");
	check(taken <= pending && used <= pending, "the device took more chains than the driver made available");
	if (live() && dev->queues[0].ready)
		check(taken == pending, "a live device left available chains in the ring");
	/* Outside these ranges ASan would have stopped it already. */
	for (unsigned int k = 0; k < now.nu; k++) {
		uint32_t lo = now.u[k].lo, hi = now.u[k].hi;
		for (uint32_t i = lo + (uint32_t)differ(ram + lo, ram_before + lo, hi - lo); i < hi;
		     i += 1 + (uint32_t)differ(ram + i + 1, ram_before + i + 1, hi - i - 1))
			check(in_w(i), "the device wrote guest memory that is neither the used ring nor a device-writable buffer");
	}
	if (!used || !now.used_alone)
		return;
	check(rd16(vq->used_gpa + 2) == vq->used_idx, "used->idx is not the device's used index");
	for (uint16_t k = 0; k < used; k++) {
		uint64_t e = vq->used_gpa + 4 + 8ull * ((used0 + k) & (vq->num - 1));
		uint32_t id, len;
		memcpy(&id, ram + e, 4);
		memcpy(&len, ram + e + 4, 4);
		uint16_t head = rd16(vq->avail_gpa + 4 + 2ull * ((last0 + k) & (vq->num - 1)));
		check(id == head, "a used element's id is not the head the driver made available");
		static struct ref_chain c;
		ref_walk(vq, head, &c);
		check(len >= 1 && len <= ref_len(&c, true), "a used length is 0 or more than the chain's writable bytes");
	}
}

static void mmio_write(uint32_t off, unsigned int size, uint64_t value)
{
	const struct virtio_queue *q = &dev->queues[0];
	bool notify = off == VIRTIO_MMIO_QUEUE_NOTIFY && size == 4 && (uint32_t)value == 0 && live() && q->ready;
	uint16_t last0 = q->vq.last_avail_idx, used0 = q->vq.used_idx;
	struct step s;
	step_begin(&s);
	now.checked = false;
	if (notify) {
		layout(&q->vq);
		if (now.checked) {
			for (unsigned int i = 0; i < now.nu; i++)
				memcpy(ram_before + now.u[i].lo, ram + now.u[i].lo, now.u[i].hi - now.u[i].lo);
			ASAN_POISON_MEMORY_REGION(ram, RAM_SIZE);
			for (unsigned int i = 0; i < now.n; i++)
				ASAN_UNPOISON_MEMORY_REGION(ram + now.r[i].lo, now.r[i].hi - now.r[i].lo);
		}
	} else {
		ASAN_POISON_MEMORY_REGION(ram, RAM_SIZE);
	}
	now.notifying = notify;
	stderr = vmm_log;
	uint64_t t0 = host_now_ns();
	bus_write(&vm.mmio_bus, NULL, base + off, size, value);
	timed(t0);
	stderr = out;
	now.notifying = false;
	ASAN_UNPOISON_MEMORY_REGION(ram, RAM_SIZE);
	if (notify && now.checked)
		notify_check(&q->vq, last0, used0);
	if (notify)
		check(same(disk, shadow, disk_size), "the disk changed but by host_disk_write");
	step_check(&s, true, off, size, value);
}

static void w32(uint32_t off, uint32_t value)
{
	mmio_write(off, 4, value);
}

/* §4.2.2's values, the configuration's bytes; 0 for what is write-only. */
HARNESS static uint64_t expected_read(uint32_t off, unsigned int size, const struct step *s)
{
	if (off + size > ABI_VIRTIO_MMIO_SIZE)
		return size == 8 ? ~0ull : (1ull << (8 * size)) - 1; /* straddles the end: nobody's */
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint32_t len = 0;
		const uint8_t *config = dev->ops->config(dev, &len);
		uint64_t v = 0, at = off - VIRTIO_MMIO_CONFIG;
		for (unsigned int i = 0; i < size && at + i < len; i++)
			v |= (uint64_t)config[at + i] << (8 * i);
		return v;
	}
	if (size != 4)
		return 0;
	const struct virtio_dev *d = &s->dev;
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return 0x74726976; /* "virt" */
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return VIRTIO_ID_BLOCK;
	case VIRTIO_MMIO_VENDOR_ID:
		return ABI_TESTDEV_MAGIC;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return d->device_features_sel < 2 ? (uint32_t)(device_features() >> (32 * d->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return d->queue_sel == 0 ? VIRTIO_QUEUE_NUM_MAX : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return d->queue_sel == 0 && d->queues[0].ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return d->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return d->status;
	}
	return 0;
}

static uint64_t mmio_read(uint32_t off, unsigned int size)
{
	struct step s;
	step_begin(&s);
	ASAN_POISON_MEMORY_REGION(ram, RAM_SIZE);
	stderr = vmm_log;
	uint64_t t0 = host_now_ns();
	uint64_t v = bus_read(&vm.mmio_bus, NULL, base + off, size);
	timed(t0);
	stderr = out;
	ASAN_UNPOISON_MEMORY_REGION(ram, RAM_SIZE);
	check(v == expected_read(off, size, &s), "a register or configuration read returned the wrong value");
	step_check(&s, false, off, size, 0);
	return v;
}

/* ---- the operations ---------------------------------------------------------------- */

enum { OP_WRITE, OP_READ, OP_STATUS, OP_FEATURES, OP_QUEUE, OP_AVAIL, OP_NOTIFY, OP_REQUEST, OP_MEMW, OP_BUMP,
       OP_RESET, OP_ACK, OP_UNREADY, OP_BRINGUP };
/* The argument bytes of each kind. */
static const uint8_t op_args[16] = { 5, 1, 1, 0, 7, 1, 0, 5, 4, 0, 0, 0, 0, 7, 0, 0 };

static const uint32_t queue_sels[] = { 0, 1, 2, ~0u };

static void features(bool version_1, bool event_idx, bool indirect, bool ro)
{
	uint64_t f = (version_1 ? 1ull << VIRTIO_F_VERSION_1 : 0) | (event_idx ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
		     (indirect ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0) | (ro ? 1ull << VIRTIO_BLK_F_RO : 0);
	uint64_t before = dev->driver_features;
	bool settled = dev->status & VIRTIO_CONFIG_S_FEATURES_OK;
	for (uint32_t sel = 0; sel < 2; sel++) {
		w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
		w32(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> (32 * sel)));
	}
	check(dev->driver_features == (settled ? before : f),
	      settled ? "DriverFeatures changed after FEATURES_OK" : "DriverFeatures is not what the driver wrote");
}

/* QueueSel, QueueNum, the addresses (QCFG), QueueReady = 1. */
static void queue(uint32_t sel, const uint8_t *cfg)
{
	uint32_t num = (1u << (cfg[0] & 15)) + !!(cfg[0] & 0x10);
	uint64_t hi = cfg[0] & 0x20 ? 0xffffffff00000000ull : 0, lo = cfg[0] & 0x40 ? RAM_SIZE : 0;
	uint64_t a[3];
	for (int i = 0; i < 3; i++)
		a[i] = hi | (lo + (uint16_t)(cfg[1 + 2 * i] | cfg[2 + 2 * i] << 8));
	const struct virtio_queue *q = &dev->queues[0];
	bool was_ready = q->ready;
	w32(VIRTIO_MMIO_QUEUE_SEL, sel);
	w32(VIRTIO_MMIO_QUEUE_NUM, num);
	static const uint32_t regs[] = { VIRTIO_MMIO_QUEUE_DESC_LOW, VIRTIO_MMIO_QUEUE_AVAIL_LOW,
					 VIRTIO_MMIO_QUEUE_USED_LOW };
	for (int i = 0; i < 3; i++) {
		w32(regs[i], (uint32_t)a[i]);
		w32(regs[i] + 4, (uint32_t)(a[i] >> 32));
	}
	if (cfg[0] & 0x80)
		return;
	bool ok = sel == 0 && (dev->status & VIRTIO_CONFIG_S_FEATURES_OK) && queue_valid(num, a[0], a[1], a[2]);
	w32(VIRTIO_MMIO_QUEUE_READY, 1);
	check(q->ready == (was_ready || ok), was_ready || ok ? "a queue set up by the rules is not ready"
							     : "a queue against the rules is ready");
}

static void bringup(uint8_t a, const uint8_t *cfg)
{
	w32(VIRTIO_MMIO_STATUS, 0);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	features(!(a & 8), a & 1, a & 2, a & 4);
	w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	bool ok = !(a & 4) && !(a & 8) && (!(a & 1) || opt.event_idx);
	check(!!(mmio_read(VIRTIO_MMIO_STATUS, 4) & VIRTIO_CONFIG_S_FEATURES_OK) == ok,
	      ok ? "FEATURES_OK refused for features the device offers" : "FEATURES_OK kept for features it does not");
	queue(0, cfg);
	w32(VIRTIO_MMIO_STATUS, STEPS);
	check(dev->status == (ok ? STEPS : VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER),
	      "a bring-up in §3.1.1's order did not end where it should");
}

/* The driver's avail ring, if the queue's registers put it in RAM. */
static bool avail_ring(uint64_t *gpa, uint32_t *num)
{
	const struct virtio_queue *q = &dev->queues[0];
	*gpa = q->driver;
	*num = q->num;
	return q->num && q->num <= 0x10000 && in_ram(q->driver, 4 + 2ull * q->num);
}

static void make_available(uint16_t head)
{
	uint64_t avail;
	uint32_t num;
	if (!avail_ring(&avail, &num))
		return;
	uint16_t idx = rd16(avail + 2);
	wr16(avail + 4 + 2ull * (idx % num), head);
	wr16(avail + 2, (uint16_t)(idx + 1));
}

/* Is [lo, hi) clear of len bytes at gpa? */
static bool clear_of(uint64_t lo, uint64_t hi, uint64_t gpa, uint64_t len)
{
	return hi <= gpa || gpa + len <= lo;
}

/* A well-formed request (the driver's, built in RAM), alone or after what
 * else is available, and what §5.2.6 says must come of it. */
static void request(uint8_t a, const uint8_t *arg)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID };
	const struct virtio_queue *q = &dev->queues[0];
	if (!q->ready)
		return;
	const uint8_t l = arg[0], sec = arg[1], slot = arg[2];
	const uint64_t off = (uint16_t)(arg[3] | arg[4] << 8);
	uint32_t type = types[(a >> 2) & 3];
	unsigned int framing = l & 3;
	bool is_out = type == VIRTIO_BLK_T_OUT, unknown = l & 4, no_status = l & 8, short_hdr = l & 16;
	uint32_t hdr_len = short_hdr ? 8 : 16;
	uint32_t dlen = type == VIRTIO_BLK_T_IN || is_out ? (a & 3) * SECTOR : type == VIRTIO_BLK_T_GET_ID ? (a & 3) * 10 : 0;
	if (short_hdr && is_out)
		dlen = 0; /* an 8-byte header and nothing after it */
	if (no_status && !is_out)
		dlen = 0; /* no device-writable byte at all */
	uint32_t slen = no_status ? 0 : 1;
	uint64_t hdr = off, data = hdr + hdr_len, status = data + dlen, table = (status + slen + 15) & ~15ull;

	/* The parts in chain order: header, data, status byte. */
	struct ref_buf parts[6];
	unsigned int np = 0;
	bool merged = framing == 1 && dlen;   /* OUT: header and data; IN, GET_ID: data and status */
	if (framing == 3) {
		parts[np++] = (struct ref_buf){ hdr, 5, false };
		parts[np++] = (struct ref_buf){ hdr + 5, hdr_len - 5, false };
	} else {
		parts[np++] = (struct ref_buf){ hdr, hdr_len + (merged && is_out ? dlen : 0), false };
	}
	if (dlen && framing == 3 && dlen >= 2) {
		parts[np++] = (struct ref_buf){ data, dlen / 2 + 1, !is_out };
		parts[np++] = (struct ref_buf){ data + dlen / 2 + 1, dlen - dlen / 2 - 1, !is_out };
	} else if (dlen && !(merged && is_out)) {
		parts[np++] = (struct ref_buf){ data, dlen + (merged ? slen : 0), !is_out };
	}
	if (slen && !(merged && !is_out))
		parts[np++] = (struct ref_buf){ status, 1, true };

	uint64_t end = framing == 2 ? table + 16ull * np : status + slen;
	if ((framing == 2 ? 1 : np) > q->num || !in_ram(off, end - off))
		return;

	/* The buffers: the header, data the device is to write filled with
	 * FILL, a status byte it must set. */
	uint64_t sector = l & 32 ? ~0ull - sec : sec;
	uint32_t hdr_type = unknown ? UNSUPP_TYPE : type;
	memcpy(ram + hdr, &hdr_type, 4);
	memset(ram + hdr + 4, 0, 4);
	if (!short_hdr)
		memcpy(ram + hdr + 8, &sector, 8);
	if (!is_out)
		memset(ram + data, FILL, dlen);
	if (slen)
		ram[status] = 0xff;
	/* The descriptors, from slot on in the queue's table, or in the indirect table. */
	uint16_t head = slot % q->num;
	for (unsigned int i = 0; i < np; i++) {
		bool last = i + 1 == np;
		uint64_t at = framing == 2 ? table + 16ull * i : q->desc + 16ull * ((head + i) % q->num);
		uint16_t next = (uint16_t)(framing == 2 ? i + 1 : (head + i + 1) % q->num);
		struct vring_desc d = { .addr = parts[i].gpa, .len = parts[i].len,
					.flags = (uint16_t)((parts[i].write ? VRING_DESC_F_WRITE : 0) |
							    (last ? 0 : VRING_DESC_F_NEXT)),
					.next = last ? 0 : next };
		memcpy(ram + at, &d, sizeof(d));
	}
	if (framing == 2) {
		struct vring_desc d = { .addr = table, .len = 16 * np, .flags = VRING_DESC_F_INDIRECT };
		memcpy(ram + q->desc + 16ull * head, &d, sizeof(d));
	}
	/* The ring's parts written over the request, or over each other, would
	 * make it another one. */
	uint64_t dsz = 16ull * q->num, asz = 6 + 2ull * q->num, usz = 6 + 8ull * q->num;
	bool clear = clear_of(off, end, q->desc, dsz) && clear_of(off, end, q->driver, asz) &&
		     clear_of(off, end, q->device, usz) && clear_of(q->desc, q->desc + dsz, q->driver, asz) &&
		     clear_of(q->desc, q->desc + dsz, q->device, usz) && clear_of(q->driver, q->driver + asz, q->device, usz);

	bool was_live = live();
	uint16_t others = (uint16_t)(rd16(q->driver + 2) - q->vq.last_avail_idx), used0 = q->vq.used_idx;
	unsigned int writes = now.writes, reads = now.reads, flushes = now.flushes;
	unsigned long pulses = fuzz_irq_pulses(dev->irq);
	make_available(head);
	now.want_alone = true;
	w32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	now.want_alone = false;
	if (!was_live || others || !clear || !now.checked || !now.last_alone)
		return; /* not alone, or not clear of the rest: the checks of every QueueNotify are all there is */

	/* §5.2.6 and the device's decisions (blk.c), for this request alone. */
	if ((framing == 2 && !negotiated(VIRTIO_RING_F_INDIRECT_DESC)) || no_status) {
		check(dev->status & VIRTIO_CONFIG_S_NEEDS_RESET,
		      "a request without a status byte, or an indirect one without the feature, did not need a reset");
		check(q->vq.used_idx == used0, "a request the device cannot answer was used");
		return;
	}
	check(live(), "a well-formed request made the device need a reset");
	check(q->vq.used_idx == (uint16_t)(used0 + 1), "a well-formed request was not used");
	uint64_t e = q->device + 4 + 8ull * (used0 & (q->num - 1));
	uint32_t id, len;
	memcpy(&id, ram + e, 4);
	memcpy(&len, ram + e + 4, 4);
	check(id == head, "the used element of a request is not its head");
	if (!negotiated(VIRTIO_RING_F_EVENT_IDX)) {
		/* §2.7.7.2: without EVENT_IDX, an interrupt unless the driver set NO_INTERRUPT. */
		bool irq = !(rd16(q->driver) & VRING_AVAIL_F_NO_INTERRUPT);
		check((fuzz_irq_pulses(dev->irq) > pulses) == irq && (!irq || (dev->interrupt_status & VIRTIO_MMIO_INT_VRING)),
		      irq ? "a used buffer without the interrupt the driver asked for" : "an interrupt the driver turned off");
	}

	uint64_t sectors = disk_size / SECTOR;
	bool inside = sector <= sectors && dlen / SECTOR <= sectors - sector;
	/* Asks the disk: data, a FLUSH, or an OUT of a writethrough device (no
	 * VIRTIO_BLK_F_FLUSH negotiated, §5.2.5), which flushes even with no data. */
	bool io = ((type == VIRTIO_BLK_T_IN || is_out) && dlen) || type == VIRTIO_BLK_T_FLUSH ||
		  (is_out && !negotiated(VIRTIO_BLK_F_FLUSH));
	uint8_t want = short_hdr ? VIRTIO_BLK_S_IOERR
		       : unknown ? VIRTIO_BLK_S_UNSUPP
		       : ((type == VIRTIO_BLK_T_IN || is_out) && !inside) || (io && disk_fails) ? VIRTIO_BLK_S_IOERR
											       : VIRTIO_BLK_S_OK;
	uint32_t wrote = 0;
	if (want == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN) {
		wrote = dlen;
		check(!memcmp(ram + data, shadow + sector * SECTOR, dlen), "an IN request's data is not the disk's");
		check(now.reads > reads || !dlen, "an IN request did not read the disk");
	} else if (want == VIRTIO_BLK_S_OK && is_out) {
		check(!memcmp(shadow + sector * SECTOR, ram + data, dlen), "an OUT request did not write its data");
		check(now.writes > writes || !dlen, "an OUT request did not write the disk");
	} else if (want == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_FLUSH) {
		check(now.flushes == flushes + 1, "a FLUSH request did not flush the disk");
	} else if (want == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_GET_ID) {
		/* §5.2.6: the name, NUL-padded to 20 bytes, no NUL if it fills them. */
		const char *name = strrchr(opt.disk, '/') ? strrchr(opt.disk, '/') + 1 : opt.disk;
		char id_bytes[VIRTIO_BLK_ID_BYTES] = { 0 };
		memcpy(id_bytes, name, strlen(name) < sizeof(id_bytes) ? strlen(name) : sizeof(id_bytes));
		wrote = dlen < sizeof(id_bytes) ? dlen : sizeof(id_bytes);
		check(!memcmp(ram + data, id_bytes, wrote), "GET_ID did not write the disk's name");
	}
	if (!is_out || short_hdr || unknown || !inside)
		check(now.writes == writes, "a request that is not an OUT inside the disk wrote the disk");
	if (!is_out)
		for (uint32_t i = wrote; i < dlen; i++)
			check(ram[data + i] == FILL, "the device wrote data past what the request asked for");
	check(ram[status] == want, "a request's status byte is wrong");
	check(len == wrote + 1, "a request's used length is not its data and status byte");
}

static void run(const uint8_t *ops, size_t n)
{
	for (size_t k = 0, done = 0; k < n && done < MAX_OPS; done++) {
		uint8_t kind = ops[k] & 15, a = ops[k] >> 4;
		const uint8_t *arg = ops + k + 1;
		if (k + 1 + op_args[kind] > n)
			return;
		k += 1 + op_args[kind];
		static const unsigned int sizes[] = { 4, 1, 2, 8 };
		uint32_t reg = op_args[kind] ? (uint32_t)(arg[0] & 0x7f) * 4 + (a >> 2) : 0;
		uint64_t avail;
		uint32_t num, v32;
		switch (kind) {
		case OP_WRITE:
			memcpy(&v32, arg + 1, 4);
			mmio_write(reg, sizes[a & 3], (uint64_t)v32 << 32 | v32);
			break;
		case OP_READ:
			mmio_read(reg, sizes[a & 3]);
			break;
		case OP_STATUS:
			w32(VIRTIO_MMIO_STATUS, arg[0]);
			break;
		case OP_FEATURES:
			features(a & 1, a & 2, a & 4, a & 8);
			break;
		case OP_QUEUE:
			queue(queue_sels[a & 3], arg);
			break;
		case OP_AVAIL:
			make_available((uint16_t)(arg[0] | a << 8));
			break;
		case OP_NOTIFY:
			w32(VIRTIO_MMIO_QUEUE_NOTIFY, a == 15 ? ~0u : a);
			break;
		case OP_REQUEST:
			request(a, arg);
			break;
		case OP_MEMW: {
			uint16_t at = (uint16_t)(arg[0] | arg[1] << 8);
			if (in_ram(at, 2))
				wr16(at, (uint16_t)(arg[2] | arg[3] << 8));
			break;
		}
		case OP_BUMP:
			if (avail_ring(&avail, &num))
				wr16(avail + 2, (uint16_t)(rd16(avail + 2) + (a == 15 ? 0x8000 : a + 1)));
			break;
		case OP_RESET:
			w32(VIRTIO_MMIO_STATUS, 0);
			break;
		case OP_ACK: {
			uint32_t was = dev->interrupt_status;
			uint32_t ack = a ? a : (uint32_t)mmio_read(VIRTIO_MMIO_INTERRUPT_STATUS, 4);
			w32(VIRTIO_MMIO_INTERRUPT_ACK, ack);
			check(dev->interrupt_status == (was & ~ack), "InterruptACK did not clear what it acknowledged");
			break;
		}
		case OP_UNREADY:
			w32(VIRTIO_MMIO_QUEUE_SEL, queue_sels[a & 3]);
			w32(VIRTIO_MMIO_QUEUE_READY, 0);
			check(!dev->queues[0].ready || (a & 3), "QueueReady = 0 left the queue ready");
			break;
		case OP_BRINGUP:
			bringup(a, arg);
			break;
		default:
			w32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
			break;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	out = stderr;
	vmm_log = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = vmm_log_write });
	ram = malloc(RAM_SIZE);
	if (!vmm_log || !ram)
		fuzz_unreachable("no memory for the fuzz VM");
	setvbuf(vmm_log, NULL, _IONBF, 0);
	fuzz_disk_watch(disk_watch);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR_SIZE)
		return -1;
	uint8_t flags = data[0], fill = data[1];
	size_t n_ops = (size_t)(data[2] | data[3] << 8);
	data += HDR_SIZE, size -= HDR_SIZE;
	if (n_ops > size)
		n_ops = size;
	const uint8_t *ops = data;
	data += n_ops, size -= n_ops;

	ASAN_UNPOISON_MEMORY_REGION(ram, RAM_SIZE);
	size_t image = size < RAM_SIZE ? size : RAM_SIZE;
	memcpy(ram, data, image);
	memset(ram + image, 0, RAM_SIZE - image);
	disk_size = flags & 8 ? DISK_REFUSED : ((flags & 7) + 1u) * SECTOR;
	for (size_t i = 0; i < disk_size; i++)
		disk[i] = (uint8_t)(i * 7 + fill);
	memcpy(shadow, disk, disk_size);
	disk_fails = flags & 0x40;
	fuzz_disk_fail(disk_fails ? EIO : 0);
	now.notifying = now.want_alone = false;
	now.reads = now.writes = now.flushes = 0;

	opt = (struct vmm_options){
		.mem_size = RAM_SIZE, .cpus = 1, .mode = MODE_AUTO, .load_addr = ~0ull, .entry = ~0ull,
		.irqchip = true, .ioeventfd = true, .event_idx = !(flags & 0x10), .max_output = 1 << 20,
		.disk = disk_names[!!(flags & 0x20)], .image = "fuzz",
	};
	fuzz_disk_set(opt.disk, disk, disk_size);
	vm_init_state(&vm, &opt);
	vm.ram = ram;
	vm.has_irqchip = true; /* the interrupts reach KVM_IRQ_LINE, which fuzz_host.c counts */
	if (bus_init(&vm.mmio_bus, "mmio"))
		fuzz_unreachable("bus_init");
	stderr = vmm_log;
	int r = virtio_init(&vm);
	stderr = out;
	dev = vm.virtio[ABI_VIRTIO_BLK];
	if (disk_size % SECTOR) {
		check(r < 0 && !dev && vm.stopping && vm.exit_status == VMM_EXIT_USAGE &&
			      !strncmp(vm.stop_message, "--disk ", strlen("--disk ")),
		      "a disk the host refuses must end the VM with status 2 and say why");
	} else {
		check(r == 0 && dev && dev->ops->device_id == VIRTIO_ID_BLOCK, "virtio_init did not put the disk in its slot");
		/* §5.2.4 with the features offered: BLK_SIZE, and SEG_MAX such that
		 * a request of that many data buffers, a header and a status byte
		 * is a chain the device takes (VIRTQ_MAX_CHAIN) and a queue holds. */
		uint32_t len = 0;
		const struct virtio_blk_config *config = dev->ops->config(dev, &len);
		check(len == sizeof(*config) && config->capacity == disk_size / SECTOR && config->blk_size == SECTOR &&
			      config->seg_max >= 1 && config->seg_max + 2 <= VIRTQ_MAX_CHAIN &&
			      config->seg_max + 2 <= VIRTIO_QUEUE_NUM_MAX,
		      "the configuration is not the disk's capacity, a seg_max the device takes and blk_size");
		base = ABI_VIRTIO_MMIO_GPA + (uint64_t)ABI_VIRTIO_BLK * ABI_VIRTIO_MMIO_SIZE;
		run(ops, n_ops);
		stderr = vmm_log;
		virtio_exit(&vm);
		stderr = out;
	}
	bus_exit(&vm.mmio_bus);
	check(same(disk, shadow, disk_size), "the disk changed but by host_disk_write");
	dev = NULL;
	return 0;
}
