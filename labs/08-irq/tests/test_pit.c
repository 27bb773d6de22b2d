/* SPDX-License-Identifier: MIT */
/*
 * The 8254 PIT (kvm/i8254.c) on a clock the test sets (fake_now_ns),
 * programmed through its ports as Linux and firmware program it. Its ticks
 * are seen where a guest sees them (the "pit-ticks" case): as IRQ0 requests
 * of the PIC pair (the routing of kvm_set_irq(), irq.c), taken with INTA;
 * those tests need the PIC's pins, priority and INTA to work (pic suite).
 * Facts from the Intel 8254 datasheet (order no. 231164).
 *
 * Every failure message shows the sequence the test ran (port writes, the
 * clock, checks, ticks taken), what was read and where the datasheet says
 * otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fake_irq_host.h"
#include "kvm/i8254.h"
#include "kvm/irq.h"
#include "lab08_tests.h"

#define T0 1000000000ull          /* the clock when the VM is made: 1 s */

static struct kvm *kvm;
static struct kvm_pic *pic;
static struct kvm_pit *pit;
static char seq[4096];

static void note(const char *fmt, ...)
{
	size_t n = strlen(seq);
	if (n + 80 >= sizeof(seq))
		return;
	if (n)
		seq[n++] = ' ';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(seq + n, sizeof(seq) - n, fmt, ap);
	va_end(ap);
}

#define expect(actual, expected, section, ...)                                                           \
	do {                                                                                             \
		long long a_ = (long long)(actual), e_ = (long long)(expected);                          \
		if (a_ != e_) {                                                                          \
			char what_[256];                                                                 \
			snprintf(what_, sizeof(what_), __VA_ARGS__);                                     \
			ck_abort_msg("%s: %lld (%#llx), expected %lld (%#llx)\n  after: %s\n  (%s)", what_, a_, \
				     (unsigned long long)a_, e_, (unsigned long long)e_, seq, section);   \
		}                                                                                        \
	} while (0)

static struct kvm_io_device *pio_dev(uint16_t port)
{
	return fake_irq_bus_dev(kvm, KVM_PIO_BUS, port);
}

static void guest_out(uint16_t port, uint8_t val)
{
	note("out %#x,%#04x;", port, val);
	struct kvm_io_device *dev = pio_dev(port);
	ck_assert_msg(dev, "no device on port %#x (the PIT registers 0x40-0x43, and 0x61 with KVM_PIT_SPEAKER_DUMMY)",
		      port);
	int r = dev->ops->write(kvm->vcpus[0], dev, port, 1, &val);
	ck_assert_msg(r == 0, "the write of %#04x to port %#x returned %d, expected 0", val, port, r);
}

static uint8_t guest_in(uint16_t port)
{
	struct kvm_io_device *dev = pio_dev(port);
	ck_assert_msg(dev, "no device on port %#x (the PIT registers 0x40-0x43, and 0x61 with KVM_PIT_SPEAKER_DUMMY)",
		      port);
	uint8_t val = 0xee;
	int r = dev->ops->read(kvm->vcpus[0], dev, port, 1, &val);
	ck_assert_msg(r == 0, "the read of port %#x returned %d, expected 0", port, r);
	note("in %#x=%#04x;", port, val);
	return val;
}

static void at(uint64_t ns)
{
	fake_now_ns = ns;
	note("[t0+%lluns]", (unsigned long long)(ns - T0));
}

static void check(void)
{
	note("check;");
	kvm_pit_check_timer(kvm);
}

/* The guest's timer interrupt: INTA gives IRQ0's vector (AEOI ends it).
 * Returns 1 if there was a tick to take. */
static int take_tick(void)
{
	if (!pic->output)
		return 0;
	int v = kvm_pic_read_irq(kvm);
	note("INTA=%#x;", v);
	expect(v, 0x30, "the PIT is IRQ0", "the vector of the request the PIT raised");
	return 1;
}

/* Count and take every tick one check delivers, checking until none comes. */
static int ticks_over_checks(int max_checks)
{
	int n = 0;
	for (int i = 0; i < max_checks; i++) {
		check();
		if (!take_tick())
			break;
		n++;
	}
	return n;
}

static void program(int channel, int mode, uint32_t count)
{
	guest_out(0x43, (uint8_t)(channel << 6 | 0x30 | mode << 1));
	guest_out((uint16_t)(0x40 + channel), (uint8_t)count);
	guest_out((uint16_t)(0x40 + channel), (uint8_t)(count >> 8));
}

