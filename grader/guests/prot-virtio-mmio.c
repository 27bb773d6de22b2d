/* SPDX-License-Identifier: MIT */
/*
 * prot-virtio-mmio: the virtio-mmio transport, version 2 (virtio 1.2 §4.2),
 * on the console in slot 0, run without --disk:
 *  - identification: MagicValue, Version, DeviceID 3, VendorID "KVML";
 *    slot 1 unassigned (all ones) without a disk;
 *  - registers below 0x100 take 32-bit accesses only: narrower reads give
 *    0, narrower writes change nothing;
 *  - DeviceFeatures through both selector values (VERSION_1, EVENT_IDX,
 *    INDIRECT_DESC; nothing of the console's own), 0 past them;
 *    QueueNumMax 256 for queues 0 and 1, 0 for a queue that is not there;
 *  - Status (§2.1, §3.1.1): ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK in
 *    order, FAILED at any time; clearing a bit or skipping a step sets
 *    DEVICE_NEEDS_RESET and nothing else; a reset clears it;
 *  - FEATURES_OK (§2.2) not kept without VERSION_1 or with a bit the device
 *    did not offer (in either word), kept for a subset of the offer;
 *  - QueueReady (§4.2.3.2) stays 0 before FEATURES_OK (§3.1.1), for a size
 *    that is not a power of 2 in 1..QueueNumMax, or a ring part outside RAM
 *    (0xc0000000 or above 4 GiB); queue
 *    registers written while the queue is ready are ignored (a chain using
 *    descriptors past the size written meanwhile is served from the ring
 *    set up first);
 *  - QueueNotify before DRIVER_OK takes nothing; after it the same buffer
 *    is used (id, len 0) and interrupts (InterruptStatus bit 0);
 *    QueueNotify of a queue not ready or not there changes nothing;
 *  - InterruptACK clears the bit; a reset clears Status, InterruptStatus,
 *    QueueReady and the driver's features;
 *  - ConfigGeneration the same throughout (nothing in the configuration
 *    changes).
 * The transmit buffers print "# prot-virtio-mmio: ..." lines on the VMM's
 * output, by the side of the report.
 */
#include "virtio.h"

#define WAIT_MS  50
#define QUIET_MS 20
#define S_AD     (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)
#define S_ADF    (S_AD | VIRTIO_CONFIG_S_FEATURES_OK)
#define S_ADFO   (S_ADF | VIRTIO_CONFIG_S_DRIVER_OK)
#define NOWHERE  0xc0000000u /* no memory there (README.md) */
#define TXQ      1           /* §5.3.2: receiveq 0, transmitq 1 */
#define RXQ      0
/* What the console offers (the transport's features of §6, none of §5.3.3). */
#define OFFERED  (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) | \
		  VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC))

static struct virtio_dev con;
static struct virtq txq;
static struct virtq_area tx_area;

static const char part1[] = "# prot-virtio-mmio: ", part2[] = "notified after ", part3[] = "DRIVER_OK\n";
static const char line_ack[] = "# prot-virtio-mmio: InterruptACK\n";
static const char line_reset[] = "# prot-virtio-mmio: reset\n";

static void set_status(uint32_t v)
{
	virtio_write(&con, VIRTIO_MMIO_STATUS, v);
}

/* Reset, then Status written step by step up to `upto` (ACKNOWLEDGE...). */
static void bring_up(uint32_t upto)
{
	virtio_reset(&con);
	uint32_t s = 0;
	static const uint32_t steps[] = { VIRTIO_CONFIG_S_ACKNOWLEDGE, VIRTIO_CONFIG_S_DRIVER };
	for (unsigned i = 0; i < 2; i++) {
		if (!(upto & steps[i]))
			return;
		s |= steps[i];
		set_status(s);
	}
}

/* After ACKNOWLEDGE | DRIVER: these features, then FEATURES_OK; returns Status. */
static uint32_t try_features(uint64_t f)
{
	bring_up(S_AD);
	virtio_set_driver_features(&con, f);
	set_status(S_ADF);
	return virtio_status(&con);
}

