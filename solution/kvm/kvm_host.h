/* SPDX-License-Identifier: MIT */
/*
 * minikvm's objects and the interfaces between its parts, shaped like Linux's
 * include/linux/kvm_host.h (struct kvm, struct kvm_vcpu, memslots, requests)
 * and arch/x86/include/asm/kvm_host.h (struct kvm_vcpu_arch, struct kvm_mmu,
 * struct kvm_x86_ops). Generic code (kvm_main.c, x86.c, cpuid.c, irq.c,
 * mmu/) sees the vendor side only through kvm_x86_ops: nothing in this file
 * is VMX's, and no generic file includes a vmx/ header.
 * Bare metal only (uses the host kernel's page allocator).
 */
#ifndef KVMLABS_KVM_KVM_HOST_H
#define KVMLABS_KVM_KVM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include <x86/insns.h>

#include "iodev.h"
#include "kvm_emulate.h"
#include "kvm_vcpu_regs.h"
#include "mmu/paging.h"

#define KVM_API_VERSION          12
#define KVM_MAX_VCPUS            8   /* the bare-metal host runs them as cooperative threads */
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
typedef uint64_t gva_t;
typedef uint64_t hva_t;
typedef uint64_t hpa_t;

#define INVALID_PAGE             (~(hpa_t)0)
#define VALID_PAGE(x)            ((x) != INVALID_PAGE)
#define INVALID_GPA              (~(gpa_t)0)

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* A reverse-map head (Linux: struct kvm_rmap_head): the sptes that point
 * at one thing, as a pte_list (mmu/pte_list.h). */
struct kvm_rmap_head {
	uintptr_t val;
};

/* What the MMU keeps per page of a slot (Linux: struct kvm_arch_memory_slot). */
struct kvm_arch_memory_slot {
	struct kvm_rmap_head *rmap;  /* gfn -> the leaf sptes that map it */
	uint16_t *gfn_write_track;   /* gfn -> shadow pages of it (write-protected while > 0) */
};

// @region memslot
struct kvm_memory_slot {
	gfn_t base_gfn;
	uint64_t npages;          /* 0: the slot is free */
	hva_t userspace_addr;
	uint32_t flags;           /* KVM_MEM_READONLY, KVM_MEM_LOG_DIRTY_PAGES */
	uint16_t id;
	uint64_t *dirty_bitmap;   /* with KVM_MEM_LOG_DIRTY_PAGES: a bit per page written since the last KVM_GET_DIRTY_LOG */
	struct kvm_arch_memory_slot arch;
};
// @end

struct kvm_vcpu;

/* Who emulates the interrupt controllers (Linux: enum kvm_irqchip_mode). */
enum kvm_irqchip_mode {
	KVM_IRQCHIP_NONE,         /* userspace, or nobody: HLT exits to userspace */
	KVM_IRQCHIP_KERNEL,       /* lab 08: PIC + IOAPIC + LAPIC in minikvm (KVM_CREATE_IRQCHIP) */
};

struct kvm_mmu_page;
struct kvm_pic;
struct kvm_ioapic;
struct kvm_pit;
struct kvm_lapic;

/* A small-object allocator for the MMU's structures (mmu/pte_list.h; Linux:
 * the kmem caches behind struct kvm_mmu_memory_cache). */
struct mmu_pool {
	size_t obj_size;
	void *free;               /* a free list through the objects' first word */
	void *pages;              /* every page taken, chained through their first word */
};

/* Counters of the MMU's work (Linux: struct kvm_vm_stat, same names). */
struct kvm_vm_stat {
	uint64_t mmu_shadow_zapped, mmu_cache_miss, mmu_recycled, mmu_flooded;
	uint64_t pf_fixed, pf_guest, invlpg, max_mmu_pages;
	/* TDP (lab 06): EPT exits, MMIO sptes made, faults sent to the emulator
	 * (MMIO, read-only slots), and leaves made at 4 KiB and 2 MiB. */
	uint64_t ept_violations, ept_misconfigs, pf_mmio_spte_created, pf_emulate, pages_4k, pages_2m;
	uint64_t exits;           /* every VM exit, whatever its reason (Linux: the vCPUs' "exits") */
	/* Lab 07: the emulator's stores to shadowed guest tables, and the tables
	 * unprotected because a store to one could not or should not be emulated. */
	uint64_t mmu_pte_write, mmu_unprotect;
};

