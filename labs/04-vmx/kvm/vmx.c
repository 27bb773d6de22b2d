/* SPDX-License-Identifier: MIT */
/*
 * minikvm's VMX backend (Linux: arch/x86/kvm/vmx/vmx.c): VMXON, one VMCS per
 * vCPU, host and guest state, VMLAUNCH/VMRESUME, and the exit handlers.
 * Runs in VMX root operation inside the bare-metal host (64-bit, identity
 * mapped: a pointer is a physical address).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "kvm_host.h"
#include "vmx.h"
#include "vmx_caps.h"
#include "vmx_decode.h"
#include "vmx_entry_check.h"
#include "vmx_names.h"

/* ---- instructions ------------------------------------------------------- */

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

#define DEFINE_READ_CR(n) \
	static inline uint64_t read_cr##n(void) { uint64_t v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; }
DEFINE_READ_CR(0)
DEFINE_READ_CR(3)
DEFINE_READ_CR(4)

static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

#define DEFINE_READ_SEG(s) \
	static inline uint16_t read_##s(void) { uint16_t v; __asm__ volatile("mov %%" #s ", %0" : "=rm"(v)); return v; }
DEFINE_READ_SEG(cs)
DEFINE_READ_SEG(ss)
DEFINE_READ_SEG(ds)
DEFINE_READ_SEG(es)
DEFINE_READ_SEG(fs)
DEFINE_READ_SEG(gs)

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static inline void store_gdt(struct desc_ptr *d) { __asm__ volatile("sgdt %0" : "=m"(*d)); }
static inline void store_idt(struct desc_ptr *d) { __asm__ volatile("sidt %0" : "=m"(*d)); }
static inline void load_gdt(const struct desc_ptr *d) { __asm__ volatile("lgdt %0" : : "m"(*d)); }
static inline void load_idt(const struct desc_ptr *d) { __asm__ volatile("lidt %0" : : "m"(*d)); }
static inline uint16_t store_tr(void) { uint16_t v; __asm__ volatile("str %0" : "=rm"(v)); return v; }

