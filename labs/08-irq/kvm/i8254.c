/* SPDX-License-Identifier: MIT */
/*
 * The 8254 programmable interval timer (Linux: arch/x86/kvm/i8254.c; Intel
 * 8254 datasheet, order no. 231164).
 *
 * Three 16-bit down-counters clocked at 1.193182 MHz. Port 0x43 takes the
 * control word: a channel (bits 7:6; 3 = the read-back command), how its
 * count is read and written (bits 5:4: 0 latches the count, 1 LSB only,
 * 2 MSB only, 3 LSB then MSB), the mode (bits 3:1) and BCD (bit 0). Ports
 * 0x40-0x42 then take the initial count, and give the current one. Channel
 * 0 interrupts on IRQ0; channel 2's gate and output are bits 0 and 5 of port
 * 0x61 (with the speaker enable in bit 1), which Linux and firmware use to
 * calibrate their clocks.
 *
 * Nothing here ticks. A counter is the time its count was loaded
 * (count_load_time, host_clock_ns()): its value and its output are computed
 * from the time elapsed when the guest looks. Channel 0's interrupt is the
 * one event with a deadline: next_ns, which the run loop asks for
 * (kvm_pit_next_event_ns: when to stop a time slice or end an HLT) and
 * honours (kvm_pit_check_timer, before each entry and before a vCPU blocks).
 * A tick is an edge on GSI 0; the ticks that came while the guest had not
 * yet taken the one before are counted in pending and raised one per check,
 * so a guest that counts its ticks to keep time loses none (Linux's
 * reinject mode: kvm_pit_set_reinject).
 *
 * Not modelled, as Linux: BCD counting (the bit is kept and reported, the
 * count is binary), the gate of modes 0 and 4 pausing the count, the null
 * count bit of the status byte, the one-clock delays of the datasheet's
 * timing diagrams.
 */
#include <errno.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "i8254.h"
#include "irq.h"

#define PIT_BASE_PORT    0x40
#define PIT_CONTROL_PORT 0x43
#define SPEAKER_PORT     0x61
#define NSEC_PER_SEC     1000000000ull

/* Which byte of the count the next read or write of a channel is (Linux's
 * RW_STATE_*); the control word's bits 5:4 are the first three. */
#define RW_STATE_LSB   1
#define RW_STATE_MSB   2
#define RW_STATE_WORD0 3   /* LSB, then MSB */
#define RW_STATE_WORD1 4   /* the MSB of a WORD0 access */

/* No mode programmed yet (after reset): channel 0 does not interrupt. */
#define PIT_MODE_NONE  0xff

/* The shortest period channel 0 fires at, whatever the guest programs (Linux:
 * min_timer_period_us, 200 us): a count of 2 would ask for 600,000 exits a
 * second. */
#define PIT_MIN_PERIOD_NS 200000ull

/* host_clock_ns() time to PIT input clocks, without overflow for any time a
 * VM lives (the product ns * 1193182 overflows after about 4 hours). */
static uint64_t ns_to_ticks(uint64_t ns)
{
	return ns / NSEC_PER_SEC * KVM_PIT_FREQ + ns % NSEC_PER_SEC * KVM_PIT_FREQ / NSEC_PER_SEC;
}

/* Rounded up: the first instant at which ticks clocks have passed, so an
 * interrupt is never seen before the counter shows it due. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
	return (ticks * NSEC_PER_SEC + KVM_PIT_FREQ - 1) / KVM_PIT_FREQ;
}

static uint64_t pit_elapsed_ticks(const struct kvm_kpit_channel_state *c)
{
	uint64_t now = host_clock_ns();
	return now > c->count_load_time ? ns_to_ticks(now - c->count_load_time) : 0;
}

/*
 * The value a read of the counter gives (datasheet "Operation", each mode):
 * modes 0, 1, 4 and 5 count down once from the initial count and wrap
 * through 0xffff; mode 2 (rate generator) counts down to 1 and reloads,
 * every count clocks; mode 3 (square wave) counts down by two, twice per
 * period (each half of the wave).
 */
