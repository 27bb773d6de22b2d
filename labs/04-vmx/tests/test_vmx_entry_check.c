/* SPDX-License-Identifier: MIT */
/*
 * The VM-entry checker (kvm/vmx/vmx_entry_check.c) on synthetic VMCS images: a
 * valid image of a flat 32-bit guest (what minikvm builds at stage 04) passes
 * every check, and for each rule a one-field mistake fails that rule.
 */
#include <stdio.h>
#include <string.h>

#include <x86/const.h>
#include <x86/msr-index.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>

#include "kvm/vmx/vmcs.h"
#include "kvm/vmx/vmx_entry_check.h"
#include "kvm/vmx/vmx_names.h"
#include "lab04_tests.h"

#define NONCANONICAL 0x0000800000000000ull
#define PDPT_PA 0x3000ull

struct test_vmcs {
	struct vmcs_image image;
	uint64_t pdpt[4];     /* guest "physical memory" at PDPT_PA */
};

static int test_read_phys(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct test_vmcs *t = ctx;
	if (pa != PDPT_PA || len > sizeof(t->pdpt))
		return -1;
	memcpy(buf, t->pdpt, len);
	return 0;
}

static uint64_t test_read(void *ctx, uint32_t field)
{
	return vmcs_image_read(&((struct test_vmcs *)ctx)->image, field);
}

static void w(struct test_vmcs *t, uint32_t field, uint64_t value)
{
	vmcs_image_write(&t->image, field, value);
}

static uint64_t r(struct test_vmcs *t, uint32_t field)
{
	return vmcs_image_read(&t->image, field);
}

/* Controls from the Skylake caps' allowed-0 bits plus what minikvm asks for. */
static void valid_vmcs(struct test_vmcs *t, const struct vmx_capability_msrs *caps)
{
	memset(t, 0, sizeof(*t));
	w(t, PIN_BASED_VM_EXEC_CONTROL, (uint32_t)caps->true_pinbased_ctls | PIN_BASED_EXT_INTR_MASK | PIN_BASED_NMI_EXITING);
	w(t, CPU_BASED_VM_EXEC_CONTROL, (uint32_t)caps->true_procbased_ctls | CPU_BASED_HLT_EXITING |
					      CPU_BASED_UNCOND_IO_EXITING | CPU_BASED_CR3_LOAD_EXITING |
					      CPU_BASED_CR3_STORE_EXITING);
	w(t, VM_EXIT_CONTROLS, (uint32_t)caps->true_exit_ctls | VM_EXIT_HOST_ADDR_SPACE_SIZE |
				       VM_EXIT_LOAD_IA32_EFER | VM_EXIT_SAVE_IA32_EFER);
	w(t, VM_ENTRY_CONTROLS, (uint32_t)caps->true_entry_ctls | VM_ENTRY_LOAD_IA32_EFER | VM_ENTRY_LOAD_DEBUG_CONTROLS);
	w(t, EXCEPTION_BITMAP, 1u << PF_VECTOR);

	/* Host: a 64-bit kernel with a TSS. */
	w(t, HOST_CR0, 0x80050033);
	w(t, HOST_CR3, 0x1000);
	w(t, HOST_CR4, 0x2620);
	w(t, HOST_CS_SELECTOR, 0x08);
	w(t, HOST_SS_SELECTOR, 0x10);
	w(t, HOST_DS_SELECTOR, 0x10);
	w(t, HOST_ES_SELECTOR, 0x10);
	w(t, HOST_TR_SELECTOR, 0x18);
	w(t, HOST_TR_BASE, 0x200000);
	w(t, HOST_GDTR_BASE, 0x201000);
	w(t, HOST_IDTR_BASE, 0x202000);
	w(t, HOST_IA32_EFER, EFER_LME | EFER_LMA);
	w(t, HOST_RIP, 0x100000);
	w(t, HOST_RSP, 0x300000);

	/* Guest: flat 32-bit protected mode on the hypervisor's PAE tables. */
	w(t, GUEST_CR0, 0x80010031);   /* PG WP NE ET PE */
	w(t, GUEST_CR3, PDPT_PA);
	w(t, GUEST_CR4, 0x2020);       /* VMXE PAE */
	w(t, GUEST_DR7, 0x400);
	w(t, GUEST_CS_SELECTOR, 0x08);
	w(t, GUEST_CS_LIMIT, 0xffffffff);
	w(t, GUEST_CS_AR_BYTES, 0xc09b);
	static const uint32_t data_segs[][3] = {
		{ GUEST_SS_SELECTOR, GUEST_SS_LIMIT, GUEST_SS_AR_BYTES },
		{ GUEST_DS_SELECTOR, GUEST_DS_LIMIT, GUEST_DS_AR_BYTES },
		{ GUEST_ES_SELECTOR, GUEST_ES_LIMIT, GUEST_ES_AR_BYTES },
		{ GUEST_FS_SELECTOR, GUEST_FS_LIMIT, GUEST_FS_AR_BYTES },
		{ GUEST_GS_SELECTOR, GUEST_GS_LIMIT, GUEST_GS_AR_BYTES },
	};
	for (size_t i = 0; i < ARRAY_SIZE(data_segs); i++) {
		w(t, data_segs[i][0], 0x10);
		w(t, data_segs[i][1], 0xffffffff);
		w(t, data_segs[i][2], 0xc093);
	}
	w(t, GUEST_LDTR_AR_BYTES, VMX_AR_UNUSABLE);
	w(t, GUEST_TR_SELECTOR, 0x18);
	w(t, GUEST_TR_LIMIT, 0x67);
	w(t, GUEST_TR_AR_BYTES, 0x8b);
	w(t, GUEST_GDTR_BASE, 0x500);
	w(t, GUEST_GDTR_LIMIT, 0x1f);
	w(t, GUEST_IDTR_LIMIT, 0x7ff);
	w(t, GUEST_RIP, 0x100000);
	w(t, GUEST_RSP, 0x100000);
	w(t, GUEST_RFLAGS, 0x2);
	w(t, VMCS_LINK_POINTER, ~0ull);
	for (int i = 0; i < 4; i++)
		t->pdpt[i] = 0x10000 + 0x1000 * i + 1;
}

