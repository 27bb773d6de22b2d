/* SPDX-License-Identifier: MIT */
/*
 * The x86 half of minikvm (Linux: arch/x86/kvm/x86.c and cpuid.c): vCPU state
 * <-> kvm_regs/kvm_sregs, the kvm_run exit protocol (KVM_EXIT_IO completed on
 * the next KVM_RUN as complete_fast_pio_in does), CPUID through the vCPU's
 * table, MSRs, control-register rules, and the hypercall ABI of guest_abi.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvmlabs/guest_abi.h"
#include "kvmlabs/host.h"
#include "kvmlabs/lab.h"
#include "kvm_host.h"
#include "vmx.h"

#define KVM_EPERM  1
#define KVM_RUN_SLICE_NS 100000000ull
#define KVM_ENOSYS 1000

/* ---- registers ---------------------------------------------------------- */

uint64_t kvm_register_read(struct kvm_vcpu *vcpu, int reg)
{
	return vcpu->arch.regs.gpr[reg & 15];
}

void kvm_register_write(struct kvm_vcpu *vcpu, int reg, uint64_t val)
{
	vcpu->arch.regs.gpr[reg & 15] = val;
}

static bool is_64_bit_mode(struct kvm_vcpu *vcpu)
{
	return (vcpu->arch.efer & EFER_LMA) && (vmx_read_guest_field(vcpu, GUEST_CS_AR_BYTES) & VMX_AR_L);
}

int kvm_skip_emulated_instruction(struct kvm_vcpu *vcpu)
{
	uint64_t len = vmx_read_guest_field(vcpu, VM_EXIT_INSTRUCTION_LEN);
	uint64_t rip = vcpu->arch.rip + len;
	vcpu->arch.rip = is_64_bit_mode(vcpu) ? rip : (uint32_t)rip;
	/* Executing an instruction ends an STI or MOV SS shadow (SDM Vol. 3 25.4.2). */
	uint64_t intr = vmx_read_guest_field(vcpu, GUEST_INTERRUPTIBILITY_INFO);
	if (intr & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))
		vmx_write_guest_field(vcpu, GUEST_INTERRUPTIBILITY_INFO,
				      intr & ~(uint64_t)(GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS));
	return 1;
}

void kvm_queue_exception(struct kvm_vcpu *vcpu, uint8_t vector)
{
	vcpu->arch.exception = (struct kvm_queued_exception){ .pending = true, .vector = vector };
}

void kvm_queue_exception_e(struct kvm_vcpu *vcpu, uint8_t vector, uint32_t error_code)
{
	vcpu->arch.exception = (struct kvm_queued_exception){
		.pending = true, .vector = vector, .has_error_code = true, .error_code = error_code,
	};
}

int kvm_internal_error(struct kvm_vcpu *vcpu, uint32_t suberror, int ndata, const uint64_t *data)
{
	struct kvm_run *run = vcpu->run;
	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = suberror;
	run->internal.ndata = (uint32_t)ndata;
	for (int i = 0; i < ndata && i < 16; i++)
		run->internal.data[i] = data[i];
	return 0;
}

uint64_t kvm_host_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* ---- port I/O exits (api.rst KVM_EXIT_IO) -------------------------------- */

static int complete_fast_pio_in(struct kvm_vcpu *vcpu)
{
	/* Userspace moved RIP away (KVM_SET_REGS): the IN is abandoned. */
	if (vcpu->arch.rip != vcpu->arch.pio_rip)
		return 1;
	const uint8_t *data = (const uint8_t *)vcpu->run + vcpu->run->io.data_offset;
	uint64_t val = 0;
	memcpy(&val, data, vcpu->arch.pio_size);
	uint64_t rax = kvm_register_read(vcpu, VCPU_REGS_RAX);
	/* IN AL/AX keep the rest of RAX; IN EAX zero-extends (SDM Vol. 1 3.4.1.1). */
	if (vcpu->arch.pio_size == 1)
		rax = (rax & ~0xffull) | val;
	else if (vcpu->arch.pio_size == 2)
		rax = (rax & ~0xffffull) | val;
	else
		rax = val;
	kvm_register_write(vcpu, VCPU_REGS_RAX, rax);
	vcpu->arch.rip += vcpu->arch.pio_instr_len;
	return 1;
}