static uint32_t queue_reg(unsigned q, uint32_t reg)
{
	virtio_write(&con, VIRTIO_MMIO_QUEUE_SEL, q);
	return virtio_read(&con, reg);
}

static void line_mask(int masked)
{
	uint8_t bit = (uint8_t)(1u << (con.irq - 8));
	uint8_t imr = inb(PIC2_DATA);
	outb(PIC2_DATA, masked ? (uint8_t)(imr | bit) : (uint8_t)(imr & ~bit));
}

/* One transmit buffer, notified, waited for; returns the used entries seen. */
static int send(const char *s, unsigned len)
{
	struct vbuf b = { s, len, 0 };
	uint16_t before = txq.used->idx;
	if (virtq_add(&txq, &b, 1) < 0)
		return 0;
	virtq_kick(&txq);
	virtq_wait_used(&txq, 1, WAIT_MS);
	uint32_t n;
	while (virtq_get_used(&txq, &n) != -1)
		;
	return (uint16_t)(txq.used->idx - before);
}

static void identification(void)
{
	uint32_t magic = virtio_read(&con, VIRTIO_MMIO_MAGIC_VALUE);
	report_eq("mmio-magic", magic, VIRTIO_MMIO_MAGIC);
	if (magic != VIRTIO_MMIO_MAGIC) {
		printf("# no virtio-mmio device at 0x%x: the other checks need one\n", (unsigned)con.base);
		end();
	}
	report_eq("mmio-version", virtio_read(&con, VIRTIO_MMIO_VERSION), 2);
	report_eq("mmio-device-id", virtio_read(&con, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
	report_eq("mmio-vendor-id", virtio_read(&con, VIRTIO_MMIO_VENDOR_ID), ABI_TESTDEV_MAGIC);
	uint32_t slot1 = mmio_read32(ABI_VIRTIO_MMIO_GPA + ABI_VIRTIO_BLK * ABI_VIRTIO_MMIO_SIZE + VIRTIO_MMIO_MAGIC_VALUE);
	report(slot1 == 0xffffffffu, "mmio-slot1-unassigned", "slot 1's MagicValue 0x%x without --disk, want all ones",
	       slot1);
}

static void access_widths(void)
{
	uint32_t b0 = mmio_read8(con.base + VIRTIO_MMIO_MAGIC_VALUE);
	uint32_t w0 = mmio_read16(con.base + VIRTIO_MMIO_MAGIC_VALUE);
	uint32_t w2 = mmio_read16(con.base + VIRTIO_MMIO_MAGIC_VALUE + 2);
	uint32_t b4 = mmio_read8(con.base + VIRTIO_MMIO_VERSION);
	report(b0 == 0 && w0 == 0 && w2 == 0 && b4 == 0, "mmio-narrow-read-zero",
	       "MagicValue by byte 0x%x, by halves 0x%x 0x%x, Version by byte 0x%x; want 0 for each", b0, w0, w2, b4);

	virtio_reset(&con);
	virtio_write(&con, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t low = virtio_read(&con, VIRTIO_MMIO_DEVICE_FEATURES);
	mmio_write16(con.base + VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t after16 = virtio_read(&con, VIRTIO_MMIO_DEVICE_FEATURES);
	mmio_write8(con.base + VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	uint32_t status = virtio_status(&con);
	report(after16 == low && status == 0, "mmio-narrow-write-dropped",
	       "after a 2-byte DeviceFeaturesSel = 1 DeviceFeatures 0x%x (word 0: 0x%x); after a 1-byte Status = 1 "
	       "Status 0x%x (want 0)", after16, low, status);
}

static void features_and_queues(void)
{
	uint32_t f[3];
	for (uint32_t sel = 0; sel < 3; sel++) {
		virtio_write(&con, VIRTIO_MMIO_DEVICE_FEATURES_SEL, sel);
		f[sel] = virtio_read(&con, VIRTIO_MMIO_DEVICE_FEATURES);
	}
	uint32_t want_low = (uint32_t)(VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX));
	report(f[0] == want_low, "mmio-features-low",
	       "DeviceFeatures word 0 0x%x, want 0x%x (INDIRECT_DESC, EVENT_IDX; the console offers none of its own)",
	       f[0], want_low);
	report(f[1] == 1, "mmio-features-high", "DeviceFeatures word 1 0x%x, want 0x1 (VERSION_1)", f[1]);
	report(f[2] == 0, "mmio-features-sel2", "DeviceFeatures word 2 0x%x, want 0", f[2]);

	uint32_t m0 = queue_reg(RXQ, VIRTIO_MMIO_QUEUE_NUM_MAX), m1 = queue_reg(TXQ, VIRTIO_MMIO_QUEUE_NUM_MAX);
	uint32_t m2 = queue_reg(2, VIRTIO_MMIO_QUEUE_NUM_MAX);
	report(m0 == 256 && m1 == 256, "mmio-queue-num-max", "QueueNumMax %u (receiveq) and %u (transmitq), want 256",
	       m0, m1);
	report(m2 == 0, "mmio-queue-num-max-absent", "QueueNumMax of queue 2 (none) %u, want 0 (§4.2.2)", m2);
}

static void status_machine(void)
{
	virtio_reset(&con);
	uint32_t s0 = virtio_status(&con);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	uint32_t s1 = virtio_status(&con);
	set_status(S_AD);
	uint32_t s2 = virtio_status(&con);
	virtio_set_driver_features(&con, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	set_status(S_ADF);
	uint32_t s3 = virtio_status(&con);
	set_status(S_ADFO);
	uint32_t s4 = virtio_status(&con);
	report(s0 == 0 && s1 == 0x1 && s2 == 0x3 && s3 == 0xb && s4 == 0xf, "status-order",
	       "Status read 0x%x 0x%x 0x%x 0x%x 0x%x along reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; "
	       "want 0 0x1 0x3 0xb 0xf", s0, s1, s2, s3, s4);
	set_status(S_ADFO | VIRTIO_CONFIG_S_FAILED);
	uint32_t sf = virtio_status(&con);
	report(sf == (S_ADFO | VIRTIO_CONFIG_S_FAILED), "status-failed-any-time",
	       "Status 0x%x after FAILED was added to 0xf, want 0x8f", sf);

	bring_up(S_AD);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	uint32_t sc = virtio_status(&con);
	report(sc == (S_AD | VIRTIO_CONFIG_S_NEEDS_RESET), "status-clear-needs-reset",
	       "Status 0x%x after writing 0x1 over 0x3 (DRIVER cleared), want 0x43", sc);
	virtio_reset(&con);
	uint32_t sr = virtio_status(&con);
	report(sr == 0, "status-reset-clears-needs-reset", "Status 0x%x after a reset, want 0", sr);

	bring_up(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_FEATURES_OK);
	uint32_t sk1 = virtio_status(&con);
	bring_up(S_AD);
	virtio_set_driver_features(&con, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	set_status(S_AD | VIRTIO_CONFIG_S_DRIVER_OK);
	uint32_t sk2 = virtio_status(&con);
	report(sk1 == 0x41 && sk2 == 0x43, "status-skip-needs-reset",
	       "Status 0x%x after 0x9 over 0x1 (DRIVER skipped), want 0x41; 0x%x after 0x7 over 0x3 "
	       "(FEATURES_OK skipped), want 0x43", sk1, sk2);
	virtio_reset(&con);
}

static void feature_negotiation(void)
{
	uint32_t none = try_features(0);
	report(none == S_AD, "features-ok-needs-version-1",
	       "Status 0x%x after FEATURES_OK with no features, want 0x3 (not kept, no NEEDS_RESET)", none);
	uint32_t low = try_features(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE));
	uint32_t high = try_features(VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM));
	report(low == S_AD && high == S_AD, "features-ok-refuses-unoffered",
	       "Status 0x%x with VIRTIO_CONSOLE_F_SIZE (bit 0), 0x%x with ACCESS_PLATFORM (bit 33), neither offered; "
	       "want 0x3 for both", low, high);
	uint32_t ok = try_features(OFFERED);
	report(ok == S_ADF, "features-ok-accepts-offered",
	       "Status 0x%x after FEATURES_OK with VERSION_1, EVENT_IDX, INDIRECT_DESC, want 0xb", ok);
}

/* QueueReady read back after a set-up with these values; a queue the device
 * took anyway is taken back (QueueReady = 0), so the next try starts clean. */
static int try_ready(uint32_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	int r = virtq_program(&con, TXQ, size, desc, avail, used);
	if (r)
		virtio_write(&con, VIRTIO_MMIO_QUEUE_READY, 0);
	return r;
}

static void queue_ready_refusals(void)
{
	/* Every part but the one under test is in RAM (this guest's own image). */
	uintptr_t a = (uintptr_t)tx_area.bytes, av = a + 0x1000, u = a + 0x1400;
	/* §3.1.1: queues are set up once the features are settled. */
	bring_up(S_AD);
	virtio_set_driver_features(&con, OFFERED);
	int early = try_ready(16, a, av, u);
	report(!early, "queue-ready-before-features-ok",
	       "QueueReady read %d for a valid queue set up before FEATURES_OK (status 0x%x), want 0", early,
	       virtio_status(&con));
	set_status(S_ADF);

	int r3 = try_ready(3, a, av, u);
	int r512 = try_ready(512, a, a + 0x2000, a + 0x2800);
	int r0 = try_ready(0, a, av, u);
	report(!r3 && !r512 && !r0, "queue-ready-bad-size",
	       "QueueReady read %d for size 3, %d for 512 (> QueueNumMax), %d for 0; want 0 for each", r3, r512, r0);
	int rdesc = try_ready(16, NOWHERE, av, u);
	int ravail = try_ready(16, a, NOWHERE, u);
	int rused = try_ready(16, a, av, NOWHERE);
	int rhigh = try_ready(16, a | (1ull << 32), av, u);
	report(!rdesc && !ravail && !rused && !rhigh, "queue-ready-outside-ram",
	       "QueueReady read %d, %d, %d with the descriptors, available ring, used ring at 0x%x, %d with the "
	       "descriptors 4 GiB up; want 0 for each", rdesc, ravail, rused, NOWHERE, rhigh);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	virtio_rt_init();
	virtio_probe(&con, ABI_VIRTIO_CONSOLE);
	uint32_t gen0 = virtio_read(&con, VIRTIO_MMIO_CONFIG_GENERATION);

	identification();
	access_widths();
	features_and_queues();
	status_machine();
	feature_negotiation();
	queue_ready_refusals();

	/* A good transmitq, then its registers rewritten while it is ready:
	 * a size of 2 and the descriptors nowhere would make the chain
	 * below (descriptors 0 -> 1 -> 2) unusable, were they taken. */
	con.features = OFFERED;
	int ready = virtq_setup(&txq, &con, TXQ, 16, &tx_area);
	report(ready, "queue-ready", "QueueReady read 0 after a valid set-up of the transmitq (size 16)");
	virtio_write(&con, VIRTIO_MMIO_QUEUE_NUM, 2);
	virtio_write(&con, VIRTIO_MMIO_QUEUE_DESC_LOW, NOWHERE);
	virtio_write(&con, VIRTIO_MMIO_QUEUE_READY, 1);
	virtio_irq_attach(&con);

	struct vbuf parts[3] = { { part1, sizeof(part1) - 1, 0 }, { part2, sizeof(part2) - 1, 0 },
				 { part3, sizeof(part3) - 1, 0 } };
	int head = virtq_add(&txq, parts, 3);
	virtq_kick(&txq);
	virtio_delay_ms(QUIET_MS);
	uint16_t early = txq.used->idx;
	uint32_t early_irqs = con.irqs_vring;
	report(early == 0 && early_irqs == 0, "notify-before-driver-ok-ignored",
	       "QueueNotify before DRIVER_OK: used->idx %u, %u used-buffer interrupts after %u ms; want 0, 0", early,
	       early_irqs, QUIET_MS);

	virtio_driver_ok(&con);
	uint32_t s_ok = virtio_status(&con);
	/* Notified again by hand: the driver's own bookkeeping (§2.7.10, the
	 * device's avail_event still 0) would call this notification needless. */
	virtio_write(&con, VIRTIO_MMIO_QUEUE_NOTIFY, TXQ);
	virtq_wait_used(&txq, 1, WAIT_MS);
	virtio_wait_irqs(&con, 1, WAIT_MS);
	uint32_t len = ~0u;
	int id = virtq_get_used(&txq, &len);
	report(s_ok == S_ADFO && id == head && len == 0, "notify-after-driver-ok",
	       "Status 0x%x (want 0xf); the chain (head %d) notified again: used entry id %d len %u, want id %d len 0",
	       s_ok, head, id, len, head);
	report(id == head, "queue-regs-ignored-when-ready",
	       "QueueNum = 2 and QueueDescLow = 0x%x written while ready: the chain of descriptors 0-2 %s", NOWHERE,
	       id == head ? "was served" : "was not served from the first ring");
	report(con.irqs_vring >= 1, "irq-used-buffer",
	       "%u interrupts on IRQ %u, InterruptStatus bits 0x%x seen; want at least 1 with bit 0", con.irqs, con.irq,
	       con.isr_seen);

	uint32_t irqs = con.irqs_vring;
	virtio_write(&con, VIRTIO_MMIO_QUEUE_NOTIFY, RXQ);
	virtio_write(&con, VIRTIO_MMIO_QUEUE_NOTIFY, 5);
	virtio_delay_ms(QUIET_MS);
	uint32_t s_bad = virtio_status(&con);
	report(s_bad == S_ADFO && con.irqs_vring == irqs && txq.used->idx == 1, "notify-bad-queue-ignored",
	       "QueueNotify of the receiveq (not set up) and of queue 5 (none): Status 0x%x, %u more used-buffer "
	       "interrupts, used->idx %u; want 0xf, 0, 1", s_bad, con.irqs_vring - irqs, txq.used->idx);

	/* InterruptStatus as the device left it: the line masked, nothing
	 * acknowledges it meanwhile. */
	line_mask(1);
	int got = send(line_ack, sizeof(line_ack) - 1);
	uint32_t isr = virtio_read(&con, VIRTIO_MMIO_INTERRUPT_STATUS);
	virtio_write(&con, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	uint32_t isr_acked = virtio_read(&con, VIRTIO_MMIO_INTERRUPT_STATUS);
	report(got == 1 && isr == VIRTIO_MMIO_INT_VRING && isr_acked == 0, "irq-status-ack",
	       "a buffer used (%d): InterruptStatus 0x%x, then 0x%x after InterruptACK = 1; want 0x1, 0", got, isr,
	       isr_acked);

	got = send(line_reset, sizeof(line_reset) - 1);
	uint32_t isr_before = virtio_read(&con, VIRTIO_MMIO_INTERRUPT_STATUS);
	virtio_write(&con, VIRTIO_MMIO_STATUS, 0);
	uint32_t st = virtio_status(&con), isr_after = virtio_read(&con, VIRTIO_MMIO_INTERRUPT_STATUS);
	uint32_t rdy_tx = queue_reg(TXQ, VIRTIO_MMIO_QUEUE_READY), rdy_rx = queue_reg(RXQ, VIRTIO_MMIO_QUEUE_READY);
	report(got == 1 && isr_before && st == 0 && isr_after == 0 && rdy_tx == 0 && rdy_rx == 0, "reset-clears",
	       "after a reset (InterruptStatus 0x%x before): Status 0x%x, InterruptStatus 0x%x, QueueReady %u %u; "
	       "want all 0", isr_before, st, isr_after, rdy_tx, rdy_rx);
	set_status(VIRTIO_CONFIG_S_ACKNOWLEDGE);
	set_status(S_AD);
	set_status(S_ADF);
	uint32_t sfeat = virtio_status(&con);
	report(sfeat == S_AD, "reset-clears-driver-features",
	       "FEATURES_OK after a reset without writing DriverFeatures: Status 0x%x, want 0x3 (VERSION_1 gone)", sfeat);
	virtio_reset(&con);
	line_mask(0);
	virtio_delay_ms(2);

	uint32_t gen1 = virtio_read(&con, VIRTIO_MMIO_CONFIG_GENERATION);
	report(gen0 == gen1, "config-generation-stable", "ConfigGeneration 0x%x at the start, 0x%x at the end", gen0,
	       gen1);
	end();
}
