/* SPDX-License-Identifier: MIT */
/*
 * What minikvm's interrupt controllers (kvm/i8259.c, ioapic.c, lapic.c,
 * i8254.c, irq.c) need around them, for unit tests that build them hosted:
 * a clock the test sets, the TSC, kicks recorded per vCPU, the I/O bus as a
 * list, and a VM with vCPUs made the way kvm_main.c makes them.
 *
 * Every cross-device entry (kvm_set_irq, kvm_ioapic_update_eoi,
 * kvm_irq_delivery_to_apic, ...) has a weak stand-in here that records the
 * call, so one device's tests link without the others; a test that links
 * the real device gets the real function.
 */
#ifndef KVMLABS_FAKE_IRQ_HOST_H
#define KVMLABS_FAKE_IRQ_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/kvm_host.h"
#include "kvm/lapic.h"

/* ---- time ---------------------------------------------------------------- */
extern uint64_t fake_now_ns;         /* host_clock_ns() */
extern uint64_t fake_tsc_khz;        /* host_tsc_khz(), default 1000000 (1 GHz) */
/* kvm_read_l1_tsc(): fake_now_ns converted at fake_tsc_khz, plus the vCPU's tsc_offset. */

/* ---- a VM ---------------------------------------------------------------- */
/* A VM with n vCPUs (ids 0..n-1, RUNNABLE), irqchip_mode KVM_IRQCHIP_KERNEL,
 * no devices yet; fake_irq_vm_free() frees what fake_irq_vm() made. */
struct kvm *fake_irq_vm(int n);
void fake_irq_vm_free(struct kvm *kvm);
/* The device a test's access to addr on that bus reaches (the first whose
 * registered range holds it, as kvm_io_bus_read/write choose), or NULL. */
struct kvm_io_device *fake_irq_bus_dev(struct kvm *kvm, enum kvm_bus bus, uint64_t addr);

/* ---- what the devices asked of the rest of minikvm ------------------------ */
#define FAKE_IRQ_LOG 64
struct fake_irq_calls {
	unsigned kicks[KVM_MAX_VCPUS];              /* kvm_vcpu_kick() per vCPU id */
	unsigned set_irq;                           /* kvm_set_irq() (stand-in) */
	int set_irq_gsi[FAKE_IRQ_LOG], set_irq_level[FAKE_IRQ_LOG];
	unsigned update_eoi;                        /* kvm_ioapic_update_eoi() (stand-in) */
	int eoi_vector[FAKE_IRQ_LOG], eoi_trigger[FAKE_IRQ_LOG];
	unsigned apic_irqs;                         /* kvm_irq_delivery_to_apic() (stand-in) */
	struct kvm_lapic_irq apic_irq[FAKE_IRQ_LOG];
	unsigned bus_registered;                    /* kvm_io_bus_register_dev() */
};
extern struct fake_irq_calls fake_irq_calls;
void fake_irq_reset(void);

#endif
