/* SPDX-License-Identifier: MIT */
/*
 * VM-entry checks in software (SDM Vol. 3 27.2 and 27.3.1, current numbering;
 * chapter 26 in SDM editions before 2023). Each rule is one function in
 * vmentry_rules[], named and tied to its SDM section, so a failure message says
 * which rule, which field and which value. The processor checks more than
 * this (SMM, Intel PT, CET, posted interrupts...); what is here covers the
 * controls and the guest-state mistakes a hypervisor author makes first.
 *
 * A few rules are the kit's own, not the SDM's (their names start "kit-"):
 * values every check accepts but that no working hypervisor writes, such as
 * a HOST_RIP of 0, which passes VM entry and fails only at the first VM exit,
 * far from the code that forgot it. Their messages say so.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <x86/const.h>
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "vmcs.h"
#include "vmx_entry_check.h"

struct check_ctx {
	const struct vmentry_check_env *env;
	const char *rule;
	const char *section;
	unsigned int failures;
	/* Values most rules need, read once. */
	uint32_t pin, proc, proc2, exit, entry;
	bool unrestricted, ia32e_guest, host64, v8086;
	uint64_t cr0, cr4, rflags;
	unsigned int maxphyaddr;
};

static uint64_t rd(struct check_ctx *c, uint32_t field)
{
	return c->env->vmcs->read(c->env->vmcs->ctx, field);
}

static void report_failure(struct check_ctx *c, struct vmentry_check_failure *f)
{
	c->failures++;
	if (c->env->report)
		c->env->report(c->env->report_arg, f);
}

static void fail(struct check_ctx *c, uint32_t field, uint64_t value, const char *what, const char *why, ...)
{
	struct vmentry_check_failure f = { .rule = c->rule, .section = c->section, .field = field, .value = value };
	char reason[160];
	va_list ap;
	va_start(ap, why);
	vsnprintf(reason, sizeof(reason), why, ap);
	va_end(ap);
	snprintf(f.message, sizeof(f.message), "%s 0x%04llx: %s (SDM %s)", what, (unsigned long long)value,
		 reason, c->section);
	report_failure(c, &f);
}

/* A kit rule's failure: the message is the whole explanation (it cites the
 * SDM section that makes the value useless) and says that no SDM check fails. */
static void kit_fail(struct check_ctx *c, uint32_t field, uint64_t value, const char *message)
{
	struct vmentry_check_failure f = { .rule = c->rule, .section = c->section, .field = field, .value = value };
	snprintf(f.message, sizeof(f.message), "%s [kit rule: the processor's own checks accept it]", message);
	report_failure(c, &f);
}

static bool canonical(uint64_t va)
{
	int64_t s = (int64_t)(va << 16) >> 16;
	return (uint64_t)s == va;
}

static bool beyond_maxphyaddr(struct check_ctx *c, uint64_t pa)
{
	return c->maxphyaddr < 64 && (pa >> c->maxphyaddr) != 0;
}

static int lowest_bit(uint64_t v)
{
	for (int i = 0; i < 64; i++)
		if (v & (1ull << i))
			return i;
	return -1;
}

/* ---- 27.2.1 VMX controls ------------------------------------------------ */

static void check_allowed(struct check_ctx *c, uint32_t field, uint32_t value, enum vmx_ctl_kind kind,
			  const char *what)
{
	uint64_t msr = vmx_control_msr(c->env->caps, kind);
	uint32_t must_be_1 = (uint32_t)msr, may_be_1 = (uint32_t)(msr >> 32);
	const char *msr_name = vmx_control_msr_name(c->env->caps, kind);
	if ((value & must_be_1) != must_be_1)
		fail(c, field, value, what, "bit %d must be 1 (allowed-0 setting in %s)",
		     lowest_bit(must_be_1 & ~value), msr_name);
	if (value & ~may_be_1)
		fail(c, field, value, what, "bit %d must be 0 (allowed-1 setting in %s)",
		     lowest_bit(value & ~may_be_1), msr_name);
}

static void rule_ctl_pin(struct check_ctx *c)
{
	check_allowed(c, PIN_BASED_VM_EXEC_CONTROL, c->pin, VMX_CTL_PIN, "pin-based controls");
}

static void rule_ctl_proc(struct check_ctx *c)
{
	check_allowed(c, CPU_BASED_VM_EXEC_CONTROL, c->proc, VMX_CTL_PROC, "primary processor-based controls");
}

