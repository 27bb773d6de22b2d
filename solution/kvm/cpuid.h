/* SPDX-License-Identifier: MIT */
/* The vCPU's CPUID table (Linux: arch/x86/kvm/cpuid.h). */
#ifndef KVMLABS_KVM_CPUID_H
#define KVMLABS_KVM_CPUID_H

#include "kvm_host.h"

struct kvm_cpuid_entry2 *kvm_find_cpuid_entry(struct kvm_vcpu *vcpu, uint32_t function, uint32_t index);
/* Look the leaf up in the vCPU's CPUID table (KVM_SET_CPUID2), as kvm_cpuid(). */
void kvm_cpuid(struct kvm_vcpu *vcpu, uint32_t *eax, uint32_t *ebx, uint32_t *ecx, uint32_t *edx);
long kvm_dev_ioctl_get_supported_cpuid(struct kvm_cpuid2 *cpuid);
long kvm_vcpu_ioctl_set_cpuid2(struct kvm_vcpu *vcpu, const struct kvm_cpuid2 *cpuid);
long kvm_vcpu_ioctl_get_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid);

#endif