static int complete_fast_pio_out(struct kvm_vcpu *vcpu)
{
	if (vcpu->arch.rip == vcpu->arch.pio_rip)
		vcpu->arch.rip += vcpu->arch.pio_instr_len;
	return 1;
}

static void kvm_prepare_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in, uint64_t value)
{
	struct kvm_run *run = vcpu->run;
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = in ? KVM_EXIT_IO_IN : KVM_EXIT_IO_OUT;
	run->io.size = (uint8_t)size;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = KVM_PIO_PAGE_OFFSET * KVM_PAGE_SIZE;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	memset(data, 0, 8);
	if (!in)
		memcpy(data, &value, (size_t)size);
}

int kvm_fast_pio(struct kvm_vcpu *vcpu, int size, uint16_t port, bool in)
{
	kvm_prepare_pio(vcpu, size, port, in, kvm_register_read(vcpu, VCPU_REGS_RAX));
	/* RIP stays on the instruction while userspace runs the access, as in
	 * Linux; the next KVM_RUN completes it. */
	vcpu->arch.pio_rip = vcpu->arch.rip;
	vcpu->arch.pio_instr_len = (uint32_t)vmx_read_guest_field(vcpu, VM_EXIT_INSTRUCTION_LEN);
	vcpu->arch.pio_size = (uint8_t)size;
	vcpu->arch.complete_userspace_io = in ? complete_fast_pio_in : complete_fast_pio_out;
	return 0;
}

int kvm_emulate_halt(struct kvm_vcpu *vcpu)
{
	kvm_skip_emulated_instruction(vcpu);
	/* Without an in-kernel irqchip nothing can wake the vCPU: userspace decides. */
	vcpu->run->exit_reason = KVM_EXIT_HLT;
	return 0;
}

/* ---- hypercalls (guest_abi.h) ------------------------------------------- */

/* VMCALL with RAX = number, RBX = argument; RAX = result, as KVM's
 * kvm_emulate_hypercall(). PUTCHAR and EXIT leave as the KVM_EXIT_IO the
 * guest would have caused with OUT to the debug-console and debug-exit ports,
 * so a VMM serves them with the devices it already has. */
int kvm_emulate_hypercall(struct kvm_vcpu *vcpu)
{
	bool op64 = is_64_bit_mode(vcpu);
	uint64_t nr = kvm_register_read(vcpu, VCPU_REGS_RAX);
	uint64_t a0 = kvm_register_read(vcpu, VCPU_REGS_RBX);
	if (!op64) {
		nr = (uint32_t)nr;
		a0 = (uint32_t)a0;
	}
	int64_t ret;
	int r = 1;
	if (vmx_get_cpl(vcpu) != 0) {
		ret = -KVM_EPERM;
	} else {
		switch (nr) {
		case ABI_HC_PUTCHAR:
			ret = 0;
			kvm_prepare_pio(vcpu, 1, ABI_DEBUGCON_PORT, false, a0 & 0xff);
			r = 0;
			break;
		case ABI_HC_EXIT:
			ret = 0;
			kvm_prepare_pio(vcpu, 4, ABI_DEBUG_EXIT_PORT, false, a0 & 0xff);
			r = 0;
			break;
		case ABI_HC_ECHO:
			ret = (int64_t)(a0 ^ 0x5a5a5a5aull);
			break;
		default:
			ret = ABI_HC_UNKNOWN_ERR;
			break;
		}
	}
	kvm_register_write(vcpu, VCPU_REGS_RAX, op64 ? (uint64_t)ret : (uint32_t)ret);
	kvm_skip_emulated_instruction(vcpu);
	return r;
}