static void rule_ctl_proc2(struct check_ctx *c)
{
	if (c->proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
		check_allowed(c, SECONDARY_VM_EXEC_CONTROL, c->proc2, VMX_CTL_PROC2,
			      "secondary processor-based controls");
}

static void rule_ctl_exit(struct check_ctx *c)
{
	check_allowed(c, VM_EXIT_CONTROLS, c->exit, VMX_CTL_EXIT, "VM-exit controls");
}

static void rule_ctl_entry(struct check_ctx *c)
{
	check_allowed(c, VM_ENTRY_CONTROLS, c->entry, VMX_CTL_ENTRY, "VM-entry controls");
}

static void rule_ctl_cr3_targets(struct check_ctx *c)
{
	uint64_t n = rd(c, CR3_TARGET_COUNT);
	if (n > VMX_MISC_CR3_TARGETS(c->env->caps->misc))
		fail(c, CR3_TARGET_COUNT, n, "CR3-target count", "more than the %u IA32_VMX_MISC allows",
		     VMX_MISC_CR3_TARGETS(c->env->caps->misc));
}

static void check_page_address(struct check_ctx *c, uint32_t field, const char *what)
{
	uint64_t pa = rd(c, field);
	if (pa & 0xfff)
		fail(c, field, pa, what, "must be 4-KiB aligned");
	else if (beyond_maxphyaddr(c, pa))
		fail(c, field, pa, what, "beyond the physical-address width (%u bits)", c->maxphyaddr);
}

static void rule_ctl_bitmaps(struct check_ctx *c)
{
	if (c->proc & CPU_BASED_USE_IO_BITMAPS) {
		check_page_address(c, IO_BITMAP_A, "I/O bitmap A address");
		check_page_address(c, IO_BITMAP_B, "I/O bitmap B address");
	}
	if (c->proc & CPU_BASED_USE_MSR_BITMAPS)
		check_page_address(c, MSR_BITMAP, "MSR bitmap address");
}

static void rule_ctl_nmi(struct check_ctx *c)
{
	if (!(c->pin & PIN_BASED_NMI_EXITING) && (c->pin & PIN_BASED_VIRTUAL_NMIS))
		fail(c, PIN_BASED_VM_EXEC_CONTROL, c->pin, "pin-based controls",
		     "virtual NMIs needs NMI exiting");
	if (!(c->pin & PIN_BASED_VIRTUAL_NMIS) && (c->proc & CPU_BASED_NMI_WINDOW_EXITING))
		fail(c, CPU_BASED_VM_EXEC_CONTROL, c->proc, "primary processor-based controls",
		     "NMI-window exiting needs virtual NMIs");
}

static void rule_ctl_apic(struct check_ctx *c)
{
	uint32_t needs_tpr_shadow = SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE | SECONDARY_EXEC_APIC_REGISTER_VIRT |
				    SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY;
	if (c->proc & CPU_BASED_TPR_SHADOW)
		check_page_address(c, VIRTUAL_APIC_PAGE_ADDR, "virtual-APIC address");
	else if (c->proc2 & needs_tpr_shadow)
		fail(c, SECONDARY_VM_EXEC_CONTROL, c->proc2, "secondary processor-based controls",
		     "x2APIC mode, APIC-register and virtual-interrupt delivery need use TPR shadow");
	if (c->proc2 & SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES)
		check_page_address(c, APIC_ACCESS_ADDR, "APIC-access address");
}

static void rule_ctl_ept(struct check_ctx *c)
{
	if ((c->proc2 & SECONDARY_EXEC_UNRESTRICTED_GUEST) && !(c->proc2 & SECONDARY_EXEC_ENABLE_EPT))
		fail(c, SECONDARY_VM_EXEC_CONTROL, c->proc2, "secondary processor-based controls",
		     "unrestricted guest needs enable EPT");
	if (!(c->proc2 & SECONDARY_EXEC_ENABLE_EPT))
		return;
	uint64_t eptp = rd(c, EPT_POINTER);
	unsigned int memtype = eptp & 7, walk = (eptp >> 3) & 7;
	if (memtype != 0 && memtype != 6)
		fail(c, EPT_POINTER, eptp, "EPT pointer", "memory type %u is neither UC (0) nor WB (6)", memtype);
	if (walk != 3 && walk != 4)
		fail(c, EPT_POINTER, eptp, "EPT pointer", "page-walk length - 1 is %u, not 3 (4 levels)", walk);
	if (eptp & 0xf80)
		fail(c, EPT_POINTER, eptp, "EPT pointer", "bits 11:7 are reserved");
	if (beyond_maxphyaddr(c, eptp & ~0xfffull))
		fail(c, EPT_POINTER, eptp, "EPT pointer", "beyond the physical-address width");
}

static void rule_ctl_vpid(struct check_ctx *c)
{
	if ((c->proc2 & SECONDARY_EXEC_ENABLE_VPID) && rd(c, VIRTUAL_PROCESSOR_ID) == 0)
		fail(c, VIRTUAL_PROCESSOR_ID, 0, "VPID", "must not be 0 when enable VPID is 1");
}

static void rule_ctl_preemption_timer(struct check_ctx *c)
{
	if (!(c->pin & PIN_BASED_VMX_PREEMPTION_TIMER) && (c->exit & VM_EXIT_SAVE_VMX_PREEMPTION_TIMER))
		fail(c, VM_EXIT_CONTROLS, c->exit, "VM-exit controls",
		     "save VMX-preemption timer value needs activate VMX-preemption timer");
}

static void rule_ctl_msr_areas(struct check_ctx *c)
{
	static const struct { uint32_t count, addr; const char *what; } areas[] = {
		{ VM_EXIT_MSR_STORE_COUNT, VM_EXIT_MSR_STORE_ADDR, "VM-exit MSR-store address" },
		{ VM_EXIT_MSR_LOAD_COUNT, VM_EXIT_MSR_LOAD_ADDR, "VM-exit MSR-load address" },
		{ VM_ENTRY_MSR_LOAD_COUNT, VM_ENTRY_MSR_LOAD_ADDR, "VM-entry MSR-load address" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(areas); i++) {
		if (!rd(c, areas[i].count))
			continue;
		uint64_t pa = rd(c, areas[i].addr);
		if (pa & 0xf)
			fail(c, areas[i].addr, pa, areas[i].what, "must be 16-byte aligned");
		else if (beyond_maxphyaddr(c, pa))
			fail(c, areas[i].addr, pa, areas[i].what, "beyond the physical-address width");
	}
}

static void rule_ctl_entry_smm(struct check_ctx *c)
{
	if (c->entry & (VM_ENTRY_SMM | VM_ENTRY_DEACT_DUAL_MONITOR))
		fail(c, VM_ENTRY_CONTROLS, c->entry, "VM-entry controls",
		     "entry to SMM and deactivate dual-monitor treatment must be 0 outside SMM");
}

static void rule_ctl_event_injection(struct check_ctx *c)
{
	uint64_t info = rd(c, VM_ENTRY_INTR_INFO_FIELD);
	if (!(info & INTR_INFO_VALID_MASK))
		return;
	const char *what = "VM-entry interruption information";
	uint32_t type = info & INTR_INFO_INTR_TYPE_MASK, vector = info & INTR_INFO_VECTOR_MASK;
	if (type == INTR_TYPE_RESERVED)
		fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "interruption type 1 is reserved");
	if (type == INTR_TYPE_NMI_INTR && vector != NMI_VECTOR)
		fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "an NMI must have vector 2");
	if (type == INTR_TYPE_HARD_EXCEPTION && vector > 31)
		fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "a hardware exception needs a vector below 32");
	if (type == INTR_TYPE_OTHER_EVENT && vector != 0)
		fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "other event (type 7) must have vector 0");
	if (info & INTR_INFO_DELIVER_CODE_MASK) {
		/* Only the exceptions that push an error code, and only in protected mode. */
		bool has_code = vector == DF_VECTOR || vector == TS_VECTOR || vector == NP_VECTOR ||
				vector == SS_VECTOR || vector == GP_VECTOR || vector == PF_VECTOR ||
				vector == AC_VECTOR || vector == CP_VECTOR;
		if (type != INTR_TYPE_HARD_EXCEPTION || !has_code)
			fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "vector %u of type %u delivers no error code",
			     vector, type >> 8);
		if (!(c->cr0 & X86_CR0_PE) && !c->unrestricted)
			fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "no error code in real mode");
		uint64_t code = rd(c, VM_ENTRY_EXCEPTION_ERROR_CODE);
		if (code & 0xffff8000ull)
			fail(c, VM_ENTRY_EXCEPTION_ERROR_CODE, code, "VM-entry exception error code",
			     "bits 31:15 must be 0");
	}
	if (info & 0x7ffff000ull)
		fail(c, VM_ENTRY_INTR_INFO_FIELD, info, what, "bits 30:12 are reserved");
	if (type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_PRIV_SW_EXCEPTION || type == INTR_TYPE_SOFT_EXCEPTION) {
		uint64_t len = rd(c, VM_ENTRY_INSTRUCTION_LEN);
		bool zero_ok = c->env->caps->misc & VMX_MISC_ZERO_LEN_INS;
		if (len > 15 || (len == 0 && !zero_ok))
			fail(c, VM_ENTRY_INSTRUCTION_LEN, len, "VM-entry instruction length",
			     "a software event needs a length of 1 to 15");
	}
}

