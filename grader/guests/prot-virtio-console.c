/* SPDX-License-Identifier: MIT */
/*
 * prot-virtio-console: the guest's own report travels over virtio-console's
 * transmitq (virtio 1.2 §5.3) instead of COM1. The console in slot 0 is set
 * up first, without printing (VERSION_1 and INDIRECT_DESC; receiveq 0 with
 * four 64-byte buffers, transmitq 1 of 8 entries, which the report goes
 * round twice), one "# ..." line is sent as a probe,
 * and only then does the runtime's output go to the device
 * (rt_set_output()): every report line, the end line and its MAC are
 * transmit buffers, one line each, sent and waited for one at a time. A
 * byte the device loses, adds or reorders breaks the report's MAC, and the
 * grader fails the run; a line the device does not give back within 50 ms
 * sends that line and the rest of the report to COM1 instead and is a
 * `not ok console-tx-timeout`. If the set-up fails, the report goes to COM1
 * and says why.
 *
 * Checks, besides the report arriving at all:
 *  - every line's used entry gives back its head with len 0 (the device
 *    writes nothing into a transmit buffer);
 *  - a line sent as a chain of three buffers, and one through an indirect
 *    table of four, arrive whole (the MAC) and come back as one used entry;
 *  - three lines made available at once, then notified once, arrive in
 *    order (the MAC) and all come back;
 *  - used buffers interrupt (InterruptStatus bit 0);
 *  - with no console input (grading runs have none), the receiveq's
 *    buffers stay available: nothing used after 50 ms (the device looks
 *    for input every 20 ms).
 */
#include "virtio.h"

#define WAIT_MS   50
#define RXQ       0
#define TXQ       1
#define RX_BUFS   4
#define LINE_MAX  256
#define BATCH_MAX 4
/* Small, so that the report's 16 lines take the ring's indices round it twice. */
#define TXQ_SIZE  8

static struct virtio_dev con;
static struct virtq rxq, txq;
static struct virtq_area rx_area, tx_area;
static char rx_buf[RX_BUFS][64];
static char tx_buf[BATCH_MAX][LINE_MAX];
static struct vring_desc tx_table[4] __attribute__((aligned(16)));

/* The output sink: a line at a time. */
enum tx_mode { TX_ONE, TX_CHAIN, TX_INDIRECT };
static struct {
	char line[LINE_MAX];
	unsigned len;
	enum tx_mode mode;
	unsigned parts;            /* buffers per line in TX_CHAIN and TX_INDIRECT */
	int batching;              /* lines made available, not notified (batch_begin) */
	unsigned batched;
	int heads[BATCH_MAX];      /* their heads */
	/* What came back. */
	unsigned lines, bad;       /* lines sent, and used entries not (their head, len 0) */
	int last_id, last_head;
	uint32_t last_len;
	int failed;                /* fell back to COM1: why below */
	const char *why;
} tx;

static void fall_back(const char *why)
{
	tx.failed = 1;
	tx.why = why;
	rt_set_output(NULL);
	/* This line to COM1: the report stays whole, the failure is reported. */
	for (unsigned i = 0; i < tx.len; i++)
		putchar(tx.line[i]);
}

/* One used entry for `head`: recorded, and counted bad unless it is
 * (head, 0). Returns 0 if none came within WAIT_MS. */
static int take_used(int head)
{
	if (!virtq_wait_used(&txq, 1, WAIT_MS))
		return 0;
	uint32_t len = ~0u;
	int id = virtq_get_used(&txq, &len);
	tx.last_id = id;
	tx.last_len = len;
	tx.last_head = head;
	if (id != head || len != 0)
		tx.bad++;
	return 1;
}

/* The line as `n` buffers of about equal length (fewer if it is shorter). */
static unsigned split(const char *s, unsigned len, unsigned n, struct vbuf *out)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned from = len * i / n, to = len * (i + 1) / n;
		if (to > from)
			out[k++] = (struct vbuf){ s + from, to - from, 0 };
	}
	return k;
}

static void flush(void)
{
	unsigned slot = tx.batching ? tx.batched : 0;
	char *buf = tx_buf[slot];
	memcpy(buf, tx.line, tx.len);
	struct vbuf parts[4];
	unsigned n = tx.mode == TX_ONE ? split(buf, tx.len, 1, parts) : split(buf, tx.len, tx.parts, parts);
	int head = tx.mode == TX_INDIRECT ? virtq_add_indirect(&txq, parts, n, tx_table) : virtq_add(&txq, parts, n);
	if (head < 0) {
		fall_back("no free descriptor for a line");
		return;
	}
	tx.lines++;
	if (tx.batching) {
		tx.heads[tx.batched++] = head;
		return;
	}
	virtq_kick(&txq);
	if (!take_used(head))
		fall_back("a line was not used within 50 ms");
}

static void console_putc(char c)
{
	tx.line[tx.len++] = c;
	if (c == '\n' || tx.len == LINE_MAX) {
		flush();
		tx.len = 0;
	}
}

static void batch_begin(void)
{
	tx.batching = 1;
	tx.batched = 0;
}