#define KVM_MMU_HASH_SHIFT 10
#define KVM_NUM_MMU_PAGES  (1 << KVM_MMU_HASH_SHIFT)

struct kvm_arch {
	/* The hypervisor-owned identity tables of the nonpaging MMU (mmu/mmu.c). */
	void *mmu_root;           /* PAE page-directory-pointer table */
	void *mmu_pd[4];          /* its four page directories */
	/* The shadow MMU (lab 05): every shadow page, found by (gfn, role) in
	 * mmu_page_hash and by its table's address in mmu_page_by_spt, and on
	 * active_mmu_pages oldest first, at most n_max_mmu_pages of them. */
	struct kvm_mmu_page *mmu_page_hash[KVM_NUM_MMU_PAGES];
	struct kvm_mmu_page *mmu_page_by_spt[KVM_NUM_MMU_PAGES];
	struct kvm_mmu_page *active_oldest, *active_newest;
	unsigned n_used_mmu_pages, n_max_mmu_pages;
	struct mmu_pool mmu_page_pool, pte_list_pool;
	struct kvm_vm_stat stat;
	enum kvm_irqchip_mode irqchip_mode;
	/* Lab 08's in-kernel irqchip (KVM_CREATE_IRQCHIP) and PIT (KVM_CREATE_PIT2). */
	struct kvm_pic *vpic;
	struct kvm_ioapic *vioapic;
	struct kvm_pit *vpit;
};

struct kvm {
	int handle;
	int refs;                 /* the VM handle + one per vCPU */
	struct kvm_memory_slot memslots[KVM_USER_MEM_SLOTS];
	/* Bumped at every memslot change: what an MMIO spte remembers of the
	 * memslots it was made under (Linux: kvm_memslots()->generation). */
	uint64_t memslots_generation;
	struct kvm_vcpu *vcpus[KVM_MAX_VCPUS];
	int nr_vcpus;
	/* In-kernel devices by address (iodev.h; lab 08's PIC, PIT, IOAPIC). */
	struct kvm_io_bus buses[KVM_NR_BUSES];
	struct kvm_arch arch;
};

/* Segment registers, in Linux's order (VCPU_SREG_*, asm/kvm_host.h). */
enum kvm_sreg {
	VCPU_SREG_ES, VCPU_SREG_CS, VCPU_SREG_SS, VCPU_SREG_DS, VCPU_SREG_FS, VCPU_SREG_GS,
	VCPU_SREG_TR, VCPU_SREG_LDTR, VCPU_SREG_COUNT
};

/* ---- requests (Linux: KVM_REQ_*) ------------------------------------------ */
/* Work a part of minikvm leaves for the run loop: vcpu_enter_guest() (x86.c)
 * does each pending one before the next VM entry, in this order. */
enum kvm_request {
	KVM_REQ_TRIPLE_FAULT,     /* minikvm found a triple fault: KVM_EXIT_SHUTDOWN */
	KVM_REQ_MMU_RELOAD,       /* a root was zapped: drop the roots, take new ones (kvm_mmu_unload) */
	KVM_REQ_TLB_FLUSH,        /* drop the guest's cached translations (flush_tlb_all) */
	KVM_REQ_LOAD_MMU_PGD,     /* give the processor the MMU's root again (load_mmu_pgd) */
	KVM_REQ_EVENT,            /* an event may be deliverable now: re-evaluate (lab 08) */
	KVM_REQ_COUNT
};

// @region kvm_mmu
/*
 * A vCPU's MMU context (Linux: struct kvm_mmu): how the guest's addresses
 * become host-physical ones in the paging mode the guest is in. kvm_init_mmu()
 * (mmu/mmu.c) chooses it, and chooses again whenever CR0.PG/WP, CR4's paging
 * bits or EFER.LMA/NX change and at KVM_SET_SREGS (kvm_mmu_reset_context()).
 * Stage 04 has one mode, nonpaging; lab 05 adds the shadow modes (32-bit,
 * PAE and 64-bit guest paging), lab 06 TDP (EPT), each as another context,
 * without touching vmx/.
 */