/* ---- 27.2.2-27.2.4 host state ------------------------------------------- */

static void rule_host_cr(struct check_ctx *c)
{
	const struct vmx_capability_msrs *caps = c->env->caps;
	uint64_t cr0 = rd(c, HOST_CR0), cr4 = rd(c, HOST_CR4), cr3 = rd(c, HOST_CR3);
	if (!vmx_fixed_bits_ok(cr0, caps->cr0_fixed0, caps->cr0_fixed1))
		fail(c, HOST_CR0, cr0, "host CR0", "violates IA32_VMX_CR0_FIXED0/1 (0x%llx/0x%llx)",
		     (unsigned long long)caps->cr0_fixed0, (unsigned long long)caps->cr0_fixed1);
	if (!vmx_fixed_bits_ok(cr4, caps->cr4_fixed0, caps->cr4_fixed1))
		fail(c, HOST_CR4, cr4, "host CR4", "violates IA32_VMX_CR4_FIXED0/1 (0x%llx/0x%llx)",
		     (unsigned long long)caps->cr4_fixed0, (unsigned long long)caps->cr4_fixed1);
	if (beyond_maxphyaddr(c, cr3))
		fail(c, HOST_CR3, cr3, "host CR3", "bits beyond the physical-address width must be 0");
}

static void rule_host_msrs(struct check_ctx *c)
{
	uint64_t esp = rd(c, HOST_IA32_SYSENTER_ESP), eip = rd(c, HOST_IA32_SYSENTER_EIP);
	if (c->env->host_in_ia32e_mode && !canonical(esp))
		fail(c, HOST_IA32_SYSENTER_ESP, esp, "host IA32_SYSENTER_ESP", "must be canonical");
	if (c->env->host_in_ia32e_mode && !canonical(eip))
		fail(c, HOST_IA32_SYSENTER_EIP, eip, "host IA32_SYSENTER_EIP", "must be canonical");
	if (c->exit & VM_EXIT_LOAD_IA32_EFER) {
		uint64_t efer = rd(c, HOST_IA32_EFER);
		bool lma = efer & EFER_LMA, lme = efer & EFER_LME;
		if (efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
			fail(c, HOST_IA32_EFER, efer, "host IA32_EFER", "reserved bits must be 0");
		if (lma != c->host64 || lme != c->host64)
			fail(c, HOST_IA32_EFER, efer, "host IA32_EFER",
			     "LMA and LME must equal the host address-space size exit control (%d)", c->host64);
	}
	if (c->exit & VM_EXIT_LOAD_IA32_PAT) {
		uint64_t pat = rd(c, HOST_IA32_PAT);
		for (int i = 0; i < 8; i++) {
			unsigned int t = (pat >> (8 * i)) & 0xff;
			if (t == 2 || t == 3 || t > 7) {
				fail(c, HOST_IA32_PAT, pat, "host IA32_PAT", "entry %d has invalid memory type %u", i, t);
				break;
			}
		}
	}
}

static void rule_host_selectors(struct check_ctx *c)
{
	static const struct { uint32_t field; const char *what; } sels[] = {
		{ HOST_ES_SELECTOR, "host ES selector" }, { HOST_CS_SELECTOR, "host CS selector" },
		{ HOST_SS_SELECTOR, "host SS selector" }, { HOST_DS_SELECTOR, "host DS selector" },
		{ HOST_FS_SELECTOR, "host FS selector" }, { HOST_GS_SELECTOR, "host GS selector" },
		{ HOST_TR_SELECTOR, "host TR selector" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(sels); i++) {
		uint64_t sel = rd(c, sels[i].field);
		if (sel & 7)
			fail(c, sels[i].field, sel, sels[i].what, "RPL and TI must be 0");
	}
	if (rd(c, HOST_CS_SELECTOR) == 0)
		fail(c, HOST_CS_SELECTOR, 0, "host CS selector", "must not be 0");
	if (rd(c, HOST_TR_SELECTOR) == 0)
		fail(c, HOST_TR_SELECTOR, 0, "host TR selector", "must not be 0 (load a TSS in the host)");
	if (!c->host64 && rd(c, HOST_SS_SELECTOR) == 0)
		fail(c, HOST_SS_SELECTOR, 0, "host SS selector", "must not be 0 for a 32-bit host");
}

static void rule_host_bases(struct check_ctx *c)
{
	static const struct { uint32_t field; const char *what; } bases[] = {
		{ HOST_FS_BASE, "host FS base" }, { HOST_GS_BASE, "host GS base" },
		{ HOST_GDTR_BASE, "host GDTR base" }, { HOST_IDTR_BASE, "host IDTR base" },
		{ HOST_TR_BASE, "host TR base" },
	};
	if (!c->env->host_in_ia32e_mode)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		uint64_t base = rd(c, bases[i].field);
		if (!canonical(base))
			fail(c, bases[i].field, base, bases[i].what, "must be canonical");
	}
}

static void rule_host_address_space(struct check_ctx *c)
{
	uint64_t cr4 = rd(c, HOST_CR4), rip = rd(c, HOST_RIP);
	if (c->env->host_in_ia32e_mode && !c->host64)
		fail(c, VM_EXIT_CONTROLS, c->exit, "VM-exit controls",
		     "a 64-bit host needs host address-space size (bit 9)");
	if (c->host64) {
		if (!(cr4 & X86_CR4_PAE))
			fail(c, HOST_CR4, cr4, "host CR4", "PAE must be 1 for a 64-bit host");
		if (!canonical(rip))
			fail(c, HOST_RIP, rip, "host RIP", "must be canonical");
	} else {
		if (c->ia32e_guest)
			fail(c, VM_ENTRY_CONTROLS, c->entry, "VM-entry controls",
			     "IA-32e mode guest needs a 64-bit host");
		if (cr4 & X86_CR4_PCIDE)
			fail(c, HOST_CR4, cr4, "host CR4", "PCIDE must be 0 for a 32-bit host");
		if (rip >> 32)
			fail(c, HOST_RIP, rip, "host RIP", "bits 63:32 must be 0 for a 32-bit host");
	}
}

/* ---- kit rules: fields left unwritten --------------------------------- */

/* VMCLEAR leaves a field that was never written reading 0 (as the unit tests'
 * images do). HOST_RIP = 0 is canonical, so entry succeeds; the first VM exit
 * then loads RIP from it (SDM 28.5.3) and the host faults at address 0 with no
 * trace of why. HOST_RSP has no such rule: the world switch writes it right
 * before VMLAUNCH (vmenter.S), after these checks run. */
static void rule_kit_host_rip_written(struct check_ctx *c)
{
	if (rd(c, HOST_RIP) == 0)
		kit_fail(c, HOST_RIP, 0,
			 "HOST_RIP is 0: the VMCS field was never written; the processor would resume the host at "
			 "address 0 (SDM 28.5.3 loads RIP from it)");
}

/* ---- 27.3.1.1 guest control registers, debug registers, MSRs ------------ */

static void rule_guest_cr0(struct check_ctx *c)
{
	const struct vmx_capability_msrs *caps = c->env->caps;
	uint64_t fixed0 = caps->cr0_fixed0;
	/* Unrestricted guest lifts the PE and PG requirement (SDM 27.3.1.1). */
	if (c->unrestricted)
		fixed0 &= ~(X86_CR0_PE | X86_CR0_PG);
	uint64_t must1 = fixed0 & ~c->cr0, must0 = c->cr0 & ~caps->cr0_fixed1;
	if (must1 & X86_CR0_PE)
		fail(c, GUEST_CR0, c->cr0, "guest CR0",
		     "PE must be 1 (IA32_VMX_CR0_FIXED0); real mode needs unrestricted guest");
	else if (must1 & X86_CR0_PG)
		fail(c, GUEST_CR0, c->cr0, "guest CR0",
		     "PG must be 1 (IA32_VMX_CR0_FIXED0); a guest without paging runs on the hypervisor's page tables");
	else if (must1)
		fail(c, GUEST_CR0, c->cr0, "guest CR0", "bit %d must be 1 (IA32_VMX_CR0_FIXED0 0x%llx)",
		     lowest_bit(must1), (unsigned long long)caps->cr0_fixed0);
	if (must0)
		fail(c, GUEST_CR0, c->cr0, "guest CR0", "bit %d must be 0 (IA32_VMX_CR0_FIXED1 0x%llx)",
		     lowest_bit(must0), (unsigned long long)caps->cr0_fixed1);
	if ((c->cr0 & X86_CR0_PG) && !(c->cr0 & X86_CR0_PE))
		fail(c, GUEST_CR0, c->cr0, "guest CR0", "PG=1 needs PE=1");
	if ((c->cr0 & X86_CR0_NW) && !(c->cr0 & X86_CR0_CD))
		fail(c, GUEST_CR0, c->cr0, "guest CR0", "NW=1 needs CD=1");
}

static void rule_guest_cr4(struct check_ctx *c)
{
	const struct vmx_capability_msrs *caps = c->env->caps;
	uint64_t must1 = caps->cr4_fixed0 & ~c->cr4, must0 = c->cr4 & ~caps->cr4_fixed1;
	if (must1 & X86_CR4_VMXE)
		fail(c, GUEST_CR4, c->cr4, "guest CR4",
		     "VMXE must be 1 in VMX operation (IA32_VMX_CR4_FIXED0); hide it with the CR4 read shadow");
	else if (must1)
		fail(c, GUEST_CR4, c->cr4, "guest CR4", "bit %d must be 1 (IA32_VMX_CR4_FIXED0 0x%llx)",
		     lowest_bit(must1), (unsigned long long)caps->cr4_fixed0);
	if (must0)
		fail(c, GUEST_CR4, c->cr4, "guest CR4", "bit %d must be 0 (IA32_VMX_CR4_FIXED1 0x%llx)",
		     lowest_bit(must0), (unsigned long long)caps->cr4_fixed1);
}

static void rule_guest_ia32e_paging(struct check_ctx *c)
{
	if (c->ia32e_guest) {
		if (!(c->cr0 & X86_CR0_PG))
			fail(c, GUEST_CR0, c->cr0, "guest CR0", "IA-32e mode guest needs PG=1");
		if (!(c->cr4 & X86_CR4_PAE))
			fail(c, GUEST_CR4, c->cr4, "guest CR4", "IA-32e mode guest needs PAE=1");
	} else if (c->cr4 & X86_CR4_PCIDE) {
		fail(c, GUEST_CR4, c->cr4, "guest CR4", "PCIDE must be 0 outside IA-32e mode");
	}
	uint64_t cr3 = rd(c, GUEST_CR3);
	if (beyond_maxphyaddr(c, cr3))
		fail(c, GUEST_CR3, cr3, "guest CR3", "bits beyond the physical-address width must be 0");
}

static void rule_guest_debug(struct check_ctx *c)
{
	if (!(c->entry & VM_ENTRY_LOAD_DEBUG_CONTROLS))
		return;
	uint64_t dbgctl = rd(c, GUEST_IA32_DEBUGCTL), dr7 = rd(c, GUEST_DR7);
	if (dbgctl & 0xffffffffffff003cull)
		fail(c, GUEST_IA32_DEBUGCTL, dbgctl, "guest IA32_DEBUGCTL", "reserved bits must be 0");
	if (dr7 >> 32)
		fail(c, GUEST_DR7, dr7, "guest DR7", "bits 63:32 must be 0");
}

static void rule_guest_msrs(struct check_ctx *c)
{
	uint64_t esp = rd(c, GUEST_SYSENTER_ESP), eip = rd(c, GUEST_SYSENTER_EIP);
	if (c->env->host_in_ia32e_mode && !canonical(esp))
		fail(c, GUEST_SYSENTER_ESP, esp, "guest IA32_SYSENTER_ESP", "must be canonical");
	if (c->env->host_in_ia32e_mode && !canonical(eip))
		fail(c, GUEST_SYSENTER_EIP, eip, "guest IA32_SYSENTER_EIP", "must be canonical");
	if (c->entry & VM_ENTRY_LOAD_IA32_PAT) {
		uint64_t pat = rd(c, GUEST_IA32_PAT);
		for (int i = 0; i < 8; i++) {
			unsigned int t = (pat >> (8 * i)) & 0xff;
			if (t == 2 || t == 3 || t > 7) {
				fail(c, GUEST_IA32_PAT, pat, "guest IA32_PAT", "entry %d has invalid memory type %u", i, t);
				break;
			}
		}
	}
	if (c->entry & VM_ENTRY_LOAD_IA32_EFER) {
		uint64_t efer = rd(c, GUEST_IA32_EFER);
		bool lma = efer & EFER_LMA, lme = efer & EFER_LME;
		if (efer & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NX))
			fail(c, GUEST_IA32_EFER, efer, "guest IA32_EFER", "reserved bits must be 0");
		if (lma != c->ia32e_guest)
			fail(c, GUEST_IA32_EFER, efer, "guest IA32_EFER",
			     "LMA must equal the IA-32e mode guest entry control (%d)", c->ia32e_guest);
		if ((c->cr0 & X86_CR0_PG) && lme != lma)
			fail(c, GUEST_IA32_EFER, efer, "guest IA32_EFER", "with CR0.PG=1, LME must equal LMA");
	}
}