static uint16_t read_count(int channel)
{
	uint8_t lo = guest_in((uint16_t)(0x40 + channel));
	uint8_t hi = guest_in((uint16_t)(0x40 + channel));
	return (uint16_t)(lo | hi << 8);
}

/* PIT clocks in ns of elapsed time, and a count's length in ns: the tests'
 * own arithmetic (1.193182 MHz, datasheet "Clock"). */
static uint64_t ticks_in(uint64_t ns)
{
	return ns * KVM_PIT_FREQ / 1000000000ull;
}

/* The first ns at which count clocks have passed (rounded up). */
static uint64_t count_ns(uint32_t count)
{
	return ((uint64_t)(count ? count : 65536) * 1000000000ull + KVM_PIT_FREQ - 1) / KVM_PIT_FREQ;
}

/* The PIT alone: its ports, counts and state need no interrupt controller
 * (kvm_set_irq() then reaches none). */
static void setup(void)
{
	fake_irq_reset();
	seq[0] = 0;
	fake_now_ns = T0;
	kvm = fake_irq_vm(1);
	pic = NULL;
	pit = kvm_create_pit(kvm, KVM_PIT_SPEAKER_DUMMY);
	ck_assert_msg(pit, "kvm_create_pit() returned NULL");
	ck_assert_msg(kvm->arch.vpit == pit, "kvm_create_pit() did not make the PIT kvm->arch.vpit");
}

/* The PIC's master as Linux leaves it (IRQ0 = vector 0x30), put there with
 * KVM_SET_IRQCHIP's state rather than its ports, in AEOI mode so that a
 * tick taken needs no EOI: the tick tests use the PIC's pins and INTA only. */
static void set_master(uint8_t imr)
{
	struct kvm_pic_state st;
	kvm_pic_get_state(pic, 0, &st);
	st.irq_base = 0x30;
	st.auto_eoi = 1;
	st.imr = imr;
	kvm_pic_set_state(pic, 0, &st);
	note("PIC master: IRQ0 = 0x30, AEOI, IMR %#04x;", imr);
}

static void setup_ticks(void)
{
	setup();
	pic = kvm_create_pic(kvm);
	ck_assert_msg(pic, "kvm_create_pic() returned NULL");
	kvm->arch.vpic = pic;
	set_master(0x00);
}

static void teardown(void)
{
	kvm_free_pit(kvm);
	if (pic)
		kvm_destroy_pic(pic);
	fake_irq_vm_free(kvm);
}

/* ---- the device ------------------------------------------------------------------- */

START_TEST(ex1_pit_registers_its_ports)
{
	struct kvm_io_bus *bus = &kvm->buses[KVM_PIO_BUS];
	bool pit_ports = false, speaker = false;
	for (int i = 0; i < bus->dev_count; i++) {
		pit_ports |= bus->range[i].addr == 0x40 && bus->range[i].len == 4;
		speaker |= bus->range[i].addr == 0x61 && bus->range[i].len == 1;
	}
	ck_assert_msg(pit_ports, "no device at ports 0x40-0x43 (address 0x40, length 4)");
	ck_assert_msg(speaker, "no device at port 0x61 although KVM_PIT_SPEAKER_DUMMY was given (Linux serves it then)");
	expect(kvm_pit_next_event_ns(kvm), UINT64_MAX, "8254: after reset no mode is programmed",
	       "kvm_pit_next_event_ns() before any programming");
	int before = bus->dev_count;
	kvm_free_pit(kvm);
	ck_assert_msg(kvm->arch.vpit == NULL, "kvm_free_pit() left kvm->arch.vpit set");
	expect(bus->dev_count, before - 2, "kvm_free_pit", "devices on the bus after kvm_free_pit()");
	pit = kvm_create_pit(kvm, 0);
	ck_assert_msg(pit && !pio_dev(0x61), "without KVM_PIT_SPEAKER_DUMMY port 0x61 is the VMM's (as Linux)");
}
END_TEST

/* ---- channel 0's interrupt ----------------------------------------------------------- */

struct period_case {
	int mode;
	uint32_t count;
	const char *what;
};

