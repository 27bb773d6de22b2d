/* SPDX-License-Identifier: MIT */
/*
 * minikvm's internal objects: the VM (struct kvm), its memslots and its vCPUs,
 * shaped like Linux's include/linux/kvm_host.h and arch/x86/include/asm/kvm_host.h.
 * Bare metal only (uses the host kernel's page allocator).
 */
#ifndef KVMLABS_KVM_KVM_HOST_H
#define KVMLABS_KVM_KVM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "vmx_caps.h"

#define KVM_API_VERSION          12
#define KVM_MAX_VCPUS            1
#define KVM_USER_MEM_SLOTS       32
#define KVM_MAX_CPUID_ENTRIES    64
#define KVM_PAGE_SIZE            4096ull
#define KVM_PAGE_SHIFT           12
/* struct kvm_run, then the page PIO data travels in (KVM_PIO_PAGE_OFFSET 1). */
#define KVM_PIO_PAGE_OFFSET      1
#define KVM_VCPU_MMAP_PAGES      2
#define KVM_HVA_ERR_BAD          (~0ull)

typedef uint64_t gfn_t;
typedef uint64_t gpa_t;
typedef uint64_t hva_t;

// @region memslot
struct kvm_memory_slot {
	gfn_t base_gfn;
	uint64_t npages;          /* 0: the slot is free */
	hva_t userspace_addr;
	uint32_t flags;           /* KVM_MEM_READONLY */
	uint16_t id;
};
// @end

struct kvm_mmu;
struct kvm_vcpu;

struct kvm_arch {
	/* The hypervisor-owned page tables of the stage-04 MMU (mmu.c). */
	void *mmu_root;           /* PAE page-directory-pointer table */
	void *mmu_pd[4];          /* its four page directories */
};

struct kvm {
	int handle;
	int refs;                 /* the VM handle + one per vCPU */
	struct kvm_memory_slot memslots[KVM_USER_MEM_SLOTS];
	struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
	int nr_vcpus;
	struct kvm_arch arch;
};

/* Guest GPR indices: the ISA's register numbers, as the CR-access exit
 * qualification and the world switch use them (Linux: enum kvm_reg). */
enum kvm_reg {
	VCPU_REGS_RAX, VCPU_REGS_RCX, VCPU_REGS_RDX, VCPU_REGS_RBX,
	VCPU_REGS_RSP, VCPU_REGS_RBP, VCPU_REGS_RSI, VCPU_REGS_RDI,
	VCPU_REGS_R8, VCPU_REGS_R9, VCPU_REGS_R10, VCPU_REGS_R11,
	VCPU_REGS_R12, VCPU_REGS_R13, VCPU_REGS_R14, VCPU_REGS_R15,
	NR_VCPU_REGS
};

/* What the world switch (vmx_asm.S) loads before and saves after the guest
 * runs: the GPRs the VMCS does not hold, and CR2. Offsets are used by the asm. */
struct vmx_guest_regs {
	uint64_t gpr[NR_VCPU_REGS];   /* gpr[VCPU_REGS_RSP] is not used: RSP is in the VMCS */
	uint64_t cr2;
};

struct vcpu_vmx {
	void *vmcs;               /* 4 KiB VMCS region */
	bool launched;            /* VMLAUNCH done: VMRESUME from now on */
	bool checked;             /* VM-entry checker passed since the last userspace state change */
	uint32_t exit_reason;     /* full exit-reason field of the last exit */
	uint64_t exit_qualification;
	uint32_t exit_intr_info;
	uint32_t idt_vectoring_info;
	struct vmcs_config ctls;  /* this vCPU's controls */
};

struct kvm_queued_exception {
	bool pending;
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
};

struct kvm_vcpu_arch {
	struct vmx_guest_regs regs;
	uint64_t rip, rflags;     /* cached from the VMCS at each exit, written back at entry */
	/* The guest's view of its control registers (the read shadows). */
	uint64_t cr0, cr3, cr4, cr8, efer;
	/* MSRs kept in software (SDM Vol. 4 MSR index). */
	uint64_t apic_base, pat, misc_enable, tsc_offset;
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	struct kvm_cpuid_entry2 cpuid_entries[KVM_MAX_CPUID_ENTRIES];
	int cpuid_nent;
	struct kvm_queued_exception exception;
	/* The half of an exit that finishes on the next KVM_RUN (Linux: complete_userspace_io). */
	int (*complete_userspace_io)(struct kvm_vcpu *vcpu);
	uint64_t pio_rip;         /* RIP of the I/O instruction waiting for userspace */
	uint32_t pio_instr_len;
	uint8_t pio_size;
	const struct kvm_mmu *mmu;
};

struct kvm_vcpu {
	struct kvm *kvm;
	int vcpu_id;
	int handle;
	struct kvm_run *run;      /* KVM_VCPU_MMAP_PAGES pages */
	struct kvm_vcpu_arch arch;
	struct vcpu_vmx vmx;
};