/* ---- 27.3.1.2 guest segment registers ----------------------------------- */

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };
static const struct {
	const char *name;
	uint32_t sel, base, limit, ar;
} guest_segs[SEG_COUNT] = {
	[SEG_ES] = { "ES", GUEST_ES_SELECTOR, GUEST_ES_BASE, GUEST_ES_LIMIT, GUEST_ES_AR_BYTES },
	[SEG_CS] = { "CS", GUEST_CS_SELECTOR, GUEST_CS_BASE, GUEST_CS_LIMIT, GUEST_CS_AR_BYTES },
	[SEG_SS] = { "SS", GUEST_SS_SELECTOR, GUEST_SS_BASE, GUEST_SS_LIMIT, GUEST_SS_AR_BYTES },
	[SEG_DS] = { "DS", GUEST_DS_SELECTOR, GUEST_DS_BASE, GUEST_DS_LIMIT, GUEST_DS_AR_BYTES },
	[SEG_FS] = { "FS", GUEST_FS_SELECTOR, GUEST_FS_BASE, GUEST_FS_LIMIT, GUEST_FS_AR_BYTES },
	[SEG_GS] = { "GS", GUEST_GS_SELECTOR, GUEST_GS_BASE, GUEST_GS_LIMIT, GUEST_GS_AR_BYTES },
	[SEG_LDTR] = { "LDTR", GUEST_LDTR_SELECTOR, GUEST_LDTR_BASE, GUEST_LDTR_LIMIT, GUEST_LDTR_AR_BYTES },
	[SEG_TR] = { "TR", GUEST_TR_SELECTOR, GUEST_TR_BASE, GUEST_TR_LIMIT, GUEST_TR_AR_BYTES },
};

