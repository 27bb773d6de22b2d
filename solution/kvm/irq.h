/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel interrupt controllers as the rest of minikvm sees them
 * (Linux: arch/x86/kvm/irq.h). Lab 08 implements them (i8259.c, ioapic.c,
 * lapic.c) behind these functions; until then a VM never has an in-kernel
 * irqchip, and every caller takes the path of a KVM without one.
 */
#ifndef KVMLABS_KVM_IRQ_H
#define KVMLABS_KVM_IRQ_H

#include "kvm_host.h"

static inline bool irqchip_in_kernel(struct kvm *kvm)
{
	return kvm->arch.irqchip_mode == KVM_IRQCHIP_KERNEL;
}

/* With the in-kernel irqchip every vCPU has a LAPIC (Linux: lapic_in_kernel). */
static inline bool lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return irqchip_in_kernel(vcpu->kvm);
}

/* Can minikvm offer KVM_CAP_IRQCHIP at all (the code of lab 08 is there)? */
bool kvm_irqchip_supported(void);
/* KVM_CREATE_IRQCHIP: the PIC pair, the IOAPIC, a LAPIC per vCPU. */
int kvm_irqchip_create(struct kvm *kvm);
/* KVM_IRQ_LINE: a GSI's level from userspace. */
int kvm_vm_ioctl_irq_line(struct kvm *kvm, struct kvm_irq_level *irq);
/* Does the vCPU's LAPIC have an interrupt to deliver; which one (acknowledging it). */
bool kvm_cpu_has_interrupt(struct kvm_vcpu *vcpu);
int kvm_cpu_get_interrupt(struct kvm_vcpu *vcpu);
/* When the LAPIC timer fires next (host_clock_ns() time), or UINT64_MAX. */
uint64_t kvm_lapic_next_event_ns(struct kvm_vcpu *vcpu);

#endif