static uint16_t pit_get_count(const struct kvm_kpit_channel_state *c)
{
	// @lab 08 pit_get_count: The current count from the PIT clocks elapsed since count_load_time: once down and wrap (0, 1, 4, 5), reload every count (2), by twos each half period (3).
	(void)c;
	lab_todo(8, "pit_get_count");
	// @end
}

/* The counter's OUT pin (datasheet, each mode's waveform): mode 0 high once
 * the count has run out; mode 1 low during the one shot (the load taken for
 * its trigger); mode 2 low for the clock at which the count reloads; mode 3
 * high for the first half of each period; modes 4 and 5 low for the clock of
 * the strobe. (Linux has modes 1, 2, 4 and 5 the other way up, as QEMU's
 * model it came from; no guest of the kit reads OUT in those modes.) */
static int pit_get_out(const struct kvm_kpit_channel_state *c)
{
	uint64_t d = pit_elapsed_ticks(c);
	switch (c->mode) {
	case 1:
		return d >= c->count;
	case 2:
		return d % c->count != 0 || d == 0;
	case 3:
		return d % c->count < (c->count + 1) / 2;
	case 4:
	case 5:
		return d != c->count;
	default:
		return d >= c->count;
	}
}

/* ---- channel 0's interrupt ------------------------------------------------ */

/*
 * Channel 0 was loaded (or its state restored): it fires count clocks from
 * now, then every count clocks in modes 2 and 3, once in the others (mode 0:
 * OUT rises at terminal count and stays; modes 1, 4, 5: one strobe). Ticks
 * still pending from the old programming go (Linux: create_pit_timer).
 */
static void pit_arm_channel0(struct kvm_pit *pit)
{
	const struct kvm_kpit_channel_state *c = &pit->channels[0];
	pit->pending = 0;
	pit->irq_ack = true;
	pit->next_ns = 0;
	pit->period_ns = 0;
	if (c->mode == PIT_MODE_NONE || (pit->flags & KVM_PIT_FLAGS_HPET_LEGACY))
		return;  /* with HPET legacy routing, the HPET drives IRQ0 */
	uint64_t interval = ticks_to_ns(c->count);
	if (c->mode == 2 || c->mode == 3) {
		if (interval < PIT_MIN_PERIOD_NS)
			interval = PIT_MIN_PERIOD_NS;
		pit->period_ns = interval;
	}
	pit->next_ns = c->count_load_time + interval;
}

/* A new initial count (0 means 65536: datasheet "Counter Loading"). The
 * count starts now; channel 0's interrupt follows it. */
static void pit_load_count(struct kvm_pit *pit, int channel, uint32_t val)
{
	struct kvm_kpit_channel_state *c = &pit->channels[channel];
	if (val == 0)
		val = 0x10000;
	c->count = val;
	c->count_load_time = host_clock_ns();
	if (channel == 0)
		pit_arm_channel0(pit);
}

uint64_t kvm_pit_next_event_ns(struct kvm *kvm)
{
	struct kvm_pit *pit = kvm->arch.vpit;
	if (!pit || !pit->next_ns)
		return UINT64_MAX;
	return pit->next_ns;
}

/*
 * The expiries since the last check go into pending (a slow check misses
 * none: each whole period elapsed is a tick), and one pending tick is raised
 * as an edge on GSI 0. kvm_set_irq() says whether an irqchip latched it as a
 * new request (> 0), had the last one still latched (0: coalesced, so this
 * tick stays pending for the next check), or has the line masked (< 0: a
 * masked tick is lost, as on hardware).
 */
void kvm_pit_check_timer(struct kvm *kvm)
{
	struct kvm_pit *pit = kvm->arch.vpit;
	if (!pit)
		return;
	uint64_t now = host_clock_ns();
	if (pit->next_ns && now >= pit->next_ns) {
		uint64_t ticks = 1;
		if (pit->period_ns) {
			ticks += (now - pit->next_ns) / pit->period_ns;
			pit->next_ns += ticks * pit->period_ns;
		} else {
			pit->next_ns = 0;
		}
		uint64_t pending = pit->pending + ticks;
		pit->pending = pending > UINT32_MAX ? UINT32_MAX : (uint32_t)pending;
	}
	if (!pit->pending)
		return;
	int ret = kvm_set_irq(kvm, 0, 1);
	kvm_set_irq(kvm, 0, 0);
	pit->irq_ack = ret != 0;
	if (ret != 0)
		pit->pending--;
}