static void seg_what(char *buf, size_t len, int seg, const char *part)
{
	snprintf(buf, len, "guest %s.%s", guest_segs[seg].name, part);
}

/* Bits 11:8 and 31:17 reserved; the granularity bit agrees with the limit. */
static void check_ar_common(struct check_ctx *c, int seg, uint32_t ar)
{
	char what[24];
	seg_what(what, sizeof(what), seg, "AR");
	if (ar & VMX_AR_RESERVED_MASK)
		fail(c, guest_segs[seg].ar, ar, what, "reserved bits 11:8 and 31:17 must be 0");
	uint32_t limit = (uint32_t)rd(c, guest_segs[seg].limit);
	if ((limit & 0xfff) != 0xfff && (ar & VMX_AR_G))
		fail(c, guest_segs[seg].ar, ar, what, "G must be 0: limit 0x%x has a 0 in bits 11:0", limit);
	if ((limit & 0xfff00000u) && !(ar & VMX_AR_G))
		fail(c, guest_segs[seg].ar, ar, what, "G must be 1: limit 0x%x has a 1 in bits 31:20", limit);
}

static bool seg_usable(struct check_ctx *c, int seg)
{
	return !(rd(c, guest_segs[seg].ar) & VMX_AR_UNUSABLE);
}

static void rule_guest_v8086_segs(struct check_ctx *c)
{
	if (!c->v8086)
		return;
	for (int s = SEG_ES; s <= SEG_GS; s++) {
		uint64_t sel = rd(c, guest_segs[s].sel), base = rd(c, guest_segs[s].base);
		uint64_t limit = rd(c, guest_segs[s].limit), ar = rd(c, guest_segs[s].ar);
		char what[24];
		if (base != sel << 4) {
			seg_what(what, sizeof(what), s, "base");
			fail(c, guest_segs[s].base, base, what, "must be selector << 4 in virtual-8086 mode");
		}
		if (limit != 0xffff) {
			seg_what(what, sizeof(what), s, "limit");
			fail(c, guest_segs[s].limit, limit, what, "must be 0xffff in virtual-8086 mode");
		}
		if (ar != 0xf3) {
			seg_what(what, sizeof(what), s, "AR");
			fail(c, guest_segs[s].ar, ar, what, "must be 0xf3 in virtual-8086 mode");
		}
	}
}

static void rule_guest_selectors(struct check_ctx *c)
{
	uint64_t tr = rd(c, GUEST_TR_SELECTOR), ldtr = rd(c, GUEST_LDTR_SELECTOR);
	if (tr & 4)
		fail(c, GUEST_TR_SELECTOR, tr, "guest TR selector", "TI must be 0");
	if (seg_usable(c, SEG_LDTR) && (ldtr & 4))
		fail(c, GUEST_LDTR_SELECTOR, ldtr, "guest LDTR selector", "TI must be 0");
	if (!c->v8086 && !c->unrestricted) {
		uint64_t ss = rd(c, GUEST_SS_SELECTOR), cs = rd(c, GUEST_CS_SELECTOR);
		if ((ss & 3) != (cs & 3))
			fail(c, GUEST_SS_SELECTOR, ss, "guest SS selector", "RPL must equal CS.RPL (%llu)",
			     (unsigned long long)(cs & 3));
	}
}

static void rule_guest_seg_bases(struct check_ctx *c)
{
	if (c->v8086)
		return;
	char what[24];
	for (int s = SEG_ES; s < SEG_COUNT; s++) {
		uint64_t base = rd(c, guest_segs[s].base);
		bool usable = s == SEG_CS || s == SEG_TR || seg_usable(c, s);
		seg_what(what, sizeof(what), s, "base");
		if (s == SEG_FS || s == SEG_GS || s == SEG_TR || s == SEG_LDTR) {
			if ((usable || s != SEG_LDTR) && c->env->host_in_ia32e_mode && !canonical(base))
				fail(c, guest_segs[s].base, base, what, "must be canonical");
		} else if (usable && (base >> 32)) {
			fail(c, guest_segs[s].base, base, what, "bits 63:32 must be 0");
		}
	}
}

static void rule_guest_cs_ar(struct check_ctx *c)
{
	if (c->v8086)
		return;
	uint32_t ar = (uint32_t)rd(c, GUEST_CS_AR_BYTES), ss_ar = (uint32_t)rd(c, GUEST_SS_AR_BYTES);
	uint32_t type = ar & VMX_AR_TYPE_MASK, dpl = VMX_AR_DPL(ar), ss_dpl = VMX_AR_DPL(ss_ar);
	const char *what = "guest CS.AR";
	if (ar & VMX_AR_UNUSABLE) {
		fail(c, GUEST_CS_AR_BYTES, ar, what, "CS must be usable");
		return;
	}
	if (!(type == 9 || type == 11 || type == 13 || type == 15 || (c->unrestricted && type == 3)))
		fail(c, GUEST_CS_AR_BYTES, ar, what, "type must be code (9, 11, 13 or 15: accessed code)%s",
		     c->unrestricted ? " or 3" : "");
	if (!(ar & VMX_AR_S))
		fail(c, GUEST_CS_AR_BYTES, ar, what, "S must be 1 (code or data)");
	if (!(ar & VMX_AR_P))
		fail(c, GUEST_CS_AR_BYTES, ar, what, "P must be 1");
	if (type == 3 && dpl != 0)
		fail(c, GUEST_CS_AR_BYTES, ar, what, "DPL must be 0 for type 3");
	if ((type == 9 || type == 11) && dpl != ss_dpl)
		fail(c, GUEST_CS_AR_BYTES, ar, what, "DPL of non-conforming code must equal SS.DPL (%u)", ss_dpl);
	if ((type == 13 || type == 15) && dpl > ss_dpl)
		fail(c, GUEST_CS_AR_BYTES, ar, what, "DPL of conforming code must not exceed SS.DPL (%u)", ss_dpl);
	if (c->ia32e_guest && (ar & VMX_AR_L) && (ar & VMX_AR_DB))
		fail(c, GUEST_CS_AR_BYTES, ar, what, "D/B must be 0 when L=1 in IA-32e mode");
	check_ar_common(c, SEG_CS, ar);
}