/* ---- CPUID (Linux: arch/x86/kvm/cpuid.c) --------------------------------- */

static struct kvm_cpuid_entry2 *kvm_find_cpuid_entry(struct kvm_vcpu *vcpu, uint32_t function, uint32_t index)
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
		 * highest basic leaf (SDM Vol. 2A CPUID, "INPUT EAX = 0"). */
		struct kvm_cpuid_entry2 *basic = kvm_find_cpuid_entry(vcpu, 0, 0);
		struct kvm_cpuid_entry2 *range = kvm_find_cpuid_entry(vcpu, function & 0x80000000u, 0);
		if (basic && (!range || function > range->eax) && (function & 0xc0000000u) != 0x40000000u)
			e = kvm_find_cpuid_entry(vcpu, basic->eax, index);
	}
	*eax = e ? e->eax : 0;
	*ebx = e ? e->ebx : 0;
	*ecx = e ? e->ecx : 0;
	*edx = e ? e->edx : 0;
	/* Nested VMX is not offered, whatever the table says. */
	if (function == 1)
		*ecx &= ~(1u << 5);
}

static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

/* What minikvm can virtualise at this stage: host features minus those whose
 * instructions, MSRs or CR4 bits it does not handle (XSAVE, MTRR, MCA, APIC...). */
static const struct {
	uint32_t function, index;
	uint32_t eax, ebx, ecx, edx; /* masks */
} supported_cpuid_masks[] = {
	{ 0x00000000, 0, 0, ~0u, ~0u, ~0u },
	{ 0x00000001, 0, ~0u, 0x0000ffffu,
	  (1u << 0) | (1u << 1) | (1u << 9) | (1u << 13) | (1u << 19) | (1u << 20) | (1u << 22) | (1u << 23) |
		  (1u << 25) | (1u << 30),
	  (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
		  (1u << 11) | (1u << 13) | (1u << 15) | (1u << 16) | (1u << 17) | (1u << 19) | (1u << 23) |
		  (1u << 24) | (1u << 25) | (1u << 26) },
	{ 0x00000007, 0, 0, (1u << 3) | (1u << 8) | (1u << 9) | (1u << 19) | (1u << 23), 0, 0 },
	{ 0x80000000, 0, 0, ~0u, ~0u, ~0u },
	{ 0x80000001, 0, 0, 0, (1u << 0) | (1u << 5) | (1u << 8), (1u << 11) | (1u << 20) | (1u << 29) },
	{ 0x80000002, 0, ~0u, ~0u, ~0u, ~0u },
	{ 0x80000003, 0, ~0u, ~0u, ~0u, ~0u },
	{ 0x80000004, 0, ~0u, ~0u, ~0u, ~0u },
	{ 0x80000008, 0, 0xffffu, 0, 0, 0 },
};

static long kvm_dev_ioctl_get_supported_cpuid(struct kvm_cpuid2 *cpuid)
{
	const size_t n = sizeof(supported_cpuid_masks) / sizeof(supported_cpuid_masks[0]);
	uint32_t max_basic, max_ext, x;
	host_cpuid(0, 0, &max_basic, &x, &x, &x);
	host_cpuid(0x80000000u, 0, &max_ext, &x, &x, &x);
	uint32_t nent = 0;
	struct kvm_cpuid_entry2 entries[sizeof(supported_cpuid_masks) / sizeof(supported_cpuid_masks[0])];
	for (size_t i = 0; i < n; i++) {
		uint32_t f = supported_cpuid_masks[i].function;
		if ((f < 0x80000000u && f > max_basic) || (f >= 0x80000000u && f > max_ext))
			continue;
		struct kvm_cpuid_entry2 *e = &entries[nent++];
		memset(e, 0, sizeof(*e));
		e->function = f;
		e->index = supported_cpuid_masks[i].index;
		host_cpuid(f, e->index, &e->eax, &e->ebx, &e->ecx, &e->edx);
		e->eax &= supported_cpuid_masks[i].eax;
		e->ebx &= supported_cpuid_masks[i].ebx;
		e->ecx &= supported_cpuid_masks[i].ecx;
		e->edx &= supported_cpuid_masks[i].edx;
		if (f == 0)
			e->eax = max_basic < 7 ? max_basic : 7;
		if (f == 0x80000000u)
			e->eax = max_ext < 0x80000008u ? max_ext : 0x80000008u;
		if (f == 1)
			e->ecx |= 1u << 31; /* the hypervisor-present bit */
		if (f == 7)
			e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	}
	if (cpuid->nent < nent)
		return -E2BIG;
	memcpy(cpuid->entries, entries, nent * sizeof(entries[0]));
	cpuid->nent = nent;
	return 0;
}

/* ---- MSRs (SDM Vol. 4) --------------------------------------------------- */

#define MSR_IA32_TSC               0x00000010
#define MSR_IA32_APICBASE          0x0000001b
#define MSR_IA32_SYSENTER_CS       0x00000174
#define MSR_IA32_SYSENTER_ESP      0x00000175
#define MSR_IA32_SYSENTER_EIP      0x00000176
#define MSR_IA32_MISC_ENABLE       0x000001a0
#define MSR_IA32_CR_PAT            0x00000277
#define MSR_EFER                   0xc0000080
#define MSR_STAR                   0xc0000081
#define MSR_LSTAR                  0xc0000082
#define MSR_CSTAR                  0xc0000083
#define MSR_SYSCALL_MASK           0xc0000084
#define MSR_FS_BASE                0xc0000100
#define MSR_GS_BASE                0xc0000101
#define MSR_KERNEL_GS_BASE         0xc0000102

static const uint32_t msrs_to_save[] = {
	MSR_IA32_TSC, MSR_IA32_APICBASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP, MSR_IA32_SYSENTER_EIP,
	MSR_IA32_MISC_ENABLE, MSR_IA32_CR_PAT, MSR_EFER, MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_SYSCALL_MASK,
	MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE,
};

static bool pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		unsigned int t = (pat >> (8 * i)) & 0xff;
		if (t == 2 || t == 3 || t > 7)
			return false;
	}
	return true;
}

