/* SPDX-License-Identifier: MIT */
/*
 * minikvm's VMX vendor (Linux: arch/x86/kvm/vmx/vmx.c): VMXON, one VMCS per
 * vCPU, host and guest state, VMLAUNCH/VMRESUME, the exit handlers, and the
 * struct kvm_x86_ops the generic code calls (vmx_x86_ops, at the end).
 * Runs in VMX root operation inside the bare-metal host (64-bit, identity
 * mapped: a pointer is a physical address).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <x86/const.h>
#include <x86/cpuid.h>
#include <x86/insns.h>
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/lab.h"
#include "../cpuid.h"
#include "../irq.h"
#include "../mmu/mmu.h"
#include "../x86.h"
#include "vmenter.h"
#include "vmx.h"
#include "vmx_decode.h"
#include "vmx_entry_check.h"
#include "vmx_names.h"

// @lab 04 vmx_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* The world switch's offsets (vmenter.h) are the C layout's. */
_Static_assert(sizeof(((struct kvm_vcpu_arch *)0)->regs[0]) == VMENTER_WORD_SIZE, "regs[] are 8-byte words");
_Static_assert(offsetof(struct kvm_vcpu_arch, regs[VCPU_REGS_RAX]) - offsetof(struct kvm_vcpu_arch, regs) ==
	       VCPU_RAX, "VCPU_RAX");
_Static_assert(offsetof(struct kvm_vcpu_arch, regs[VCPU_REGS_RDI]) - offsetof(struct kvm_vcpu_arch, regs) ==
	       VCPU_RDI, "VCPU_RDI");
_Static_assert(offsetof(struct kvm_vcpu_arch, regs[VCPU_REGS_R15]) - offsetof(struct kvm_vcpu_arch, regs) ==
	       VCPU_R15, "VCPU_R15");
_Static_assert(VMENTER_HOST_RSP_FIELD == HOST_RSP, "HOST_RSP encoding");
_Static_assert(offsetof(struct vcpu_vmx, vcpu) == 0, "struct vcpu_vmx starts with its struct kvm_vcpu");

/* kvm_intel's module parameters. EPT, unrestricted guest and VPIDs are lab
 * 06's: below stage 06 they are never asked of the CPU, as with ept=0, and a
 * host booted with kvm_intel.ept=0 keeps the shadow MMU at every stage. */
static bool enable_ept = true;
static bool enable_unrestricted_guest = true;
static bool enable_vpid = true;

/* ---- VMX instructions, and their failures -------------------------------- */

/*
 * VMX instructions report failure in the flags: CF=1 VMfailInvalid (no
 * current VMCS), ZF=1 VMfailValid, with a number in the VM-instruction error
 * field (SDM Vol. 3 31.2, 31.4). A VMREAD, VMWRITE, VMPTRLD or VMCLEAR that
 * fails means minikvm's idea of the VMCS is wrong from here on: the first
 * failure of a vCPU is kept in vmx->insn_fail and its next KVM_RUN ends with
 * it (vmx_insn_failure_exit()). Linux WARNs and dumps the VMCS instead
 * (vmx_insn_failed()); a teaching kernel must not run on silently.
 */
static struct vcpu_vmx *current_vmx;  /* the vCPU whose VMCS VMPTRLD made current */
/* Whose SYSCALL MSRs the processor holds (vmx_load_syscall_msrs). */
static struct kvm_vcpu *syscall_msrs_owner;

#define VMX_FAIL_FLAGS "; setc %[cf]; setz %[zf]"
#define VMX_STATUS(cf, zf) ((cf) ? VMENTER_FAIL_INVALID : (zf) ? VMENTER_FAIL_VALID : 0)

