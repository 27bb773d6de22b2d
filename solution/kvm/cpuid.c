/* SPDX-License-Identifier: MIT */
/*
 * CPUID for the guest (Linux: arch/x86/kvm/cpuid.c): the table userspace
 * gives with KVM_SET_CPUID2, the answer to a guest's CPUID from it, and
 * KVM_GET_SUPPORTED_CPUID, the host's features minus what minikvm cannot
 * virtualise.
 */
#include <errno.h>
#include <string.h>

#include <x86/const.h>
#include <x86/cpuid.h>
#include <x86/insns.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "cpuid.h"

struct kvm_cpuid_entry2 *kvm_find_cpuid_entry(struct kvm_vcpu *vcpu, uint32_t function, uint32_t index)
{
	for (int i = 0; i < vcpu->arch.cpuid_nent; i++) {
		struct kvm_cpuid_entry2 *e = &vcpu->arch.cpuid_entries[i];
		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

void kvm_cpuid(struct kvm_vcpu *vcpu, uint32_t *eax, uint32_t *ebx, uint32_t *ecx, uint32_t *edx)
{
	uint32_t function = *eax, index = *ecx;
	struct kvm_cpuid_entry2 *e = kvm_find_cpuid_entry(vcpu, function, index);
	if (!e) {
		/* Intel: a leaf beyond the maximum of its range answers as the
		 * highest basic leaf (SDM Vol. 2A CPUID, "INPUT EAX = 0"). The
		 * hypervisor range has no such rule. */
		uint32_t range_base = function & CPUID_EXTENDED_BASE;
		struct kvm_cpuid_entry2 *basic = kvm_find_cpuid_entry(vcpu, 0, 0);
		struct kvm_cpuid_entry2 *range = kvm_find_cpuid_entry(vcpu, range_base, 0);
		bool hypervisor_leaf = (function & 0xc0000000u) == CPUID_HYPERVISOR_BASE;
		if (basic && (!range || function > range->eax) && !hypervisor_leaf)
			e = kvm_find_cpuid_entry(vcpu, basic->eax, index);
	}
	*eax = e ? e->eax : 0;
	*ebx = e ? e->ebx : 0;
	*ecx = e ? e->ecx : 0;
	*edx = e ? e->edx : 0;
	/* Nested VMX is not offered, whatever the table says. */
	if (function == 1)
		*ecx &= ~CPUID_1_ECX_VMX;
}

/* What minikvm can virtualise: host features minus those whose instructions,
 * MSRs or CR4 bits it does not handle (XSAVE, MTRR, MCA, APIC...). */
static const struct {
	uint32_t function, index;
	uint32_t eax, ebx, ecx, edx; /* masks */
} supported_cpuid_masks[] = {
	{ 0x00000000, 0, 0, ~0u, ~0u, ~0u },
	/* EBX[15:0]: brand index and CLFLUSH line size; not the APIC IDs above. */
	{ 0x00000001, 0, ~0u, 0x0000ffffu,
	  CPUID_1_ECX_SSE3 | CPUID_1_ECX_PCLMULQDQ | CPUID_1_ECX_SSSE3 | CPUID_1_ECX_CX16 |
		  CPUID_1_ECX_SSE4_1 | CPUID_1_ECX_SSE4_2 | CPUID_1_ECX_MOVBE | CPUID_1_ECX_POPCNT |
		  CPUID_1_ECX_AES | CPUID_1_ECX_RDRAND,
	  CPUID_1_EDX_FPU | CPUID_1_EDX_VME | CPUID_1_EDX_DE | CPUID_1_EDX_PSE | CPUID_1_EDX_TSC |
		  CPUID_1_EDX_MSR | CPUID_1_EDX_PAE | CPUID_1_EDX_CX8 | CPUID_1_EDX_SEP | CPUID_1_EDX_PGE |
		  CPUID_1_EDX_CMOV | CPUID_1_EDX_PAT | CPUID_1_EDX_PSE36 | CPUID_1_EDX_CLFLUSH |
		  CPUID_1_EDX_MMX | CPUID_1_EDX_FXSR | CPUID_1_EDX_SSE | CPUID_1_EDX_SSE2 },
	{ 0x00000007, 0, 0,
	  CPUID_7_EBX_BMI1 | CPUID_7_EBX_BMI2 | CPUID_7_EBX_ERMS | CPUID_7_EBX_ADX | CPUID_7_EBX_CLFLUSHOPT, 0, 0 },
	{ CPUID_EXTENDED_BASE, 0, 0, ~0u, ~0u, ~0u },
	{ 0x80000001, 0, 0, 0, CPUID_80000001_ECX_LAHF_LM | CPUID_80000001_ECX_ABM | CPUID_80000001_ECX_PREFETCHW,
	  CPUID_80000001_EDX_SYSCALL | CPUID_80000001_EDX_NX | CPUID_80000001_EDX_LM },
	{ 0x80000002, 0, ~0u, ~0u, ~0u, ~0u },
	{ 0x80000003, 0, ~0u, ~0u, ~0u, ~0u },
	{ 0x80000004, 0, ~0u, ~0u, ~0u, ~0u },
	/* EAX[15:0]: physical and linear address widths. */
	{ 0x80000008, 0, 0xffffu, 0, 0, 0 },
};

/* The highest leaves minikvm describes: basic up to the TSC leaf. */
#define KVM_CPUID_MAX_BASIC    CPUID_TSC_LEAF
#define KVM_CPUID_MAX_EXTENDED 0x80000008u

long kvm_dev_ioctl_get_supported_cpuid(struct kvm_cpuid2 *cpuid)
{
	uint32_t r[4];
	cpuid_count(0, 0, r);
	uint32_t max_basic = r[0];
	cpuid_count(CPUID_EXTENDED_BASE, 0, r);
	uint32_t max_ext = r[0];
	uint32_t nent = 0;
	struct kvm_cpuid_entry2 entries[ARRAY_SIZE(supported_cpuid_masks) + 1]; /* + the TSC leaf */
	for (size_t i = 0; i < ARRAY_SIZE(supported_cpuid_masks); i++) {
		uint32_t f = supported_cpuid_masks[i].function;
		if ((f < CPUID_EXTENDED_BASE && f > max_basic) || (f >= CPUID_EXTENDED_BASE && f > max_ext))
			continue;
		struct kvm_cpuid_entry2 *e = &entries[nent++];
		memset(e, 0, sizeof(*e));
		e->function = f;
		e->index = supported_cpuid_masks[i].index;
		cpuid_count(f, e->index, r);
		e->eax = r[0] & supported_cpuid_masks[i].eax;
		e->ebx = r[1] & supported_cpuid_masks[i].ebx;
		e->ecx = r[2] & supported_cpuid_masks[i].ecx;
		e->edx = r[3] & supported_cpuid_masks[i].edx;
		if (f == 0)
			e->eax = max_basic < KVM_CPUID_MAX_BASIC ? max_basic : KVM_CPUID_MAX_BASIC;
		if (f == CPUID_EXTENDED_BASE)
			e->eax = max_ext < KVM_CPUID_MAX_EXTENDED ? max_ext : KVM_CPUID_MAX_EXTENDED;
		if (f == 1)
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
		/* From lab 08 a vCPU has a local APIC, whose timer also counts to
		 * a TSC deadline: minikvm emulates both, whatever the host has
		 * (Linux: kvm_set_cpu_caps, X86_FEATURE_APIC, TSC_DEADLINE_TIMER). */
		if (f == 1 && LAB_ENABLED(8)) {
			e->edx |= CPUID_1_EDX_APIC;
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE_TIMER;
		}
		if (f == 7)
			e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	}
	/* Leaf 0x15, the TSC's frequency as crystal Hz * EBX / EAX (SDM Vol. 2A
	 * CPUID, "Time Stamp Counter and Nominal Core Crystal Clock"): the
	 * host's, measured at boot. A guest that calibrates the TSC against the
	 * PIT polls port 0x61 as fast as it can, and at one exit per poll (Bochs:
	 * ~27 µs) never sees enough polls in its 10 ms window (Linux:
	 * pit_calibrate_tsc, "Unable to calibrate against PIT"); this leaf is
	 * what it asks first (native_calibrate_tsc). */
	if (host_tsc_khz() && host_tsc_khz() * 1000 <= UINT32_MAX && nent < ARRAY_SIZE(entries)) {
		entries[nent++] = (struct kvm_cpuid_entry2){ .function = CPUID_TSC_LEAF, .eax = 1, .ebx = 1,
							     .ecx = (uint32_t)(host_tsc_khz() * 1000) };
		if (entries[0].function == 0 && entries[0].eax < CPUID_TSC_LEAF)
			entries[0].eax = CPUID_TSC_LEAF;
	}
	if (cpuid->nent < nent)
		return -E2BIG;
	memcpy(cpuid->entries, entries, nent * sizeof(entries[0]));
	cpuid->nent = nent;
	return 0;
}

long kvm_vcpu_ioctl_set_cpuid2(struct kvm_vcpu *vcpu, const struct kvm_cpuid2 *cpuid)
{
	if (cpuid->nent > KVM_MAX_CPUID_ENTRIES)
		return -E2BIG;
	memcpy(vcpu->arch.cpuid_entries, cpuid->entries, cpuid->nent * sizeof(cpuid->entries[0]));
	vcpu->arch.cpuid_nent = (int)cpuid->nent;
	return 0;
}

long kvm_vcpu_ioctl_get_cpuid2(struct kvm_vcpu *vcpu, struct kvm_cpuid2 *cpuid)
{
	uint32_t have = (uint32_t)vcpu->arch.cpuid_nent;
	bool fits = cpuid->nent >= have;
	if (fits)
		memcpy(cpuid->entries, vcpu->arch.cpuid_entries, have * sizeof(cpuid->entries[0]));
	cpuid->nent = have;
	return fits ? 0 : -E2BIG;
}