struct failures {
	unsigned int count;
	struct vmentry_check_failure list[16];
};

static void collect(void *arg, const struct vmentry_check_failure *f)
{
	struct failures *fs = arg;
	if (fs->count < 16)
		fs->list[fs->count] = *f;
	fs->count++;
}

static unsigned int run_checks(struct test_vmcs *t, const struct vmx_capability_msrs *caps, struct failures *fs)
{
	struct vmcs_accessor acc = { .read = test_read, .read_phys = test_read_phys, .ctx = t };
	struct vmentry_check_env env = {
		.caps = caps, .vmcs = &acc, .host_in_ia32e_mode = true, .report = collect, .report_arg = fs,
	};
	memset(fs, 0, sizeof(*fs));
	return vmx_vmentry_check(&env);
}

static const char *describe(const struct failures *fs, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = 0;
	for (unsigned int i = 0; i < fs->count && i < 16 && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "\n  [%s] %s", fs->list[i].rule, fs->list[i].message);
	return buf;
}

START_TEST(valid_image_passes)
{
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	char buf[2048];
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	ck_assert_msg(run_checks(&t, &caps, &fs) == 0, "valid image failed:%s", describe(&fs, buf, sizeof(buf)));
}
END_TEST

/* One mistake per case: up to three fields changed (value, or bits or'ed in
 * when `or` is set), and the rule that must name it. */
struct mutation {
	const char *name;
	const char *rule;
	struct { uint32_t field; uint64_t value; bool or; } set[3];
};

#define SET(f, v) { (f), (v), false }
#define OR(f, v) { (f), (v), true }

