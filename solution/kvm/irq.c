/* SPDX-License-Identifier: MIT */
/*
 * Where the in-kernel irqchip of lab 08 plugs in (Linux: arch/x86/kvm/irq.c,
 * i8259.c, ioapic.c, lapic.c). x86.c reaches these only behind
 * LAB_ENABLED(8). Lab 08 is not in this tree yet, so at every stage they
 * answer as a KVM without an in-kernel irqchip: KVM_CHECK_EXTENSION(IRQCHIP)
 * is 0, KVM_CREATE_IRQCHIP and KVM_IRQ_LINE are -ENOTTY (the answer of
 * kvm_arch_vm_ioctl's default case), and HLT exits to userspace.
 */
#include <errno.h>

#include "irq.h"

bool kvm_irqchip_supported(void)
{
	return false;
}

int kvm_irqchip_create(struct kvm *kvm)
{
	(void)kvm;
	return -ENOTTY;
}

int kvm_vm_ioctl_irq_line(struct kvm *kvm, struct kvm_irq_level *irq)
{
	(void)kvm;
	(void)irq;
	return -ENOTTY;
}

bool kvm_cpu_has_interrupt(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	return false;
}

int kvm_cpu_get_interrupt(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	return -1;
}

uint64_t kvm_lapic_next_event_ns(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	return UINT64_MAX;
}
