/* SPDX-License-Identifier: MIT */
/*
 * prot-virtio-bad: a hostile driver on virtio-console's transmitq (slot 0,
 * queue 1, size 8; no disk needed). For each way of breaking the split
 * ring's rules (virtio 1.2 §2.7) the device must stop trusting the ring:
 * set DEVICE_NEEDS_RESET in Status, InterruptStatus bit 1 with an interrupt
 * (§2.1.2), and take nothing (used->idx stays 0, nothing printed). Each
 * case starts from a reset and a fresh set-up (VERSION_1, INDIRECT_DESC):
 *  - a descriptor loop (1 -> 2 -> 1);
 *  - a chain longer than the queue (every descriptor, then the head again);
 *  - a next index >= the queue size; a head >= the queue size in the
 *    available ring;
 *  - a buffer at 0xc0000000 (no memory), one across the end of RAM;
 *  - an indirect table inside an indirect table, a loop inside one, tables
 *    of 24 and 0 bytes (not a multiple of 16 / empty);
 *  - a device-readable buffer after a device-writable one (§2.7.4.2);
 *  - avail->idx moved 9 entries ahead on a queue of 8 (§2.7.6).
 * After the first, a good buffer is notified too and must not be taken
 * (nothing more from any queue until a reset). After each, a reset and a
 * fresh set-up: a good buffer is served again ("...-recovers").
 * Last, the driver moves used->idx itself: the device's next used entry
 * still goes to the slot of its own index, and used->idx becomes its own
 * count again (§2.7.8: the used ring is the device's).
 * The good buffers print "# prot-virtio-bad: ..." lines; the device prints
 * "vmm: virtio-console: device needs reset: ..." on stderr for each case.
 */
#include "virtio.h"

#define TXQ      1
#define QSIZE    8
#define WAIT_MS  50
#define QUIET_MS 20
#define NOWHERE  0xc0000000u

static struct virtio_dev con;
static struct virtq vq;
static struct virtq_area area;
static struct vring_desc table_a[4] __attribute__((aligned(16)));
static struct vring_desc table_b[4] __attribute__((aligned(16)));
static char text[QSIZE][64];
static char good_line[96];
static uint32_t ram_end;

/* RAM size from fw_cfg (README.md, "Devices"): item 0x03, a u64. */
static uint32_t fw_cfg_ram(void)
{
	outw(ABI_FW_CFG_PORT, ABI_FW_CFG_RAM_SIZE);
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)inb(ABI_FW_CFG_PORT + 1) << (8 * i);
	return v > 0xffffffffull ? 0xffffffffu : (uint32_t)v;
}

static int fresh_queue(void)
{
	return virtio_negotiate(&con, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)) &&
	       virtq_setup(&vq, &con, TXQ, QSIZE, &area) && (virtio_driver_ok(&con), 1);
}

static void desc(unsigned i, const void *addr, uint32_t len, uint16_t flags, uint16_t next)
{
	vq.desc[i].addr = (uintptr_t)addr;
	vq.desc[i].len = len;
	vq.desc[i].flags = flags;
	vq.desc[i].next = next;
}

static void entry(struct vring_desc *t, unsigned i, const void *addr, uint32_t len, uint16_t flags, uint16_t next)
{
	t[i] = (struct vring_desc){ (uintptr_t)addr, len, flags, next };
}

/* A line the device would print if it took the buffer. */
static const char *say(unsigned i, const char *what)
{
	char *t = text[i];
	static const char head[] = "# prot-virtio-bad: taken (must not be): ";
	unsigned n = 0;
	for (const char *p = head; *p && n < 62; p++)
		t[n++] = *p;
	for (const char *p = what; *p && n < 62; p++)
		t[n++] = *p;
	t[n++] = '\n';
	t[n] = 0;
	return t;
}

static uint32_t say_len(unsigned i)
{
	uint32_t n = 0;
	while (text[i][n])
		n++;
	return n;
}

/* The bad rings, each built on a fresh queue and published with head 0
 * unless said otherwise. */
