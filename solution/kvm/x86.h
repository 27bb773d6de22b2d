/* SPDX-License-Identifier: MIT */
/*
 * What x86.c offers the rest of minikvm (Linux: arch/x86/kvm/x86.h and
 * kvm_cache_regs.h): register access, the paging-mode predicates, the CR,
 * MSR and event rules exit handlers call, and the emulator's entry.
 */
#ifndef KVMLABS_KVM_X86_H
#define KVMLABS_KVM_X86_H

#include <x86/msr-index.h>
#include <x86/processor-flags.h>

#include "kvm_host.h"

/* Hypercall errors (Linux: include/uapi/linux/kvm_para.h). */
#define KVM_EPERM  1
#define KVM_ENOSYS 1000

/* ---- registers (Linux: kvm_cache_regs.h) -------------------------------- */

static inline uint64_t kvm_register_read(struct kvm_vcpu *vcpu, int reg)
{
	return vcpu->arch.regs[reg & 15];
}

static inline void kvm_register_write(struct kvm_vcpu *vcpu, int reg, uint64_t val)
{
	vcpu->arch.regs[reg & 15] = val;
}

static inline uint64_t kvm_rip_read(struct kvm_vcpu *vcpu) { return vcpu->arch.regs[VCPU_REGS_RIP]; }
static inline void kvm_rip_write(struct kvm_vcpu *vcpu, uint64_t v) { vcpu->arch.regs[VCPU_REGS_RIP] = v; }
static inline uint64_t kvm_rsp_read(struct kvm_vcpu *vcpu) { return vcpu->arch.regs[VCPU_REGS_RSP]; }
static inline void kvm_rsp_write(struct kvm_vcpu *vcpu, uint64_t v) { vcpu->arch.regs[VCPU_REGS_RSP] = v; }

static inline uint64_t kvm_read_cr0(struct kvm_vcpu *vcpu) { return vcpu->arch.cr0; }
static inline uint64_t kvm_read_cr3(struct kvm_vcpu *vcpu) { return vcpu->arch.cr3; }
static inline uint64_t kvm_read_cr4(struct kvm_vcpu *vcpu) { return vcpu->arch.cr4; }

static inline bool is_protmode(struct kvm_vcpu *vcpu) { return kvm_read_cr0(vcpu) & X86_CR0_PE; }
static inline bool is_paging(struct kvm_vcpu *vcpu) { return kvm_read_cr0(vcpu) & X86_CR0_PG; }
static inline bool is_pae(struct kvm_vcpu *vcpu) { return kvm_read_cr4(vcpu) & X86_CR4_PAE; }
static inline bool is_long_mode(struct kvm_vcpu *vcpu) { return vcpu->arch.efer & EFER_LMA; }
/* PAE paging proper: paging on, CR4.PAE, outside IA-32e mode (Linux: is_pae_paging). */
static inline bool is_pae_paging(struct kvm_vcpu *vcpu) { return !is_long_mode(vcpu) && is_pae(vcpu) && is_paging(vcpu); }

static inline bool is_64_bit_mode(struct kvm_vcpu *vcpu)
{
	int db, l;
	if (!is_long_mode(vcpu))
		return false;
	kvm_x86_ops.get_cs_db_l_bits(vcpu, &db, &l);
	return l;
}

/* 48-bit canonical: bits 63:47 all equal (SDM Vol. 1 3.3.7.1). */
static inline bool is_noncanonical_address(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16) != la;
}

/* ---- x86.c -------------------------------------------------------------- */

/* Exceptions for the guest: delivered at the next entry (kvm_inject_events). */
void kvm_queue_exception(struct kvm_vcpu *vcpu, uint8_t vector);
void kvm_queue_exception_e(struct kvm_vcpu *vcpu, uint8_t vector, uint32_t error_code);
void kvm_inject_page_fault(struct kvm_vcpu *vcpu, const struct x86_exception *fault);
/* An event a VM exit interrupted, to deliver again as it was (SDM Vol. 3 28.2.4). */
void kvm_requeue_exception(struct kvm_vcpu *vcpu, uint8_t vector, bool has_error_code, uint32_t error_code);
void kvm_queue_interrupt(struct kvm_vcpu *vcpu, uint8_t vector, bool soft);
void kvm_clear_event_queues(struct kvm_vcpu *vcpu);