static const struct mutation mutations[] = {
	/* 27.2.1 controls */
	{ "pin default-1 bit cleared", "ctl-pin-allowed", { SET(PIN_BASED_VM_EXEC_CONTROL, PIN_BASED_EXT_INTR_MASK) } },
	{ "proc control the CPU lacks", "ctl-proc-allowed", { OR(CPU_BASED_VM_EXEC_CONTROL, 1u << 17) } },
	{ "secondary control the CPU lacks", "ctl-proc2-allowed",
	  { OR(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS),
	    SET(SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_APIC_REGISTER_VIRT) } },
	{ "five CR3 targets", "ctl-cr3-target-count", { SET(CR3_TARGET_COUNT, 5) } },
	{ "unaligned I/O bitmap", "ctl-bitmap-addresses",
	  { OR(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_USE_IO_BITMAPS), SET(IO_BITMAP_A, 0x1001), SET(IO_BITMAP_B, 0x2000) } },
	{ "virtual NMIs without NMI exiting", "ctl-nmi",
	  { SET(PIN_BASED_VM_EXEC_CONTROL, 0x16 | PIN_BASED_EXT_INTR_MASK | PIN_BASED_VIRTUAL_NMIS) } },
	{ "x2APIC mode without TPR shadow", "ctl-apic",
	  { OR(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS),
	    SET(SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE) } },
	{ "unrestricted guest without EPT", "ctl-ept",
	  { OR(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS),
	    SET(SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_UNRESTRICTED_GUEST) } },
	{ "EPT pointer with memory type 1", "ctl-ept",
	  { OR(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS),
	    SET(SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_ENABLE_EPT), SET(EPT_POINTER, 0x5000 | (3u << 3) | 1) } },
	{ "VPID 0", "ctl-vpid",
	  { OR(CPU_BASED_VM_EXEC_CONTROL, CPU_BASED_ACTIVATE_SECONDARY_CONTROLS),
	    SET(SECONDARY_VM_EXEC_CONTROL, SECONDARY_EXEC_ENABLE_VPID) } },
	{ "VM-exit control the CPU lacks", "ctl-exit-allowed", { OR(VM_EXIT_CONTROLS, 1u << 30) } },
	{ "save preemption timer without the timer", "ctl-preemption-timer",
	  { OR(VM_EXIT_CONTROLS, VM_EXIT_SAVE_VMX_PREEMPTION_TIMER) } },
	{ "unaligned MSR-load area", "ctl-msr-areas", { SET(VM_ENTRY_MSR_LOAD_COUNT, 1), SET(VM_ENTRY_MSR_LOAD_ADDR, 0x1008) } },
	{ "VM-entry default-1 bit cleared", "ctl-entry-allowed", { SET(VM_ENTRY_CONTROLS, VM_ENTRY_LOAD_IA32_EFER) } },
	{ "entry to SMM", "ctl-entry-smm", { OR(VM_ENTRY_CONTROLS, VM_ENTRY_SMM) } },
	{ "NMI with vector 3", "ctl-event-injection",
	  { SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_NMI_INTR | 3) } },
	{ "#UD with an error code", "ctl-event-injection",
	  { SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_HARD_EXCEPTION | INTR_INFO_DELIVER_CODE_MASK | UD_VECTOR) } },
	{ "software interrupt of length 16", "ctl-event-injection",
	  { SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_SOFT_INTR | 0x80),
	    SET(VM_ENTRY_INSTRUCTION_LEN, 16) } },
	/* 27.2.2-27.2.4 host state */
	{ "host CR4 without VMXE", "host-cr", { SET(HOST_CR4, 0x620) } },
	{ "host CR0 without PG", "host-cr", { SET(HOST_CR0, 0x00050033) } },
	{ "host SYSENTER_EIP not canonical", "host-msrs", { SET(HOST_IA32_SYSENTER_EIP, NONCANONICAL) } },
	{ "host EFER without LMA", "host-msrs", { SET(HOST_IA32_EFER, EFER_LME) } },
	{ "host TR selector 0", "host-selectors", { SET(HOST_TR_SELECTOR, 0) } },
	{ "host CS selector with RPL 3", "host-selectors", { SET(HOST_CS_SELECTOR, 0x0b) } },
	{ "host GDTR base not canonical", "host-bases", { SET(HOST_GDTR_BASE, NONCANONICAL) } },
	{ "64-bit host without host address-space size", "host-address-space",
	  { SET(VM_EXIT_CONTROLS, 0x00036dfb | VM_EXIT_LOAD_IA32_EFER), SET(HOST_IA32_EFER, 0) } },
	{ "host RIP not canonical", "host-address-space", { SET(HOST_RIP, NONCANONICAL) } },
	/* kit rules */
	{ "HOST_RIP never written", "kit-host-rip-written", { SET(HOST_RIP, 0) } },
	/* 27.3.1.1 guest control registers and MSRs */
	{ "guest CR0.PE = 0 (real mode)", "guest-cr0", { SET(GUEST_CR0, 0x80010030) } },
	{ "guest CR0.PG = 0", "guest-cr0", { SET(GUEST_CR0, 0x00010031) } },
	{ "guest CR0.NW without CD", "guest-cr0", { OR(GUEST_CR0, X86_CR0_NW) } },
	{ "guest CR4.VMXE = 0", "guest-cr4", { SET(GUEST_CR4, 0x20) } },
	{ "guest CR4 bit the CPU lacks", "guest-cr4", { OR(GUEST_CR4, 1ull << 31) } },
	{ "guest CR4.PCIDE outside IA-32e mode", "guest-ia32e-paging", { OR(GUEST_CR4, X86_CR4_PCIDE) } },
	{ "guest CR3 beyond MAXPHYADDR", "guest-ia32e-paging", { SET(GUEST_CR3, 1ull << 40) } },
	{ "guest DR7 bits 63:32", "guest-debug", { SET(GUEST_DR7, 0x400 | (1ull << 32)) } },
	{ "guest SYSENTER_EIP not canonical", "guest-msrs", { SET(GUEST_SYSENTER_EIP, NONCANONICAL) } },
	{ "guest EFER reserved bit", "guest-msrs", { SET(GUEST_IA32_EFER, 1u << 1) } },
	{ "IA-32e mode guest with EFER.LMA = 0", "guest-msrs", { OR(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE) } },
	/* 27.3.1.2 segments */
	{ "virtual-8086 mode with flat segments", "guest-v8086-segments", { OR(GUEST_RFLAGS, X86_EFLAGS_VM) } },
	{ "guest TR selector with TI", "guest-selectors", { SET(GUEST_TR_SELECTOR, 0x1c) } },
	{ "guest SS.RPL != CS.RPL", "guest-selectors", { SET(GUEST_SS_SELECTOR, 0x13) } },
	{ "guest CS base above 4 GiB", "guest-segment-bases", { SET(GUEST_CS_BASE, 1ull << 32) } },
	{ "guest FS base not canonical", "guest-segment-bases", { SET(GUEST_FS_BASE, NONCANONICAL) } },
	{ "guest CS.AR data segment", "guest-cs-ar", { SET(GUEST_CS_AR_BYTES, 0xc093) } },
	{ "guest CS.AR code not accessed", "guest-cs-ar", { SET(GUEST_CS_AR_BYTES, 0xc09a) } },
	{ "guest CS.AR not present", "guest-cs-ar", { SET(GUEST_CS_AR_BYTES, 0xc01b) } },
	{ "guest CS.DPL != SS.DPL", "guest-cs-ar", { SET(GUEST_CS_AR_BYTES, 0xc0fb) } },
	{ "guest CS.L and D/B in IA-32e mode", "guest-cs-ar",
	  { OR(VM_ENTRY_CONTROLS, VM_ENTRY_IA32E_MODE), SET(GUEST_IA32_EFER, EFER_LME | EFER_LMA),
	    SET(GUEST_CS_AR_BYTES, 0xe09b) } },
	{ "guest CS.G with a byte limit", "guest-cs-ar", { SET(GUEST_CS_LIMIT, 0xffff0) } },
	{ "guest SS.AR code segment", "guest-ss-ar", { SET(GUEST_SS_AR_BYTES, 0xc09b) } },
	{ "guest SS.DPL != SS.RPL", "guest-ss-ar", { SET(GUEST_SS_AR_BYTES, 0xc0b3) } },
	{ "guest DS.AR not accessed", "guest-data-ar", { SET(GUEST_DS_AR_BYTES, 0xc092) } },
	{ "guest ES.AR not present and not unusable", "guest-data-ar", { SET(GUEST_ES_AR_BYTES, 0xc013) } },
	{ "guest GS.AR execute-only code", "guest-data-ar", { SET(GUEST_GS_AR_BYTES, 0xc099) } },
	{ "guest DS.AR reserved bits", "guest-data-ar", { OR(GUEST_DS_AR_BYTES, 0x100) } },
	{ "guest FS limit 1 MiB with G=0", "guest-data-ar", { SET(GUEST_FS_AR_BYTES, 0x4093) } },
	{ "guest TR unusable", "guest-tr-ar", { SET(GUEST_TR_AR_BYTES, VMX_AR_UNUSABLE) } },
	{ "guest TR not busy", "guest-tr-ar", { SET(GUEST_TR_AR_BYTES, 0x89) } },
	{ "guest LDTR with a data type", "guest-ldtr-ar", { SET(GUEST_LDTR_AR_BYTES, 0x83) } },
	/* 27.3.1.3-27.3.1.6 */
	{ "guest GDTR limit above 0xffff", "guest-descriptor-tables", { SET(GUEST_GDTR_LIMIT, 0x10000) } },
	{ "guest IDTR base not canonical", "guest-descriptor-tables", { SET(GUEST_IDTR_BASE, NONCANONICAL) } },
	{ "guest RIP above 4 GiB outside 64-bit mode", "guest-rip", { SET(GUEST_RIP, 1ull << 32) } },
	{ "guest RFLAGS bit 1 clear", "guest-rflags", { SET(GUEST_RFLAGS, 0) } },
	{ "guest RFLAGS reserved bit 3", "guest-rflags", { SET(GUEST_RFLAGS, 0xa) } },
	{ "external interrupt injected with IF=0", "guest-rflags",
	  { SET(VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_EXT_INTR | 0x20) } },
	{ "activity state 5", "guest-activity-state", { SET(GUEST_ACTIVITY_STATE, 5) } },
	{ "HLT activity with SS.DPL 3", "guest-activity-state",
	  { SET(GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT), SET(GUEST_SS_AR_BYTES, 0xc0f3), SET(GUEST_SS_SELECTOR, 0x13) } },
	{ "blocking by STI and MOV SS", "guest-interruptibility", { SET(GUEST_INTERRUPTIBILITY_INFO, 3) } },
	{ "blocking by STI with IF=0", "guest-interruptibility", { SET(GUEST_INTERRUPTIBILITY_INFO, 1) } },
	{ "pending debug exception reserved bit", "guest-pending-debug", { SET(GUEST_PENDING_DBG_EXCEPTIONS, 0x10) } },
	{ "VMCS link pointer 0", "guest-vmcs-link-pointer", { SET(VMCS_LINK_POINTER, 0) } },
};