enum bad_case {
	LOOP, TOO_LONG, NEXT_RANGE, HEAD_RANGE, OUTSIDE_RAM, PAST_RAM_END, NESTED_INDIRECT, INDIRECT_LOOP, INDIRECT_LEN,
	INDIRECT_EMPTY, READ_AFTER_WRITE, AVAIL_JUMP, CASES
};
static const char *const case_name[CASES] = {
	"bad-desc-loop", "bad-chain-too-long", "bad-next-out-of-range", "bad-head-out-of-range", "bad-buffer-outside-ram",
	"bad-buffer-past-ram-end", "bad-indirect-nested", "bad-indirect-loop", "bad-indirect-len",
	"bad-indirect-empty", "bad-readable-after-writable", "bad-avail-idx-jump",
};
static const char *const recover_name[CASES] = {
	"bad-desc-loop-recovers", "bad-chain-too-long-recovers", "bad-next-out-of-range-recovers",
	"bad-head-out-of-range-recovers",
	"bad-buffer-outside-ram-recovers", "bad-buffer-past-ram-end-recovers", "bad-indirect-nested-recovers",
	"bad-indirect-loop-recovers", "bad-indirect-len-recovers", "bad-indirect-empty-recovers",
	"bad-readable-after-writable-recovers", "bad-avail-idx-jump-recovers",
};