/* VMX instructions report failure in CF (VMfailInvalid) or ZF (VMfailValid). */
static inline int vmxon(uint64_t pa)
{
	uint8_t fail;
	__asm__ volatile("vmxon %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	return fail ? -EIO : 0;
}

static inline void vmxoff(void) { __asm__ volatile("vmxoff" : : : "cc", "memory"); }

static inline int vmclear(uint64_t pa)
{
	uint8_t fail;
	__asm__ volatile("vmclear %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	return fail ? -EIO : 0;
}

static inline int vmptrld(uint64_t pa)
{
	uint8_t fail;
	__asm__ volatile("vmptrld %1; setna %0" : "=q"(fail) : "m"(pa) : "cc", "memory");
	return fail ? -EIO : 0;
}

static inline bool vmread_safe(uint32_t field, uint64_t *value)
{
	uint8_t fail;
	uint64_t v;
	__asm__ volatile("vmread %2, %1; setna %0" : "=q"(fail), "=r"(v) : "r"((uint64_t)field) : "cc");
	*value = v;
	return !fail;
}

static inline uint64_t vmcs_read(uint32_t field)
{
	uint64_t v;
	return vmread_safe(field, &v) ? v : 0;
}

static inline void vmcs_write(uint32_t field, uint64_t value)
{
	uint8_t fail;
	__asm__ volatile("vmwrite %1, %2; setna %0" : "=q"(fail) : "rm"(value), "r"((uint64_t)field) : "cc");
	if (fail)
		printf("minikvm: VMWRITE 0x%x = 0x%llx failed (VM-instruction error %u)\n", field,
		       (unsigned long long)value, (unsigned int)vmcs_read(VM_INSTRUCTION_ERROR));
}

static inline void vmcs_set_bits(uint32_t field, uint64_t mask) { vmcs_write(field, vmcs_read(field) | mask); }
static inline void vmcs_clear_bits(uint32_t field, uint64_t mask) { vmcs_write(field, vmcs_read(field) & ~mask); }

int __vmx_vcpu_run(struct vmx_guest_regs *regs, int launched);
void vmx_vmexit(void);

/* ---- per-processor state ------------------------------------------------ */

struct vmx_capability_msrs vmx_caps;
static struct vmcs_config vmcs_config;
static void *vmxon_region;
static void *current_vmcs;      /* the VMCS VMPTRLD made current */
static struct desc_ptr host_gdt, host_idt;
static uint64_t host_cr4_before_vmxon;

#define CPUID_1_ECX_VMX (1u << 5)

int vmx_hardware_setup(char *err, size_t errlen)
{
	uint32_t a, b, c, d;
	cpuid(1, &a, &b, &c, &d);
	if (!(c & CPUID_1_ECX_VMX)) {
		snprintf(err, errlen, "CPUID.1:ECX.VMX[bit 5] = 0 (run under Bochs with cpu model corei7_skylake_x, or QEMU -cpu host with nested VMX)");
		return -ENODEV;
	}
	struct vmx_capability_msrs *caps = &vmx_caps;
	caps->basic = rdmsr(MSR_IA32_VMX_BASIC);
	caps->pinbased_ctls = rdmsr(MSR_IA32_VMX_PINBASED_CTLS);
	caps->procbased_ctls = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS);
	caps->exit_ctls = rdmsr(MSR_IA32_VMX_EXIT_CTLS);
	caps->entry_ctls = rdmsr(MSR_IA32_VMX_ENTRY_CTLS);
	caps->misc = rdmsr(MSR_IA32_VMX_MISC);
	caps->cr0_fixed0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0);
	caps->cr0_fixed1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
	caps->cr4_fixed0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0);
	caps->cr4_fixed1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
	if (caps->procbased_ctls & ((uint64_t)CPU_BASED_ACTIVATE_SECONDARY_CONTROLS << 32))
		caps->procbased_ctls2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
	if (caps->basic & VMX_BASIC_TRUE_CTLS) {
		caps->true_pinbased_ctls = rdmsr(MSR_IA32_VMX_TRUE_PINBASED_CTLS);
		caps->true_procbased_ctls = rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
		caps->true_exit_ctls = rdmsr(MSR_IA32_VMX_TRUE_EXIT_CTLS);
		caps->true_entry_ctls = rdmsr(MSR_IA32_VMX_TRUE_ENTRY_CTLS);
	}
	cpuid(0x80000000u, &a, &b, &c, &d);
	caps->phys_addr_bits = 36;
	if (a >= 0x80000008u) {
		cpuid(0x80000008u, &a, &b, &c, &d);
		caps->phys_addr_bits = a & 0xff;
	}
	/* ept=0 and no unrestricted guest until lab 06 brings them (kvm_intel's
	 * module parameters); the stage-04 MMU serves every stage until then. */
	struct vmx_config_request req = { .host_64bit = true };
	return vmx_setup_vmcs_config(caps, &req, &vmcs_config, err, errlen);
}

int vmx_hardware_enable(void)
{
	// @lab 04 vmx_hardware_enable: Enter VMX root operation: FEATURE_CONTROL, CR0/CR4 fixed bits, VMXON (SDM Vol. 3 24.7, 24.8).
	lab_todo(4, "vmx_hardware_enable");
	// @end
}

void vmx_hardware_disable(void)
{
	vmxoff();
	current_vmcs = NULL;
	write_cr4(host_cr4_before_vmxon);
}

/* ---- VMCS setup ---------------------------------------------------------- */

static void vmx_vcpu_load(struct kvm_vcpu *vcpu)
{
	if (current_vmcs == vcpu->vmx.vmcs)
		return;
	if (vmptrld(host_virt_to_phys(vcpu->vmx.vmcs)) < 0)
		printf("minikvm: VMPTRLD failed\n");
	current_vmcs = vcpu->vmx.vmcs;
}

uint64_t vmx_read_guest_field(struct kvm_vcpu *vcpu, uint32_t field)
{
	vmx_vcpu_load(vcpu);
	return vmcs_read(field);
}

void vmx_write_guest_field(struct kvm_vcpu *vcpu, uint32_t field, uint64_t value)
{
	vmx_vcpu_load(vcpu);
	vmcs_write(field, value);
}

static uint64_t host_tr_base(uint16_t tr)
{
	/* A 64-bit TSS descriptor is 16 bytes (SDM Vol. 3 8.2.3). */
	const uint8_t *desc = (const uint8_t *)host_gdt.base + (tr & ~7u);
	uint64_t lo, hi;
	memcpy(&lo, desc, 8);
	memcpy(&hi, desc + 8, 8);
	return ((lo >> 16) & 0xffffffull) | (((lo >> 56) & 0xff) << 24) | ((hi & 0xffffffffull) << 32);
}