/* ---- the ports -------------------------------------------------------------- */

/* Counter latch command, or read-back with COUNT: the count is held for the
 * reads that follow, as many bytes as rw_mode says; a second latch before
 * those reads is ignored (datasheet "Counter Latch Command"). */
static void pit_latch_count(struct kvm_kpit_channel_state *c)
{
	if (c->count_latched)
		return;
	c->latched_count = pit_get_count(c);
	c->count_latched = c->rw_mode;
}

/* Read-back with STATUS: OUT (bit 7), null count (bit 6, always 0 here),
 * rw mode, mode, BCD as programmed (datasheet "Read-Back Command"). */
static void pit_latch_status(struct kvm_kpit_channel_state *c)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)(pit_get_out(c) << 7 | c->rw_mode << 4 | (c->mode & 7) << 1 | c->bcd);
	c->status_latched = 1;
}

static void pit_write_control(struct kvm_pit *pit, uint8_t val)
{
	int channel = val >> 6;
	if (channel == 3) {
		/* Read-back: bits 3:1 select the counters; bit 5 clear latches
		 * their counts, bit 4 clear their status. */
		for (int i = 0; i < 3; i++) {
			if (!(val & (2 << i)))
				continue;
			if (!(val & 0x20))
				pit_latch_count(&pit->channels[i]);
			if (!(val & 0x10))
				pit_latch_status(&pit->channels[i]);
		}
		return;
	}
	struct kvm_kpit_channel_state *c = &pit->channels[channel];
	int rw = (val >> 4) & 3;
	if (rw == 0) {
		pit_latch_count(c);
		return;
	}
	c->rw_mode = (uint8_t)rw;
	c->read_state = (uint8_t)rw;
	c->write_state = (uint8_t)rw;
	c->mode = (val >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;  /* 6 and 7 are modes 2 and 3 (bit 3 is don't-care) */
	c->bcd = val & 1;
}

static void pit_write_count(struct kvm_pit *pit, int channel, uint8_t val)
{
	struct kvm_kpit_channel_state *c = &pit->channels[channel];
	switch (c->write_state) {
	case RW_STATE_MSB:
		pit_load_count(pit, channel, (uint32_t)val << 8);
		break;
	case RW_STATE_WORD0:
		c->write_latch = val;
		c->write_state = RW_STATE_WORD1;
		break;
	case RW_STATE_WORD1:
		pit_load_count(pit, channel, c->write_latch | (uint32_t)val << 8);
		c->write_state = RW_STATE_WORD0;
		break;
	default:
		pit_load_count(pit, channel, val);
		break;
	}
}

/* A latched status comes first, then a latched count, then the live count
 * (datasheet "Read-Back Command": status before count when both are). */
static uint8_t pit_read_count(struct kvm_pit *pit, int channel)
{
	struct kvm_kpit_channel_state *c = &pit->channels[channel];
	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->count_latched) {
		uint8_t ret;
		switch (c->count_latched) {
		case RW_STATE_MSB:
			ret = (uint8_t)(c->latched_count >> 8);
			c->count_latched = 0;
			break;
		case RW_STATE_WORD0:
			ret = (uint8_t)c->latched_count;
			c->count_latched = RW_STATE_MSB;
			break;
		default:
			ret = (uint8_t)c->latched_count;
			c->count_latched = 0;
			break;
		}
		return ret;
	}
	uint16_t count = pit_get_count(c);
	switch (c->read_state) {
	case RW_STATE_MSB:
		return (uint8_t)(count >> 8);
	case RW_STATE_WORD0:
		c->read_state = RW_STATE_WORD1;
		return (uint8_t)count;
	case RW_STATE_WORD1:
		c->read_state = RW_STATE_WORD0;
		return (uint8_t)(count >> 8);
	default:
		return (uint8_t)count;
	}
}