static inline int __vmread(uint32_t field, uint64_t *value)
{
	uint8_t cf, zf;
	uint64_t v;
	__asm__ volatile("vmread %[f], %[v]" VMX_FAIL_FLAGS
			 : [v] "=r"(v), [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [f] "r"((uint64_t)field)
			 : "cc");
	*value = v;
	return VMX_STATUS(cf, zf);
}

static inline int __vmwrite(uint32_t field, uint64_t value)
{
	uint8_t cf, zf;
	__asm__ volatile("vmwrite %[v], %[f]" VMX_FAIL_FLAGS
			 : [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [v] "rm"(value), [f] "r"((uint64_t)field)
			 : "cc");
	return VMX_STATUS(cf, zf);
}

#define DEFINE_VMX_PA_INSN(name)                                                         \
	static inline int __##name(uint64_t pa)                                          \
	{                                                                                \
		uint8_t cf, zf;                                                          \
		__asm__ volatile(#name " %[pa]" VMX_FAIL_FLAGS                           \
				 : [cf] "=qm"(cf), [zf] "=qm"(zf)                        \
				 : [pa] "m"(pa)                                          \
				 : "cc", "memory");                                      \
		return VMX_STATUS(cf, zf);                                               \
	}
DEFINE_VMX_PA_INSN(vmxon)
DEFINE_VMX_PA_INSN(vmclear)
DEFINE_VMX_PA_INSN(vmptrld)

/* INVEPT and INVVPID take a type in a register and a 128-bit descriptor in
 * memory (SDM Vol. 3 31.3). */
static inline int __invept(unsigned long type, uint64_t eptp)
{
	struct { uint64_t eptp, reserved; } desc = { eptp, 0 };
	uint8_t cf, zf;
	__asm__ volatile("invept %[desc], %[type]" VMX_FAIL_FLAGS
			 : [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [desc] "m"(desc), [type] "r"(type)
			 : "cc", "memory");
	return VMX_STATUS(cf, zf);
}

static inline int __invvpid(unsigned long type, uint16_t vpid, uint64_t gva)
{
	struct { uint64_t vpid, gva; } desc = { vpid, gva };
	uint8_t cf, zf;
	__asm__ volatile("invvpid %[desc], %[type]" VMX_FAIL_FLAGS
			 : [cf] "=qm"(cf), [zf] "=qm"(zf)
			 : [desc] "m"(desc), [type] "r"(type)
			 : "cc", "memory");
	return VMX_STATUS(cf, zf);
}

static inline void vmxoff(void) { __asm__ volatile("vmxoff" : : : "cc", "memory"); }

static void vmx_insn_failed(struct vcpu_vmx *vmx, enum vmx_insn insn, uint32_t field, uint64_t value, int status)
{
	uint64_t error = 0;
	if (status == VMENTER_FAIL_VALID && __vmread(VM_INSTRUCTION_ERROR, &error) != 0)
		error = 0;
	if (!vmx || vmx->insn_fail.insn != VMX_INSN_NONE)
		return;   /* the first failure explains the rest */
	vmx->insn_fail = (struct vmx_insn_failure){
		.insn = insn, .field = field, .value = value, .error = (uint32_t)error,
	};
}

static uint64_t vmcs_read(uint32_t field)
{
	uint64_t v;
	int status = __vmread(field, &v);
	if (status) {
		vmx_insn_failed(current_vmx, VMX_INSN_VMREAD, field, 0, status);
		return 0;
	}
	return v;
}

static void vmcs_write(uint32_t field, uint64_t value)
{
	int status = __vmwrite(field, value);
	if (status)
		vmx_insn_failed(current_vmx, VMX_INSN_VMWRITE, field, value, status);
}

static void vmcs_set_bits(uint32_t field, uint64_t mask) { vmcs_write(field, vmcs_read(field) | mask); }
static void vmcs_clear_bits(uint32_t field, uint64_t mask) { vmcs_write(field, vmcs_read(field) & ~mask); }

static const char *vmx_insn_name(enum vmx_insn insn)
{
	static const char *const names[] = {
		[VMX_INSN_NONE] = "none", [VMX_INSN_VMREAD] = "VMREAD", [VMX_INSN_VMWRITE] = "VMWRITE",
		[VMX_INSN_VMPTRLD] = "VMPTRLD", [VMX_INSN_VMCLEAR] = "VMCLEAR", [VMX_INSN_INVEPT] = "INVEPT",
		[VMX_INSN_INVVPID] = "INVVPID",
	};
	return (unsigned int)insn < ARRAY_SIZE(names) ? names[insn] : "?";
}

/*
 * End KVM_RUN with the recorded failure: KVM_EXIT_INTERNAL_ERROR, suberror
 * KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, data = {instruction (enum
 * vmx_insn), field, value, VM-instruction error}. Linux has no suberror for
 * this (it only WARNs); of the four it has, "emulation" and the two
 * event-delivery ones would send a reader to the wrong place, while
 * "unexpected exit reason" is what Linux reports when the VMX state is one
 * KVM did not plan for. The line printed names the instruction and field.
 */
static int vmx_insn_failure_exit(struct kvm_vcpu *vcpu)
{
	const struct vmx_insn_failure *f = &to_vmx(vcpu)->insn_fail;
	uint64_t data[4] = { f->insn, f->field, f->value, f->error };
	if (f->insn == VMX_INSN_VMPTRLD || f->insn == VMX_INSN_VMCLEAR)
		printf("minikvm: %s of the VMCS at 0x%llx failed", vmx_insn_name(f->insn), (unsigned long long)f->value);
	else if (f->insn == VMX_INSN_VMWRITE)
		printf("minikvm: VMWRITE of VMCS field 0x%04x = 0x%llx failed", f->field, (unsigned long long)f->value);
	else if (f->insn == VMX_INSN_INVEPT)
		printf("minikvm: INVEPT of the EPT pointer 0x%llx failed", (unsigned long long)f->value);
	else if (f->insn == VMX_INSN_INVVPID)
		printf("minikvm: INVVPID of VPID %llu failed", (unsigned long long)f->value);
	else
		printf("minikvm: VMREAD of VMCS field 0x%04x failed", f->field);
	if (f->error)
		printf(": VM-instruction error %u: %s (SDM Vol. 3 31.4)\n", f->error,
		       vmx_instruction_error_name(f->error));
	else
		printf(": VMfailInvalid (no current VMCS)\n");
	return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, 4, data);
}

/* ---- per-processor state ------------------------------------------------ */

static struct vmx_capability_msrs vmx_caps;
static struct vmcs_config vmcs_config;
static void *vmxon_region;
static struct desc_ptr host_gdt, host_idt;
static uint64_t host_cr4_before_vmxon;

static int vmx_hardware_setup(char *err, size_t errlen)
{
	uint32_t r[4];
	cpuid_count(1, 0, r);
	if (!(r[2] & CPUID_1_ECX_VMX)) {
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
	if (caps->procbased_ctls & ((uint64_t)CPU_BASED_ACTIVATE_SECONDARY_CONTROLS << 32)) {
		caps->procbased_ctls2 = rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2);
		if (caps->procbased_ctls2 & ((uint64_t)(SECONDARY_EXEC_ENABLE_EPT | SECONDARY_EXEC_ENABLE_VPID) << 32))
			caps->ept_vpid_cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
	}
	if (caps->basic & VMX_BASIC_TRUE_CTLS) {
		caps->true_pinbased_ctls = rdmsr(MSR_IA32_VMX_TRUE_PINBASED_CTLS);
		caps->true_procbased_ctls = rdmsr(MSR_IA32_VMX_TRUE_PROCBASED_CTLS);
		caps->true_exit_ctls = rdmsr(MSR_IA32_VMX_TRUE_EXIT_CTLS);
		caps->true_entry_ctls = rdmsr(MSR_IA32_VMX_TRUE_ENTRY_CTLS);
	}
	cpuid_count(CPUID_EXTENDED_BASE, 0, r);
	caps->phys_addr_bits = 36;
	if (r[0] >= 0x80000008u) {
		cpuid_count(0x80000008u, 0, r);
		caps->phys_addr_bits = r[0] & 0xff;
	}
	// @region vmx_config_request
	/* EPT, unrestricted guest and VPIDs are lab 06's: below stage 06 they are
	 * never asked for, as with kvm_intel's ept=0; the nonpaging and shadow
	 * MMUs serve every stage until then. */
	struct vmx_config_request req = {
		.host_64bit = true,
		.ept = LAB_ENABLED(6) && enable_ept && host_kvm_intel_ept(),
		.unrestricted_guest = LAB_ENABLED(6) && enable_ept && host_kvm_intel_ept() && enable_unrestricted_guest,
		.vpid = LAB_ENABLED(6) && enable_vpid,
	};
	// @end
	/* Linux turns EPT off on a CPU whose EPT cannot carry its tables. */
	const char *why = req.ept ? vmx_ept_unusable_reason(caps->ept_vpid_cap) : NULL;
	if (why) {
		printf("minikvm: EPT off: %s\n", why);
		req.ept = req.unrestricted_guest = false;
	}
	/* VPIDs only with EPT: the shadow MMU counts on every VM entry flushing
	 * the guest's TLB (with VPIDs its CR3 loads would need INVVPIDs). */
	if (!req.ept || !(caps->ept_vpid_cap & VMX_VPID_INVVPID_BIT) ||
	    !(caps->ept_vpid_cap & VMX_VPID_EXTENT_SINGLE_CONTEXT_BIT))
		req.vpid = false;
	enable_ept = req.ept;
	enable_unrestricted_guest = req.unrestricted_guest;
	enable_vpid = req.vpid;
	kvm_configure_mmu(enable_ept, (caps->ept_vpid_cap & VMX_EPT_2MB_PAGE_BIT) ? 2 : 1);
	return vmx_setup_vmcs_config(caps, &req, &vmcs_config, err, errlen);
}

static int vmx_hardware_enable(void)
{
	// @lab 04 vmx_hardware_enable: Enter VMX root operation: FEATURE_CONTROL, CR0/CR4 fixed bits, VMXON (SDM Vol. 3 24.7, 24.8).
	lab_todo(4, "vmx_hardware_enable");
	// @end
}

static void vmx_hardware_disable(void)
{
	vmxoff();
	current_vmx = NULL;
	write_cr4(host_cr4_before_vmxon);
}

/* ---- VMCS setup ---------------------------------------------------------- */

/* Make the vCPU's VMCS current (Linux: vmx_vcpu_load). Every op that touches
 * the VMCS starts here: generic code never loads a vCPU. */
static void vmx_vcpu_load(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	if (current_vmx == vmx)
		return;
	uint64_t pa = host_virt_to_phys(vmx->vmcs);
	int status = __vmptrld(pa);
	if (status) {
		vmx_insn_failed(vmx, VMX_INSN_VMPTRLD, 0, pa, status);
		current_vmx = NULL;
		return;
	}
	current_vmx = vmx;
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
	struct vmcs_config *c = &to_vmx(vcpu)->ctls;
	*c = vmcs_config;
	vmcs_write(PIN_BASED_VM_EXEC_CONTROL, c->pin_based_exec_ctrl);
	vmcs_write(CPU_BASED_VM_EXEC_CONTROL, c->cpu_based_exec_ctrl);
	if (c->cpu_based_exec_ctrl & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		vmcs_write(SECONDARY_VM_EXEC_CONTROL, c->cpu_based_2nd_exec_ctrl);
	vmcs_write(VM_EXIT_CONTROLS, c->vmexit_ctrl);
	vmcs_write(VM_ENTRY_CONTROLS, c->vmentry_ctrl);
	/* Without EPT, #PF is the MMU's (mmu/mmu.c); with it, the guest's own,
	 * like every other exception: they go to the guest's IDT. From lab 07
	 * #UD exits too, for the forced-emulation prefix (kvm_handle_ud). */
	vmcs_write(EXCEPTION_BITMAP, (enable_ept ? 0 : 1u << PF_VECTOR) | (LAB_ENABLED(7) ? 1u << UD_VECTOR : 0));
	/* The vCPU's VPID tags its TLB entries, so they outlive exits; a VPID
	 * freed by an earlier vCPU may still tag some (Linux: allocate_vpid,
	 * vpid_sync_context). */
	if (c->cpu_based_2nd_exec_ctrl & SECONDARY_EXEC_ENABLE_VPID) {
		struct vcpu_vmx *vmx = to_vmx(vcpu);
		vmx->vpid = (uint16_t)(vcpu->kvm->handle * KVM_MAX_VCPUS + vcpu->vcpu_id + 1);
		vmcs_write(VIRTUAL_PROCESSOR_ID, vmx->vpid);
		int status = __invvpid(VMX_VPID_EXTENT_SINGLE_CONTEXT, vmx->vpid, 0);
		if (status)
			vmx_insn_failed(vmx, VMX_INSN_INVVPID, 0, vmx->vpid, status);
	}
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

static int vmx_vcpu_create(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	vmx->vmcs = host_page_alloc();
	if (!vmx->vmcs)
		return -ENOMEM;
	/* A VMCS region starts with the revision identifier; VMCLEAR makes it
	 * clear and inactive, VMPTRLD current (SDM Vol. 3 25.11.3). */
	*(uint32_t *)vmx->vmcs = vmcs_config.revision_id;
	if (__vmclear(host_virt_to_phys(vmx->vmcs)) != 0) {
		printf("minikvm: VMCLEAR of a new VMCS failed\n");
		return -EIO;
	}
	current_vmx = NULL;
	vmx_vcpu_load(vcpu);
	if (vmx->insn_fail.insn != VMX_INSN_NONE) {
		printf("minikvm: VMPTRLD of a new VMCS failed\n");
		return -EIO;
	}
	store_gdt(&host_gdt);
	store_idt(&host_idt);
	vmx_init_vmcs_controls(vcpu);
	int r = vmx_setup_host_state();
	if (r < 0)
		return r;
	vmx_init_guest_nonregister_state();
	return 0;
}

static void vmx_vcpu_free(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	if (!vmx->vmcs)
		return;
	/* Nothing is left to report a failure to: the vCPU is going away. */
	if (__vmclear(host_virt_to_phys(vmx->vmcs)) != 0)
		printf("minikvm: VMCLEAR of a freed vCPU's VMCS failed\n");
	if (current_vmx == vmx)
		current_vmx = NULL;
	if (syscall_msrs_owner == vcpu)
		syscall_msrs_owner = NULL;
	host_page_free(vmx->vmcs);
	vmx->vmcs = NULL;
}

/* ---- guest state --------------------------------------------------------- */

// @region guest_segments
static const struct vmx_segment_field {
	uint32_t selector, base, limit, ar_bytes;
} kvm_vmx_segment_fields[VCPU_SREG_COUNT] = {
	[VCPU_SREG_ES] = { GUEST_ES_SELECTOR, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR_BYTES },
	[VCPU_SREG_CS] = { GUEST_CS_SELECTOR, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR_BYTES },
	[VCPU_SREG_SS] = { GUEST_SS_SELECTOR, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR_BYTES },
	[VCPU_SREG_DS] = { GUEST_DS_SELECTOR, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR_BYTES },
	[VCPU_SREG_FS] = { GUEST_FS_SELECTOR, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR_BYTES },
	[VCPU_SREG_GS] = { GUEST_GS_SELECTOR, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR_BYTES },
	[VCPU_SREG_TR] = { GUEST_TR_SELECTOR, GUEST_TR_BASE, GUEST_TR_LIMIT, GUEST_TR_AR_BYTES },
	[VCPU_SREG_LDTR] = { GUEST_LDTR_SELECTOR, GUEST_LDTR_BASE, GUEST_LDTR_LIMIT, GUEST_LDTR_AR_BYTES },
};
// @end

/* The guest state changed: check it again in software before the next entry. */
static void vmx_guest_state_changed(struct kvm_vcpu *vcpu)
{
	to_vmx(vcpu)->checked = false;
}

static void vmx_get_segment(struct kvm_vcpu *vcpu, struct kvm_segment *seg, int sreg)
{
	const struct vmx_segment_field *f = &kvm_vmx_segment_fields[sreg];
	vmx_vcpu_load(vcpu);
	memset(seg, 0, sizeof(*seg));
	seg->selector = (uint16_t)vmcs_read(f->selector);
	seg->base = vmcs_read(f->base);
	seg->limit = (uint32_t)vmcs_read(f->limit);
	vmx_segment_from_access_rights((uint32_t)vmcs_read(f->ar_bytes), seg);
}

static void vmx_set_segment(struct kvm_vcpu *vcpu, const struct kvm_segment *var, int sreg)
{
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	// @lab 04 vmx_set_segment: Load one kvm_segment into its four VMCS guest-state fields (SDM Vol. 3 25.4.1).
	lab_todo(4, "vmx_set_segment");
	// @end
}

static void vmx_get_cs_db_l_bits(struct kvm_vcpu *vcpu, int *db, int *l)
{
	vmx_vcpu_load(vcpu);
	uint32_t ar = (uint32_t)vmcs_read(GUEST_CS_AR_BYTES);
	*db = (ar & VMX_AR_DB) != 0;
	*l = (ar & VMX_AR_L) != 0;
}

static int vmx_get_cpl(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	return (int)VMX_AR_DPL(vmcs_read(GUEST_SS_AR_BYTES));
}

static void vmx_get_gdt(struct kvm_vcpu *vcpu, struct desc_ptr *dt)
{
	vmx_vcpu_load(vcpu);
	dt->limit = (uint16_t)vmcs_read(GUEST_GDTR_LIMIT);
	dt->base = vmcs_read(GUEST_GDTR_BASE);
}

static void vmx_set_gdt(struct kvm_vcpu *vcpu, const struct desc_ptr *dt)
{
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	vmcs_write(GUEST_GDTR_LIMIT, dt->limit);
	vmcs_write(GUEST_GDTR_BASE, dt->base);
}

static void vmx_get_idt(struct kvm_vcpu *vcpu, struct desc_ptr *dt)
{
	vmx_vcpu_load(vcpu);
	dt->limit = (uint16_t)vmcs_read(GUEST_IDTR_LIMIT);
	dt->base = vmcs_read(GUEST_IDTR_BASE);
}

static void vmx_set_idt(struct kvm_vcpu *vcpu, const struct desc_ptr *dt)
{
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	vmcs_write(GUEST_IDTR_LIMIT, dt->limit);
	vmcs_write(GUEST_IDTR_BASE, dt->base);
}

static uint64_t vmx_get_rflags(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	return vmcs_read(GUEST_RFLAGS);
}

static void vmx_set_rflags(struct kvm_vcpu *vcpu, uint64_t rflags)
{
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	vmcs_write(GUEST_RFLAGS, rflags);
}

static uint32_t vmx_get_interrupt_shadow(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	uint64_t intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	return ((intr & GUEST_INTR_STATE_STI) ? KVM_X86_SHADOW_INT_STI : 0) |
	       ((intr & GUEST_INTR_STATE_MOV_SS) ? KVM_X86_SHADOW_INT_MOV_SS : 0);
}

static void vmx_set_interrupt_shadow(struct kvm_vcpu *vcpu, uint32_t mask)
{
	vmx_vcpu_load(vcpu);
	uint64_t intr = vmcs_read(GUEST_INTERRUPTIBILITY_INFO);
	uint64_t want = intr & ~(uint64_t)(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS);
	if (mask & KVM_X86_SHADOW_INT_MOV_SS)
		want |= GUEST_INTR_STATE_MOV_SS;
	else if (mask & KVM_X86_SHADOW_INT_STI)
		want |= GUEST_INTR_STATE_STI;
	if (want != intr)
		vmcs_write(GUEST_INTERRUPTIBILITY_INFO, want);
}

static int vmx_set_efer(struct kvm_vcpu *vcpu, uint64_t efer)
{
	vcpu->arch.efer = efer;
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	/* While the guest believes paging is off, LME must not take effect on the
	 * hypervisor's tables (Linux: vmx_set_efer / nonpaging). */
	uint64_t hw = (efer & EFER_LMA) ? efer : efer & ~EFER_LME;
	vmcs_write(GUEST_IA32_EFER, hw);
	if (efer & EFER_LMA)
		vmcs_set_bits(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
	else
		vmcs_clear_bits(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE);
	return 0;
}

// @region vmx_update_cr3_exiting
/*
 * With EPT, MOV to CR3 does not exit, except under PAE paging. There the
 * processor keeps the four PDPTEs in registers, loaded only by MOV CR3 and
 * some CR0/CR4 writes (SDM Vol. 3 4.4.1), and a VM exit saves them in the
 * VMCS (28.3.4) for minikvm to read back (Linux: ept_save_pdptrs). Bochs
 * 2.7 saves the entries as they are in memory instead, so a guest that
 * changed a PDPTE in memory would see it take effect at the next exit. With
 * CR3-load exiting minikvm loads the PDPTEs itself (kvm_set_cr3) and writes
 * the registers to the VMCS before each entry: exact on any processor, for
 * the price of an exit per CR3 load of a PAE guest.
 */
static void vmx_update_cr3_exiting(struct kvm_vcpu *vcpu)
{
	if (!enable_ept)
		return;
	if (is_pae_paging(vcpu))
		vmcs_set_bits(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_CR3_LOAD_EXITING);
	else
		vmcs_clear_bits(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_CR3_LOAD_EXITING);
}
// @end

static void vmx_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0)
{
	uint64_t old = vcpu->arch.cr0;
	vcpu->arch.cr0 = cr0;
	/* Turning paging on or off with EFER.LME set enters or leaves IA-32e
	 * mode (SDM Vol. 3 10.8.5; Linux: enter_lmode/exit_lmode). */
	if (vcpu->arch.efer & EFER_LME) {
		if (!(old & X86_CR0_PG) && (cr0 & X86_CR0_PG))
			vmx_set_efer(vcpu, vcpu->arch.efer | EFER_LMA);
		else if ((old & X86_CR0_PG) && !(cr0 & X86_CR0_PG))
			vmx_set_efer(vcpu, vcpu->arch.efer & ~EFER_LMA);
	}
	/* What the processor runs with: the fixed-1 bits (PE, NE, PG) and caching
	 * always on (Linux: KVM_VM_CR0_ALWAYS_ON / _OFF). Without EPT, WP too so
	 * the hypervisor's read-only mappings hold against supervisor writes;
	 * with EPT the guest's WP is its own, and with unrestricted guest so are
	 * PE and PG (SDM Vol. 3 A.7). */
	uint64_t hw = (cr0 | vmx_caps.cr0_fixed0) & ~(X86_CR0_CD | X86_CR0_NW);
	if (!enable_ept)
		hw |= X86_CR0_PG | X86_CR0_WP;
	if (enable_unrestricted_guest)
		hw = (hw & ~(X86_CR0_PE | X86_CR0_PG)) | (cr0 & (X86_CR0_PE | X86_CR0_PG));
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	vmcs_write(CR0_READ_SHADOW, cr0);
	vmcs_write(GUEST_CR0, hw & vmx_caps.cr0_fixed1);
	vmx_update_cr3_exiting(vcpu);
}

static void vmx_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4)
{
	vcpu->arch.cr4 = cr4;
	/* VMXE is fixed to 1 in VMX operation. Without EPT, PAE is the nonpaging
	 * MMU's mode, and SMEP/SMAP/PKE would fault on its user-accessible
	 * mappings; minikvm offers the guest none of the three either way. */
	uint64_t hw = (cr4 | vmx_caps.cr4_fixed0 | (enable_ept ? 0 : X86_CR4_PAE)) &
		      ~(X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE);
	vmx_vcpu_load(vcpu);
	vmx_guest_state_changed(vcpu);
	vmcs_write(CR4_READ_SHADOW, cr4);
	vmcs_write(GUEST_CR4, hw & vmx_caps.cr4_fixed1);
	vmx_update_cr3_exiting(vcpu);
}

/*
 * STAR, LSTAR, CSTAR, SFMASK and KERNEL_GS_BASE are not in the VMCS (SDM Vol.
 * 3 25.4, 25.5): the processor holds the guest's while it runs, or its
 * SYSCALL would jump through the host's LSTAR (Linux: the "user return"
 * MSRs, vmx_prepare_switch_to_guest). The bare-metal host itself never runs
 * SYSCALL or SWAPGS, so a vCPU's values stay in the processor until another
 * vCPU's, or a changed one, must go in. SWAPGS in the guest changes
 * KERNEL_GS_BASE behind our back: the processor's is the vCPU's while it
 * owns them, read back when asked for and before another vCPU's go in.
 */
static void vmx_sync_kernel_gs_base(struct kvm_vcpu *vcpu)
{
	if (syscall_msrs_owner == vcpu && !vcpu->arch.syscall_msrs_dirty)
		vcpu->arch.kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
}

static void vmx_load_syscall_msrs(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	if (syscall_msrs_owner == vcpu && !a->syscall_msrs_dirty)
		return;
	if (syscall_msrs_owner)
		vmx_sync_kernel_gs_base(syscall_msrs_owner);
	wrmsr(MSR_STAR, a->star);
	wrmsr(MSR_LSTAR, a->lstar);
	wrmsr(MSR_CSTAR, a->cstar);
	wrmsr(MSR_SYSCALL_MASK, a->sfmask);
	wrmsr(MSR_KERNEL_GS_BASE, a->kernel_gs_base);
	syscall_msrs_owner = vcpu;
	a->syscall_msrs_dirty = false;
}

static int vmx_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data)
{
	vmx_vcpu_load(vcpu);
	switch (index) {
	case MSR_IA32_SYSENTER_CS:  *data = vmcs_read(GUEST_SYSENTER_CS); return 0;
	case MSR_IA32_SYSENTER_ESP: *data = vmcs_read(GUEST_SYSENTER_ESP); return 0;
	case MSR_IA32_SYSENTER_EIP: *data = vmcs_read(GUEST_SYSENTER_EIP); return 0;
	case MSR_FS_BASE:           *data = vmcs_read(GUEST_FS_BASE); return 0;
	case MSR_GS_BASE:           *data = vmcs_read(GUEST_GS_BASE); return 0;
	case MSR_KERNEL_GS_BASE:
		vmx_sync_kernel_gs_base(vcpu);
		return kvm_get_msr_common(vcpu, index, data);
	default:                    return kvm_get_msr_common(vcpu, index, data);
	}
}

static int vmx_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data)
{
	vmx_vcpu_load(vcpu);
	switch (index) {
	case MSR_IA32_SYSENTER_CS:
		vmcs_write(GUEST_SYSENTER_CS, (uint32_t)data);
		return 0;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (is_noncanonical_address(data))
			return 1;
		vmx_guest_state_changed(vcpu);
		vmcs_write(index == MSR_IA32_SYSENTER_ESP ? GUEST_SYSENTER_ESP :
			   index == MSR_IA32_SYSENTER_EIP ? GUEST_SYSENTER_EIP :
			   index == MSR_FS_BASE ? GUEST_FS_BASE : GUEST_GS_BASE, data);
		return 0;
	default:
		return kvm_set_msr_common(vcpu, index, data);
	}
}

static void vmx_set_tsc_offset(struct kvm_vcpu *vcpu, uint64_t offset)
{
	vmx_vcpu_load(vcpu);
	vmcs_write(TSC_OFFSET, offset);
}

// @lab 06 vmx_ept_helpers: Your own types and static helpers for the EPT side of vmx.c.
/* your helpers */
// @end

/* With EPT, VM entry takes a PAE guest's PDPTEs from the VMCS, not from
 * memory (SDM Vol. 3 27.3.2.4; Linux: vmx_ept_load_pdptrs). */
static void vmx_ept_load_pdptrs(struct kvm_vcpu *vcpu)
{
	if (!is_pae_paging(vcpu))
		return;
	for (int i = 0; i < 4; i++)
		vmcs_write(GUEST_PDPTR0 + 2 * i, vcpu->arch.pdptrs[i]);
}

/* The processor's view of the MMU's root (Linux: vmx_load_mmu_pgd). */
static void vmx_load_mmu_pgd(struct kvm_vcpu *vcpu, hpa_t root_hpa, int root_level)
{
	vmx_vcpu_load(vcpu);
	if (!enable_ept) {
		/* The processor walks the MMU's tables. */
		vmcs_write(GUEST_CR3, root_hpa);
		return;
	}
	// @lab 06 vmx_load_mmu_pgd: With EPT: the EPT pointer for root_hpa and the guest's own CR3 (SDM Vol. 3 25.6.11, 27.3.2.4).
	(void)root_hpa, (void)root_level;
	lab_todo(6, "vmx_load_mmu_pgd");
	// @end
}

/* Drop what the processor caches of the guest's translations (Linux:
 * vmx_flush_tlb_all, vmx_flush_tlb_current). */
static void vmx_flush_tlb_all(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	vmx_vcpu_load(vcpu);
	// @lab 06 vmx_flush_tlb_all: With EPT: INVEPT of this VM's EPTP (single context), which also drops the combined mappings of every VPID (SDM Vol. 3 29.4.3.1, 31.3).
	(void)vmx;
	if (enable_ept)
	lab_todo(6, "vmx_flush_tlb_all");
	// @end
	/* Without EPT (and so without VPIDs here) every VM entry and exit
	 * flushes the guest's linear and combined mappings (SDM Vol. 3 29.4.3.1). */
	(void)vmx;
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

/* What the processor would report for the failed checks: it checks the
 * controls, then the host-state area, then the guest-state area, and stops at
 * the first area that fails. Controls and host state fail the VMLAUNCH itself
 * with VM-instruction error 7 or 8 (SDM Vol. 3 27.2, 31.4); guest state gives
 * a VM exit with bit 31 set and basic reason 33 (SDM Vol. 3 27.3, 27.8). */
enum vmentry_failure_area { AREA_NONE, AREA_GUEST, AREA_HOST, AREA_CONTROLS };

static enum vmentry_failure_area vmentry_rule_area(const char *rule)
{
	if (!strncmp(rule, "ctl-", 4))
		return AREA_CONTROLS;
	if (!strncmp(rule, "host-", 5) || strstr(rule, "-host-"))
		return AREA_HOST;
	return AREA_GUEST;
}

static void vmentry_check_print(void *arg, const struct vmentry_check_failure *f)
{
	enum vmentry_failure_area *worst = arg, area = vmentry_rule_area(f->rule);
	if (area > *worst)
		*worst = area;
	printf("vmentry-check: %s\n", f->message);
}

/* Run the software checks, print each failure; returns the reason the
 * processor would give (KVM_EXIT_FAIL_ENTRY's hardware_entry_failure_reason),
 * or 0 when every check passes. */
static uint64_t vmx_run_entry_checks(void)
{
	struct vmcs_accessor acc = { .read = vmcs_accessor_read, .read_phys = vmcs_accessor_read_phys };
	enum vmentry_failure_area worst = AREA_NONE;
	struct vmentry_check_env env = {
		.caps = &vmx_caps, .vmcs = &acc, .host_in_ia32e_mode = true,
		.report = vmentry_check_print, .report_arg = &worst,
	};
	vmx_vmentry_check(&env);
	switch (worst) {
	case AREA_CONTROLS: return VMXERR_ENTRY_INVALID_CONTROL_FIELD;
	case AREA_HOST:     return VMXERR_ENTRY_INVALID_HOST_STATE_FIELD;
	case AREA_GUEST:    return VMX_EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_INVALID_STATE;
	default:            return 0;
	}
}

static int vmx_fail_entry(struct kvm_vcpu *vcpu, uint64_t reason)
{
	vcpu->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	vcpu->run->fail_entry.hardware_entry_failure_reason = reason;
	vcpu->run->fail_entry.cpu = 0;
	return 0;
}

/* VMLAUNCH/VMRESUME failed as an instruction (SDM Vol. 3 31.2). */
static int vmx_report_vmfail(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	const char *insn = vmx->launched ? "VMRESUME" : "VMLAUNCH";
	if (vmx->fail == VMENTER_FAIL_INVALID) {
		printf("minikvm: %s failed with VMfailInvalid (no current VMCS)\n", insn);
		return vmx_fail_entry(vcpu, 0);
	}
	uint32_t error = (uint32_t)vmcs_read(VM_INSTRUCTION_ERROR);
	printf("minikvm: %s failed: VM-instruction error %u: %s (SDM Vol. 3 31.4)\n", insn, error,
	       vmx_instruction_error_name(error));
	if (error == VMXERR_ENTRY_INVALID_CONTROL_FIELD || error == VMXERR_ENTRY_INVALID_HOST_STATE_FIELD)
		vmx_run_entry_checks();
	return vmx_fail_entry(vcpu, error);
}

/* The entry failed while loading guest state: an exit with bit 31 set (SDM Vol. 3 27.8). */
static int vmx_report_failed_vmentry(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	uint32_t basic = VMX_EXIT_REASON_BASIC(vmx->exit_reason);
	printf("minikvm: VM entry failed: exit reason %u (%s)%s\n", basic, vmx_exit_reason_name(basic),
	       basic == EXIT_REASON_INVALID_STATE ? ": invalid guest state (SDM Vol. 3 27.3.1)" : "");
	vmx_run_entry_checks();
	return vmx_fail_entry(vcpu, vmx->exit_reason);
}

/* ---- exit handlers (Linux: kvm_vmx_exit_handlers) ------------------------ */

static int vmx_unexpected_exit(struct kvm_vcpu *vcpu, const char *why)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	uint32_t reason = vmx->exit_reason;
	uint64_t data[3] = { reason, kvm_rip_read(vcpu), vmx->exit_qualification };
	printf("minikvm: %s VM exit %s (reason %u) at RIP 0x%llx, qualification 0x%llx\n", why,
	       vmx_exit_reason_name(VMX_EXIT_REASON_BASIC(reason)), VMX_EXIT_REASON_BASIC(reason),
	       (unsigned long long)kvm_rip_read(vcpu), (unsigned long long)vmx->exit_qualification);
	return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON, 3, data);
}