static void apply(struct test_vmcs *t, const struct mutation *m)
{
	for (int i = 0; i < 3; i++) {
		if (!m->set[i].field && !m->set[i].value)
			continue;
		uint64_t v = m->set[i].or ? r(t, m->set[i].field) | m->set[i].value : m->set[i].value;
		w(t, m->set[i].field, v);
	}
}

START_TEST(each_mistake_names_its_rule)
{
	const struct mutation *m = &mutations[_i];
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	char buf[2048];
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	apply(&t, m);
	unsigned int n = run_checks(&t, &caps, &fs);
	ck_assert_msg(n > 0, "%s: no check failed", m->name);
	bool named = false;
	for (unsigned int i = 0; i < fs.count && i < 16; i++)
		named |= strcmp(fs.list[i].rule, m->rule) == 0;
	ck_assert_msg(named, "%s: expected rule %s, got:%s", m->name, m->rule, describe(&fs, buf, sizeof(buf)));
}
END_TEST

START_TEST(software_interrupt_length_zero)
{
	/* Length 0 is allowed only where IA32_VMX_MISC bit 30 says so. */
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	w(&t, VM_ENTRY_INTR_INFO_FIELD, INTR_INFO_VALID_MASK | INTR_TYPE_SOFT_INTR | 0x80);
	w(&t, GUEST_RFLAGS, 0x202);
	ck_assert_uint_eq(run_checks(&t, &caps, &fs), 1);
	ck_assert_str_eq(fs.list[0].rule, "ctl-event-injection");
	caps.misc |= VMX_MISC_ZERO_LEN_INS;
	ck_assert_uint_eq(run_checks(&t, &caps, &fs), 0);
}
END_TEST