static const struct period_case period_cases[] = {
	{ 2, 1193, "mode 2, count 1193 (1 ms, Linux's HZ=1000 LATCH)" },
	{ 2, 11932, "mode 2, count 11932 (10 ms, HZ=100)" },
	{ 2, 0, "mode 2, count 0 (65536: 54.9 ms, the BIOS's 18.2 Hz)" },
	{ 3, 1193, "mode 3, count 1193" },
	{ 3, 23864, "mode 3, count 23864 (20 ms)" },
	{ 3, 0, "mode 3, count 0 (65536)" },
	{ 2, 240, "mode 2, count 240 (201 us, just above the shortest period)" },
};

START_TEST(ex1_pit_periodic_ticks)
{
	const struct period_case *c = &period_cases[_i];
	program(0, c->mode, c->count);
	uint64_t period = count_ns(c->count);
	note("(%s: period %llu ns);", c->what, (unsigned long long)period);
	uint64_t next = kvm_pit_next_event_ns(kvm);
	ck_assert_msg(next + 1 >= T0 + period && next <= T0 + period + 1,
		      "%s: kvm_pit_next_event_ns() = t0%+lld ns, expected t0+%llu (count / 1193182 Hz after the "
		      "count was written)\n  after: %s", c->what, (long long)(next - T0), (unsigned long long)period, seq);
	for (int k = 1; k <= 3; k++) {
		uint64_t due = kvm_pit_next_event_ns(kvm);
		at(due - 1);
		check();
		expect(pic->pics[0].irr & 1, 0, "8254 modes 2 and 3: one interrupt per count clocks",
		       "%s: IRQ0 requested 1 ns before tick %d", c->what, k);
		at(due);
		check();
		expect(take_tick(), 1, "8254 modes 2 and 3: periodic", "%s: tick %d taken at its time", c->what, k);
		uint64_t after = kvm_pit_next_event_ns(kvm);
		ck_assert_msg(after + 2 * (uint64_t)k >= T0 + (k + 1) * period && after <= T0 + (k + 1) * period + 2,
			      "%s: after tick %d the next is at t0%+lld ns, expected t0+%llu (the period is count "
			      "clocks, never re-based on when the check ran)\n  after: %s", c->what, k,
			      (long long)(after - T0), (unsigned long long)((k + 1) * period), seq);
	}
}
END_TEST

START_TEST(ex1_pit_shortest_period)
{
	program(0, 2, 2);
	expect(kvm_pit_next_event_ns(kvm) - T0, 200000,
	       "Linux's min_timer_period_us: periodic ticks no faster than 200 us",
	       "the first tick of mode 2 with count 2 (1.7 us asked)");
	at(T0 + 200000);
	check();
	expect(take_tick(), 1, "8254 mode 2", "the tick at 200 us");
	expect(kvm_pit_next_event_ns(kvm) - T0, 400000, "min_timer_period_us", "the next tick");
}
END_TEST

START_TEST(ex1_pit_mode0_one_shot)
{
	program(0, 0, 11932);
	uint64_t due = kvm_pit_next_event_ns(kvm);
	expect(due, T0 + count_ns(11932), "8254 mode 0: OUT goes high when the count reaches 0",
	       "kvm_pit_next_event_ns() after a mode 0 count of 11932");
	guest_out(0x43, 0xe2);          /* read-back: status of channel 0 */
	expect(guest_in(0x40) >> 7, 0, "8254 mode 0: OUT is low while counting", "OUT in the status before expiry");
	at(due);
	check();
	expect(take_tick(), 1, "8254 mode 0: interrupt on terminal count", "the tick at expiry");
	expect(kvm_pit_next_event_ns(kvm), UINT64_MAX, "8254 mode 0: once (OUT stays high until a new count)",
	       "kvm_pit_next_event_ns() after the one shot");
	guest_out(0x43, 0xe2);
	expect(guest_in(0x40) >> 7, 1, "8254 mode 0", "OUT in the status after expiry");
	at(due + 500000000);
	expect(ticks_over_checks(5), 0, "8254 mode 0: one interrupt per count written", "ticks 0.5 s later");
	program(0, 0, 1193);
	at(due + 500000000 + count_ns(1193));
	expect(ticks_over_checks(5), 1, "8254 mode 0: a new count arms it again", "ticks after a second count");
}
END_TEST