static bool is_noncanonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) != va;
}

/* 0 on success, 1 when the guest's RDMSR must raise #GP. */
int kvm_get_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t *data)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	switch (index) {
	case MSR_IA32_TSC:          *data = kvm_host_rdtsc() + a->tsc_offset; return 0;
	case MSR_IA32_APICBASE:     *data = a->apic_base; return 0;
	case MSR_IA32_SYSENTER_CS:  *data = vmx_read_guest_field(vcpu, GUEST_SYSENTER_CS); return 0;
	case MSR_IA32_SYSENTER_ESP: *data = vmx_read_guest_field(vcpu, GUEST_SYSENTER_ESP); return 0;
	case MSR_IA32_SYSENTER_EIP: *data = vmx_read_guest_field(vcpu, GUEST_SYSENTER_EIP); return 0;
	case MSR_IA32_MISC_ENABLE:  *data = a->misc_enable; return 0;
	case MSR_IA32_CR_PAT:       *data = a->pat; return 0;
	case MSR_EFER:              *data = a->efer; return 0;
	case MSR_STAR:              *data = a->star; return 0;
	case MSR_LSTAR:             *data = a->lstar; return 0;
	case MSR_CSTAR:             *data = a->cstar; return 0;
	case MSR_SYSCALL_MASK:      *data = a->sfmask; return 0;
	case MSR_FS_BASE:           *data = vmx_read_guest_field(vcpu, GUEST_FS_BASE); return 0;
	case MSR_GS_BASE:           *data = vmx_read_guest_field(vcpu, GUEST_GS_BASE); return 0;
	case MSR_KERNEL_GS_BASE:    *data = a->kernel_gs_base; return 0;
	default:                    return 1;
	}
}