static int vmx_setup_host_state(void)
{
	// @lab 04 vmx_setup_host_state: Fill the VMCS host-state area (SDM Vol. 3 25.5) from the running host.
	lab_todo(4, "vmx_setup_host_state");
	// @end
}

/* VMX-preemption timer ticks per entry: TSC >> IA32_VMX_MISC[4:0], some
 * milliseconds on any processor and well under a second under Bochs. */
#define VMX_PREEMPTION_TIMER_SLICE (1u << 20)

/* CR0 bits the guest may change without an exit (Linux: KVM_POSSIBLE_CR0_GUEST_BITS). */
#define VMX_CR0_GUEST_OWNED X86_CR0_TS

static void vmx_init_vmcs_controls(struct kvm_vcpu *vcpu)
{
	struct vmcs_config *c = &vcpu->vmx.ctls;
	*c = vmcs_config;
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, c->pin_based_exec_ctrl);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, c->cpu_based_exec_ctrl);
	if (c->cpu_based_exec_ctrl & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		vmcs_write(SECONDARY_VM_EXEC_CONTROL, c->cpu_based_2nd_exec_ctrl);
	vmcs_write(VM_EXIT_CONTROLS, c->vmexit_ctrl);
	vmcs_write(VM_ENTRY_CONTROLS, c->vmentry_ctrl);
	/* #PF is the MMU's (mmu.c); every other exception goes to the guest's IDT. */
	vmcs_write(EXCEPTION_BITMAP, 1u << PF_VECTOR);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MASK, 0);
	vmcs_write(PAGE_FAULT_ERROR_CODE_MATCH, 0);
	vmcs_write(CR3_TARGET_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_STORE_COUNT, 0);
	vmcs_write(VM_EXIT_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_MSR_LOAD_COUNT, 0);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
	vmcs_write(TSC_OFFSET, 0);
	/* The hypervisor owns every CR4 bit and all CR0 bits but TS: the guest
	 * reads its own values from the read shadows (SDM Vol. 3 25.6.6). */
	vmcs_write(CR0_GUEST_HOST_MASK, ~(uint64_t)VMX_CR0_GUEST_OWNED);
	vmcs_write(CR4_GUEST_HOST_MASK, ~0ull);
}

static void vmx_init_guest_nonregister_state(void)
{
	// @lab 04 vmx_init_guest_nonregister_state: Set the guest state that is not registers (SDM Vol. 3 25.4.2).
	lab_todo(4, "vmx_init_guest_nonregister_state");
	// @end
}

int vmx_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = &vcpu->vmx;
	vmx->vmcs = host_page_alloc();
	if (!vmx->vmcs)
		return -ENOMEM;
	/* A VMCS region starts with the revision identifier; VMCLEAR makes it
	 * clear and inactive, VMPTRLD current (SDM Vol. 3 25.11.3). */
	*(uint32_t *)vmx->vmcs = vmcs_config.revision_id;
	if (vmclear(host_virt_to_phys(vmx->vmcs)) < 0) {
		printf("minikvm: VMCLEAR failed\n");
		return -EIO;
	}
	current_vmcs = NULL;
	vmx_vcpu_load(vcpu);
	store_gdt(&host_gdt);
	store_idt(&host_idt);
	vmx_init_vmcs_controls(vcpu);
	int r = vmx_setup_host_state();
	if (r < 0)
		return r;
	vmx_init_guest_nonregister_state();
	return 0;
}

void vmx_vcpu_free(struct kvm_vcpu *vcpu)
{
	if (!vcpu->vmx.vmcs)
		return;
	vmclear(host_virt_to_phys(vcpu->vmx.vmcs));
	if (current_vmcs == vcpu->vmx.vmcs)
		current_vmcs = NULL;
	host_page_free(vcpu->vmx.vmcs);
	vcpu->vmx.vmcs = NULL;
}

/* ---- guest state --------------------------------------------------------- */