START_TEST(ex1_pit_missed_ticks_reinjected)
{
	program(0, 2, 1193);
	uint64_t period = count_ns(1193);
	at(T0 + 5 * period + period / 2);
	check();
	expect(pit->pending, 4, "Linux: kvm_pit_set_reinject: one tick per check, the rest pending",
	       "pending after 5.5 periods and one check");
	expect(take_tick(), 1, "reinjection", "the first of the five ticks");
	expect(ticks_over_checks(10), 4, "reinjection: each missed tick is delivered, one per check",
	       "ticks from the following checks (no time passing)");
	expect(pit->pending, 0, "reinjection", "pending once the five were taken");
	uint64_t next = kvm_pit_next_event_ns(kvm);
	ck_assert_msg(next + 6 >= T0 + 6 * period && next <= T0 + 6 * period + 6,
		      "after 5.5 periods the next tick is at t0%+lld ns, expected t0+%llu (the 6th boundary)\n  after: %s",
		      (long long)(next - T0), (unsigned long long)(6 * period), seq);
}
END_TEST

START_TEST(ex1_pit_coalesced_tick_stays_pending)
{
	program(0, 2, 1193);
	uint64_t period = count_ns(1193);
	at(T0 + 3 * period + period / 2);
	check();
	expect(pit->pending, 2, "reinjection", "pending after 3.5 periods and one check");
	check();
	check();
	expect(pit->pending, 2, "reinjection: a tick raised while IRQ0 is still in IRR is coalesced by the PIC "
	       "(kvm_set_irq() returns 0) and must stay pending", "pending after two checks with the tick not taken");
	expect(take_tick(), 1, "reinjection", "the first tick");
	expect(ticks_over_checks(10), 2, "reinjection", "the two kept ticks, one per check");
}
END_TEST

START_TEST(ex1_pit_masked_ticks_lost)
{
	program(0, 2, 1193);
	uint64_t period = count_ns(1193);
	set_master(0x01);          /* IRQ0 masked */
	at(T0 + 3 * period + period / 2);
	check();
	check();
	check();
	expect(pit->pending, 0, "kvm_set_irq() < 0: IRQ0 masked everywhere, the tick is dropped",
	       "pending after three checks with IRQ0 masked");
	set_master(0x00);
	expect(ticks_over_checks(10), 1, "8259A: a masked request is latched in IRR, one for all edges",
	       "ticks once IRQ0 is unmasked");
}
END_TEST

START_TEST(ex1_pit_reprogram_drops_pending)
{
	program(0, 2, 1193);
	uint64_t period = count_ns(1193);
	at(T0 + 4 * period + period / 2);
	check();
	take_tick();
	program(0, 2, 11932);
	expect(pit->pending, 0, "Linux: create_pit_timer resets the reinjection", "pending after a new count");
	expect(kvm_pit_next_event_ns(kvm), fake_now_ns + count_ns(11932), "8254 mode 2: a new count starts now",
	       "kvm_pit_next_event_ns() after the new count");
	expect(ticks_over_checks(10), 0, "reinjection", "ticks right after the new count");
}
END_TEST

START_TEST(ex1_pit_late_check_next_event)
{
	program(0, 3, 11932);
	uint64_t period = count_ns(11932);
	at(T0 + 10 * period + period / 3);
	check();
	uint64_t next = kvm_pit_next_event_ns(kvm);
	ck_assert_msg(next > fake_now_ns && next <= fake_now_ns + period,
		      "a check 10.3 periods late: the next tick at t0%+lld ns, expected the next boundary after now "
		      "(t0+%llu), never in the past\n  after: %s", (long long)(next - T0),
		      (unsigned long long)(11 * period), seq);
	expect(pit->pending, 9, "reinjection: ten ticks are due, one raised", "pending after a check 10.3 periods late");
}
END_TEST

START_TEST(ex1_pit_hpet_legacy_silences_channel0)
{
	struct kvm_pit_state2 ps;
	program(0, 2, 1193);
	kvm_pit_get_state(kvm, &ps);
	ps.flags |= KVM_PIT_FLAGS_HPET_LEGACY;
	kvm_pit_set_state(kvm, &ps);
	note("KVM_SET_PIT2 with KVM_PIT_FLAGS_HPET_LEGACY;");
	expect(kvm_pit_next_event_ns(kvm), UINT64_MAX, "KVM_PIT_FLAGS_HPET_LEGACY: the HPET drives IRQ0",
	       "kvm_pit_next_event_ns()");
}
END_TEST

/* ---- reading the count ---------------------------------------------------------------- */

struct count_case {
	int mode;
	uint32_t count;
	uint64_t elapsed_ns;
};