static int pit_ioport_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, const void *val)
{
	(void)vcpu;
	struct kvm_pit *pit = container_of(dev, struct kvm_pit, dev);
	if (addr < PIT_BASE_PORT || addr > PIT_CONTROL_PORT)
		return -EOPNOTSUPP;
	if (len != 1)
		return 0;  /* byte registers: a wider access is ignored */
	uint8_t v = *(const uint8_t *)val;
	if (addr == PIT_CONTROL_PORT)
		pit_write_control(pit, v);
	else
		pit_write_count(pit, (int)(addr - PIT_BASE_PORT), v);
	return 0;
}

static int pit_ioport_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	(void)vcpu;
	struct kvm_pit *pit = container_of(dev, struct kvm_pit, dev);
	if (addr < PIT_BASE_PORT || addr > PIT_CONTROL_PORT)
		return -EOPNOTSUPP;
	uint8_t *out = val;
	for (int i = 0; i < len; i++)
		out[i] = 0;
	/* The control word register is write-only: 0, as Linux. */
	if (len == 1 && addr != PIT_CONTROL_PORT)
		out[0] = pit_read_count(pit, (int)(addr - PIT_BASE_PORT));
	return 0;
}

/* Channel 2's gate (datasheet "Gate"): a rising edge restarts the count in
 * modes 1, 2, 3 and 5; modes 0 and 4 would pause while it is low (not
 * modelled, as Linux). */
static void pit_set_gate(struct kvm_kpit_channel_state *c, uint8_t val)
{
	if (c->mode == 1 || c->mode == 2 || c->mode == 3 || c->mode == 5) {
		if (val && !c->gate)
			c->count_load_time = host_clock_ns();
	}
	c->gate = val;
}

/* Port 0x61 (system control port B of a PC): bit 0 channel 2's gate, bit 1
 * the speaker's data enable, bit 4 the refresh toggle (flips every 15 us or
 * so; firmware delays count its flips), bit 5 channel 2's OUT. */
static int speaker_ioport_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len,
				const void *val)
{
	(void)vcpu;
	struct kvm_pit *pit = container_of(dev, struct kvm_pit, speaker_dev);
	if (addr != SPEAKER_PORT)
		return -EOPNOTSUPP;
	if (len != 1)
		return 0;
	uint8_t v = *(const uint8_t *)val;
	pit->speaker_data_on = (v >> 1) & 1;
	pit_set_gate(&pit->channels[2], v & 1);
	return 0;
}

static int speaker_ioport_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, uint64_t addr, int len, void *val)
{
	(void)vcpu;
	struct kvm_pit *pit = container_of(dev, struct kvm_pit, speaker_dev);
	if (addr != SPEAKER_PORT)
		return -EOPNOTSUPP;
	uint8_t *out = val;
	for (int i = 0; i < len; i++)
		out[i] = 0;
	if (len == 1) {
		int refresh = (host_clock_ns() >> 14) & 1;
		out[0] = (uint8_t)(pit->channels[2].gate | pit->speaker_data_on << 1 | refresh << 4 |
				   pit_get_out(&pit->channels[2]) << 5);
	}
	return 0;
}

static const struct kvm_io_device_ops pit_dev_ops = { .read = pit_ioport_read, .write = pit_ioport_write };
static const struct kvm_io_device_ops speaker_dev_ops = { .read = speaker_ioport_read, .write = speaker_ioport_write };

/* ---- life cycle and KVM_GET/SET_PIT2 ----------------------------------------- */

/* Power-on (Linux: kvm_pit_reset): no mode, count 65536, gates 0 and 1 high
 * (wired so on a PC), channel 2's low until port 0x61 raises it. */
static void pit_reset(struct kvm_pit *pit)
{
	for (int i = 0; i < 3; i++) {
		struct kvm_kpit_channel_state *c = &pit->channels[i];
		*c = (struct kvm_kpit_channel_state){ .mode = PIT_MODE_NONE, .gate = i != 2 };
		pit_load_count(pit, i, 0);
	}
}