static void rule_guest_ss_ar(struct check_ctx *c)
{
	if (c->v8086 || !seg_usable(c, SEG_SS))
		return;
	uint32_t ar = (uint32_t)rd(c, GUEST_SS_AR_BYTES), type = ar & VMX_AR_TYPE_MASK;
	uint32_t cs_type = (uint32_t)rd(c, GUEST_CS_AR_BYTES) & VMX_AR_TYPE_MASK;
	uint64_t sel = rd(c, GUEST_SS_SELECTOR);
	const char *what = "guest SS.AR";
	if (type != 3 && type != 7)
		fail(c, GUEST_SS_AR_BYTES, ar, what, "type must be read/write data (3 or 7, accessed)");
	if (!(ar & VMX_AR_S))
		fail(c, GUEST_SS_AR_BYTES, ar, what, "S must be 1 (code or data)");
	if (!(ar & VMX_AR_P))
		fail(c, GUEST_SS_AR_BYTES, ar, what, "P must be 1");
	if (!c->unrestricted && VMX_AR_DPL(ar) != (sel & 3))
		fail(c, GUEST_SS_AR_BYTES, ar, what, "DPL must equal SS.RPL (%llu)", (unsigned long long)(sel & 3));
	if ((cs_type == 3 || !(c->cr0 & X86_CR0_PE)) && VMX_AR_DPL(ar) != 0)
		fail(c, GUEST_SS_AR_BYTES, ar, what, "DPL must be 0 in real mode");
	check_ar_common(c, SEG_SS, ar);
}

static void rule_guest_data_ar(struct check_ctx *c)
{
	if (c->v8086)
		return;
	static const int segs[] = { SEG_DS, SEG_ES, SEG_FS, SEG_GS };
	for (size_t i = 0; i < ARRAY_SIZE(segs); i++) {
		int s = segs[i];
		if (!seg_usable(c, s))
			continue;
		uint32_t ar = (uint32_t)rd(c, guest_segs[s].ar), type = ar & VMX_AR_TYPE_MASK;
		uint64_t sel = rd(c, guest_segs[s].sel);
		char what[24];
		seg_what(what, sizeof(what), s, "AR");
		if (!(type & VMX_AR_TYPE_ACCESSED))
			fail(c, guest_segs[s].ar, ar, what, "type must have the accessed bit (bit 0) set");
		if ((type & VMX_AR_TYPE_CODE) && !(type & VMX_AR_TYPE_READABLE))
			fail(c, guest_segs[s].ar, ar, what, "a code segment here must be readable");
		if (!(ar & VMX_AR_S))
			fail(c, guest_segs[s].ar, ar, what, "S must be 1 (code or data)");
		if (!(ar & VMX_AR_P))
			fail(c, guest_segs[s].ar, ar, what, "P must be 1 (or mark the segment unusable)");
		if (!c->unrestricted && type <= 11 && VMX_AR_DPL(ar) < (sel & 3))
			fail(c, guest_segs[s].ar, ar, what, "DPL must not be below the selector's RPL (%llu)",
			     (unsigned long long)(sel & 3));
		check_ar_common(c, s, ar);
	}
}

static void rule_guest_tr_ar(struct check_ctx *c)
{
	uint32_t ar = (uint32_t)rd(c, GUEST_TR_AR_BYTES), type = ar & VMX_AR_TYPE_MASK;
	const char *what = "guest TR.AR";
	if (ar & VMX_AR_UNUSABLE) {
		fail(c, GUEST_TR_AR_BYTES, ar, what, "TR must be usable (a busy TSS)");
		return;
	}
	if (!(type == 11 || (type == 3 && !c->ia32e_guest)))
		fail(c, GUEST_TR_AR_BYTES, ar, what, "type must be a busy TSS (11%s)", c->ia32e_guest ? "" : " or 3");
	if (ar & VMX_AR_S)
		fail(c, GUEST_TR_AR_BYTES, ar, what, "S must be 0 (system segment)");
	if (!(ar & VMX_AR_P))
		fail(c, GUEST_TR_AR_BYTES, ar, what, "P must be 1");
	check_ar_common(c, SEG_TR, ar);
}

static void rule_guest_ldtr_ar(struct check_ctx *c)
{
	if (!seg_usable(c, SEG_LDTR))
		return;
	uint32_t ar = (uint32_t)rd(c, GUEST_LDTR_AR_BYTES);
	const char *what = "guest LDTR.AR";
	if ((ar & VMX_AR_TYPE_MASK) != 2)
		fail(c, GUEST_LDTR_AR_BYTES, ar, what, "type must be 2 (LDT) or mark LDTR unusable");
	if (ar & VMX_AR_S)
		fail(c, GUEST_LDTR_AR_BYTES, ar, what, "S must be 0 (system segment)");
	if (!(ar & VMX_AR_P))
		fail(c, GUEST_LDTR_AR_BYTES, ar, what, "P must be 1");
	check_ar_common(c, SEG_LDTR, ar);
}

/* ---- 27.3.1.3 descriptor tables, 27.3.1.4 RIP and RFLAGS ---------------- */

static void rule_guest_dtables(struct check_ctx *c)
{
	static const struct { uint32_t base, limit; const char *b, *l; } dt[] = {
		{ GUEST_GDTR_BASE, GUEST_GDTR_LIMIT, "guest GDTR base", "guest GDTR limit" },
		{ GUEST_IDTR_BASE, GUEST_IDTR_LIMIT, "guest IDTR base", "guest IDTR limit" },
	};
	for (size_t i = 0; i < 2; i++) {
		uint64_t base = rd(c, dt[i].base), limit = rd(c, dt[i].limit);
		if (c->env->host_in_ia32e_mode && !canonical(base))
			fail(c, dt[i].base, base, dt[i].b, "must be canonical");
		if (limit >> 16)
			fail(c, dt[i].limit, limit, dt[i].l, "bits 31:16 must be 0");
	}
}

static void rule_guest_rip(struct check_ctx *c)
{
	uint64_t rip = rd(c, GUEST_RIP);
	bool cs_l = rd(c, GUEST_CS_AR_BYTES) & VMX_AR_L;
	if ((!c->ia32e_guest || !cs_l) && (rip >> 32))
		fail(c, GUEST_RIP, rip, "guest RIP", "bits 63:32 must be 0 outside 64-bit mode");
	else if (c->ia32e_guest && cs_l && !canonical(rip))
		fail(c, GUEST_RIP, rip, "guest RIP", "must be canonical in 64-bit mode");
}