/* Fill run for KVM_EXIT_INTERNAL_ERROR: suberror plus up to 16 data words; returns 0. */
int kvm_internal_error(struct kvm_vcpu *vcpu, uint32_t suberror, int ndata, const uint64_t *data);

int kvm_skip_emulated_instruction(struct kvm_vcpu *vcpu);
/* Exit to userspace for a port access, as KVM's kvm_fast_pio(). */
int kvm_fast_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in);
int kvm_emulate_halt(struct kvm_vcpu *vcpu);
int kvm_emulate_hypercall(struct kvm_vcpu *vcpu);

/* 0 on success, 1 when the guest's instruction must raise #GP(0). */
int kvm_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data);
int kvm_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data);
int kvm_get_msr_common(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data);
int kvm_set_msr_common(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data);
int kvm_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0);
int kvm_set_cr3(struct kvm_vcpu *vcpu, uint64_t cr3);
int kvm_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4);
int kvm_set_cr8(struct kvm_vcpu *vcpu, uint64_t cr8);
uint64_t kvm_get_cr8(struct kvm_vcpu *vcpu);
void kvm_lmsw(struct kvm_vcpu *vcpu, uint16_t msw);

/* Guest memory through the guest's own translation (Linux: kvm_read_guest_virt). */
int kvm_read_guest_virt(struct kvm_vcpu *vcpu, gva_t addr, void *val, unsigned int bytes, uint64_t access,
			struct x86_exception *fault);

/*
 * The instruction emulator's entry (lab 07). Every exit minikvm cannot finish
 * without decoding the guest's instruction comes here: string I/O, MMIO (a
 * GPA without a memslot), a write to a read-only memslot. emulation_type is a
 * set of EMULTYPE_* bits; cr2_or_gpa the faulting address for EMULTYPE_PF.
 * Returns as an exit handler (1 resume, 0 userspace, < 0 error).
 */
#define EMULTYPE_NO_DECODE      (1 << 0)   /* run the decoded instruction again (after an exit) */
#define EMULTYPE_TRAP_UD_FORCED (1 << 4)   /* after the forced-emulation prefix (kvm_handle_ud) */
#define EMULTYPE_PF             (1 << 6)   /* from a page fault at cr2_or_gpa */
#define EMULTYPE_WRITE_PF_TO_SP (1 << 8)   /* a write to a guest page table with shadows */
#define EMULTYPE_STRING_IO      (1 << 16)  /* minikvm: an INS/OUTS exit, for the failure message */
/* The forced-emulation prefix, "ud2; .ascii \"kvm\"" (Linux: __KVM_EMULATE_PREFIX,
 * kvm.force_emulation_prefix): a guest puts it before an instruction to have
 * minikvm emulate that instruction, so it can compare with the processor. */
#define KVM_EMULATE_PREFIX      "\x0f\x0b\x6b\x76\x6d"
#define KVM_EMULATE_PREFIX_LEN  5
int kvm_handle_ud(struct kvm_vcpu *vcpu);
/* The state after RESET, or after INIT (init_event): registers, segments,
 * control registers, events, the LAPIC (Linux: kvm_vcpu_reset). */
void kvm_vcpu_reset(struct kvm_vcpu *vcpu, bool init_event);
int kvm_emulate_instruction(struct kvm_vcpu *vcpu, int emulation_type);
int x86_emulate_instruction(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, int emulation_type);
/* mmu.c: a store the emulator made to guest RAM (Linux: kvm_page_track_write
 * -> kvm_mmu_pte_write), and the way out when a write to a shadowed guest
 * table cannot be emulated (kvm_mmu_unprotect_gfn_and_retry). */
void kvm_mmu_pte_write(struct kvm_vcpu *vcpu, gpa_t gpa, const uint8_t *new, unsigned int bytes);
bool kvm_mmu_unprotect_gfn_and_retry(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa);

#endif
