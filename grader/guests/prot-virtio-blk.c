/* SPDX-License-Identifier: MIT */
/*
 * prot-virtio-blk: virtio-blk (virtio 1.2 §5.2) in slot 1, run with
 * --disk=FILE of 64 KiB or more. The driver takes VERSION_1, SEG_MAX,
 * BLK_SIZE, FLUSH and INDIRECT_DESC, not EVENT_IDX (prot-virtio-event-idx
 * has it), and waits for every request by its interrupt.
 *  - identification, the features offered, QueueNumMax (256 for queue 0, 0
 *    for queue 1);
 *  - configuration (§5.2.4): capacity >= 128 sectors, size_max 0, seg_max
 *    126, blk_size 512;
 *  - GET_ID: 20 bytes, the disk file's base name NUL-padded, used len 21;
 *  - every sector (up to the first MAX_SECTORS) read as the grader filled
 *    it (guest_abi.h ABI_DISK_FILL; skipped on a disk of zeros, one not
 *    made by the grader), then written with ABI_DISK_WORD under a seed of
 *    this run, 8 sectors a request; three of them again as a request of
 *    three data buffers, one with the header and the data in a single
 *    buffer (framing is the driver's, §2.7.4); FLUSH; all read back and
 *    compared; used len 1 for OUT and FLUSH, data + 1 for IN;
 *  - two sectors read into buffers of 100, 412 and 512 bytes, four through
 *    an indirect table;
 *  - IOERR for a sector at the capacity, for reads and writes straddling
 *    it (the last sector unchanged after such a write), for data lengths
 *    of 513 and 100 bytes; UNSUPP for types 0x42 and 11 (DISCARD, not
 *    offered); used len 1 for each;
 *  - the ring filled: 64 reads through indirect tables in a queue of 64,
 *    one notification, all 64 back (in any order), each exactly once, each
 *    with its data;
 *  - after a reset, a queue of 4: 48 reads four at a time and 8 of three
 *    descriptors one at a time, so the ring's indices wrap its size many
 *    times (the 16-bit wrap, past 65535, is the unit tests': too many
 *    requests for a guest);
 *  - used buffers interrupt.
 * Last, a line for the grader's look at the disk file after the run
 * (grader/lib/runner.py, check_disk):
 *   expect-disk: first=0 last=N-1 seed=0xS
 * sectors 0..N-1 hold ABI_DISK_WORD(sector, j, S) as 32-bit little-endian
 * word j, every other byte the grader's fill. The seed comes from the TSC,
 * so a disk left by an earlier run does not pass.
 */
#include "virtio.h"

#define WAIT_MS     100
#define MAX_SECTORS 256
#define CHUNK       8                    /* sectors a request */
#define QSIZE       64
#define SECTOR      VIRTIO_BLK_SECTOR
#define WORDS       (SECTOR / 4)

static struct virtio_dev blk;
static struct virtq vq;
static struct virtq_area area;
static uint32_t seed;
static uint64_t capacity;
static uint32_t nsect;                   /* sectors written: min(capacity, MAX_SECTORS) */

static uint8_t data[QSIZE * SECTOR] __attribute__((aligned(16)));
static struct virtio_blk_outhdr hdrs[QSIZE];
static uint8_t statuses[QSIZE];
static struct vring_desc tables[QSIZE][8] __attribute__((aligned(16)));

/* ---- the pattern ---------------------------------------------------------- */

/* ABI_DISK_WORD(s, j, seed) = seed ^ s * 0x01000193 ^ j * 0x9e3779b1, word
 * by word: the j term kept as a running sum (every instruction may be
 * emulated, README.md). */
static void fill(void *buf, uint32_t sector, unsigned count)
{
	uint32_t *w = buf;
	for (unsigned s = 0; s < count; s++) {
		uint32_t base = seed ^ (sector + s) * 0x01000193u, m = 0;
		for (unsigned j = 0; j < WORDS; j++, m += 0x9e3779b1u)
			*w++ = base ^ m;
	}
}

static struct {
	uint32_t sector, word, got, want;
} bad;