static int kvm_set_efer(struct kvm_vcpu *vcpu, uint64_t efer)
{
	if (efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE))
		return 1;
	/* LME may not change while paging is on; LMA is the processor's to set. */
	if ((vcpu->arch.cr0 & X86_CR0_PG) && ((efer ^ vcpu->arch.efer) & EFER_LME))
		return 1;
	efer = (efer & ~EFER_LMA) | (vcpu->arch.efer & EFER_LMA);
	vmx_set_efer(vcpu, efer);
	return 0;
}

int kvm_set_msr(struct kvm_vcpu *vcpu, uint32_t index, uint64_t data)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	switch (index) {
	case MSR_IA32_TSC:
		a->tsc_offset = data - kvm_host_rdtsc();
		vmx_set_tsc_offset(vcpu, a->tsc_offset);
		return 0;
	case MSR_IA32_APICBASE:
		a->apic_base = data;
		return 0;
	case MSR_IA32_SYSENTER_CS:
		vmx_write_guest_field(vcpu, GUEST_SYSENTER_CS, (uint32_t)data);
		return 0;
	case MSR_IA32_SYSENTER_ESP:
	case MSR_IA32_SYSENTER_EIP:
		if (is_noncanonical(data))
			return 1;
		vmx_write_guest_field(vcpu, index == MSR_IA32_SYSENTER_ESP ? GUEST_SYSENTER_ESP : GUEST_SYSENTER_EIP, data);
		return 0;
	case MSR_IA32_MISC_ENABLE:
		a->misc_enable = data;
		return 0;
	case MSR_IA32_CR_PAT:
		if (!pat_valid(data))
			return 1;
		a->pat = data;
		return 0;
	case MSR_EFER:
		return kvm_set_efer(vcpu, data);
	case MSR_STAR:
		a->star = data;
		return 0;
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_KERNEL_GS_BASE:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
		if (is_noncanonical(data))
			return 1;
		if (index == MSR_LSTAR)
			a->lstar = data;
		else if (index == MSR_CSTAR)
			a->cstar = data;
		else if (index == MSR_KERNEL_GS_BASE)
			a->kernel_gs_base = data;
		else
			vmx_write_guest_field(vcpu, index == MSR_FS_BASE ? GUEST_FS_BASE : GUEST_GS_BASE, data);
		return 0;
	case MSR_SYSCALL_MASK:
		a->sfmask = (uint32_t)data;
		return 0;
	default:
		return 1;
	}
}

/* KVM_GET_MSRS/KVM_SET_MSRS: the number of entries done, stopping at the first failure. */
static long kvm_vcpu_ioctl_msrs(struct kvm_vcpu *vcpu, struct kvm_msrs *msrs, bool set)
{
	if (msrs->nmsrs > 256)
		return -E2BIG;
	uint32_t i;
	for (i = 0; i < msrs->nmsrs; i++) {
		struct kvm_msr_entry *e = &msrs->entries[i];
		uint64_t data = e->data;
		int r = set ? kvm_set_msr(vcpu, e->index, data) : kvm_get_msr(vcpu, e->index, &data);
		if (r)
			break;
		e->data = data;
	}
	return i;
}

/* ---- control registers (Linux: kvm_set_cr0 and friends) ----------------- */
/* Each returns 0, or 1 when the guest's MOV must raise #GP. The mode the
 * result puts the guest in is judged at the next entry (mmu->check_mode). */

int kvm_set_cr0(struct kvm_vcpu *vcpu, uint64_t cr0)
{
	cr0 |= X86_CR0_ET;
	if (cr0 >> 32)
		return 1;
	if ((cr0 & X86_CR0_NW) && !(cr0 & X86_CR0_CD))
		return 1;
	if ((cr0 & X86_CR0_PG) && !(cr0 & X86_CR0_PE))
		return 1;
	vmx_set_cr0(vcpu, cr0);
	return 0;
}