static const struct count_case count_cases[] = {
	{ 2, 10000, 0 }, { 2, 10000, 1000000 }, { 2, 10000, 5000000 }, { 2, 10000, 9000000 }, { 2, 10000, 20500000 },
	{ 3, 10000, 0 }, { 3, 10000, 1000000 }, { 3, 10000, 4500000 }, { 3, 10000, 12345678 },
	{ 0, 1000, 0 }, { 0, 1000, 500000 }, { 0, 1000, 1257000 }, { 0, 0, 30000000 },
	{ 4, 5000, 2000000 },
};

static uint16_t expected_count(int mode, uint32_t count, uint64_t ns)
{
	uint64_t c = count ? count : 65536;
	uint64_t d = ticks_in(ns);
	if (mode == 2)
		return (uint16_t)(c - d % c);
	if (mode == 3)
		return (uint16_t)(c - 2 * d % c);
	return (uint16_t)(c - d);
}

START_TEST(ex1_pit_count_read_back)
{
	const struct count_case *c = &count_cases[_i];
	program(2, c->mode, c->count);
	at(T0 + c->elapsed_ns);
	uint16_t want = expected_count(c->mode, c->count, c->elapsed_ns);
	expect(read_count(2), want,
	       c->mode == 3 ? "8254 mode 3: the count goes down by two, twice per period" :
	       c->mode == 2 ? "8254 mode 2: count down to 1, reload, again" :
	       "8254 modes 0 and 4: count down once, then on through 0xffff",
	       "channel 2's count in mode %d, initial count %u, %llu ns (%llu clocks) after it was written", c->mode,
	       c->count, (unsigned long long)c->elapsed_ns, (unsigned long long)ticks_in(c->elapsed_ns));
}
END_TEST

START_TEST(ex1_pit_counter_latch)
{
	program(0, 2, 50000);
	at(T0 + 1000000);
	uint16_t want = expected_count(2, 50000, 1000000);
	guest_out(0x43, 0x00);          /* counter latch, channel 0 */
	at(T0 + 3000000);
	guest_out(0x43, 0x00);          /* a second latch before the reads: ignored */
	at(T0 + 11000000);
	expect(read_count(0), want, "8254 Counter Latch Command: the count at the latch, until it is read; a "
	       "second latch before that is ignored", "the latched count read 10 ms after the latch");
	expect(read_count(0), expected_count(2, 50000, 11000000), "8254 Counter Latch Command: after the latched "
	       "count is read, reads follow the counter again", "the next read");
}
END_TEST

START_TEST(ex1_pit_rw_modes)
{
	guest_out(0x43, 0x54);          /* channel 1, LSB only, mode 2 */
	guest_out(0x41, 0x80);
	expect(pit->channels[1].count, 0x80, "8254 RW=01: LSB only", "channel 1's count after writing 0x80");
	expect(guest_in(0x41), 0x80, "8254 RW=01: a read gives the LSB", "a read of channel 1");
	expect(guest_in(0x41), 0x80, "8254 RW=01: every read is the LSB", "a second read");
	guest_out(0x43, 0x64);          /* channel 1, MSB only, mode 2 */
	guest_out(0x41, 0x12);
	expect(pit->channels[1].count, 0x1200, "8254 RW=10: MSB only, the LSB is 0", "channel 1's count after 0x12");
	expect(guest_in(0x41), 0x12, "8254 RW=10: a read gives the MSB", "a read of channel 1");
	guest_out(0x43, 0x74);          /* LSB then MSB */
	guest_out(0x41, 0x34);
	expect(pit->channels[1].count, 0x1200, "8254 RW=11: the count loads after its second byte",
	       "channel 1's count after only the LSB");
	guest_out(0x41, 0x12);
	expect(pit->channels[1].count, 0x1234, "8254 RW=11: LSB then MSB", "channel 1's count after both bytes");
	expect(read_count(1), 0x1234, "8254 RW=11: reads alternate LSB, MSB", "a 16-bit read of channel 1");
}
END_TEST