/* Whether buf holds the pattern of count sectors from `sector`; the first
 * difference in `bad`. */
static int check(const void *buf, uint32_t sector, unsigned count)
{
	const uint32_t *w = buf;
	for (unsigned s = 0; s < count; s++) {
		uint32_t base = seed ^ (sector + s) * 0x01000193u, m = 0;
		for (unsigned j = 0; j < WORDS; j++, m += 0x9e3779b1u, w++) {
			if (*w != (base ^ m)) {
				bad = (typeof(bad)){ sector + s, j, *w, base ^ m };
				return 0;
			}
		}
	}
	return 1;
}

/* Whether buf holds the grader's fill of count sectors from `sector`
 * (ABI_DISK_FILL: byte i of the disk is i ^ (i >> 9) * 0x3b, so byte o of
 * sector s is o ^ s * 0x3b, low 8 bits): four bytes of the ramp at a time. */
static int check_fill(const void *buf, uint32_t sector, unsigned count)
{
	const uint32_t *w = buf;
	for (unsigned s = 0; s < count; s++) {
		uint32_t key = ABI_DISK_FILL((uint64_t)(sector + s) * SECTOR) * 0x01010101u;
		for (unsigned j = 0; j < WORDS; j++, w++) {
			uint32_t want = (0x03020100u + (j & 63) * 0x04040404u) ^ key;
			if (*w != want) {
				bad = (typeof(bad)){ sector + s, j, *w, want };
				return 0;
			}
		}
	}
	return 1;
}

/* ---- one request at a time ------------------------------------------------ */

struct result {
	int ok;                  /* came back, as its own head */
	uint8_t status;          /* 0xff: not written */
	uint32_t len;
};

/* Header, the data buffers, the status byte: as a chain, or through an
 * indirect table; notified and waited for. */
static struct result request(uint32_t type, uint64_t sector, const struct vbuf *bufs, unsigned n, int indirect)
{
	struct result r = { 0, 0xff, ~0u };
	struct vbuf b[10];
	hdrs[0] = (struct virtio_blk_outhdr){ type, 0, sector };
	statuses[0] = 0xff;
	b[0] = (struct vbuf){ &hdrs[0], sizeof(hdrs[0]), 0 };
	for (unsigned i = 0; i < n; i++)
		b[1 + i] = bufs[i];
	b[1 + n] = (struct vbuf){ &statuses[0], 1, 1 };
	int head = indirect ? virtq_add_indirect(&vq, b, n + 2, tables[0]) : virtq_add(&vq, b, n + 2);
	if (head < 0)
		return r;
	virtq_kick(&vq);
	if (!virtq_wait_used(&vq, 1, WAIT_MS))
		return r;
	int id = virtq_get_used(&vq, &r.len);
	r.ok = id == head;
	r.status = statuses[0];
	return r;
}

/* One data buffer (none if bytes is 0): device-writable for IN and GET_ID. */
static struct result rw(uint32_t type, uint64_t sector, void *buf, uint32_t bytes)
{
	struct vbuf b = { buf, bytes, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID };
	return request(type, sector, &b, bytes ? 1 : 0, 0);
}

/* A request that must fail with `want` (IOERR, UNSUPP) and used len 1. */
static int fails(struct result r, uint8_t want)
{
	return r.ok && r.status == want && r.len == 1;
}

/* ---- the checks ----------------------------------------------------------- */