// @region guest_segments
static const struct vmx_segment_field {
	uint32_t selector, base, limit, ar_bytes;
} kvm_vmx_segment_fields[] = {
	{ GUEST_ES_SELECTOR, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR_BYTES },
	{ GUEST_CS_SELECTOR, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR_BYTES },
	{ GUEST_SS_SELECTOR, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR_BYTES },
	{ GUEST_DS_SELECTOR, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR_BYTES },
	{ GUEST_FS_SELECTOR, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR_BYTES },
	{ GUEST_GS_SELECTOR, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR_BYTES },
	{ GUEST_TR_SELECTOR, GUEST_TR_BASE, GUEST_TR_LIMIT, GUEST_TR_AR_BYTES },
	{ GUEST_LDTR_SELECTOR, GUEST_LDTR_BASE, GUEST_LDTR_LIMIT, GUEST_LDTR_AR_BYTES },
};
enum { VCPU_SREG_ES, VCPU_SREG_CS, VCPU_SREG_SS, VCPU_SREG_DS, VCPU_SREG_FS, VCPU_SREG_GS, VCPU_SREG_TR,
       VCPU_SREG_LDTR, VCPU_SREG_COUNT };
// @end

static struct kvm_segment *sregs_segment(struct kvm_sregs *s, int seg)
{
	struct kvm_segment *segs[VCPU_SREG_COUNT] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs, &s->tr, &s->ldt };
	return segs[seg];
}

void vmx_get_sregs(struct kvm_vcpu *vcpu, struct kvm_sregs *s)
{
	vmx_vcpu_load(vcpu);
	for (int i = 0; i < VCPU_SREG_COUNT; i++) {
		const struct vmx_segment_field *f = &kvm_vmx_segment_fields[i];
		struct kvm_segment *seg = sregs_segment(s, i);
		memset(seg, 0, sizeof(*seg));
		seg->selector = (uint16_t)vmcs_read(f->selector);
		seg->base = vmcs_read(f->base);
		seg->limit = (uint32_t)vmcs_read(f->limit);
		vmx_segment_from_access_rights((uint32_t)vmcs_read(f->ar_bytes), seg);
	}
	s->gdt = (struct kvm_dtable){ .base = vmcs_read(GUEST_GDTR_BASE), .limit = (uint16_t)vmcs_read(GUEST_GDTR_LIMIT) };
	s->idt = (struct kvm_dtable){ .base = vmcs_read(GUEST_IDTR_BASE), .limit = (uint16_t)vmcs_read(GUEST_IDTR_LIMIT) };
	memset(s->gdt.padding, 0, sizeof(s->gdt.padding));
	memset(s->idt.padding, 0, sizeof(s->idt.padding));
	s->cr0 = vcpu->arch.cr0;
	s->cr4 = vcpu->arch.cr4;
	s->efer = vcpu->arch.efer;
}

void vmx_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0)
{
	vcpu->arch.cr0 = cr0;
	/* What the processor runs with: the fixed-1 bits (PE, NE, PG), WP so the
	 * hypervisor's read-only mappings hold against supervisor writes, and
	 * caching always on (Linux: KVM_VM_CR0_ALWAYS_ON / _OFF). */
	uint64_t hw = (cr0 | vmx_caps.cr0_fixed0 | X86_CR0_PG | X86_CR0_WP) & ~(X86_CR0_CD | X86_CR0_NW);
	vmx_vcpu_load(vcpu);
	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(GUEST_CR0, hw & vmx_caps.cr0_fixed1);
}

void vmx_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4)
{
	vcpu->arch.cr4 = cr4;
	/* VMXE is fixed to 1 in VMX operation and PAE is the hypervisor's paging
	 * mode (mmu.c); SMEP/SMAP/PKE would fault on its user-accessible mappings. */
	uint64_t hw = (cr4 | vmx_caps.cr4_fixed0 | X86_CR4_PAE) & ~(X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE);
	vmx_vcpu_load(vcpu);
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmcs_write(GUEST_CR4, hw & vmx_caps.cr4_fixed1);
}