struct kvm_mmu {
	const char *name;
	/* A fault this MMU asked to see (#PF without EPT, EPT violation with it):
	 * cr2_or_gpa is the faulting linear address (shadow, nonpaging) or GPA
	 * (TDP). Returns a RET_PF_* (mmu/mmu.h) or -errno. */
	int (*page_fault)(struct kvm_vcpu *vcpu, gpa_t cr2_or_gpa, uint64_t error_code);
	/* Walk the guest's translation of gva for an access (PFERR_WRITE_MASK,
	 * PFERR_USER_MASK, PFERR_FETCH_MASK). INVALID_GPA with *fault filled (#PF
	 * and its error code) when the guest's own page tables refuse it. */
	gpa_t (*gva_to_gpa)(struct kvm_vcpu *vcpu, struct kvm_mmu *mmu, gva_t gva, uint64_t access,
			    struct x86_exception *fault);
	/* The guest executed INVLPG gva: forget what is cached for it (NULL: nothing is). */
	void (*invlpg)(struct kvm_vcpu *vcpu, gva_t gva);
	hpa_t root_hpa;           /* what the processor walks; INVALID_PAGE until kvm_mmu_load() */
	int root_level;           /* its levels: 3 = PAE, 4 = 4-level (EPT too) */
	bool direct_map;          /* no guest page tables behind it (nonpaging, TDP) */
	bool tdp;                 /* EPT tables: the root is the VM's direct tree (lab 06) */
	const char *unsupported;  /* the mode cannot run at this stage: why, naming the lab */
	/* Shadow paging (lab 05): the guest's paging mode as the walker needs it
	 * (mmu/paging.h), taken when the context is chosen and at each CR3 load. */
	struct paging_mode cpu_mode;
};
// @end

struct kvm_queued_exception {
	bool pending;             /* queued by minikvm, not yet handed to the processor */
	bool injected;            /* handed over (or re-queued after an exit interrupted its delivery) */
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
};

struct kvm_queued_interrupt {
	bool injected;
	bool soft;                /* INT n: re-injected with its instruction length */
	uint8_t nr;
};

struct kvm_vcpu_arch {
	/* GPRs and RIP. The world switch loads and saves regs[RAX..R15] but RSP,
	 * which the VMCS holds like RIP; the vendor copies those two at entry and exit. */
	uint64_t regs[NR_VCPU_REGS];
	/* The guest's view of its control registers and EFER (the vendor runs the
	 * processor with what VMX needs and shows the guest these). */
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	unsigned int emulation_failures;  /* instructions outside ring 0 given #UD for want of the emulator */
	/* MSRs kept in software (SDM Vol. 4 MSR index). */
	uint64_t apic_base, pat, misc_enable, tsc_offset;
	/* The SYSCALL MSRs and KERNEL_GS_BASE: not in the VMCS, so the vendor
	 * puts them in the processor while the guest runs (vmx_load_syscall_msrs);
	 * dirty when the guest or userspace changed one since. */
	uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
	bool syscall_msrs_dirty;
	struct kvm_cpuid_entry2 cpuid_entries[KVM_MAX_CPUID_ENTRIES];
	int cpuid_nent;
	/* Events (Linux: the same fields). */
	struct kvm_queued_exception exception;
	struct kvm_queued_interrupt interrupt;
	bool nmi_injected;
	uint32_t event_exit_inst_len;  /* length of the software event being re-injected */
	uint32_t mp_state;             /* KVM_MP_STATE_RUNNABLE, or _HALTED while blocked (lab 08) */
	/* The half of an exit that finishes on the next KVM_RUN (Linux: complete_userspace_io). */
	int (*complete_userspace_io)(struct kvm_vcpu *vcpu);
	uint64_t cui_linear_rip;       /* where the instruction waiting for userspace is */
	struct {
		uint8_t size;
		bool in;
		/* An emulated INS/OUTS element (Linux: pio.count, pio_data): out =
		 * posted, in = the data is back and the instruction runs again. */
		bool emulated, data_ready;
		uint64_t data;
	} pio;
	/* An emulated access that went out to userspace (Linux: vcpu->mmio_*):
	 * the whole access's bytes at mmio_gva, and its MMIO pieces, each at
	 * most the 8 bytes of kvm_run.mmio.data, sent one exit at a time. */
	bool mmio_needed, mmio_is_write, mmio_read_completed;
	uint64_t mmio_gva;
	unsigned int mmio_len;
	uint8_t mmio_data[16];
	struct kvm_mmio_fragment {
		gpa_t gpa;
		unsigned int offset, len;   /* in mmio_data */
	} mmio_fragments[4];
	unsigned int mmio_nr_fragments, mmio_cur_fragment;
	/* The MMU context in use (always &root_mmu: no nested paging). */
	struct kvm_mmu *mmu;
	struct kvm_mmu root_mmu;
	/* PAE paging's PDPTE registers, loaded by the CR3, CR0 and CR4 writes
	 * that load them (kvm_load_pdptrs), and the shadow root of a 32-bit or PAE
	 * guest: four PDPTEs of our own, each pointing to a shadow page directory. */
	uint64_t pdptrs[4];
	uint64_t *pae_root;
	/* Lab 08: the vCPU's local APIC (with the in-kernel irqchip), and an
	 * NMI waiting for its injection. */
	struct kvm_lapic *apic;
	bool nmi_pending;
	/* When the vCPU's next timer (LAPIC, PIT) is due, host_clock_ns() time,
	 * UINT64_MAX if none: the entry bounds the guest's run by it. */
	uint64_t next_event_ns;
	/* Lab 07's emulator state, and the translation of the page its
	 * instruction is fetched from (emulator_fetch). */
	struct x86_emulate_ctxt emulate_ctxt;
	uint64_t fetch_gva_page, fetch_gpa_page;
	bool fetch_page_valid;
};