static void rule_guest_rflags(struct check_ctx *c)
{
	uint64_t f = c->rflags;
	if (f & X86_EFLAGS_RESERVED)
		fail(c, GUEST_RFLAGS, f, "guest RFLAGS", "reserved bits 63:22, 15, 5 and 3 must be 0");
	if (!(f & X86_EFLAGS_FIXED))
		fail(c, GUEST_RFLAGS, f, "guest RFLAGS", "bit 1 must be 1");
	if ((f & X86_EFLAGS_VM) && (c->ia32e_guest || !(c->cr0 & X86_CR0_PE)))
		fail(c, GUEST_RFLAGS, f, "guest RFLAGS", "VM must be 0 in IA-32e mode and in real mode");
	uint64_t info = rd(c, VM_ENTRY_INTR_INFO_FIELD);
	if ((info & INTR_INFO_VALID_MASK) && (info & INTR_INFO_INTR_TYPE_MASK) == INTR_TYPE_EXT_INTR &&
	    !(f & X86_EFLAGS_IF))
		fail(c, GUEST_RFLAGS, f, "guest RFLAGS", "IF must be 1 to inject an external interrupt");
}

/* ---- 27.3.1.5 non-register state ---------------------------------------- */

static void rule_guest_activity(struct check_ctx *c)
{
	uint64_t state = rd(c, GUEST_ACTIVITY_STATE);
	static const uint64_t misc_bit[] = { 0, VMX_MISC_ACTIVITY_HLT, VMX_MISC_ACTIVITY_SHUTDOWN,
					     VMX_MISC_ACTIVITY_WAIT_SIPI };
	if (state > GUEST_ACTIVITY_WAIT_SIPI) {
		fail(c, GUEST_ACTIVITY_STATE, state, "guest activity state", "must be 0 (active) to 3");
		return;
	}
	if (state && !(c->env->caps->misc & misc_bit[state]))
		fail(c, GUEST_ACTIVITY_STATE, state, "guest activity state", "not supported (IA32_VMX_MISC)");
	if (state == GUEST_ACTIVITY_HLT && VMX_AR_DPL(rd(c, GUEST_SS_AR_BYTES)) != 0)
		fail(c, GUEST_ACTIVITY_STATE, state, "guest activity state", "HLT needs SS.DPL 0");
}

static void rule_guest_interruptibility(struct check_ctx *c)
{
	uint64_t s = rd(c, GUEST_INTERRUPTIBILITY_INFO), info = rd(c, VM_ENTRY_INTR_INFO_FIELD);
	const char *what = "guest interruptibility state";
	if (s & ~0x1full)
		fail(c, GUEST_INTERRUPTIBILITY_INFO, s, what, "bits 31:5 must be 0");
	if ((s & GUEST_INTR_STATE_STI) && (s & GUEST_INTR_STATE_MOV_SS))
		fail(c, GUEST_INTERRUPTIBILITY_INFO, s, what, "blocking by STI and by MOV SS are exclusive");
	if ((s & GUEST_INTR_STATE_STI) && !(c->rflags & X86_EFLAGS_IF))
		fail(c, GUEST_INTERRUPTIBILITY_INFO, s, what, "blocking by STI needs RFLAGS.IF=1");
	if (s & GUEST_INTR_STATE_SMI)
		fail(c, GUEST_INTERRUPTIBILITY_INFO, s, what, "blocking by SMI needs entry to SMM");
	if (info & INTR_INFO_VALID_MASK) {
		uint32_t type = info & INTR_INFO_INTR_TYPE_MASK;
		if (type == INTR_TYPE_EXT_INTR && (s & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)))
			fail(c, GUEST_INTERRUPTIBILITY_INFO, s, what,
			     "no blocking by STI or MOV SS while injecting an external interrupt");
		if (type == INTR_TYPE_NMI_INTR && (s & GUEST_INTR_STATE_MOV_SS))
			fail(c, GUEST_INTERRUPTIBILITY_INFO, s, what, "no blocking by MOV SS while injecting an NMI");
	}
}

static void rule_guest_pending_dbg(struct check_ctx *c)
{
	uint64_t p = rd(c, GUEST_PENDING_DBG_EXCEPTIONS);
	/* Defined: B3:0 (bits 3:0), enabled breakpoint (12), BS (14), RTM (16). */
	if (p & ~0x1500full)
		fail(c, GUEST_PENDING_DBG_EXCEPTIONS, p, "guest pending debug exceptions", "reserved bits must be 0");
}

static void rule_guest_vmcs_link(struct check_ctx *c)
{
	uint64_t link = rd(c, VMCS_LINK_POINTER);
	/* Other values name a shadow VMCS and need VMCS shadowing (SDM 27.3.1.5). */
	if (link != ~0ull && !(c->proc2 & SECONDARY_EXEC_SHADOW_VMCS))
		fail(c, VMCS_LINK_POINTER, link, "VMCS link pointer", "must be 0xffffffffffffffff without VMCS shadowing");
}

/* ---- 27.3.1.6 PDPTEs ---------------------------------------------------- */

/* A PAE PDPTE has no R/W, U/S, A, D, PS, G or XD bit (SDM Vol. 3 4.4.1, Table 4-8);
 * a PAE CR3 holds the table's address in bits 31:5. */
#define PAE_PDPTE_RSVD_MASK (PT_WRITABLE_MASK | PT_USER_MASK | PT_ACCESSED_MASK | PT_DIRTY_MASK | \
			     PT_PAGE_SIZE_MASK | PT_GLOBAL_MASK | PT64_NX_MASK)
#define PAE_CR3_ADDR_MASK   0xffffffe0ull

static void rule_guest_pdptes(struct check_ctx *c)
{
	if (!(c->cr0 & X86_CR0_PG) || !(c->cr4 & X86_CR4_PAE) || c->ia32e_guest)
		return;
	uint64_t pdpte[4];
	static const uint32_t pdptr_fields[4] = { GUEST_PDPTR0, GUEST_PDPTR1, GUEST_PDPTR2, GUEST_PDPTR3 };
	uint64_t cr3 = rd(c, GUEST_CR3);
	if (c->proc2 & SECONDARY_EXEC_ENABLE_EPT) {
		for (int i = 0; i < 4; i++)
			pdpte[i] = rd(c, pdptr_fields[i]);
	} else {
		const struct vmcs_accessor *a = c->env->vmcs;
		if (!a->read_phys || a->read_phys(a->ctx, cr3 & PAE_CR3_ADDR_MASK, pdpte, sizeof(pdpte)) < 0)
			return;
	}
	for (int i = 0; i < 4; i++) {
		if (!(pdpte[i] & PT_PRESENT_MASK))
			continue;
		char what[40];
		snprintf(what, sizeof(what), "guest PDPTE%d (CR3 0x%llx)", i, (unsigned long long)cr3);
		if ((pdpte[i] & PAE_PDPTE_RSVD_MASK) || beyond_maxphyaddr(c, pdpte[i] & ~PT64_NX_MASK))
			fail(c, pdptr_fields[i], pdpte[i], what, "reserved bits (2:1, 8:5, beyond MAXPHYADDR) must be 0");
	}
}