void vmx_set_efer(struct kvm_vcpu *vcpu, uint64_t efer)
{
	vcpu->arch.efer = efer;
	vmx_vcpu_load(vcpu);
	/* While the guest believes paging is off, LME must not take effect on the
	 * hypervisor's tables (Linux: vmx_set_efer / nonpaging). */
	uint64_t hw = (efer & EFER_LMA) ? efer : efer & ~EFER_LME;
	vmcs_write(GUEST_IA32_EFER, hw);
	if (efer & EFER_LMA)
		vmcs_set_bits(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
	else
		vmcs_clear_bits(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
}

void vmx_set_tsc_offset(struct kvm_vcpu *vcpu, uint64_t offset)
{
	vmx_write_guest_field(vcpu, TSC_OFFSET, offset);
}

int vmx_get_cpl(struct kvm_vcpu *vcpu)
{
	return (int)VMX_AR_DPL(vmx_read_guest_field(vcpu, GUEST_SS_AR_BYTES));
}

int vmx_set_sregs(struct kvm_vcpu *vcpu, const struct kvm_sregs *sregs)
{
	vmx_vcpu_load(vcpu);
	// @lab 04 vmx_set_sregs: Load kvm_sregs into the VMCS guest-state area (SDM Vol. 3 25.4.1).
	lab_todo(4, "vmx_set_sregs");
	// @end
}

/* ---- VM-entry diagnosis -------------------------------------------------- */

static uint64_t vmcs_accessor_read(void *ctx, uint32_t field)
{
	(void)ctx;
	return vmcs_read(field);
}

static int vmcs_accessor_read_phys(void *ctx, uint64_t pa, void *buf, size_t len)
{
	(void)ctx;
	memcpy(buf, host_phys_to_virt(pa), len);
	return 0;
}

static void vmentry_check_print(void *arg, const struct vmentry_check_failure *f)
{
	(void)arg;
	printf("vmentry-check: %s\n", f->message);
}

static unsigned int vmx_run_entry_checks(void)
{
	struct vmcs_accessor acc = { .read = vmcs_accessor_read, .read_phys = vmcs_accessor_read_phys };
	struct vmentry_check_env env = {
		.caps = &vmx_caps, .vmcs = &acc, .host_in_ia32e_mode = true, .report = vmentry_check_print,
	};
	return vmx_vmentry_check(&env);
}

static int vmx_fail_entry(struct kvm_vcpu *vcpu, uint64_t reason)
{
	vcpu->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	vcpu->run->fail_entry.hardware_entry_failure_reason = reason;
	vcpu->run->fail_entry.cpu = 0;
	return 0;
}

/* ---- exit handlers (Linux: kvm_vmx_exit_handlers) ------------------------ */

static int vmx_unexpected_exit(struct kvm_vcpu *vcpu, const char *why)
{
	uint32_t reason = vcpu->vmx.exit_reason;
	uint64_t data[3] = { reason, vcpu->arch.rip, vcpu->vmx.exit_qualification };
	printf("minikvm: %s VM exit %s (reason %u) at RIP 0x%llx, qualification 0x%llx\n", why,
	       vmx_exit_reason_name(VMX_EXIT_REASON_BASIC(reason)), VMX_EXIT_REASON_BASIC(reason),
	       (unsigned long long)vcpu->arch.rip, (unsigned long long)vcpu->vmx.exit_qualification);
	return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, 3, data);
}

static int handle_exception_nmi(struct kvm_vcpu *vcpu)
{
	uint32_t info = vcpu->vmx.exit_intr_info;
	uint32_t type = info & INTR_INFO_INTR_TYPE_MASK, vector = info & INTR_INFO_VECTOR_MASK;
	if (type == INTR_TYPE_NMI_INTR)
		return 1; /* the host's NMI: nothing to do for it here */
	if (type == INTR_TYPE_HARD_EXCEPTION && vector == PF_VECTOR) {
		uint32_t error_code = (uint32_t)vmcs_read(VM_EXIT_INTR_ERROR_CODE);
		return vcpu->arch.mmu->page_fault(vcpu, vcpu->vmx.exit_qualification, error_code);
	}
	return vmx_unexpected_exit(vcpu, "unexpected exception");
}

static int handle_external_interrupt(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	return 1; /* taken by the host's IDT once vmx_vcpu_run restores RFLAGS.IF */
}

static int handle_triple_fault(struct kvm_vcpu *vcpu)
{
	vcpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
	return 0;
}

static int handle_halt(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_halt: HLT exits to userspace as KVM_EXIT_HLT (no in-kernel irqchip yet).
	lab_todo(4, "handle_halt");
	// @end
}

static int handle_cpuid(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_cpuid: Answer CPUID from the vCPU's CPUID table (Linux: kvm_emulate_cpuid).
	lab_todo(4, "handle_cpuid");
	// @end
}

static int handle_rdmsr(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_rdmsr: RDMSR: EDX:EAX = MSR[ECX], or #GP(0) for an MSR minikvm does not have.
	lab_todo(4, "handle_rdmsr");
	// @end
}

static int handle_wrmsr(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_wrmsr: WRMSR: MSR[ECX] = EDX:EAX, or #GP(0).
	lab_todo(4, "handle_wrmsr");
	// @end
}

static int handle_cr(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_cr: MOV to/from CR0/CR3/CR4/CR8, CLTS, LMSW (SDM Vol. 3 Table 28-3; Linux: handle_cr).
	lab_todo(4, "handle_cr");
	// @end
}

static int handle_io(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_io: IN/OUT exit to userspace as KVM_EXIT_IO (SDM Vol. 3 Table 28-5; Linux: handle_io).
	lab_todo(4, "handle_io");
	// @end
}

static int handle_vmcall(struct kvm_vcpu *vcpu)
{
	// @lab 04 handle_vmcall: The kvmlabs hypercalls of guest_abi.h (Linux: kvm_emulate_hypercall).
	lab_todo(4, "handle_vmcall");
	// @end
}

static int handle_vmx_instruction(struct kvm_vcpu *vcpu)
{
	/* No nested VMX: the guest sees what a CPU without VMX does. */
	kvm_queue_exception(vcpu, UD_VECTOR);
	return 1;
}

static int handle_nop(struct kvm_vcpu *vcpu)
{
	return kvm_skip_emulated_instruction(vcpu);
}

static int handle_gp(struct kvm_vcpu *vcpu)
{
	kvm_queue_exception_e(vcpu, GP_VECTOR, 0);
	return 1;
}

static int handle_preemption_timer(struct kvm_vcpu *vcpu)
{
	(void)vcpu;
	return 1;
}

static int handle_ept(struct kvm_vcpu *vcpu)
{
	return vmx_unexpected_exit(vcpu, "EPT is off at this stage (lab 06):");
}

// @region exit_handlers
static int (*const vmx_exit_handlers[EXIT_REASON_MAX])(struct kvm_vcpu *vcpu) = {
	[EXIT_REASON_EXCEPTION_NMI]       = handle_exception_nmi,
	[EXIT_REASON_EXTERNAL_INTERRUPT]  = handle_external_interrupt,
	[EXIT_REASON_TRIPLE_FAULT]        = handle_triple_fault,
	[EXIT_REASON_CPUID]               = handle_cpuid,
	[EXIT_REASON_HLT]                 = handle_halt,
	[EXIT_REASON_INVD]                = handle_nop,
	[EXIT_REASON_RDPMC]               = handle_gp,
	[EXIT_REASON_VMCALL]              = handle_vmcall,
	[EXIT_REASON_VMCLEAR]             = handle_vmx_instruction,
	[EXIT_REASON_VMLAUNCH]            = handle_vmx_instruction,
	[EXIT_REASON_VMPTRLD]             = handle_vmx_instruction,
	[EXIT_REASON_VMPTRST]             = handle_vmx_instruction,
	[EXIT_REASON_VMREAD]              = handle_vmx_instruction,
	[EXIT_REASON_VMRESUME]            = handle_vmx_instruction,
	[EXIT_REASON_VMWRITE]             = handle_vmx_instruction,
	[EXIT_REASON_VMOFF]               = handle_vmx_instruction,
	[EXIT_REASON_VMON]                = handle_vmx_instruction,
	[EXIT_REASON_INVEPT]              = handle_vmx_instruction,
	[EXIT_REASON_INVVPID]             = handle_vmx_instruction,
	[EXIT_REASON_VMFUNC]              = handle_vmx_instruction,
	[EXIT_REASON_CR_ACCESS]           = handle_cr,
	[EXIT_REASON_IO_INSTRUCTION]      = handle_io,
	[EXIT_REASON_MSR_READ]            = handle_rdmsr,
	[EXIT_REASON_MSR_WRITE]           = handle_wrmsr,
	[EXIT_REASON_MWAIT_INSTRUCTION]   = handle_vmx_instruction,
	[EXIT_REASON_MONITOR_INSTRUCTION] = handle_vmx_instruction,
	[EXIT_REASON_WBINVD]              = handle_nop,
	[EXIT_REASON_PREEMPTION_TIMER]    = handle_preemption_timer,
	[EXIT_REASON_EPT_VIOLATION]       = handle_ept,
	[EXIT_REASON_EPT_MISCONFIG]       = handle_ept,
};
// @end

static int vmx_handle_exit(struct kvm_vcpu *vcpu)
{
	// @lab 04 vmx_handle_exit: Dispatch a VM exit through vmx_exit_handlers[] by basic exit reason.
	lab_todo(4, "vmx_handle_exit");
	// @end
}

/* ---- events -------------------------------------------------------------- */

/* An event whose delivery a VM exit interrupted (e.g. a #PF on the guest's
 * IDT page while delivering #GP) is delivered again at the next entry (SDM
 * Vol. 3 28.2.4; Linux: vmx_complete_interrupts). */
static void vmx_complete_interrupts(struct kvm_vcpu *vcpu)
{
	uint32_t idt = vcpu->vmx.idt_vectoring_info;
	if (!(idt & INTR_INFO_VALID_MASK))
		return;
	uint32_t type = idt & INTR_INFO_INTR_TYPE_MASK;
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, idt & (INTR_INFO_VALID_MASK | INTR_INFO_INTR_TYPE_MASK |
						    INTR_INFO_VECTOR_MASK | INTR_INFO_DELIVER_CODE_MASK));
	if (idt & INTR_INFO_DELIVER_CODE_MASK)
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, vmcs_read(IDT_VECTORING_ERROR_CODE));
	if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION || type == INTR_TYPE_PRIV_SW_EXCEPTION)
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, vmcs_read(VM_EXIT_INSTRUCTION_LEN));
}

