// SPDX-License-Identifier: MIT
/*
 * The stand-ins of fake_irq_host.h. The bus keeps devices in kvm->buses as
 * kvm_main.c does, so a test can find what a device registered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fake_irq_host.h"
#include "kvm/irq.h"
#include "kvm/ioapic.h"
#include "kvm/lapic.h"
#include "kvmlabs/host_kernel.h"

uint64_t fake_now_ns;
uint64_t fake_tsc_khz = 1000000;
struct fake_irq_calls fake_irq_calls;

void fake_irq_reset(void)
{
	memset(&fake_irq_calls, 0, sizeof(fake_irq_calls));
	fake_now_ns = 0;
	fake_tsc_khz = 1000000;
}

uint64_t host_clock_ns(void)
{
	return fake_now_ns;
}

uint64_t host_tsc_khz(void)
{
	return fake_tsc_khz;
}

uint64_t kvm_read_l1_tsc(struct kvm_vcpu *vcpu)
{
	return (uint64_t)((unsigned __int128)fake_now_ns * fake_tsc_khz / 1000000) + vcpu->arch.tsc_offset;
}

void *kvm_zalloc(size_t size)
{
	return calloc(1, size);
}

void kvm_free(void *p, size_t size)
{
	(void)size;
	free(p);
}

struct kvm *fake_irq_vm(int n)
{
	struct kvm *kvm = calloc(1, sizeof(*kvm));
	kvm->arch.irqchip_mode = KVM_IRQCHIP_KERNEL;
	for (int i = 0; i < n; i++) {
		struct kvm_vcpu *v = calloc(1, sizeof(*v));
		v->kvm = kvm;
		v->vcpu_id = i;
		v->arch.mp_state = KVM_MP_STATE_RUNNABLE;
		kvm->vcpus[i] = v;
	}
	kvm->nr_vcpus = n;
	return kvm;
}

void fake_irq_vm_free(struct kvm *kvm)
{
	for (int i = 0; i < kvm->nr_vcpus; i++)
		free(kvm->vcpus[i]);
	free(kvm);
}

struct kvm_io_device *fake_irq_bus_dev(struct kvm *kvm, enum kvm_bus bus, uint64_t addr)
{
	const struct kvm_io_bus *b = &kvm->buses[bus];
	for (int i = 0; i < b->dev_count; i++)
		if (addr >= b->range[i].addr && addr < b->range[i].addr + (uint64_t)b->range[i].len)
			return b->range[i].dev;
	return NULL;
}

void kvm_vcpu_kick(struct kvm_vcpu *vcpu)
{
	if (vcpu->vcpu_id >= 0 && vcpu->vcpu_id < KVM_MAX_VCPUS)
		fake_irq_calls.kicks[vcpu->vcpu_id]++;
}

int kvm_io_bus_register_dev(struct kvm *kvm, enum kvm_bus bus, uint64_t addr, int len, struct kvm_io_device *dev)
{
	struct kvm_io_bus *b = &kvm->buses[bus];
	if (b->dev_count >= KVM_IO_BUS_MAX_DEVS)
		return -ENOSPC;
	b->range[b->dev_count++] = (struct kvm_io_range){ .addr = addr, .len = len, .dev = dev };
	fake_irq_calls.bus_registered++;
	return 0;
}

void kvm_io_bus_unregister_dev(struct kvm *kvm, enum kvm_bus bus, struct kvm_io_device *dev)
{
	struct kvm_io_bus *b = &kvm->buses[bus];
	for (int i = 0; i < b->dev_count; i++) {
		if (b->range[i].dev == dev) {
			b->range[i] = b->range[--b->dev_count];
			i--;
		}
	}
}

/* ---- weak stand-ins: the real device, when linked, replaces each ---------- */

__attribute__((weak)) int kvm_set_irq(struct kvm *kvm, int gsi, int level)
{
	(void)kvm;
	unsigned i = fake_irq_calls.set_irq++;
	if (i < FAKE_IRQ_LOG) {
		fake_irq_calls.set_irq_gsi[i] = gsi;
		fake_irq_calls.set_irq_level[i] = level;
	}
	return 1;
}

__attribute__((weak)) void kvm_ioapic_update_eoi(struct kvm_vcpu *vcpu, int vector, int trigger_mode)
{
	(void)vcpu;
	unsigned i = fake_irq_calls.update_eoi++;
	if (i < FAKE_IRQ_LOG) {
		fake_irq_calls.eoi_vector[i] = vector;
		fake_irq_calls.eoi_trigger[i] = trigger_mode;
	}
}

__attribute__((weak)) int kvm_irq_delivery_to_apic(struct kvm *kvm, struct kvm_lapic *src, struct kvm_lapic_irq *irq)
{
	(void)kvm, (void)src;
	unsigned i = fake_irq_calls.apic_irqs++;
	if (i < FAKE_IRQ_LOG)
		fake_irq_calls.apic_irq[i] = *irq;
	return 1;
}

__attribute__((weak)) int kvm_apic_accept_pic_intr(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	return 1;
}