// @region vmentry_rules
struct vmentry_rule {
	const char *name;
	const char *section;
	void (*check)(struct check_ctx *c);
};

static const struct vmentry_rule vmentry_rules[] = {
	{ "ctl-pin-allowed",         "27.2.1.1", rule_ctl_pin },
	{ "ctl-proc-allowed",        "27.2.1.1", rule_ctl_proc },
	{ "ctl-proc2-allowed",       "27.2.1.1", rule_ctl_proc2 },
	{ "ctl-cr3-target-count",    "27.2.1.1", rule_ctl_cr3_targets },
	{ "ctl-bitmap-addresses",    "27.2.1.1", rule_ctl_bitmaps },
	{ "ctl-nmi",                 "27.2.1.1", rule_ctl_nmi },
	{ "ctl-apic",                "27.2.1.1", rule_ctl_apic },
	{ "ctl-ept",                 "27.2.1.1", rule_ctl_ept },
	{ "ctl-vpid",                "27.2.1.1", rule_ctl_vpid },
	{ "ctl-exit-allowed",        "27.2.1.2", rule_ctl_exit },
	{ "ctl-preemption-timer",    "27.2.1.2", rule_ctl_preemption_timer },
	{ "ctl-msr-areas",           "27.2.1.2", rule_ctl_msr_areas },
	{ "ctl-entry-allowed",       "27.2.1.3", rule_ctl_entry },
	{ "ctl-entry-smm",           "27.2.1.3", rule_ctl_entry_smm },
	{ "ctl-event-injection",     "27.2.1.3", rule_ctl_event_injection },
	{ "host-cr",                 "27.2.2",   rule_host_cr },
	{ "host-msrs",               "27.2.2",   rule_host_msrs },
	{ "host-selectors",          "27.2.3",   rule_host_selectors },
	{ "host-bases",              "27.2.3",   rule_host_bases },
	{ "host-address-space",      "27.2.4",   rule_host_address_space },
	{ "kit-host-rip-written",    "28.5.3",   rule_kit_host_rip_written },
	{ "guest-cr0",               "27.3.1.1", rule_guest_cr0 },
	{ "guest-cr4",               "27.3.1.1", rule_guest_cr4 },
	{ "guest-ia32e-paging",      "27.3.1.1", rule_guest_ia32e_paging },
	{ "guest-debug",             "27.3.1.1", rule_guest_debug },
	{ "guest-msrs",              "27.3.1.1", rule_guest_msrs },
	{ "guest-v8086-segments",    "27.3.1.2", rule_guest_v8086_segs },
	{ "guest-selectors",         "27.3.1.2", rule_guest_selectors },
	{ "guest-segment-bases",     "27.3.1.2", rule_guest_seg_bases },
	{ "guest-cs-ar",             "27.3.1.2", rule_guest_cs_ar },
	{ "guest-ss-ar",             "27.3.1.2", rule_guest_ss_ar },
	{ "guest-data-ar",           "27.3.1.2", rule_guest_data_ar },
	{ "guest-tr-ar",             "27.3.1.2", rule_guest_tr_ar },
	{ "guest-ldtr-ar",           "27.3.1.2", rule_guest_ldtr_ar },
	{ "guest-descriptor-tables", "27.3.1.3", rule_guest_dtables },
	{ "guest-rip",               "27.3.1.4", rule_guest_rip },
	{ "guest-rflags",            "27.3.1.4", rule_guest_rflags },
	{ "guest-activity-state",    "27.3.1.5", rule_guest_activity },
	{ "guest-interruptibility",  "27.3.1.5", rule_guest_interruptibility },
	{ "guest-pending-debug",     "27.3.1.5", rule_guest_pending_dbg },
	{ "guest-vmcs-link-pointer", "27.3.1.5", rule_guest_vmcs_link },
	{ "guest-pdptes",            "27.3.1.6", rule_guest_pdptes },
};
// @end

#define RULE_COUNT (ARRAY_SIZE(vmentry_rules))

const char *vmx_vmentry_rule_name(unsigned int i)
{
	return i < RULE_COUNT ? vmentry_rules[i].name : NULL;
}

unsigned int vmx_vmentry_check(const struct vmentry_check_env *env)
{
	struct check_ctx c = { .env = env };
	c.pin = (uint32_t)rd(&c, PIN_BASED_VM_EXEC_CONTROL);
	c.proc = (uint32_t)rd(&c, CPU_BASED_VM_EXEC_CONTROL);
	/* Secondary controls count as 0 unless activated (SDM 25.6.2). */
	c.proc2 = (c.proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) ? (uint32_t)rd(&c, SECONDARY_VM_EXEC_CONTROL) : 0;
	c.exit = (uint32_t)rd(&c, VM_EXIT_CONTROLS);
	c.entry = (uint32_t)rd(&c, VM_ENTRY_CONTROLS);
	c.unrestricted = c.proc2 & SECONDARY_EXEC_UNRESTRICTED_GUEST;
	c.ia32e_guest = c.entry & VM_ENTRY_IA32E_MODE;
	c.host64 = c.exit & VM_EXIT_HOST_ADDR_SPACE_SIZE;
	c.cr0 = rd(&c, GUEST_CR0);
	c.cr4 = rd(&c, GUEST_CR4);
	c.rflags = rd(&c, GUEST_RFLAGS);
	c.v8086 = c.rflags & X86_EFLAGS_VM;
	c.maxphyaddr = env->caps->phys_addr_bits ? env->caps->phys_addr_bits : 36;
	for (size_t i = 0; i < RULE_COUNT; i++) {
		c.rule = vmentry_rules[i].name;
		c.section = vmentry_rules[i].section;
		vmentry_rules[i].check(&c);
	}
	return c.failures;
}

void vmcs_image_write(struct vmcs_image *image, uint32_t field, uint64_t value)
{
	for (unsigned int i = 0; i < image->count; i++) {
		if (image->fields[i].field == field) {
			image->fields[i].value = value;
			return;
		}
	}
	if (image->count < VMCS_IMAGE_MAX_FIELDS) {
		image->fields[image->count].field = field;
		image->fields[image->count].value = value;
		image->count++;
	}
}

uint64_t vmcs_image_read(void *image, uint32_t field)
{
	struct vmcs_image *img = image;
	for (unsigned int i = 0; i < img->count; i++)
		if (img->fields[i].field == field)
			return img->fields[i].value;
	return 0;
}