START_TEST(ex1_pit_read_back_command)
{
	program(0, 2, 0x1234);
	at(T0 + 2000000);
	uint16_t want = expected_count(2, 0x1234, 2000000);
	guest_out(0x43, 0xc2);          /* read-back: count and status of channel 0 */
	at(T0 + 3000000);
	expect(guest_in(0x40), 0xb4, "8254 Read-Back Command: status = OUT (bit 7), null count, RW, mode, BCD; status "
	       "is read before the count", "the status of channel 0 (OUT high, RW=11, mode 2, binary)");
	expect(read_count(0), want, "8254 Read-Back Command: COUNT latches the count", "the latched count");
	guest_out(0x43, 0xe2);          /* status only */
	expect(guest_in(0x40), 0xb4, "8254 Read-Back Command: bit 5 set: no count latch", "the status alone");
	expect(read_count(0), expected_count(2, 0x1234, 3000000), "8254 Read-Back Command", "the live count after it");
	guest_out(0x43, 0xd2);          /* count only */
	at(T0 + 4000000);
	expect(read_count(0), expected_count(2, 0x1234, 3000000), "8254 Read-Back Command: bit 4 set: no status "
	       "latch, the count alone", "the count latched at 3 ms");
	program(2, 0, 1000);
	guest_out(0x43, 0x3c);          /* channel 0, mode 6 = mode 2 */
	guest_out(0x43, 0xea);          /* status of channels 0 and 2 */
	expect(guest_in(0x40) & 0x0e, 2 << 1, "8254 control word: modes 6 and 7 are 2 and 3 (bit 3 is don't care)",
	       "channel 0's mode after a control word asking for mode 6");
	expect(guest_in(0x42), 0x30, "8254 Read-Back Command: several counters at once", "channel 2's status (OUT low, "
	       "RW=11, mode 0)");
}
END_TEST

/* ---- port 0x61: channel 2's gate and OUT ------------------------------------------------- */

START_TEST(ex1_pit_speaker_port_gate)
{
	expect(guest_in(0x61) & 0x23, 0x00, "PC port 0x61: gate 2 low and speaker off after reset", "port 0x61");
	guest_out(0x61, 0x01);          /* gate on, speaker data off: Linux's PIT calibration */
	program(2, 0, 1193);
	expect(guest_in(0x61) & 0x21, 0x01, "8254 mode 0: OUT low while counting; bit 0 reads the gate",
	       "port 0x61 right after the count");
	at(T0 + count_ns(1193) + 1000);
	expect(guest_in(0x61) & 0x21, 0x21, "8254 mode 0: OUT high at terminal count (bit 5 of port 0x61)",
	       "port 0x61 once 1193 clocks passed");
	expect(kvm_pit_next_event_ns(kvm), UINT64_MAX, "channel 2 does not interrupt", "kvm_pit_next_event_ns()");
	guest_out(0x61, 0x03);
	expect(guest_in(0x61) & 0x02, 0x02, "PC port 0x61 bit 1: speaker data enable", "port 0x61 bit 1");
	struct kvm_pit_state2 ps;
	kvm_pit_get_state(kvm, &ps);
	expect(ps.flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON, KVM_PIT_FLAGS_SPEAKER_DATA_ON, "KVM_GET_PIT2",
	       "KVM_PIT_FLAGS_SPEAKER_DATA_ON with bit 1 of port 0x61 set");
}
END_TEST

START_TEST(ex1_pit_gate_restarts_mode2)
{
	guest_out(0x61, 0x01);
	program(2, 2, 10000);
	at(T0 + 3000000);
	expect(read_count(2), expected_count(2, 10000, 3000000), "8254 mode 2", "channel 2 after 3 ms");
	guest_out(0x61, 0x00);
	guest_out(0x61, 0x01);
	expect(read_count(2), 10000, "8254 mode 2: a rising gate reloads the count (Gate, modes 1, 2, 3, 5)",
	       "channel 2 right after the gate went low then high");
}
END_TEST

/* ---- KVM_GET/SET_PIT2 ------------------------------------------------------------------- */