static int handle_exception_nmi(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	uint32_t info = vmx->exit_intr_info;
	uint32_t type = info & INTR_INFO_INTR_TYPE_MASK, vector = info & INTR_INFO_VECTOR_MASK;
	if (type == INTR_TYPE_NMI_INTR)
		return 1; /* the host's NMI: nothing to do for it here */
	if (type == INTR_TYPE_HARD_EXCEPTION && vector == PF_VECTOR) {
		uint32_t error_code = (uint32_t)vmcs_read(VM_EXIT_INTR_ERROR_CODE);
		return kvm_mmu_page_fault(vcpu, vmx->exit_qualification, error_code);
	}
	if (type == INTR_TYPE_HARD_EXCEPTION && vector == UD_VECTOR)
		return kvm_handle_ud(vcpu);
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
	// @lab 04 handle_halt: HLT: skip it and halt the vCPU (Linux: kvm_emulate_halt); without an in-kernel irqchip that is KVM_EXIT_HLT.
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

static int handle_invlpg(struct kvm_vcpu *vcpu)
{
	/* The exit qualification is the linear address (SDM Vol. 3 Table 28-1). */
	kvm_mmu_invlpg(vcpu, to_vmx(vcpu)->exit_qualification);
	return kvm_skip_emulated_instruction(vcpu);
}

static int handle_interrupt_window(struct kvm_vcpu *vcpu)
{
	vmcs_clear_bits(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING);
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	return 1;
}

static int handle_nmi_window(struct kvm_vcpu *vcpu)
{
	vmcs_clear_bits(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING);
	kvm_make_request(KVM_REQ_EVENT, vcpu);
	return 1;
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

// @region handle_ept_violation
/* An access the EPT tables do not allow (Linux: handle_ept_violation). */
static int handle_ept_violation(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	uint64_t qual = vmx->exit_qualification;
	if (!enable_ept)
		return vmx_unexpected_exit(vcpu, "EPT is off, yet an");
	/* An NMI whose IRET faulted left NMIs unblocked: block them again before
	 * the IRET runs once more (SDM Vol. 3 28.2.3). */
	if (!(vmx->idt_vectoring_info & INTR_INFO_VALID_MASK) && (qual & EPT_VIOLATION_NMI_UNBLOCKING))
		vmcs_set_bits(GUEST_INTERRUPTIBILITY_INFO, GUEST_INTR_STATE_NMI);
	/* A guest page table outside the guest's memory comes here too, as MMIO
	 * (PFERR_GUEST_PAGE): only the emulator can say which access the
	 * instruction made, and so the #PF the guest must get (Linux does the
	 * same; the qualification describes the table access, not the
	 * instruction's). */
	return kvm_mmu_page_fault(vcpu, vmcs_read(GUEST_PHYSICAL_ADDRESS), vmx_ept_violation_error_code(qual));
}
// @end

/* An EPT entry the processor found misconfigured (Linux:
 * handle_ept_misconfig): minikvm's MMIO sptes are made so on purpose. */
static int handle_ept_misconfig(struct kvm_vcpu *vcpu)
{
	if (!enable_ept)
		return vmx_unexpected_exit(vcpu, "EPT is off, yet an");
	// @lab 06 handle_ept_misconfig: The GPA from the VMCS to the MMU's fault path as a reserved-bit fault (PFERR_RSVD_MASK), which sends it down the MMIO path.
	lab_todo(6, "handle_ept_misconfig");
	// @end
}

// @region exit_handlers
/*
 * The exit handlers, indexed by basic exit reason (Linux:
 * kvm_vmx_exit_handlers[]). Each returns, as in Linux:
 *    1   the exit is dealt with: enter the guest again (RIP moved on, or an
 *        exception queued, as the instruction requires);
 *    0   return to userspace: vcpu->run->exit_reason and its part of the
 *        union are filled (KVM_EXIT_IO, KVM_EXIT_HLT, an internal error...);
 *  < 0   -errno: the KVM_RUN ioctl fails with it.
 * A reason without a handler is never skipped: vmx_handle_exit() makes it an
 * internal error naming the reason.
 */
static int (*const vmx_exit_handlers[EXIT_REASON_MAX])(struct kvm_vcpu *vcpu) = {
	[EXIT_REASON_EXCEPTION_NMI]       = handle_exception_nmi,
	[EXIT_REASON_EXTERNAL_INTERRUPT]  = handle_external_interrupt,
	[EXIT_REASON_TRIPLE_FAULT]        = handle_triple_fault,
	[EXIT_REASON_INTERRUPT_WINDOW]    = handle_interrupt_window,
	[EXIT_REASON_NMI_WINDOW]          = handle_nmi_window,
	[EXIT_REASON_CPUID]               = handle_cpuid,
	[EXIT_REASON_HLT]                 = handle_halt,
	[EXIT_REASON_INVD]                = handle_nop,
	[EXIT_REASON_INVLPG]              = handle_invlpg,
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
	[EXIT_REASON_EPT_VIOLATION]       = handle_ept_violation,
	[EXIT_REASON_EPT_MISCONFIG]       = handle_ept_misconfig,
};
// @end

static int vmx_handle_exit(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	/* What went wrong before the guest ran is reported first. */
	if (vmx->insn_fail.insn != VMX_INSN_NONE)
		return vmx_insn_failure_exit(vcpu);
	if (vmx->fail)
		return vmx_report_vmfail(vcpu);
	if (vmx->exit_reason & VMX_EXIT_REASON_FAILED_VMENTRY)
		return vmx_report_failed_vmentry(vcpu);
	/* With EPT the guest loads CR3 without exiting: take it back for the
	 * walker, the emulator and KVM_GET_SREGS (Linux: vmx_cache_reg). A PAE
	 * guest's PDPTEs are not read back (vmx_update_cr3_exiting). */
	if (enable_ept)
		vcpu->arch.cr3 = vmcs_read(GUEST_CR3);
	// @lab 04 vmx_handle_exit: Dispatch a VM exit through vmx_exit_handlers[] by basic exit reason.
	lab_todo(4, "vmx_handle_exit");
	// @end
}

static int vmx_skip_emulated_instruction(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	uint64_t rip = kvm_rip_read(vcpu) + vmcs_read(VM_EXIT_INSTRUCTION_LEN);
	kvm_rip_write(vcpu, is_64_bit_mode(vcpu) ? rip : (uint32_t)rip);
	/* Executing an instruction ends an STI or MOV SS shadow (SDM Vol. 3 25.4.2). */
	vmx_set_interrupt_shadow(vcpu, 0);
	return 1;
}

static void vmx_get_exit_info(struct kvm_vcpu *vcpu, uint32_t *reason, uint64_t *info1, uint64_t *info2,
			      uint32_t *intr_info, uint32_t *error_code)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	vmx_vcpu_load(vcpu);
	*reason = vmx->exit_reason;
	*info1 = vmx->exit_qualification;
	*info2 = vmx->idt_vectoring_info;
	*intr_info = vmx->exit_intr_info;
	*error_code = (vmx->exit_intr_info & INTR_INFO_DELIVER_CODE_MASK) ?
			      (uint32_t)vmcs_read(VM_EXIT_INTR_ERROR_CODE) : 0;
}

/* ---- events -------------------------------------------------------------- */

static void vmx_inject_exception(struct kvm_vcpu *vcpu)
{
	const struct kvm_queued_exception *e = &vcpu->arch.exception;
	vmx_vcpu_load(vcpu);
	/* SDM Vol. 3 27.6.1. INT3 and INTO are software exceptions, re-injected
	 * with their instruction length (Linux: kvm_exception_is_soft). */
	uint32_t info = INTR_INFO_VALID_MASK | e->vector;
	if (e->vector == BP_VECTOR || e->vector == OF_VECTOR) {
		info |= INTR_TYPE_SOFT_EXCEPTION;
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, vcpu->arch.event_exit_inst_len);
	} else {
		info |= INTR_TYPE_HARD_EXCEPTION;
	}
	if (e->has_error_code) {
		info |= INTR_INFO_DELIVER_CODE_MASK;
		vmcs_write(VM_ENTRY_EXCEPTION_ERROR_CODE, e->error_code);
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
}

static void vmx_inject_irq(struct kvm_vcpu *vcpu, bool reinjected)
{
	(void)reinjected;
	const struct kvm_queued_interrupt *irq = &vcpu->arch.interrupt;
	vmx_vcpu_load(vcpu);
	uint32_t info = INTR_INFO_VALID_MASK | irq->nr;
	if (irq->soft) {
		info |= INTR_TYPE_SOFT_INTR;
		vmcs_write(VM_ENTRY_INSTRUCTION_LEN, vcpu->arch.event_exit_inst_len);
	} else {
		info |= INTR_TYPE_EXT_INTR;
	}
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, info);
}