/* KVM_CREATE_PIT2: the PIT becomes kvm->arch.vpit (the run loop and the
 * ioctls find it there). Port 0x61 is served here only with
 * KVM_PIT_SPEAKER_DUMMY, as Linux; without it the VMM keeps the port. */
struct kvm_pit *kvm_create_pit(struct kvm *kvm, uint32_t flags)
{
	struct kvm_pit *pit = kvm_zalloc(sizeof(*pit));
	if (!pit)
		return NULL;
	pit->kvm = kvm;
	pit->dev.ops = &pit_dev_ops;
	pit->speaker_dev.ops = &speaker_dev_ops;
	pit_reset(pit);
	if (kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, PIT_BASE_PORT, 4, &pit->dev) < 0)
		goto fail;
	if ((flags & KVM_PIT_SPEAKER_DUMMY) &&
	    kvm_io_bus_register_dev(kvm, KVM_PIO_BUS, SPEAKER_PORT, 1, &pit->speaker_dev) < 0) {
		kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pit->dev);
		goto fail;
	}
	kvm->arch.vpit = pit;
	return pit;
fail:
	kvm_free(pit, sizeof(*pit));
	return NULL;
}

void kvm_free_pit(struct kvm *kvm)
{
	struct kvm_pit *pit = kvm->arch.vpit;
	if (!pit)
		return;
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pit->dev);
	kvm_io_bus_unregister_dev(kvm, KVM_PIO_BUS, &pit->speaker_dev);
	kvm->arch.vpit = NULL;
	kvm_free(pit, sizeof(*pit));
}

void kvm_pit_get_state(struct kvm *kvm, struct kvm_pit_state2 *ps)
{
	const struct kvm_pit *pit = kvm->arch.vpit;
	*ps = (struct kvm_pit_state2){ .flags = pit->flags };
	if (pit->speaker_data_on)
		ps->flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	for (int i = 0; i < 3; i++) {
		const struct kvm_kpit_channel_state *c = &pit->channels[i];
		ps->channels[i] = (struct kvm_pit_channel_state){
			.count = c->count, .latched_count = c->latched_count,
			.count_latched = c->count_latched, .status_latched = c->status_latched,
			.status = c->status, .read_state = c->read_state, .write_state = c->write_state,
			.write_latch = c->write_latch, .rw_mode = c->rw_mode, .mode = c->mode,
			.bcd = c->bcd, .gate = c->gate, .count_load_time = (int64_t)c->count_load_time,
		};
	}
}

/* 0 (never programmed, as after reset) reads and writes as LSB. */
static uint8_t rw_state_checked(uint8_t state)
{
	return state <= RW_STATE_WORD1 ? state : RW_STATE_LSB;
}

/* KVM_SET_PIT2: userspace's state, each field brought into the range the
 * code indexes or switches on; every count restarts now (a saved
 * count_load_time is another host's clock), as Linux's kvm_pit_load_count. */
void kvm_pit_set_state(struct kvm *kvm, const struct kvm_pit_state2 *ps)
{
	struct kvm_pit *pit = kvm->arch.vpit;
	pit->flags = ps->flags & KVM_PIT_FLAGS_HPET_LEGACY;
	pit->speaker_data_on = !!(ps->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	for (int i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *s = &ps->channels[i];
		struct kvm_kpit_channel_state *c = &pit->channels[i];
		c->latched_count = s->latched_count;
		c->count_latched = s->count_latched <= RW_STATE_WORD0 ? s->count_latched : 0;
		c->status_latched = !!s->status_latched;
		c->status = s->status;
		c->read_state = rw_state_checked(s->read_state);
		c->write_state = rw_state_checked(s->write_state);
		c->write_latch = s->write_latch;
		c->rw_mode = s->rw_mode & 3;
		c->mode = s->mode <= 5 ? s->mode : PIT_MODE_NONE;
		c->bcd = s->bcd & 1;
		c->gate = s->gate & 1;
		/* count is 1..65536 (0 loads 65536); more is not a count. */
		pit_load_count(pit, i, s->count > 0x10000 ? s->count & 0xffff : s->count);
	}
}