/* The vendor's vCPU embeds this (struct vcpu_vmx, vmx/vmx.h); kvm_main.c
 * allocates kvm_x86_ops.vcpu_size bytes, as Linux's vcpu_size. */
struct kvm_vcpu {
	struct kvm *kvm;
	int vcpu_id;
	int handle;
	struct kvm_run *run;      /* KVM_VCPU_MMAP_PAGES pages */
	uint32_t requests;        /* KVM_REQ_* bits */
	uint64_t kicks;           /* kvm_vcpu_kick() calls (lab 08) */
	struct kvm_vcpu_arch arch;
};

static inline void kvm_make_request(enum kvm_request req, struct kvm_vcpu *vcpu)
{
	vcpu->requests |= 1u << req;
}

static inline bool kvm_request_pending(struct kvm_vcpu *vcpu)
{
	return vcpu->requests != 0;
}

/* Take the request if it is pending (Linux: kvm_check_request). */
static inline bool kvm_check_request(enum kvm_request req, struct kvm_vcpu *vcpu)
{
	if (!(vcpu->requests & (1u << req)))
		return false;
	vcpu->requests &= ~(1u << req);
	return true;
}

// @region kvm_x86_ops
/*
 * The vendor interface (Linux: struct kvm_x86_ops). Everything generic code
 * needs from VMX goes through this one table; vmx/vmx.c fills vmx_x86_ops and
 * kvm_arch_hardware_setup() (x86.c) installs it as kvm_x86_ops.
 *
 * The contract:
 * - Values cross in the guest's architectural view: set_cr0 gets CR0 as the
 *   guest wrote it, get_segment returns what KVM_GET_SREGS shows. What the
 *   processor must run with instead (fixed bits, read shadows, forced paging)
 *   is the vendor's business.
 * - The vendor makes its per-vCPU state (the VMCS) current itself; callers
 *   never "load" a vCPU, and may call any op between two KVM_RUNs.
 * - vcpu_run, handle_exit and skip_emulated_instruction return as exit
 *   handlers do: 1 = go on running the guest, 0 = return to userspace with
 *   vcpu->run filled, < 0 = -errno for the KVM_RUN ioctl.
 * - A failure inside an op that returns nothing (a VMWRITE that fails in
 *   set_cr0, say) is not lost: the vendor records it and the next vcpu_run
 *   or handle_exit ends KVM_RUN with it.
 */
struct kvm_x86_ops {
	const char *name;
	size_t vcpu_size;         /* the vendor's vCPU, which starts with struct kvm_vcpu */