static void vmx_inject_nmi(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | NMI_VECTOR);
}

/*
 * An event whose delivery a VM exit interrupted (e.g. a #PF on the guest's
 * IDT page while delivering #GP) goes back into the queues, to be delivered
 * again at the next entry (SDM Vol. 3 28.2.4; Linux: __vmx_complete_interrupts).
 */
static void __vmx_complete_interrupts(struct kvm_vcpu *vcpu, uint32_t idt_vectoring_info, uint32_t len_field,
				      uint32_t error_field)
{
	kvm_clear_event_queues(vcpu);
	if (!(idt_vectoring_info & INTR_INFO_VALID_MASK))
		return;
	uint8_t vector = idt_vectoring_info & INTR_INFO_VECTOR_MASK;
	uint32_t type = idt_vectoring_info & INTR_INFO_INTR_TYPE_MASK;
	switch (type) {
	case INTR_TYPE_NMI_INTR:
		vcpu->arch.nmi_injected = true;
		break;
	case INTR_TYPE_SOFT_EXCEPTION:
		vcpu->arch.event_exit_inst_len = (uint32_t)vmcs_read(len_field);
		/* fall through */
	case INTR_TYPE_HARD_EXCEPTION:
		kvm_requeue_exception(vcpu, vector, idt_vectoring_info & INTR_INFO_DELIVER_CODE_MASK,
				      (idt_vectoring_info & INTR_INFO_DELIVER_CODE_MASK) ?
					      (uint32_t)vmcs_read(error_field) : 0);
		break;
	case INTR_TYPE_SOFT_INTR:
		vcpu->arch.event_exit_inst_len = (uint32_t)vmcs_read(len_field);
		/* fall through */
	case INTR_TYPE_EXT_INTR:
		kvm_queue_interrupt(vcpu, vector, type == INTR_TYPE_SOFT_INTR);
		break;
	default:
		break;
	}
}