int kvm_set_cr3(struct kvm_vcpu *vcpu, uint64_t cr3)
{
	if (!is_64_bit_mode(vcpu))
		cr3 = (uint32_t)cr3;
	vcpu->arch.cr3 = cr3;
	return 0;
}

/* The CR4 bits minikvm's guests may set: those whose features CPUID offers. */
#define KVM_CR4_GUEST_VALID (X86_CR4_VME | X86_CR4_PVI | X86_CR4_TSD | X86_CR4_DE | X86_CR4_PSE | \
			     X86_CR4_PAE | X86_CR4_MCE | X86_CR4_PGE | X86_CR4_PCE | X86_CR4_OSFXSR | \
			     X86_CR4_OSXMMEXCPT)

int kvm_set_cr4(struct kvm_vcpu *vcpu, uint64_t cr4)
{
	if (cr4 & ~KVM_CR4_GUEST_VALID)
		return 1; /* VMXE among them: no nested VMX */
	vmx_set_cr4(vcpu, cr4);
	return 0;
}

int kvm_set_cr8(struct kvm_vcpu *vcpu, uint64_t cr8)
{
	if (cr8 & ~0xfull)
		return 1;
	vcpu->arch.cr8 = cr8;
	return 0;
}

void kvm_lmsw(struct kvm_vcpu *vcpu, uint16_t msw)
{
	/* LMSW can set PE but never clear it (SDM Vol. 2A LMSW). */
	kvm_set_cr0(vcpu, (vcpu->arch.cr0 & ~0x0eull) | (msw & 0x0full));
}

/* ---- vCPU ioctls --------------------------------------------------------- */

int kvm_arch_vcpu_init(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_arch *a = &vcpu->arch;
	a->mmu = kvm_mmu_for_stage();
	/* The reset state (SDM Vol. 3 10.1.1, Table 10-1), as kvm_vcpu_reset(). */
	a->apic_base = 0xfee00000ull | (1ull << 11) | (vcpu->vcpu_id == 0 ? 1ull << 8 : 0);
	a->pat = 0x0007040600070406ull;
	a->misc_enable = (1ull << 11) | (1ull << 12);
	a->rip = 0xfff0;
	a->rflags = X86_RFLAGS_FIXED;
	a->regs.gpr[VCPU_REGS_RDX] = 0x600;
	struct kvm_sregs sregs = { 0 };
	struct kvm_segment data = { .limit = 0xffff, .type = 3, .present = 1, .s = 1 };
	sregs.cs = data;
	sregs.cs.type = 11;
	sregs.cs.selector = 0xf000;
	sregs.cs.base = 0xffff0000ull;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.ldt = (struct kvm_segment){ .limit = 0xffff, .type = 2, .present = 1 };
	sregs.tr = (struct kvm_segment){ .limit = 0xffff, .type = 11, .present = 1 };
	sregs.gdt.limit = sregs.idt.limit = 0xffff;
	sregs.cr0 = X86_CR0_ET | X86_CR0_NW | X86_CR0_CD;
	sregs.apic_base = a->apic_base;
	return vmx_set_sregs(vcpu, &sregs);
}

static void kvm_get_regs(struct kvm_vcpu *vcpu, struct kvm_regs *r)
{
	const uint64_t *g = vcpu->arch.regs.gpr;
	*r = (struct kvm_regs){
		.rax = g[VCPU_REGS_RAX], .rbx = g[VCPU_REGS_RBX], .rcx = g[VCPU_REGS_RCX], .rdx = g[VCPU_REGS_RDX],
		.rsi = g[VCPU_REGS_RSI], .rdi = g[VCPU_REGS_RDI], .rsp = g[VCPU_REGS_RSP], .rbp = g[VCPU_REGS_RBP],
		.r8 = g[VCPU_REGS_R8], .r9 = g[VCPU_REGS_R9], .r10 = g[VCPU_REGS_R10], .r11 = g[VCPU_REGS_R11],
		.r12 = g[VCPU_REGS_R12], .r13 = g[VCPU_REGS_R13], .r14 = g[VCPU_REGS_R14], .r15 = g[VCPU_REGS_R15],
		.rip = vcpu->arch.rip, .rflags = vcpu->arch.rflags,
	};
}