/* Notify once for the batch; returns how many of its lines came back. */
static unsigned batch_end(void)
{
	tx.batching = 0;
	if (tx.failed)
		return 0;
	virtq_kick(&txq);
	unsigned back = 0;
	for (unsigned i = 0; i < tx.batched; i++) {
		if (!virtq_wait_used(&txq, 1, WAIT_MS))
			break;
		uint32_t len = ~0u;
		int id = virtq_get_used(&txq, &len);
		int mine = 0;
		for (unsigned j = 0; j < tx.batched; j++)
			if (tx.heads[j] == id) {
				mine = 1;
				tx.heads[j] = -1;
			}
		if (!mine || len != 0)
			tx.bad++;
		back++;
	}
	if (back < tx.batched) {
		tx.failed = 1;
		tx.why = "a batch of lines was not used within 50 ms";
		rt_set_output(NULL);
	}
	return back;
}

/* Everything before the first report line; NULL or what went wrong. */
static const char *setup(void)
{
	static const char probe[] = "# prot-virtio-console: transmitq up, the report follows on it\n";
	if (!virtio_probe(&con, ABI_VIRTIO_CONSOLE) || con.device_id != VIRTIO_ID_CONSOLE)
		return "no virtio-console (DeviceID 3) in slot 0";
	if (!virtio_negotiate(&con, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)))
		return "FEATURES_OK not kept for VERSION_1 | INDIRECT_DESC";
	if (!(con.features & VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC)))
		return "INDIRECT_DESC not offered";
	if (!virtq_setup(&rxq, &con, RXQ, 8, &rx_area) || !virtq_setup(&txq, &con, TXQ, TXQ_SIZE, &tx_area))
		return "QueueReady read 0 after setting up the receiveq (8) and the transmitq (8)";
	virtio_driver_ok(&con);
	virtio_irq_attach(&con);
	for (unsigned i = 0; i < RX_BUFS; i++) {
		struct vbuf b = { rx_buf[i], sizeof(rx_buf[i]), 1 };
		virtq_add(&rxq, &b, 1);
	}
	virtq_kick(&rxq);
	for (const char *p = probe; *p; p++)
		tx.line[tx.len++] = *p;
	flush();
	tx.len = 0;
	if (tx.failed)
		return "the probe line was not used within 50 ms";
	if (tx.bad)
		return "the probe line's used entry is not (its head, len 0)";
	return NULL;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	if (cpu != 0)
		halt_forever();
	virtio_rt_init();
	const char *why = setup();
	if (!why)
		rt_set_output(console_putc);
	begin(GUEST_NAME);
	if (why) {
		report(0, "console-setup", "%s (status 0x%x); this report is on COM1", why, virtio_status(&con));
		end();
	}
	pass("console-setup");
	report(tx.bad == 0 && tx.last_id == tx.last_head && tx.last_len == 0, "console-tx-used-len",
	       "the line before: used id %d len %u, want id %d len 0", tx.last_id, tx.last_len, tx.last_head);

	tx.mode = TX_CHAIN;
	tx.parts = 3;
	pass("console-tx-chain-sent");
	tx.mode = TX_ONE;
	report(tx.last_id == tx.last_head && tx.last_len == 0, "console-tx-chain",
	       "the line before, a chain of 3 buffers: used id %d len %u, want id %d len 0", tx.last_id, tx.last_len,
	       tx.last_head);

	tx.mode = TX_INDIRECT;
	tx.parts = 4;
	pass("console-tx-indirect-sent");
	tx.mode = TX_ONE;
	report(tx.last_id == tx.last_head && tx.last_len == 0, "console-tx-indirect",
	       "the line before, an indirect table of 4: used id %d len %u, want id %d len 0", tx.last_id, tx.last_len,
	       tx.last_head);

	uint32_t kicks = txq.kicks;
	batch_begin();
	pass("console-tx-batch-1");
	pass("console-tx-batch-2");
	pass("console-tx-batch-3");
	unsigned back = batch_end();
	/* At most one notification: none if the device was still draining
	 * (used->flags NO_NOTIFY, §2.7.10), when it finds them itself. */
	report(back == 3 && txq.kicks - kicks <= 1, "console-tx-batch",
	       "3 lines made available, then %u notification(s): %u came back, want 3 after at most 1",
	       txq.kicks - kicks, back);

	virtio_wait_irqs(&con, 1, WAIT_MS);
	report(con.irqs_vring >= 1, "console-tx-irq",
	       "%u used-buffer interrupts (IRQ %u) over %u lines, InterruptStatus bits 0x%x seen; want at least 1",
	       con.irqs_vring, con.irq, tx.lines, con.isr_seen);

	virtio_delay_ms(WAIT_MS);
	uint16_t rx_used = rxq.used->idx;
	report(rx_used == 0 && rxq.avail->idx == RX_BUFS, "console-rx-unused",
	       "no console input: receiveq used->idx %u after %u ms (avail->idx %u), want 0", rx_used, WAIT_MS,
	       rxq.avail->idx);

	report(tx.bad == 0, "console-tx-used", "%u of %u lines came back with another id or a len other than 0",
	       tx.bad, tx.lines);
	if (tx.failed)
		report(0, "console-tx-timeout", "%s; the rest of the report is on COM1", tx.why);
	end();
}