START_TEST(pdpte_reserved_bits)
{
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	t.pdpt[2] |= 1u << 1; /* R/W is reserved in a PAE PDPTE */
	ck_assert_uint_eq(run_checks(&t, &caps, &fs), 1);
	ck_assert_str_eq(fs.list[0].rule, "guest-pdptes");
	ck_assert_uint_eq(fs.list[0].field, GUEST_PDPTR2);
}
END_TEST

START_TEST(message_names_field_value_and_section)
{
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	w(&t, GUEST_CS_AR_BYTES, 0x0093 | 0xc000);
	ck_assert_uint_eq(run_checks(&t, &caps, &fs), 1);
	ck_assert_str_eq(fs.list[0].rule, "guest-cs-ar");
	ck_assert_str_eq(fs.list[0].section, "27.3.1.2");
	ck_assert_uint_eq(fs.list[0].field, GUEST_CS_AR_BYTES);
	ck_assert_uint_eq(fs.list[0].value, 0xc093);
	ck_assert_str_eq(fs.list[0].message,
			 "guest CS.AR 0xc093: type must be code (9, 11, 13 or 15: accessed code) (SDM 27.3.1.2)");
}
END_TEST

START_TEST(host_rip_never_written)
{
	/* Canonical, so no SDM check fails; the kit's rule names the field,
	 * says what the first VM exit would do and that it is the kit's rule. */
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	char buf[2048];
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	w(&t, HOST_RIP, 0);
	ck_assert_msg(run_checks(&t, &caps, &fs) == 1, "want one failure, got:%s", describe(&fs, buf, sizeof(buf)));
	ck_assert_str_eq(fs.list[0].rule, "kit-host-rip-written");
	ck_assert_str_eq(fs.list[0].section, "28.5.3");
	ck_assert_uint_eq(fs.list[0].field, HOST_RIP);
	ck_assert_uint_eq(fs.list[0].value, 0);
	ck_assert_str_eq(fs.list[0].message,
			 "HOST_RIP is 0: the VMCS field was never written; the processor would resume the host at "
			 "address 0 (SDM 28.5.3 loads RIP from it) [kit rule: the processor's own checks accept it]");
}
END_TEST