/* ---- kvm_main.c --------------------------------------------------------- */
void *kvm_zalloc(size_t size);
void kvm_free(void *p, size_t size);
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);
/* The host address of gfn, or KVM_HVA_ERR_BAD; *writable (may be NULL) says
 * whether the slot may be written (Linux: gfn_to_hva_prot). */
hva_t gfn_to_hva(struct kvm *kvm, gfn_t gfn);
hva_t gfn_to_hva_prot(struct kvm *kvm, gfn_t gfn, bool *writable);

/* ---- x86.c -------------------------------------------------------------- */
long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned long request, void *arg);
long kvm_arch_dev_ioctl(unsigned long request, void *arg);
int kvm_arch_check_extension(long cap);
int kvm_arch_vcpu_init(struct kvm_vcpu *vcpu);
void kvm_queue_exception(struct kvm_vcpu *vcpu, uint8_t vector);
void kvm_queue_exception_e(struct kvm_vcpu *vcpu, uint8_t vector, uint32_t error_code);
uint64_t kvm_register_read(struct kvm_vcpu *vcpu, int reg);
void kvm_register_write(struct kvm_vcpu *vcpu, int reg, uint64_t val);
int kvm_skip_emulated_instruction(struct kvm_vcpu *vcpu);
/* Exit to userspace for a port access, as KVM's kvm_fast_pio(). */
int kvm_fast_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in);
int kvm_emulate_halt(struct kvm_vcpu *vcpu);
int kvm_emulate_hypercall(struct kvm_vcpu *vcpu);
/* Look the leaf up in the vCPU's CPUID table (KVM_SET_CPUID2), as kvm_cpuid(). */
void kvm_cpuid(struct kvm_vcpu *vcpu, uint32_t *eax, uint32_t *ebx, uint32_t *ecx, uint32_t *edx);
int kvm_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data);
int kvm_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data);
int kvm_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0);
int kvm_set_cr3(struct kvm_vcpu *vcpu, uint64_t cr3);
int kvm_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4);
int kvm_set_cr8(struct kvm_vcpu *vcpu, uint64_t cr8);
void kvm_lmsw(struct kvm_vcpu *vcpu, uint16_t msw);
/* Fill run for KVM_EXIT_INTERNAL_ERROR: suberror plus up to 4 data words. */
int kvm_internal_error(struct kvm_vcpu *vcpu, uint32_t suberror, int ndata, const uint64_t *data);
uint64_t kvm_host_rdtsc(void);

/* ---- vmx.c -------------------------------------------------------------- */
int vmx_hardware_setup(char *err, size_t errlen);
int vmx_hardware_enable(void);
void vmx_hardware_disable(void);
int vmx_vcpu_create(struct kvm_vcpu *vcpu);
void vmx_vcpu_free(struct kvm_vcpu *vcpu);
int vmx_vcpu_run(struct kvm_vcpu *vcpu);
void vmx_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
int vmx_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs);
/* Write the guest's CR0/CR4 (their guest view) into the VMCS: real value + read shadow. */
void vmx_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0);
void vmx_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4);
void vmx_set_efer(struct kvm_vcpu *vcpu, uint64_t efer);
uint64_t vmx_read_guest_field(struct kvm_vcpu *vcpu, uint32_t field);
void vmx_write_guest_field(struct kvm_vcpu *vcpu, uint32_t field, uint64_t value);
int vmx_get_cpl(struct kvm_vcpu *vcpu);
void vmx_set_tsc_offset(struct kvm_vcpu *vcpu, uint64_t offset);
extern struct vmx_capability_msrs vmx_caps;

/* ---- mmu.c -------------------------------------------------------------- */
// @region kvm_mmu
/* The MMU hook (Linux: struct kvm_mmu with page_fault, root loading...). Stage
 * 04 installs the nonpaging MMU; lab 05 replaces it with the shadow MMU and
 * lab 06 with EPT, without touching vmx.c. */
struct kvm_mmu {
	const char *name;
	int (*vm_init)(struct kvm *kvm);
	void (*vm_destroy)(struct kvm *kvm);
	/* Check the guest's paging mode before an entry; 0 or an exit to userspace. */
	int (*check_mode)(struct kvm_vcpu *vcpu);
	/* The CR3 the processor uses while the guest runs. */
	uint64_t (*root_hpa)(struct kvm_vcpu *vcpu);
	/* A #PF the MMU asked to intercept: 1 fixed (resume), 0 exit to userspace. */
	int (*page_fault)(struct kvm_vcpu *vcpu, uint64_t addr, uint32_t error_code);
	/* The memslots changed: forget every translation. */
	void (*zap_all)(struct kvm *kvm);
	/* Guest-physical -> host-physical for KVM_TRANSLATE and instruction fetch. */
	bool (*translate)(struct kvm_vcpu *vcpu, uint64_t gva, uint64_t *gpa);
};
// @end
const struct kvm_mmu *kvm_mmu_for_stage(void);

#endif