static void vmx_inject_exception(struct kvm_vcpu *vcpu)
{
	struct kvm_queued_exception *e = &vcpu->arch.exception;
	if (!e->pending)
		return;
	e->pending = false;
	/* SDM Vol. 3 27.6.1: hardware exception, with its error code. */
	uint32_t info = INTR_INFO_VALID_MASK | INTR_TYPE_HARD_EXCEPTION | e->vector;
	if (e->has_error_code) {
		info |= INTR_INFO_DELIVER_CODE_MASK;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, e->error_code);
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
}

/* ---- running the guest --------------------------------------------------- */

static inline uint64_t save_flags_cli(void)
{
	uint64_t flags;
	__asm__ volatile("pushf; pop %0; cli" : "=r"(flags) : : "memory");
	return flags;
}

static inline void restore_flags(uint64_t flags)
{
	if (flags & X86_RFLAGS_IF)
		__asm__ volatile("sti; nop" : : : "memory");
}

static int vmx_report_vmfail(struct kvm_vcpu *vcpu, int fail)
{
	if (fail == 1) {
		printf("minikvm: %s failed with VMfailInvalid (no current VMCS)\n",
		       vcpu->vmx.launched ? "VMRESUME" : "VMLAUNCH");
		return vmx_fail_entry(vcpu, 0);
	}
	uint32_t error = (uint32_t)vmcs_read(VM_INSTRUCTION_ERROR);
	printf("minikvm: %s failed: VM-instruction error %u: %s (SDM Vol. 3 31.4)\n",
	       vcpu->vmx.launched ? "VMRESUME" : "VMLAUNCH", error, vmx_instruction_error_name(error));
	if (error == 7 || error == 8)
		vmx_run_entry_checks();
	return vmx_fail_entry(vcpu, error);
}

int vmx_vcpu_run(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = &vcpu->vmx;
	vmx_vcpu_load(vcpu);
	int r = vcpu->arch.mmu->check_mode(vcpu);
	if (r <= 0)
		return r;
	vmcs_write(GUEST_CR3, vcpu->arch.mmu->root_hpa(vcpu));
	/* A guest that never exits still comes back now and then (SDM 26.5.1). */
	if (vmx->ctls.pin_based_exec_ctrl & PIN_BASED_VMX_PREEMPTION_TIMER)
		vmcs_write(VMX_PREEMPTION_TIMER_VALUE, VMX_PREEMPTION_TIMER_SLICE);
	// @lab 04 vmx_vcpu_run: Enter the guest with VMLAUNCH or VMRESUME, then record why it exited (Linux: vmx_vcpu_run).
	lab_todo(4, "vmx_vcpu_run");
	// @end
}