	/* Once, at the first open of the device: probe, compute the controls. */
	int (*hardware_setup)(char *err, size_t errlen);
	/* The first VM is created / the last one is gone (VMXON / VMXOFF). */
	int (*hardware_enable)(void);
	void (*hardware_disable)(void);
	int (*vcpu_create)(struct kvm_vcpu *vcpu);
	void (*vcpu_free)(struct kvm_vcpu *vcpu);

	/* Enter the guest once: 1 = it ran and exited (or the processor refused
	 * the entry): call handle_exit; 0 = the entry was not tried, run filled. */
	int (*vcpu_run)(struct kvm_vcpu *vcpu);
	int (*handle_exit)(struct kvm_vcpu *vcpu);
	/* RIP past the instruction that exited; ends a STI or MOV SS shadow. */
	int (*skip_emulated_instruction)(struct kvm_vcpu *vcpu);
	/* The last exit in the vendor's words, for KVM_INTERNAL_ERROR data. */
	void (*get_exit_info)(struct kvm_vcpu *vcpu, uint32_t *reason, uint64_t *info1, uint64_t *info2,
			      uint32_t *intr_info, uint32_t *error_code);

	/* State the vendor holds (the VMCS guest-state area). */
	void (*get_segment)(struct kvm_vcpu *vcpu, struct kvm_segment *var, int seg);
	void (*set_segment)(struct kvm_vcpu *vcpu, const struct kvm_segment *var, int seg);
	void (*get_cs_db_l_bits)(struct kvm_vcpu *vcpu, int *db, int *l);
	int (*get_cpl)(struct kvm_vcpu *vcpu);
	void (*get_gdt)(struct kvm_vcpu *vcpu, struct desc_ptr *dt);
	void (*set_gdt)(struct kvm_vcpu *vcpu, const struct desc_ptr *dt);
	void (*get_idt)(struct kvm_vcpu *vcpu, struct desc_ptr *dt);
	void (*set_idt)(struct kvm_vcpu *vcpu, const struct desc_ptr *dt);
	uint64_t (*get_rflags)(struct kvm_vcpu *vcpu);
	void (*set_rflags)(struct kvm_vcpu *vcpu, uint64_t rflags);
	/* KVM_X86_SHADOW_INT_STI / _MOV_SS bits. */
	uint32_t (*get_interrupt_shadow)(struct kvm_vcpu *vcpu);
	void (*set_interrupt_shadow)(struct kvm_vcpu *vcpu, uint32_t mask);
	/* Record the new value in vcpu->arch and give the processor what it needs. */
	void (*set_cr0)(struct kvm_vcpu *vcpu, uint64_t cr0);
	void (*set_cr4)(struct kvm_vcpu *vcpu, uint64_t cr4);
	int (*set_efer)(struct kvm_vcpu *vcpu, uint64_t efer);
	/* MSRs the vendor keeps (SYSENTER, FS/GS base); others go to
	 * kvm_get_msr_common()/kvm_set_msr_common(). 0, or 1 for #GP. */
	int (*get_msr)(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data);
	int (*set_msr)(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data);
	void (*set_tsc_offset)(struct kvm_vcpu *vcpu, uint64_t offset);

	/* The MMU root the processor walks: CR3 without EPT, the EPTP with it. */
	void (*load_mmu_pgd)(struct kvm_vcpu *vcpu, hpa_t root_hpa, int root_level);
	void (*flush_tlb_all)(struct kvm_vcpu *vcpu);

	/* Event injection at the next entry, from vcpu->arch.exception,
	 * .interrupt and .nmi_injected (Linux: inject_exception, inject_irq...). */
	void (*inject_exception)(struct kvm_vcpu *vcpu);
	void (*inject_irq)(struct kvm_vcpu *vcpu, bool reinjected);
	void (*inject_nmi)(struct kvm_vcpu *vcpu);
	/* Undo an injection whose entry did not happen (the event is re-queued). */
	void (*cancel_injection)(struct kvm_vcpu *vcpu);
	bool (*interrupt_allowed)(struct kvm_vcpu *vcpu);
	bool (*nmi_allowed)(struct kvm_vcpu *vcpu);
	/* Are NMIs blocked by an NMI whose handler has not run IRET (Linux: get_nmi_mask)? */
	bool (*get_nmi_mask)(struct kvm_vcpu *vcpu);
	/* Exit as soon as the guest can take an interrupt / an NMI (lab 08). */
	void (*enable_irq_window)(struct kvm_vcpu *vcpu);
	void (*enable_nmi_window)(struct kvm_vcpu *vcpu);
};
// @end

