/* SPDX-License-Identifier: MIT */
/*
 * prot-virtio-event-idx: notification suppression (virtio 1.2 §2.7.7 used
 * buffers, §2.7.10 available buffers) on virtio-blk, run with --disk=FILE
 * (and once more with --no-event-idx). Every request reads one sector
 * through an indirect table, so a queue of 32 holds a batch of 16 with
 * room to spare; a batch is made available whole, then notified once.
 *
 * With VIRTIO_RING_F_EVENT_IDX:
 *  - used_event at the batch's last entry: the batch interrupts at least
 *    once and at most twice (the device may also speak up for the first
 *    entry after its set-up); later, exactly once; at its first entry
 *    (where the last interrupt left off), exactly once;
 *  - used_event at the entry just past the batch: no interrupt, the used
 *    entries arrive all the same;
 *  - avail_event: an idle device's is the next entry it will take (else a
 *    driver honouring it would never notify again); eight requests made
 *    available at once, then the driver's decision taken entry by entry
 *    (a driver of several producers): one notification, seven skipped,
 *    all eight served.
 * Without it (a reset, negotiated again; or the device does not offer it,
 * --no-event-idx: then FEATURES_OK with it must not be kept, and the
 * checks above are skipped):
 *  - NO_INTERRUPT set: no interrupt, the used entries arrive (polled);
 *  - NO_INTERRUPT clear: interrupts again;
 *  - used_event far ahead is ignored: interrupts all the same;
 *  - used->flags is 0 once the device is idle (NO_NOTIFY only while it
 *    works), so the driver notifies.
 * The counts are printed as "# event-idx: ..." lines for the bench.
 */
#include "virtio.h"

#define QSIZE    32
#define BATCH    16
#define BURST    8
#define WAIT_MS  100
#define IRQ_MS   50
#define QUIET_MS 10

static struct virtio_dev blk;
static struct virtq vq;
static struct virtq_area area;
static struct virtio_blk_outhdr hdrs[BATCH];
static uint8_t statuses[BATCH];
static uint8_t sectors[BATCH][VIRTIO_BLK_SECTOR] __attribute__((aligned(16)));
static struct vring_desc tables[BATCH][3] __attribute__((aligned(16)));

/* n reads made available, not notified. */
static void make_available(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		hdrs[i] = (struct virtio_blk_outhdr){ VIRTIO_BLK_T_IN, 0, i };
		statuses[i] = 0xff;
		struct vbuf b[3] = { { &hdrs[i], sizeof(hdrs[i]), 0 }, { sectors[i], VIRTIO_BLK_SECTOR, 1 },
				     { &statuses[i], 1, 1 } };
		virtq_add_indirect(&vq, b, 3, tables[i]);
	}
}

/* Waits for n used entries and reads them; returns how many were right:
 * an id in flight, used len 513, status OK. */
static unsigned collect(unsigned n)
{
	virtq_wait_used(&vq, n, WAIT_MS);
	unsigned used = 0, ok = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = 0;
		if (virtq_get_used(&vq, &len) >= 0 && len == VIRTIO_BLK_SECTOR + 1)
			used++;
		if (statuses[i] == VIRTIO_BLK_S_OK)
			ok++;
	}
	return used < ok ? used : ok;
}

struct batch {
	unsigned right;     /* requests served right */
	uint32_t irqs;      /* used-buffer interrupts it caused */
};

/* A batch of BATCH, one notification; expect_irq: wait for an interrupt
 * (else only the quiet time for one that should not come). */
static struct batch run_batch(int expect_irq)
{
	struct batch b;
	uint32_t before = blk.irqs_vring;
	make_available(BATCH);
	virtq_kick(&vq);
	virtq_wait_used(&vq, BATCH, WAIT_MS);
	if (expect_irq)
		virtio_wait_irqs(&blk, before + 1, IRQ_MS);
	virtio_delay_ms(QUIET_MS);
	b.irqs = blk.irqs_vring - before;
	b.right = collect(BATCH);
	return b;
}

static int setup(uint64_t features)
{
	if (!virtio_negotiate(&blk, features))
		return 0;
	if (!virtq_setup(&vq, &blk, 0, QSIZE, &area))
		return 0;
	virtio_driver_ok(&blk);
	return 1;
}