START_TEST(host_rsp_unwritten_before_first_entry_passes)
{
	/* The world switch writes HOST_RSP after the checks (vmenter.S): 0 then is normal. */
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	char buf[2048];
	lab04_skylake_caps(&caps);
	valid_vmcs(&t, &caps);
	w(&t, HOST_RSP, 0);
	ck_assert_msg(run_checks(&t, &caps, &fs) == 0, "HOST_RSP 0 failed:%s", describe(&fs, buf, sizeof(buf)));
}
END_TEST

START_TEST(vmcleared_vmcs_fails_loudly)
{
	/* An all-zero VMCS: what forgetting the guest-state setup looks like. */
	struct vmx_capability_msrs caps;
	struct test_vmcs t;
	struct failures fs;
	lab04_skylake_caps(&caps);
	memset(&t, 0, sizeof(t));
	ck_assert_uint_ge(run_checks(&t, &caps, &fs), 10);
}
END_TEST

START_TEST(every_rule_has_a_failing_case)
{
	for (unsigned int i = 0; vmx_vmentry_rule_name(i); i++) {
		const char *rule = vmx_vmentry_rule_name(i);
		bool covered = strcmp(rule, "guest-pdptes") == 0;
		for (size_t j = 0; j < ARRAY_SIZE(mutations); j++)
			covered |= strcmp(mutations[j].rule, rule) == 0;
		ck_assert_msg(covered, "rule %s has no test case", rule);
	}
}
END_TEST

START_TEST(exit_reason_and_error_names)
{
	ck_assert_str_eq(vmx_exit_reason_name(EXIT_REASON_IO_INSTRUCTION), "IO_INSTRUCTION");
	ck_assert_str_eq(vmx_exit_reason_name(EXIT_REASON_INVALID_STATE), "INVALID_STATE");
	ck_assert_str_eq(vmx_exit_reason_name(35), "unknown");
	ck_assert_str_eq(vmx_exit_reason_name(1000), "unknown");
	ck_assert_str_eq(vmx_instruction_error_name(4), "VMLAUNCH with non-clear VMCS");
	ck_assert_str_eq(vmx_instruction_error_name(8), "VM entry with invalid host-state field(s)");
	ck_assert_str_eq(vmx_instruction_error_name(14), "unknown VM-instruction error");
	ck_assert_str_eq(vmx_instruction_error_name(99), "unknown VM-instruction error");
}
END_TEST

Suite *vmx_entry_check_suite(void)
{
	Suite *s = suite_create("vmx_entry_check");
	TCase *tc = tcase_create("checks");
	tcase_add_test(tc, valid_image_passes);
	tcase_add_loop_test(tc, each_mistake_names_its_rule, 0, (int)ARRAY_SIZE(mutations));
	tcase_add_test(tc, software_interrupt_length_zero);
	tcase_add_test(tc, pdpte_reserved_bits);
	tcase_add_test(tc, message_names_field_value_and_section);
	tcase_add_test(tc, host_rip_never_written);
	tcase_add_test(tc, host_rsp_unwritten_before_first_entry_passes);
	tcase_add_test(tc, vmcleared_vmcs_fails_loudly);
	tcase_add_test(tc, every_rule_has_a_failing_case);
	tcase_add_test(tc, exit_reason_and_error_names);
	suite_add_tcase(s, tc);
	return s;
}