static void build(enum bad_case c)
{
	const char *s = say(0, case_name[c]);
	uint32_t n = say_len(0);
	switch (c) {
	case LOOP:
		desc(1, s, n, VRING_DESC_F_NEXT, 2);
		desc(2, s, n, VRING_DESC_F_NEXT, 1);
		virtq_publish(&vq, 1);
		return;
	case TOO_LONG:
		for (unsigned i = 0; i < QSIZE; i++)
			desc(i, s, n, VRING_DESC_F_NEXT, (uint16_t)((i + 1) % QSIZE));
		break;
	case NEXT_RANGE:
		desc(0, s, n, VRING_DESC_F_NEXT, QSIZE);
		break;
	case HEAD_RANGE:
		desc(0, s, n, 0, 0);
		virtq_publish(&vq, QSIZE);
		return;
	case OUTSIDE_RAM:
		desc(0, (const void *)NOWHERE, 16, 0, 0);
		break;
	case PAST_RAM_END:
		desc(0, (const void *)(uintptr_t)(ram_end - 8), 16, 0, 0);
		break;
	case NESTED_INDIRECT:
		entry(table_b, 0, s, n, 0, 0);
		entry(table_a, 0, table_b, 16, VRING_DESC_F_INDIRECT, 0);
		desc(0, table_a, 16, VRING_DESC_F_INDIRECT, 0);
		break;
	case INDIRECT_LOOP:
		entry(table_a, 0, s, n, VRING_DESC_F_NEXT, 1);
		entry(table_a, 1, s, n, VRING_DESC_F_NEXT, 0);
		desc(0, table_a, 32, VRING_DESC_F_INDIRECT, 0);
		break;
	case INDIRECT_LEN:
		entry(table_a, 0, s, n, 0, 0);
		entry(table_a, 1, s, n, 0, 0);
		desc(0, table_a, 24, VRING_DESC_F_INDIRECT, 0);
		break;
	case INDIRECT_EMPTY:
		entry(table_a, 0, s, n, 0, 0);
		desc(0, table_a, 0, VRING_DESC_F_INDIRECT, 0);
		break;
	case READ_AFTER_WRITE:
		/* A whole line in the writable buffer too, should it be printed. */
		desc(0, say(1, "the writable buffer"), say_len(1), VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		desc(1, s, n, 0, 0);
		break;
	case AVAIL_JUMP:
		/* Every entry names a good buffer: only the index is wrong. */
		desc(0, s, n, 0, 0);
		for (unsigned i = 0; i < QSIZE; i++)
			vq.avail->ring[i] = 0;
		virtio_barrier();
		vq.avail->idx = QSIZE + 1;
		vq.avail_idx = QSIZE + 1;
		return;
	case CASES:
		return;
	}
	virtq_publish(&vq, 0);
}

/* A good buffer: notified and waited for; returns whether it came back
 * (its head, len 0). */
static int good(const char *what)
{
	unsigned n = 0;
	for (const char *p = "# prot-virtio-bad: served: "; *p; p++)
		good_line[n++] = *p;
	for (const char *p = what; *p && n < sizeof(good_line) - 2; p++)
		good_line[n++] = *p;
	good_line[n++] = '\n';
	struct vbuf b = { good_line, n, 0 };
	int head = virtq_add(&vq, &b, 1);
	virtq_kick(&vq);
	if (head < 0 || !virtq_wait_used(&vq, 1, WAIT_MS))
		return 0;
	uint32_t len = ~0u;
	return virtq_get_used(&vq, &len) == head && len == 0;
}

static void run_case(enum bad_case c)
{
	if (!fresh_queue()) {
		report(0, case_name[c], "no fresh transmitq after a reset (status 0x%x)", virtio_status(&con));
		return;
	}
	uint32_t before = con.irqs_config;
	build(c);
	virtio_write(&con, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
	virtio_wait_config_irqs(&con, before + 1, WAIT_MS);
	virtio_delay_ms(2);
	uint32_t status = virtio_status(&con), irqs = con.irqs_config - before;
	uint16_t used = vq.used->idx;
	report((status & VIRTIO_CONFIG_S_NEEDS_RESET) && irqs == 1 && used == 0, case_name[c],
	       "Status 0x%x (want DEVICE_NEEDS_RESET, 0x40), %u configuration-change interrupts (want 1), used->idx %u "
	       "(want 0)", status, irqs, used);

	if (c == LOOP) {
		/* Nothing more from any queue until a reset (§2.1.2). */
		struct vbuf b = { say(2, "after DEVICE_NEEDS_RESET"), say_len(2), 0 };
		vq.free_head = 5; /* a descriptor the loop does not use */
		virtq_add(&vq, &b, 1);
		virtio_write(&con, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
		virtio_delay_ms(QUIET_MS);
		report(vq.used->idx == 0 && (virtio_status(&con) & VIRTIO_CONFIG_S_NEEDS_RESET), "bad-stays-broken",
		       "a good buffer notified after DEVICE_NEEDS_RESET: used->idx %u after %u ms, status 0x%x; want 0, "
		       "0x40 set", vq.used->idx, QUIET_MS, virtio_status(&con));
	}

	int ok = fresh_queue() && good(case_name[c]);
	uint32_t after = virtio_status(&con);
	report(ok && after == 0xf, recover_name[c],
	       "after a reset and a fresh set-up: a good buffer %s, status 0x%x (want 0xf)",
	       ok ? "served" : "not served within 50 ms", after);
}

struct idx_wait {
	uint16_t want;
};

static int used_idx_is(void *arg)
{
	return vq.used->idx == ((struct idx_wait *)arg)->want;
}

static void used_idx_moved(void)
{
	if (!fresh_queue() || !good("first of two")) {
		report(0, "bad-used-idx-moved", "no good buffer served on a fresh transmitq (status 0x%x)",
		       virtio_status(&con));
		return;
	}
	/* The driver writes the device's part: idx, and the next slot. */
	vq.used->idx = 0x1234;
	vq.used->ring[1].id = 0xdead;
	vq.used->ring[1].len = 0xbeef;
	static const char second[] = "# prot-virtio-bad: second, after the driver moved used->idx\n";
	struct vbuf b = { second, sizeof(second) - 1, 0 };
	int head = virtq_add(&vq, &b, 1);
	virtio_write(&con, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
	struct idx_wait w = { 2 };
	virtio_wait(used_idx_is, &w, WAIT_MS);
	uint16_t idx = vq.used->idx;
	uint32_t id = vq.used->ring[1].id, len = vq.used->ring[1].len, status = virtio_status(&con);
	report(idx == 2 && id == (uint32_t)head && len == 0 && status == 0xf, "bad-used-idx-moved",
	       "used->idx set to 0x1234 by the driver, then a buffer (head %d): used->idx %u, ring[1] = (%u, %u), "
	       "status 0x%x; want 2, (%d, 0), 0xf", head, idx, id, len, status, head);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	virtio_rt_init();
	if (!virtio_probe(&con, ABI_VIRTIO_CONSOLE) || con.device_id != VIRTIO_ID_CONSOLE) {
		report(0, "bad-probe", "no virtio-console (DeviceID 3) in slot 0 (DeviceID %u)", con.device_id);
		end();
	}
	ram_end = fw_cfg_ram();
	virtio_irq_attach(&con);
	for (unsigned c = 0; c < CASES; c++)
		run_case((enum bad_case)c);
	used_idx_moved();
	virtio_reset(&con);
	end();
}