static void identify(void)
{
	if (!virtio_probe(&blk, ABI_VIRTIO_BLK)) {
		report(0, "blk-probe", "no virtio-mmio device in slot 1 (MagicValue 0x%x): run with --disk=FILE",
		       virtio_read(&blk, VIRTIO_MMIO_MAGIC_VALUE));
		end();
	}
	uint32_t vendor = virtio_read(&blk, VIRTIO_MMIO_VENDOR_ID);
	report(blk.device_id == VIRTIO_ID_BLOCK && vendor == ABI_TESTDEV_MAGIC, "blk-probe",
	       "DeviceID %u VendorID 0x%x, want 2 0x%x", blk.device_id, vendor, ABI_TESTDEV_MAGIC);
	if (blk.device_id != VIRTIO_ID_BLOCK)
		end();

	uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
			VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) |
			VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH);
	int ok = virtio_negotiate(&blk, want & ~VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	report(blk.offered == want, "blk-features",
	       "DeviceFeatures 0x%llx, want 0x%llx (VERSION_1, EVENT_IDX, INDIRECT_DESC, SEG_MAX, BLK_SIZE, FLUSH)",
	       blk.offered, want);
	report(ok, "blk-features-ok", "FEATURES_OK not kept for 0x%llx (status 0x%x)", blk.features,
	       virtio_status(&blk));

	virtio_write(&blk, VIRTIO_MMIO_QUEUE_SEL, 0);
	uint32_t max0 = virtio_read(&blk, VIRTIO_MMIO_QUEUE_NUM_MAX);
	virtio_write(&blk, VIRTIO_MMIO_QUEUE_SEL, 1);
	uint32_t max1 = virtio_read(&blk, VIRTIO_MMIO_QUEUE_NUM_MAX);
	report(max0 == 256 && max1 == 0, "blk-queue-num-max", "QueueNumMax %u for queue 0, %u for queue 1; want 256, 0",
	       max0, max1);

	capacity = virtio_config64(&blk, VIRTIO_BLK_CFG_CAPACITY);
	uint32_t size_max = virtio_config32(&blk, VIRTIO_BLK_CFG_SIZE_MAX);
	uint32_t seg_max = virtio_config32(&blk, VIRTIO_BLK_CFG_SEG_MAX);
	uint32_t blk_size = virtio_config32(&blk, VIRTIO_BLK_CFG_BLK_SIZE);
	report(capacity >= 128, "blk-config-capacity", "capacity %llu sectors, want at least 128 (--disk of 64 KiB)",
	       capacity);
	report(size_max == 0 && seg_max == 126 && blk_size == 512, "blk-config",
	       "size_max %u seg_max %u blk_size %u, want 0 126 512", size_max, seg_max, blk_size);
	if (!ok || capacity < 128)
		end();
	nsect = capacity < MAX_SECTORS ? (uint32_t)capacity : MAX_SECTORS;
}

static void get_id(void)
{
	static char id[VIRTIO_BLK_ID_BYTES + 1];
	memset(id, 0xaa, VIRTIO_BLK_ID_BYTES);
	struct result r = rw(VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES);
	unsigned n = 0, tail_ok = 1;
	while (n < VIRTIO_BLK_ID_BYTES && id[n] >= 0x20 && id[n] < 0x7f)
		n++;
	for (unsigned i = n; i < VIRTIO_BLK_ID_BYTES; i++)
		tail_ok &= id[i] == 0;
	id[VIRTIO_BLK_ID_BYTES] = 0;
	if (tail_ok)
		printf("# disk id: \"%s\"\n", id);
	report(r.ok && r.status == VIRTIO_BLK_S_OK && r.len == VIRTIO_BLK_ID_BYTES + 1 && n > 0 && tail_ok,
	       "blk-get-id", "status %u used len %u (want 0, 21), %u printable bytes then %s", r.status, r.len, n,
	       tail_ok ? "NULs" : "other bytes (want the file's name, NUL-padded)");
}

static void read_fill(void)
{
	unsigned failed = 0, zeros = 1, right = 1;
	for (uint32_t s = 0; s < nsect; s += CHUNK) {
		unsigned count = nsect - s < CHUNK ? nsect - s : CHUNK;
		memset(data, 0xee, 4);
		struct result r = rw(VIRTIO_BLK_T_IN, s, data, count * SECTOR);
		if (!(r.ok && r.status == VIRTIO_BLK_S_OK && r.len == count * SECTOR + 1)) {
			failed++;
			continue;
		}
		if (s == 0)
			for (unsigned j = 0; j < WORDS; j++)
				zeros &= ((uint32_t *)data)[j] == 0;
		if (right && !check_fill(data, s, count))
			right = 0;
	}
	if (!failed && zeros) {
		skip("blk-read-fill", "sector 0 reads zeros: not a disk the grader filled (ABI_DISK_FILL)");
		return;
	}
	report(!failed && right, "blk-read-fill",
	       "%u of the reads failed; sector %u word %u read 0x%x, the grader's fill is 0x%x", failed, bad.sector,
	       bad.word, bad.got, bad.want);
}