static void kvm_set_regs(struct kvm_vcpu *vcpu, const struct kvm_regs *r)
{
	uint64_t *g = vcpu->arch.regs.gpr;
	g[VCPU_REGS_RAX] = r->rax; g[VCPU_REGS_RBX] = r->rbx; g[VCPU_REGS_RCX] = r->rcx; g[VCPU_REGS_RDX] = r->rdx;
	g[VCPU_REGS_RSI] = r->rsi; g[VCPU_REGS_RDI] = r->rdi; g[VCPU_REGS_RSP] = r->rsp; g[VCPU_REGS_RBP] = r->rbp;
	g[VCPU_REGS_R8] = r->r8; g[VCPU_REGS_R9] = r->r9; g[VCPU_REGS_R10] = r->r10; g[VCPU_REGS_R11] = r->r11;
	g[VCPU_REGS_R12] = r->r12; g[VCPU_REGS_R13] = r->r13; g[VCPU_REGS_R14] = r->r14; g[VCPU_REGS_R15] = r->r15;
	vcpu->arch.rip = r->rip;
	vcpu->arch.rflags = r->rflags | X86_RFLAGS_FIXED;
	vcpu->arch.exception.pending = false;
	vcpu->vmx.checked = false;
}

/* The consistency KVM demands of KVM_SET_SREGS (kvm_is_valid_sregs). */
static bool kvm_valid_sregs(const struct kvm_sregs *s)
{
	if ((s->efer & EFER_LME) && (s->cr0 & X86_CR0_PG)) {
		if (!(s->cr4 & X86_CR4_PAE) || !(s->efer & EFER_LMA))
			return false;
	} else if (s->efer & EFER_LMA) {
		return false;
	}
	return !(s->cr0 >> 32) && !((s->cr0 & X86_CR0_PG) && !(s->cr0 & X86_CR0_PE));
}

static long kvm_arch_vcpu_ioctl_run(struct kvm_vcpu *vcpu, void *arg)
{
	if (arg)
		return -EINVAL;
	struct kvm_run *run = vcpu->run;
	if (vcpu->arch.complete_userspace_io) {
		int (*cui)(struct kvm_vcpu *) = vcpu->arch.complete_userspace_io;
		vcpu->arch.complete_userspace_io = NULL;
		int r = cui(vcpu);
		if (r <= 0)
			return r;
	}
	if (run->immediate_exit) {
		run->exit_reason = KVM_EXIT_INTR;
		return -EINTR;
	}
	run->exit_reason = KVM_EXIT_UNKNOWN;
	/* A Linux VMM gets out of a KVM_RUN that never exits with a signal; the
	 * bare-metal host has none, so KVM_RUN gives the VMM its thread back with
	 * -EINTR after a while in the guest, as if a timer signal had arrived. */
	uint64_t deadline = host_now_ns() + KVM_RUN_SLICE_NS;
	int r;
	for (;;) {
		r = vmx_vcpu_run(vcpu);
		if (r <= 0)
			break;
		if (host_now_ns() >= deadline) {
			run->exit_reason = KVM_EXIT_INTR;
			r = -EINTR;
			break;
		}
	}
	return r < 0 ? r : 0;
}

