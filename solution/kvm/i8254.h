/* SPDX-License-Identifier: MIT */
/*
 * The 8254 PIT (Linux: arch/x86/kvm/i8254.h): three channels at ports
 * 0x40-0x42, the mode/command register at 0x43, channel 2's gate and output
 * at port 0x61 bits 0 and 5; channel 0 drives GSI 0 (the PIC's IRQ0, the
 * IOAPIC's pin 0 by KVM's default routing). Input clock 1.193182 MHz (Intel 8254 datasheet).
 */
#ifndef KVMLABS_KVM_I8254_H
#define KVMLABS_KVM_I8254_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "iodev.h"

struct kvm;

#define KVM_PIT_FREQ 1193182u

struct kvm_kpit_channel_state {
	uint32_t count;           /* can be 65536 */
	uint16_t latched_count;
	uint8_t count_latched;
	uint8_t status_latched;
	uint8_t status;
	uint8_t read_state;
	uint8_t write_state;
	uint8_t write_latch;
	uint8_t rw_mode;
	uint8_t mode;
	uint8_t bcd;              /* not supported */
	uint8_t gate;             /* timer start */
	uint64_t count_load_time; /* host_clock_ns() when count was loaded */
};

struct kvm_pit {
	struct kvm *kvm;
	struct kvm_kpit_channel_state channels[3];
	uint32_t flags;
	bool speaker_data_on;
	/* Channel 0's interrupt (Linux: kvm_kpit_state's timer): the next
	 * edge on GSI 0 at next_ns (0: stopped), every period_ns when
	 * periodic (modes 2 and 3), once for mode 0/1/4/5. Ticks that came
	 * while the guest had not taken the last one are counted in pending
	 * and re-injected one by one (Linux: kvm_pit_set_reinject). */
	uint64_t next_ns;
	uint64_t period_ns;
	uint32_t pending;
	bool irq_ack;
	struct kvm_io_device dev;
	struct kvm_io_device speaker_dev;
};

struct kvm_pit *kvm_create_pit(struct kvm *kvm, uint32_t flags);
void kvm_free_pit(struct kvm *kvm);
/* When channel 0 fires next (host_clock_ns() time), UINT64_MAX if never;
 * and fire it if due (an edge on GSI 0 through kvm_set_irq). */
uint64_t kvm_pit_next_event_ns(struct kvm *kvm);
void kvm_pit_check_timer(struct kvm *kvm);
/* KVM_GET_PIT2 / KVM_SET_PIT2. */
void kvm_pit_get_state(struct kvm *kvm, struct kvm_pit_state2 *ps);
void kvm_pit_set_state(struct kvm *kvm, const struct kvm_pit_state2 *ps);

#endif