static void write_read(void)
{
	unsigned bad_w = 0, bad_r = 0;
	struct result last = { 0, 0, 0 };
	for (uint32_t s = 0; s < nsect; s += CHUNK) {
		unsigned count = nsect - s < CHUNK ? nsect - s : CHUNK;
		fill(data, s, count);
		struct result r = rw(VIRTIO_BLK_T_OUT, s, data, count * SECTOR);
		if (!(r.ok && r.status == VIRTIO_BLK_S_OK && r.len == 1)) {
			bad_w++;
			last = r;
		}
	}
	report(bad_w == 0, "blk-write", "%u of the writes of %u sectors failed; the last: status %u used len %u "
	       "(want 0, 1)", bad_w, nsect, last.status, last.len);

	/* Sectors 8-10 again as three data buffers of a sector each; sector
	 * 11 with the header and its data in one buffer. */
	fill(data, 8, 3);
	struct vbuf three[3] = { { data, 512, 0 }, { data + 512, 512, 0 }, { data + 1024, 512, 0 } };
	struct result m = request(VIRTIO_BLK_T_OUT, 8, three, 3, 0);
	report(m.ok && m.status == VIRTIO_BLK_S_OK && m.len == 1, "blk-multi-seg-write",
	       "a write of 3 sectors in 3 data buffers: status %u used len %u, want 0, 1", m.status, m.len);
	static struct {
		struct virtio_blk_outhdr hdr;
		uint8_t sector[SECTOR];
	} merged;
	merged.hdr = (struct virtio_blk_outhdr){ VIRTIO_BLK_T_OUT, 0, 11 };
	fill(merged.sector, 11, 1);
	struct vbuf one[2] = { { &merged, sizeof(merged), 0 }, { &statuses[1], 1, 1 } };
	statuses[1] = 0xff;
	int head = virtq_add(&vq, one, 2);
	virtq_kick(&vq);
	uint32_t len = ~0u;
	int id = virtq_wait_used(&vq, 1, WAIT_MS) ? virtq_get_used(&vq, &len) : -1;
	report(id == head && statuses[1] == VIRTIO_BLK_S_OK && len == 1, "blk-framing-merged",
	       "a write with the header and its sector in one 528-byte buffer: id %d (want %d) status %u used len %u, "
	       "want 0, 1", id, head, statuses[1], len);

	struct result f = rw(VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
	report(f.ok && f.status == VIRTIO_BLK_S_OK && f.len == 1, "blk-flush", "status %u used len %u, want 0, 1",
	       f.status, f.len);

	unsigned mismatch = 0;
	for (uint32_t s = 0; s < nsect; s += CHUNK) {
		unsigned count = nsect - s < CHUNK ? nsect - s : CHUNK;
		memset(data, 0, 4);
		struct result r = rw(VIRTIO_BLK_T_IN, s, data, count * SECTOR);
		if (!(r.ok && r.status == VIRTIO_BLK_S_OK && r.len == count * SECTOR + 1)) {
			bad_r++;
			last = r;
		} else if (!mismatch && !check(data, s, count)) {
			mismatch = 1;
		}
	}
	report(bad_r == 0, "blk-read", "%u of the reads failed; the last: status %u used len %u (want 0, data + 1)",
	       bad_r, last.status, last.len);
	report(!mismatch, "blk-rw-pattern", "sector %u word %u read 0x%x, wrote 0x%x", bad.sector, bad.word, bad.got,
	       bad.want);
}

static void read_layouts(void)
{
	memset(data, 0, 1024);
	struct vbuf split[3] = { { data, 100, 1 }, { data + 100, 412, 1 }, { data + 512, 512, 1 } };
	struct result r = request(VIRTIO_BLK_T_IN, 0, split, 3, 0);
	int same = check(data, 0, 2);
	report(r.ok && r.status == VIRTIO_BLK_S_OK && r.len == 1025 && same, "blk-read-split",
	       "sectors 0-1 into buffers of 100, 412, 512 bytes: status %u used len %u (want 0, 1025), data %s",
	       r.status, r.len, same ? "right" : "wrong");

	memset(data, 0, 2048);
	struct vbuf four[4] = { { data, 512, 1 }, { data + 512, 512, 1 }, { data + 1024, 512, 1 },
				{ data + 1536, 512, 1 } };
	r = request(VIRTIO_BLK_T_IN, 4, four, 4, 1);
	same = check(data, 4, 4);
	report(r.ok && r.status == VIRTIO_BLK_S_OK && r.len == 2049 && same, "blk-read-indirect",
	       "sectors 4-7 through an indirect table of 6: status %u used len %u (want 0, 2049), data %s", r.status,
	       r.len, same ? "right" : "wrong");
}

static void errors(void)
{
	struct result past = rw(VIRTIO_BLK_T_IN, capacity, data, SECTOR);
	report(fails(past, VIRTIO_BLK_S_IOERR), "blk-ioerr-past-end",
	       "a read of sector %llu (= capacity): status %u used len %u, want 1 (IOERR), 1", capacity, past.status,
	       past.len);

	struct result rd = rw(VIRTIO_BLK_T_IN, capacity - 1, data, 2 * SECTOR);
	memset(data, 0x5a, 2 * SECTOR);
	struct result wr = rw(VIRTIO_BLK_T_OUT, capacity - 1, data, 2 * SECTOR);
	int intact = 1;
	if (capacity - 1 < nsect) {
		rw(VIRTIO_BLK_T_IN, capacity - 1, data, SECTOR);
		intact = check(data, (uint32_t)(capacity - 1), 1);
	}
	report(fails(rd, VIRTIO_BLK_S_IOERR) && fails(wr, VIRTIO_BLK_S_IOERR) && intact, "blk-ioerr-straddle",
	       "2 sectors from the last: read status %u len %u, write status %u len %u (want 1, 1 each); last sector "
	       "%s", rd.status, rd.len, wr.status, wr.len, intact ? "unchanged" : "changed by the failed write");

	struct result in513 = rw(VIRTIO_BLK_T_IN, 0, data, 513);
	struct result out100 = rw(VIRTIO_BLK_T_OUT, 0, data, 100);
	report(fails(in513, VIRTIO_BLK_S_IOERR) && fails(out100, VIRTIO_BLK_S_IOERR), "blk-ioerr-partial-sector",
	       "a read of 513 bytes: status %u len %u; a write of 100: status %u len %u; want 1 (IOERR), 1 each",
	       in513.status, in513.len, out100.status, out100.len);

	struct result u42 = rw(0x42, 0, data, SECTOR);
	struct result u11 = rw(11, 0, data, SECTOR);
	report(fails(u42, VIRTIO_BLK_S_UNSUPP) && fails(u11, VIRTIO_BLK_S_UNSUPP), "blk-unsupp",
	       "type 0x42: status %u len %u; type 11 (DISCARD, not offered): status %u len %u; want 2 (UNSUPP), 1 each",
	       u42.status, u42.len, u11.status, u11.len);
}

/* n reads of sector base + i, through indirect tables, published before one
 * notification; waits for all. Returns how many came back right. */
static unsigned reads_in_flight(unsigned n, uint32_t base, uint32_t *kicks, const char **why)
{
	int head_of[QSIZE];
	uint8_t seen[QSIZE];
	for (unsigned i = 0; i < n; i++) {
		hdrs[i] = (struct virtio_blk_outhdr){ VIRTIO_BLK_T_IN, 0, (base + i) % nsect };
		statuses[i] = 0xff;
		((uint32_t *)(data + i * SECTOR))[0] = 0;
		struct vbuf b[3] = { { &hdrs[i], sizeof(hdrs[i]), 0 }, { data + i * SECTOR, SECTOR, 1 },
				     { &statuses[i], 1, 1 } };
		head_of[i] = virtq_add_indirect(&vq, b, 3, tables[i]);
		seen[i] = 0;
	}
	*kicks += (uint32_t)virtq_kick(&vq);
	unsigned right = 0;
	*why = NULL;
	for (unsigned k = 0; k < n; k++) {
		if (!virtq_wait_used(&vq, 1, WAIT_MS)) {
			*why = "not all came back within 100 ms";
			break;
		}
		uint32_t len = ~0u;
		int id = virtq_get_used(&vq, &len);
		unsigned i = 0;
		while (i < n && head_of[i] != id)
			i++;
		if (i == n || seen[i]) {
			*why = i == n ? "a used id that was not in flight" : "an id given back twice";
			continue;
		}
		seen[i] = 1;
		if (statuses[i] != VIRTIO_BLK_S_OK || len != SECTOR + 1)
			*why = "a status other than 0 or a used len other than 513";
		else if (!check(data + i * SECTOR, (base + i) % nsect, 1))
			*why = "data that is not the sector's";
		else
			right++;
	}
	return right;
}

static void in_flight(void)
{
	uint32_t kicks = 0;
	const char *why;
	uint16_t before = vq.num_free;
	/* One descriptor each: QSIZE of them fill the queue. */
	unsigned right = reads_in_flight(QSIZE, 0, &kicks, &why);
	report(right == QSIZE && before == QSIZE && kicks == 1, "blk-many-in-flight",
	       "%u reads in a queue of %u (%u descriptors free before), %u notification(s): %u came back right%s%s",
	       QSIZE, QSIZE, before, kicks, right, why ? "; " : "", why ? why : "");
}

static void ring_wrap(void)
{
	int ok = virtio_negotiate(&blk, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)) &&
		 virtq_setup(&vq, &blk, 0, 4, &area);
	virtio_driver_ok(&blk);
	uint32_t kicks = 0;
	unsigned right = 0, direct = 0;
	const char *why = ok ? NULL : "the device did not take a queue of 4 after a reset";
	for (unsigned round = 0; ok && round < 12 && !why; round++)
		right += reads_in_flight(4, round * 4 + 1, &kicks, &why);
	/* Three descriptors of four per request: the free list turns. */
	for (unsigned i = 0; ok && i < 8 && !why; i++) {
		memset(data, 0, 4);
		struct result r = rw(VIRTIO_BLK_T_IN, 100 + i, data, SECTOR);
		if (r.ok && r.status == VIRTIO_BLK_S_OK && r.len == SECTOR + 1 && check(data, 100 + i, 1))
			direct++;
		else
			why = "a read of 3 descriptors failed";
	}
	report(right == 48 && direct == 8, "blk-ring-wrap",
	       "queue of 4: %u of 48 reads (4 at a time), %u of 8 (3 descriptors each) right; avail->idx %u, "
	       "used->idx %u%s%s", right, direct, vq.avail->idx, vq.used->idx, why ? "; " : "", why ? why : "");
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	virtio_rt_init();
	identify();
	if (!virtq_setup(&vq, &blk, 0, QSIZE, &area)) {
		report(0, "blk-queue-ready", "QueueReady read 0 after setting up queue 0 (size %u)", QSIZE);
		end();
	}
	virtio_driver_ok(&blk);
	virtio_irq_attach(&blk);
	seed = (uint32_t)rdtsc() | 1;

	get_id();
	read_fill();
	write_read();
	read_layouts();
	errors();
	in_flight();
	ring_wrap();
	report(blk.irqs_vring >= 1, "blk-irq", "%u used-buffer interrupts on IRQ %u (%u in all), want at least 1",
	       blk.irqs_vring, blk.irq, blk.irqs);
	printf("expect-disk: first=0 last=%u seed=0x%x\n", nsect - 1, seed);
	end();
}