long kvm_arch_vcpu_ioctl(struct kvm_vcpu *vcpu, unsigned long request, void *arg)
{
	if (!arg && request != KVM_RUN)
		return -EFAULT;
	switch (request) {
	case KVM_RUN:
		return kvm_arch_vcpu_ioctl_run(vcpu, arg);
	case KVM_GET_REGS:
		kvm_get_regs(vcpu, arg);
		return 0;
	case KVM_SET_REGS:
		kvm_set_regs(vcpu, arg);
		return 0;
	case KVM_GET_SREGS: {
		struct kvm_sregs *s = arg;
		vmx_get_sregs(vcpu, s);
		s->cr2 = vcpu->arch.regs.cr2;
		s->cr3 = vcpu->arch.cr3;
		s->cr8 = vcpu->arch.cr8;
		s->apic_base = vcpu->arch.apic_base;
		memset(s->interrupt_bitmap, 0, sizeof(s->interrupt_bitmap));
		return 0;
	}
	case KVM_SET_SREGS: {
		const struct kvm_sregs *s = arg;
		if (!kvm_valid_sregs(s))
			return -EINVAL;
		int r = vmx_set_sregs(vcpu, s);
		if (r < 0)
			return r;
		vcpu->arch.regs.cr2 = s->cr2;
		vcpu->arch.cr3 = s->cr3;
		vcpu->arch.cr8 = s->cr8 & 0xf;
		vcpu->arch.apic_base = s->apic_base;
		vcpu->vmx.checked = false;
		return 0;
	}
	case KVM_GET_MSRS:
		return kvm_vcpu_ioctl_msrs(vcpu, arg, false);
	case KVM_SET_MSRS:
		return kvm_vcpu_ioctl_msrs(vcpu, arg, true);
	case KVM_SET_CPUID2: {
		struct kvm_cpuid2 *c = arg;
		if (c->nent > KVM_MAX_CPUID_ENTRIES)
			return -E2BIG;
		memcpy(vcpu->arch.cpuid_entries, c->entries, c->nent * sizeof(c->entries[0]));
		vcpu->arch.cpuid_nent = (int)c->nent;
		return 0;
	}
	case KVM_GET_CPUID2: {
		struct kvm_cpuid2 *c = arg;
		uint32_t have = (uint32_t)vcpu->arch.cpuid_nent;
		bool fits = c->nent >= have;
		if (fits)
			memcpy(c->entries, vcpu->arch.cpuid_entries, have * sizeof(c->entries[0]));
		c->nent = have;
		return fits ? 0 : -E2BIG;
	}
	case KVM_TRANSLATE: {
		struct kvm_translation *t = arg;
		uint64_t gpa;
		bool ok = vcpu->arch.mmu->translate(vcpu, t->linear_address, &gpa);
		t->physical_address = ok ? gpa : ~0ull;
		t->valid = ok;
		t->writeable = ok;
		t->usermode = 0;
		return 0;
	}
	default:
		return -EINVAL; /* kvm_arch_vcpu_ioctl's default */
	}
}

long kvm_arch_dev_ioctl(unsigned long request, void *arg)
{
	switch (request) {
	case KVM_GET_SUPPORTED_CPUID:
		if (!arg)
			return -EFAULT;
		return kvm_dev_ioctl_get_supported_cpuid(arg);
	case KVM_GET_MSR_INDEX_LIST: {
		struct kvm_msr_list *list = arg;
		uint32_t n = sizeof(msrs_to_save) / sizeof(msrs_to_save[0]);
		if (!list)
			return -EFAULT;
		bool fits = list->nmsrs >= n;
		list->nmsrs = n;
		if (!fits)
			return -E2BIG;
		memcpy(list->indices, msrs_to_save, sizeof(msrs_to_save));
		return 0;
	}
	default:
		return -EINVAL; /* kvm_arch_dev_ioctl's default */
	}
}

int kvm_arch_check_extension(long cap)
{
	switch (cap) {
	case KVM_CAP_EXT_CPUID:
	case KVM_CAP_INTERNAL_ERROR_DATA:
		return 1;
	default:
		/* IRQCHIP, IRQFD, IOEVENTFD, MP_STATE, XSAVE, ... arrive in later labs. */
		return 0;
	}
}