static void vmx_complete_interrupts(struct kvm_vcpu *vcpu)
{
	__vmx_complete_interrupts(vcpu, to_vmx(vcpu)->idt_vectoring_info, VM_EXIT_INSTRUCTION_LEN,
				  IDT_VECTORING_ERROR_CODE);
}

static void vmx_cancel_injection(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	__vmx_complete_interrupts(vcpu, (uint32_t)vmcs_read(VM_ENTRY_INTR_INFO_FIELD), VM_ENTRY_INSTRUCTION_LEN,
				  VM_ENTRY_EXCEPTION_ERROR_CODE);
	vmcs_write(VM_ENTRY_INTR_INFO_FIELD, 0);
}

static bool vmx_interrupt_allowed(struct kvm_vcpu *vcpu)
{
	return (vmx_get_rflags(vcpu) & X86_EFLAGS_IF) &&
	       !(vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
}

static bool vmx_nmi_allowed(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	return !(vmcs_read(GUEST_INTERRUPTIBILITY_INFO) &
		 (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS | GUEST_INTR_STATE_NMI));
}

static bool vmx_get_nmi_mask(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	return (vmcs_read(GUEST_INTERRUPTIBILITY_INFO) & GUEST_INTR_STATE_NMI) != 0;
}

static void vmx_enable_irq_window(struct kvm_vcpu *vcpu)
{
	vmx_vcpu_load(vcpu);
	vmcs_set_bits(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_INTR_WINDOW_EXITING);
}

static void vmx_enable_nmi_window(struct kvm_vcpu *vcpu)
{
	/* NMI-window exiting needs virtual NMIs (SDM Vol. 3 27.2.1.1); without
	 * them an NMI waits for the next exit (Linux: !enable_vnmi). */
	if (!(to_vmx(vcpu)->ctls.pin_based_exec_ctrl & PIN_BASED_VIRTUAL_NMIS))
		return;
	vmx_vcpu_load(vcpu);
	vmcs_set_bits(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_NMI_WINDOW_EXITING);
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
	if (flags & X86_EFLAGS_IF)
		__asm__ volatile("sti; nop" : : : "memory");
}

/* Modes VMX cannot enter at this stage (Linux would emulate them).
 * Returns 1 when the guest can be entered, 0 when it cannot: KVM_RUN ends
 * with KVM_EXIT_INTERNAL_ERROR, run filled and a line naming the lab. */
static int vmx_guest_mode_supported(struct kvm_vcpu *vcpu)
{
	const char *why = NULL;
	if (!is_protmode(vcpu) && !enable_unrestricted_guest)
		why = "real mode (CR0.PE=0) needs unrestricted guest (lab 06)";
	else if (vmx_get_rflags(vcpu) & X86_EFLAGS_VM)
		why = "virtual-8086 mode is not supported";
	if (!why)
		return 1;
	uint64_t data[2] = { vcpu->arch.cr0, kvm_rip_read(vcpu) };
	printf("minikvm: %s (guest CR0 0x%llx, RIP 0x%llx)\n", why, (unsigned long long)vcpu->arch.cr0,
	       (unsigned long long)kvm_rip_read(vcpu));
	return kvm_internal_error(vcpu, KVM_INTERNAL_ERROR_EMULATION, 2, data);
}

static int vmx_vcpu_run(struct kvm_vcpu *vcpu)
{
	struct vcpu_vmx *vmx = to_vmx(vcpu);
	vmx_vcpu_load(vcpu);
	if (vmx->insn_fail.insn != VMX_INSN_NONE)
		return vmx_insn_failure_exit(vcpu);
	int r = vmx_guest_mode_supported(vcpu);
	if (r <= 0)
		return r;
	/* A guest that never exits still comes back now and then (SDM 26.5.1),
	 * and by the time its next timer is due (lab 08): the only way back
	 * that works with the guest's IF clear under Bochs (BOCHS-VMX.md 1).
	 * The timer counts TSC >> IA32_VMX_MISC[4:0]. */
	if (vmx->ctls.pin_based_exec_ctrl & PIN_BASED_VMX_PREEMPTION_TIMER) {
		uint64_t ticks = VMX_PREEMPTION_TIMER_SLICE;
		uint64_t event = vcpu->arch.next_event_ns, now = host_clock_ns();
		if (event != UINT64_MAX) {
			uint64_t ns = event > now ? event - now : 0;
			uint64_t tsc = ns / 1000000 * host_tsc_khz() + ns % 1000000 * host_tsc_khz() / 1000000;
			uint64_t t = tsc >> (vmx_caps.misc & 0x1f);
			if (t < ticks)
				ticks = t;
		}
		vmcs_write(VMX_PREEMPTION_TIMER_VALUE, ticks);
	}
	/* With EPT a PAE guest's PDPTE registers go in through the VMCS at every
	 * entry: Bochs stores PDPTEs read from memory at VM exit
	 * (vmx_update_cr3_exiting). */
	if (enable_ept)
		vmx_ept_load_pdptrs(vcpu);
	vmx_load_syscall_msrs(vcpu);
	// @lab 04 vmx_vcpu_run: Enter the guest with VMLAUNCH or VMRESUME, then record why it exited (Linux: vmx_vcpu_run).
	lab_todo(4, "vmx_vcpu_run");
	// @end
}

// @region vmx_x86_ops
const struct kvm_x86_ops vmx_x86_ops = {
	.name = "kvm_intel",
	.vcpu_size = sizeof(struct vcpu_vmx),
	.hardware_setup = vmx_hardware_setup,
	.hardware_enable = vmx_hardware_enable,
	.hardware_disable = vmx_hardware_disable,
	.vcpu_create = vmx_vcpu_create,
	.vcpu_free = vmx_vcpu_free,
	.vcpu_run = vmx_vcpu_run,
	.handle_exit = vmx_handle_exit,
	.skip_emulated_instruction = vmx_skip_emulated_instruction,
	.get_exit_info = vmx_get_exit_info,
	.get_segment = vmx_get_segment,
	.set_segment = vmx_set_segment,
	.get_cs_db_l_bits = vmx_get_cs_db_l_bits,
	.get_cpl = vmx_get_cpl,
	.get_gdt = vmx_get_gdt,
	.set_gdt = vmx_set_gdt,
	.get_idt = vmx_get_idt,
	.set_idt = vmx_set_idt,
	.get_rflags = vmx_get_rflags,
	.set_rflags = vmx_set_rflags,
	.get_interrupt_shadow = vmx_get_interrupt_shadow,
	.set_interrupt_shadow = vmx_set_interrupt_shadow,
	.set_cr0 = vmx_set_cr0,
	.set_cr4 = vmx_set_cr4,
	.set_efer = vmx_set_efer,
	.get_msr = vmx_get_msr,
	.set_msr = vmx_set_msr,
	.set_tsc_offset = vmx_set_tsc_offset,
	.load_mmu_pgd = vmx_load_mmu_pgd,
	.flush_tlb_all = vmx_flush_tlb_all,
	.inject_exception = vmx_inject_exception,
	.inject_irq = vmx_inject_irq,
	.inject_nmi = vmx_inject_nmi,
	.cancel_injection = vmx_cancel_injection,
	.interrupt_allowed = vmx_interrupt_allowed,
	.nmi_allowed = vmx_nmi_allowed,
	.get_nmi_mask = vmx_get_nmi_mask,
	.enable_irq_window = vmx_enable_irq_window,
	.enable_nmi_window = vmx_enable_nmi_window,
};
// @end