START_TEST(ex1_pit_state_round_trip)
{
	program(0, 2, 11932);
	guest_out(0x61, 0x01);
	program(2, 0, 0x4321);
	guest_out(0x43, 0x80);          /* latch channel 2 */
	guest_in(0x42);                 /* half of it read */
	struct kvm_pit_state2 a, b;
	kvm_pit_get_state(kvm, &a);
	expect(a.channels[0].count, 11932, "KVM_GET_PIT2", "channel 0's count");
	expect(a.channels[0].mode, 2, "KVM_GET_PIT2", "channel 0's mode");
	expect(a.channels[2].gate, 1, "KVM_GET_PIT2", "channel 2's gate");
	kvm_pit_set_state(kvm, &a);
	kvm_pit_get_state(kvm, &b);
	ck_assert_msg(!memcmp(&a, &b, sizeof(a)), "KVM_SET_PIT2 of what KVM_GET_PIT2 gave, at the same time, changed "
		      "the state (channel 0 count %u->%u mode %u->%u; channel 2 count_latched %u->%u)\n  after: %s",
		      a.channels[0].count, b.channels[0].count, a.channels[0].mode, b.channels[0].mode,
		      a.channels[2].count_latched, b.channels[2].count_latched, seq);
	expect(guest_in(0x42), 0x43, "KVM_SET_PIT2 keeps a half-read latch", "the latched MSB after the round trip");
	expect(kvm_pit_next_event_ns(kvm), T0 + count_ns(11932), "KVM_SET_PIT2 re-arms channel 0",
	       "kvm_pit_next_event_ns() after the round trip");
}
END_TEST

START_TEST(ex1_pit_state_checked)
{
	struct kvm_pit_state2 ps = { 0 };
	ps.channels[0] = (struct kvm_pit_channel_state){ .count = 0, .mode = 9, .rw_mode = 7, .read_state = 12,
							 .write_state = 0, .count_latched = 200 };
	ps.channels[1] = (struct kvm_pit_channel_state){ .count = 0x123456, .mode = 2, .rw_mode = 3,
							 .read_state = 3, .write_state = 3 };
	kvm_pit_set_state(kvm, &ps);
	kvm_pit_get_state(kvm, &ps);
	expect(ps.channels[0].count, 65536, "KVM_SET_PIT2: a count of 0 is 65536", "channel 0's count");
	expect(ps.channels[0].mode, 0xff, "KVM_SET_PIT2: userspace's values are checked", "channel 0's mode set to 9");
	expect(ps.channels[0].rw_mode <= 3, 1, "KVM_SET_PIT2", "channel 0's rw_mode set to 7");
	expect(ps.channels[0].read_state <= 4, 1, "KVM_SET_PIT2",
	       "channel 0's read_state set to 12");
	expect(ps.channels[0].count_latched <= 3, 1, "KVM_SET_PIT2", "channel 0's count_latched set to 200");
	expect(ps.channels[1].count <= 65536, 1, "KVM_SET_PIT2: counts are 16 bits", "channel 1's count set to 0x123456");
	guest_in(0x40);
	guest_in(0x41);
	expect(kvm_pit_next_event_ns(kvm), UINT64_MAX, "KVM_SET_PIT2: no mode, no interrupt", "channel 0 in mode 0xff");
}
END_TEST

Suite *pit_suite(void)
{
	Suite *s = suite_create("pit");
	TCase *tc = tcase_create("pit");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ex1_pit_registers_its_ports);
	tcase_add_test(tc, ex1_pit_hpet_legacy_silences_channel0);
	tcase_add_loop_test(tc, ex1_pit_count_read_back, 0, (int)(sizeof(count_cases) / sizeof(count_cases[0])));
	tcase_add_test(tc, ex1_pit_counter_latch);
	tcase_add_test(tc, ex1_pit_rw_modes);
	tcase_add_test(tc, ex1_pit_read_back_command);
	tcase_add_test(tc, ex1_pit_speaker_port_gate);
	tcase_add_test(tc, ex1_pit_gate_restarts_mode2);
	tcase_add_test(tc, ex1_pit_state_round_trip);
	tcase_add_test(tc, ex1_pit_state_checked);
	suite_add_tcase(s, tc);
	/* Channel 0's ticks, seen at the PIC (its pins, priority and INTA). */
	TCase *ticks = tcase_create("pit-ticks");
	tcase_add_checked_fixture(ticks, setup_ticks, teardown);
	tcase_add_loop_test(ticks, ex1_pit_periodic_ticks, 0, (int)(sizeof(period_cases) / sizeof(period_cases[0])));
	tcase_add_test(ticks, ex1_pit_shortest_period);
	tcase_add_test(ticks, ex1_pit_mode0_one_shot);
	tcase_add_test(ticks, ex1_pit_missed_ticks_reinjected);
	tcase_add_test(ticks, ex1_pit_coalesced_tick_stays_pending);
	tcase_add_test(ticks, ex1_pit_masked_ticks_lost);
	tcase_add_test(ticks, ex1_pit_reprogram_drops_pending);
	tcase_add_test(ticks, ex1_pit_late_check_next_event);
	suite_add_tcase(s, ticks);
	return s;
}