static void with_event_idx(void)
{
	static const char *const names[] = { "event-idx-irq-at-used-event", "event-idx-no-irq-before-used-event",
					     "event-idx-avail-event-idle", "event-idx-kicks-skipped" };
	uint64_t base = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);
	uint64_t offered = virtio_device_features(&blk);
	if (!(offered & VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX))) {
		virtio_reset(&blk);
		virtio_write(&blk, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
		virtio_write(&blk, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
		virtio_set_driver_features(&blk, base | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
		virtio_write(&blk, VIRTIO_MMIO_STATUS,
			     VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
		uint32_t s = virtio_status(&blk);
		report(!(s & VIRTIO_CONFIG_S_FEATURES_OK), "event-idx-withdrawn",
		       "EVENT_IDX not offered (--no-event-idx), taken anyway: Status 0x%x, want FEATURES_OK clear", s);
		for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			skip(names[i], "the device does not offer VIRTIO_RING_F_EVENT_IDX");
		return;
	}
	if (!setup(base | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX)) || !vq.event_idx) {
		report(0, "event-idx-setup", "FEATURES_OK or QueueReady not kept with EVENT_IDX (status 0x%x)",
		       virtio_status(&blk));
		end();
	}

	/* §2.7.7: the device interrupts when it writes the entry at index
	 * used_event, that is when used->idx passes from used_event to
	 * used_event + 1. The batches probe both ends of a batch: its last
	 * entry, its first (where the last notification left the device),
	 * and the entry just after it, which it never writes. */
	virtq_set_used_event(&vq, (uint16_t)(vq.last_used + BATCH - 1));
	struct batch first = run_batch(1);
	virtq_set_used_event(&vq, vq.last_used);
	struct batch at_first = run_batch(1);
	virtq_set_used_event(&vq, (uint16_t)(vq.last_used + BATCH));
	struct batch past = run_batch(0);
	virtq_set_used_event(&vq, (uint16_t)(vq.last_used + BATCH - 1));
	struct batch last = run_batch(1);
	printf("# event-idx: batches of %u, one notification each: %u, %u, %u, %u interrupts (used_event at the "
	       "last entry, the first, just past the batch, the last)\n", BATCH, first.irqs, at_first.irqs, past.irqs,
	       last.irqs);
	report(first.right + at_first.right + last.right == 3 * BATCH && first.irqs >= 1 && first.irqs <= 2 &&
		       at_first.irqs == 1 && last.irqs == 1,
	       names[0], "used_event at a batch's last entry: %u interrupts (want 1-2: the first batch), at its first: "
	       "%u, at its last again: %u (want 1 each); %u, %u, %u of %u served right", first.irqs, at_first.irqs,
	       last.irqs, first.right, at_first.right, last.right, BATCH);
	report(past.right == BATCH && past.irqs == 0, names[1],
	       "used_event at the entry just past the batch: %u interrupts, want 0; %u of %u served right", past.irqs,
	       past.right, BATCH);

	uint16_t ae = *vq.avail_event;
	report(ae == vq.avail_idx, names[2], "avail_event %u with the device idle after %u entries, want %u", ae,
	       vq.avail_idx, vq.avail_idx);

	uint16_t from = vq.avail_idx;
	uint32_t kicks = vq.kicks, skipped = vq.kicks_skipped;
	make_available(BURST);
	for (unsigned k = 1; k <= BURST; k++)
		virtq_kick_upto(&vq, (uint16_t)(from + k));
	kicks = vq.kicks - kicks;
	skipped = vq.kicks_skipped - skipped;
	unsigned right = collect(BURST);
	printf("# event-idx: %u requests made available at once, decided one by one: %u notification(s), %u "
	       "skipped\n", BURST, kicks, skipped);
	report(kicks == 1 && skipped == BURST - 1 && right == BURST, names[3],
	       "%u notifications, %u skipped (want 1, %u: the device had taken the rest when asked); %u of %u served "
	       "right", kicks, skipped, BURST - 1, right, BURST);
}

static void without_event_idx(void)
{
	if (!setup(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)) || vq.event_idx) {
		report(0, "no-event-idx-setup", "FEATURES_OK or QueueReady not kept (status 0x%x)", virtio_status(&blk));
		end();
	}
	virtq_irq_disable(&vq);
	struct batch off = run_batch(0);
	virtq_irq_enable(&vq);
	struct batch on = run_batch(1);
	/* §2.7.7: without EVENT_IDX the device ignores used_event. */
	*vq.used_event = (uint16_t)(vq.last_used + 1000);
	virtio_mb();
	struct batch ignored = run_batch(1);
	printf("# event-idx: without EVENT_IDX, batches of %u: %u interrupts (NO_INTERRUPT), %u (flags 0), %u (flags "
	       "0, used_event far ahead)\n", BATCH, off.irqs, on.irqs, ignored.irqs);
	report(off.irqs == 0 && off.right == BATCH, "no-interrupt-flag-suppresses",
	       "NO_INTERRUPT set: %u interrupts (want 0), %u of %u served right (polled)", off.irqs, off.right, BATCH);
	report(on.irqs >= 1 && on.irqs <= BATCH && on.right == BATCH, "no-interrupt-flag-cleared",
	       "NO_INTERRUPT clear again: %u interrupts (want 1-%u), %u of %u served right", on.irqs, BATCH, on.right,
	       BATCH);
	report(ignored.irqs >= 1 && ignored.right == BATCH, "no-event-idx-ignores-used-event",
	       "used_event %u ahead without EVENT_IDX: %u interrupts (want at least 1), %u of %u served right", 1000,
	       ignored.irqs, ignored.right, BATCH);
	uint16_t flags = vq.used->flags;
	report(flags == 0, "no-event-idx-used-flags-idle", "used->flags 0x%x with the device idle, want 0", flags);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	virtio_rt_init();
	if (!virtio_probe(&blk, ABI_VIRTIO_BLK) || blk.device_id != VIRTIO_ID_BLOCK) {
		report(0, "event-idx-probe", "no virtio-blk in slot 1 (DeviceID %u): run with --disk=FILE",
		       blk.device_id);
		end();
	}
	virtio_irq_attach(&blk);
	with_event_idx();
	without_event_idx();
	end();
}