extern struct kvm_x86_ops kvm_x86_ops;
/* The one vendor (vmx/vmx.c); Linux chooses kvm_intel or kvm_amd at load. */
extern const struct kvm_x86_ops vmx_x86_ops;

/* ---- kvm_main.c --------------------------------------------------------- */
void *kvm_zalloc(size_t size);
void kvm_free(void *p, size_t size);
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn);
/* The host address of gfn, or KVM_HVA_ERR_BAD; *writable (may be NULL) says
 * whether the slot may be written (Linux: gfn_to_hva_prot). */
hva_t gfn_to_hva(struct kvm *kvm, gfn_t gfn);
hva_t gfn_to_hva_prot(struct kvm *kvm, gfn_t gfn, bool *writable);
/* Copy guest-physical memory (Linux: kvm_read_guest); 0 or -EFAULT. */
int kvm_read_guest(struct kvm *kvm, gpa_t gpa, void *data, size_t len);
int kvm_write_guest(struct kvm *kvm, gpa_t gpa, const void *data, size_t len);
/* Note gfn written, for the dirty log of its slot (Linux: mark_page_dirty). */
void mark_page_dirty(struct kvm *kvm, gfn_t gfn);
/* Every vCPU flushes its cached guest translations before its next entry
 * (KVM_REQ_TLB_FLUSH; Linux: kvm_flush_remote_tlbs). */
void kvm_flush_remote_tlbs(struct kvm *kvm);
/* Wait in the kernel until the vCPU can run or deadline_ns passes
 * (Linux: kvm_vcpu_block); true when it can run. */
bool kvm_vcpu_block(struct kvm_vcpu *vcpu, uint64_t deadline_ns);

/* ---- x86.c: what kvm_main.c calls (Linux: kvm_arch_*) -------------------- */
int kvm_arch_hardware_setup(char *err, size_t errlen);
int kvm_arch_hardware_enable(void);
void kvm_arch_hardware_disable(void);
int kvm_arch_init_vm(struct kvm *kvm);
void kvm_arch_destroy_vm(struct kvm *kvm);
size_t kvm_arch_vcpu_size(void);
int kvm_arch_vcpu_create(struct kvm_vcpu *vcpu);
void kvm_arch_vcpu_destroy(struct kvm_vcpu *vcpu);
bool kvm_arch_vcpu_runnable(struct kvm_vcpu *vcpu);
/* When a blocked vCPU must look again even without an event (a timer), or UINT64_MAX. */
uint64_t kvm_arch_vcpu_wake_time_ns(struct kvm_vcpu *vcpu);
/* The memslots changed (kvm->memslots_generation is the new generation):
 * MMIO sptes of older generations stop counting, the MMU's bound follows
 * (Linux: kvm_arch_memslots_updated). */
void kvm_arch_memslots_updated(struct kvm *kvm);
/* A slot is about to be deleted, moved or to change its flags: nothing may
 * map its old gfns any more (Linux: kvm_arch_flush_shadow_memslot). */
void kvm_arch_flush_shadow_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
/* A slot is created or deleted: the MMU's per-page arrays (Linux: kvm_arch_create_memslot, kvm_arch_free_memslot). */
int kvm_arch_create_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
void kvm_arch_free_memslot(struct kvm *kvm, struct kvm_memory_slot *slot);
/* KVM_GET_DIRTY_LOG has taken a slot's log: write-protect it again (Linux: kvm_arch_flush_remote_tlbs_memslot's callers). */
void kvm_arch_sync_dirty_log(struct kvm *kvm, struct kvm_memory_slot *slot);
long kvm_arch_dev_ioctl(unsigned long request, void *arg);
long kvm_arch_vm_ioctl(struct kvm *kvm, unsigned long request, void *arg);
long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned long request, void *arg);
int kvm_vm_ioctl_check_extension(struct kvm *kvm, long cap);

#endif
