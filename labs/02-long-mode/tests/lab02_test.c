/* SPDX-License-Identifier: MIT */
/*
 * Lab 02 unit tests: segments from GDT descriptors, the identity page tables
 * and the SREGS of protected and long mode (modes.c), checked through the
 * registers the fake KVM holds after vcpu_setup_protected/long and by walking
 * the tables the way the CPU does (SDM Vol. 3 4.5). Test names start with the
 * exercise they check (README.md, "### Exercise N").
 */
#include <string.h>

#include <kvmlabs/guest_abi.h>
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>

#include "ut_vmm.h"

#define PRESENT_RW (PT_PRESENT_MASK | PT_WRITABLE_MASK)


static struct vcpu *setup_mode(bool long_mode, int id, int nr_vcpus, uint64_t entry)
{
	struct vm *vm = ut_vm(1 << 20);
	for (int i = 0; i < nr_vcpus; i++)
		ut_vcpu(vm, i);
	struct vcpu *vcpu = &vm->vcpus[id];
	int r = long_mode ? vcpu_setup_long(vcpu, entry) : vcpu_setup_protected(vcpu, entry);
	ck_assert_msg(r == 0, "vcpu_setup_%s() returned %d", long_mode ? "long" : "protected", r);
	ck_assert_msg(fake_kvm_count(KVM_SET_SREGS) == 1, "want one KVM_SET_SREGS, got %d", fake_kvm_count(KVM_SET_SREGS));
	return vcpu;
}

static void check_flat(const char *what, const struct kvm_segment *s, uint16_t selector, bool code)
{
	ck_assert_msg(s->selector == selector, "%s: selector 0x%x, want 0x%x", what, s->selector, selector);
	ck_assert_msg(s->base == 0, "%s: base 0x%llx, want 0 (flat)", what, (unsigned long long)s->base);
	ck_assert_msg(s->limit == 0xffffffff,
		      "%s: limit 0x%x; KVM takes the limit in bytes: 0xfffff pages of 4 KiB (G=1) is 0xffffffff",
		      what, s->limit);
	ck_assert_msg((s->type & ~1u) == (code ? 0xa : 0x2), "%s: type 0x%x, want %s (accessed bit aside)", what,
		      s->type, code ? "0xa execute/read" : "0x2 read/write");
	ck_assert_msg(s->s == 1, "%s: S must be 1 (code or data, not system)", what);
	ck_assert_msg(s->dpl == 0, "%s: DPL %u, want 0", what, s->dpl);
	ck_assert_msg(s->present == 1, "%s: not present", what);
	ck_assert_msg(s->g == 1, "%s: G must be 1 (4 KiB granularity)", what);
	ck_assert_msg(s->unusable == 0, "%s: marked unusable", what);
}

/* Decode an 8-byte descriptor (SDM Vol. 3 3.4.5, figure 3-8) independently of modes.c. */
static void check_matches_gdt(const char *what, const struct kvm_segment *s, const uint64_t *gdt)
{
	uint64_t d = gdt[s->selector >> 3];
	uint64_t base = ((d >> 16) & 0xffffff) | ((d >> 56) << 24);
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	unsigned g = (d >> 55) & 1;
	if (g)
		limit = (limit << 12) | 0xfff;
	ck_assert_msg(s->base == base && s->limit == limit && s->type == ((d >> 40) & 0xf) && s->s == ((d >> 44) & 1) &&
			      s->dpl == ((d >> 45) & 3) && s->present == ((d >> 47) & 1) && s->l == ((d >> 53) & 1) &&
			      s->db == ((d >> 54) & 1) && s->g == g,
		      "%s (selector 0x%x) differs from its GDT descriptor 0x%016llx: reloading the segment "
		      "would change it", what, s->selector, (unsigned long long)d);
}

/* ---- Exercise 1: segment_from_descriptor ------------------------------------ */

START_TEST(ex1_protected_code_segment)
{
	const struct kvm_sregs *s = fake_kvm_sregs(setup_mode(false, 0, 1, ABI_IMAGE_GPA)->fd);
	check_flat("CS", &s->cs, ABI_SEL_CODE32, true);
	ck_assert_msg(s->cs.db == 1 && s->cs.l == 0, "32-bit code needs D/B=1, L=0 (got db %u l %u)", s->cs.db, s->cs.l);
}
END_TEST

START_TEST(ex1_data_segments)
{
	const struct kvm_sregs *s = fake_kvm_sregs(setup_mode(false, 0, 1, ABI_IMAGE_GPA)->fd);
	const struct kvm_segment *segs[] = { &s->ds, &s->es, &s->fs, &s->gs, &s->ss };
	const char *names[] = { "DS", "ES", "FS", "GS", "SS" };
	for (int i = 0; i < 5; i++) {
		check_flat(names[i], segs[i], ABI_SEL_DATA, false);
		ck_assert_msg(segs[i]->db == 1, "%s: D/B must be 1 (32-bit stack and offsets)", names[i]);
	}
}
END_TEST

START_TEST(ex1_long_code_segment)
{
	const struct kvm_sregs *s = fake_kvm_sregs(setup_mode(true, 0, 1, ABI_IMAGE_GPA)->fd);
	check_flat("CS", &s->cs, ABI_SEL_CODE64, true);
	ck_assert_msg(s->cs.l == 1 && s->cs.db == 0,
		      "64-bit code needs CS.L=1 and CS.D=0 (L=1 with D=1 is reserved), got l %u db %u", s->cs.l, s->cs.db);
	check_flat("SS", &s->ss, ABI_SEL_DATA, false);
}
END_TEST

START_TEST(ex1_segments_match_the_gdt)
{
	uint64_t gdt[8] = { 0 };
	gdt_build(gdt);
	for (int mode = 0; mode < 2; mode++) {
		fake_kvm_reset();
		const struct kvm_sregs *s = fake_kvm_sregs(setup_mode(mode, 0, 1, ABI_IMAGE_GPA)->fd);
		check_matches_gdt("CS", &s->cs, gdt);
		check_matches_gdt("DS", &s->ds, gdt);
		check_matches_gdt("SS", &s->ss, gdt);
	}
}
END_TEST

/* ---- Exercise 2: page_tables_build ------------------------------------------ */

static uint8_t *tables_ram;
#define TABLES_RAM (1u << 20)

static uint8_t *build_tables(void)
{
	tables_ram = ut_vm(TABLES_RAM)->ram;
	/* Not zero: the tables must not depend on what RAM held before. */
	memset(tables_ram, 0xa5, TABLES_RAM);
	page_tables_build(tables_ram, TABLES_RAM);
	return tables_ram;
}

static uint64_t entry_at(uint64_t table_gpa, unsigned index, const char *level)
{
	ut_require(table_gpa >= ABI_PML4_GPA && table_gpa + 4096 <= ABI_PD_GPA + 4 * 4096,
		      "the %s table at 0x%llx is outside 0x%x..0x%x, which guest_abi.h reserves for the tables",
		      level, (unsigned long long)table_gpa, ABI_PML4_GPA, ABI_PD_GPA + 4 * 4096);
	uint64_t e;
	memcpy(&e, tables_ram + table_gpa + 8 * index, 8);
	return e;
}

/* The 4-level walk with CR3 = ABI_PML4_GPA (SDM Vol. 3 4.5.4, figure 4-9 for 2 MiB pages). */
static uint64_t walk(uint64_t va)
{
	uint64_t e = entry_at(ABI_PML4_GPA, (va >> 39) & 511, "PML4");
	ut_require((e & PRESENT_RW) == PRESENT_RW, "0x%llx: PML4E 0x%llx not present+writable",
		      (unsigned long long)va, (unsigned long long)e);
	ut_require(!(e & PT_PAGE_SIZE_MASK), "0x%llx: PS is reserved in a PML4E", (unsigned long long)va);
	e = entry_at(e & PT64_BASE_ADDR_MASK, (va >> 30) & 511, "PDPT");
	ut_require((e & PRESENT_RW) == PRESENT_RW, "0x%llx: PDPTE 0x%llx not present+writable",
		      (unsigned long long)va, (unsigned long long)e);
	ut_require(!(e & PT_PAGE_SIZE_MASK), "0x%llx: PDPTE 0x%llx maps a 1 GiB page; use 2 MiB pages in the PD",
		      (unsigned long long)va, (unsigned long long)e);
	e = entry_at(e & PT64_BASE_ADDR_MASK, (va >> 21) & 511, "PD");
	ut_require((e & (PRESENT_RW | PT_PAGE_SIZE_MASK)) == (PRESENT_RW | PT_PAGE_SIZE_MASK),
		      "0x%llx: PDE 0x%llx must be present, writable and PS (a 2 MiB page)", (unsigned long long)va,
		      (unsigned long long)e);
	ut_require(!(e & 0x1fe000ull), "0x%llx: PDE 0x%llx has reserved bits 20:13 set", (unsigned long long)va,
		      (unsigned long long)e);
	return (e & 0x000fffffffe00000ull) | (va & 0x1fffff);
}

START_TEST(ex2_identity_map_below_4g)
{
	build_tables();
	static const uint64_t vas[] = { 0, 0x7c00, ABI_IMAGE_GPA, 0x12345678, 0x7fffffff, 0x80000000, 0xc0200000,
					ABI_TESTMMIO_GPA, 0xfee00000, ABI_ROM_GPA, 0xffffffff };
	for (size_t i = 0; i < ARRAY_SIZE(vas); i++) {
		uint64_t pa = walk(vas[i]);
		ck_assert_msg(pa == vas[i], "virtual 0x%llx maps to 0x%llx, want itself", (unsigned long long)vas[i],
			      (unsigned long long)pa);
	}
	for (uint64_t va = 0; va < (1ull << 32); va += 1ull << 21) {
		uint64_t pa = walk(va);
		if (pa != va)
			ck_abort_msg("2 MiB page at 0x%llx maps to 0x%llx", (unsigned long long)va, (unsigned long long)pa);
	}
}
END_TEST

START_TEST(ex2_nothing_above_4g)
{
	build_tables();
	ck_assert_msg(!(entry_at(ABI_PML4_GPA, 0, "PML4") & PT_PAGE_SIZE_MASK), "PML4E 0 has PS");
	for (unsigned i = 1; i < 512; i++)
		ck_assert_msg(!(entry_at(ABI_PML4_GPA, i, "PML4") & PT_PRESENT_MASK),
			      "PML4E %u is present: only the first 512 GiB slot is used (clear the table first)", i);
	uint64_t pdpt = entry_at(ABI_PML4_GPA, 0, "PML4") & PT64_BASE_ADDR_MASK;
	for (unsigned i = 4; i < 512; i++)
		ck_assert_msg(!(entry_at(pdpt, i, "PDPT") & PT_PRESENT_MASK),
			      "PDPTE %u is present: only 4 GiB are mapped (clear the table first)", i);
}
END_TEST

START_TEST(ex2_writes_only_the_table_area)
{
	build_tables();
	/* Plain ifs in the loops: every ck_assert is a message to the test runner. */
	for (uint32_t a = 0; a < TABLES_RAM; a++)
		if ((a < ABI_PML4_GPA || a >= ABI_PD_GPA + 4 * 4096) && tables_ram[a] != 0xa5)
			ck_abort_msg("page_tables_build() wrote to 0x%x, outside 0x%x..0x%x", a, ABI_PML4_GPA,
				     ABI_PD_GPA + 4 * 4096 - 1);
}
END_TEST

/* ---- Exercise 3: setup_flat ---------------------------------------------------- */

START_TEST(ex3_protected_mode_sregs)
{
	struct vcpu *vcpu = setup_mode(false, 0, 1, 0x100040);
	const struct kvm_sregs *s = fake_kvm_sregs(vcpu->fd);
	ck_assert_msg(s->cr0 & X86_CR0_PE, "protected mode needs CR0.PE (cr0 0x%llx)", (unsigned long long)s->cr0);
	ck_assert_msg(!(s->cr0 & X86_CR0_PG), "paging stays off in protected mode (cr0 0x%llx)", (unsigned long long)s->cr0);
	ck_assert_msg(!(s->efer & (EFER_LME | EFER_LMA)), "EFER.LME/LMA set in protected mode (efer 0x%llx)",
		      (unsigned long long)s->efer);
	ck_assert_msg(s->gdt.base == ABI_GDT_GPA, "GDTR.base 0x%llx, want ABI_GDT_GPA 0x%x",
		      (unsigned long long)s->gdt.base, ABI_GDT_GPA);
	ck_assert_msg(s->gdt.limit >= ABI_SEL_CODE64 + 7 && (s->gdt.limit & 7) == 7,
		      "GDTR.limit 0x%x must cover the 4 descriptors (limit = size - 1 = 0x1f)", s->gdt.limit);
	const struct kvm_regs *r = fake_kvm_regs(vcpu->fd);
	ck_assert_uint_eq(r->rip, 0x100040);
	ck_assert_msg(r->rflags == 0x2, "RFLAGS 0x%llx, want 0x2", (unsigned long long)r->rflags);
}
END_TEST

START_TEST(ex3_long_mode_sregs)
{
	struct vcpu *vcpu = setup_mode(true, 0, 1, 0x100080);
	const struct kvm_sregs *s = fake_kvm_sregs(vcpu->fd);
	ck_assert_msg((s->efer & (EFER_LME | EFER_LMA)) == (EFER_LME | EFER_LMA),
		      "long mode needs EFER.LME and EFER.LMA (efer 0x%llx)", (unsigned long long)s->efer);
	ck_assert_msg((s->cr0 & (X86_CR0_PE | X86_CR0_PG)) == (X86_CR0_PE | X86_CR0_PG), "long mode needs CR0.PE and CR0.PG (cr0 0x%llx)",
		      (unsigned long long)s->cr0);
	ck_assert_msg(s->cr4 & X86_CR4_PAE, "long mode needs CR4.PAE (cr4 0x%llx)", (unsigned long long)s->cr4);
	ck_assert_msg(s->cr3 == ABI_PML4_GPA, "CR3 0x%llx, want ABI_PML4_GPA 0x%x", (unsigned long long)s->cr3,
		      ABI_PML4_GPA);
	ck_assert_msg(s->cs.l == 1 && s->cs.db == 0, "CS.L=1, CS.D=0 for 64-bit code (l %u db %u)", s->cs.l, s->cs.db);
	ck_assert_msg(s->gdt.base == ABI_GDT_GPA, "GDTR.base 0x%llx", (unsigned long long)s->gdt.base);
	ck_assert_uint_eq(fake_kvm_regs(vcpu->fd)->rip, 0x100080);
}
END_TEST

START_TEST(ex3_entry_registers_per_vcpu)
{
	for (int mode = 0; mode < 2; mode++) {
		fake_kvm_reset();
		struct vcpu *vcpu = setup_mode(mode, 2, 4, ABI_IMAGE_GPA);
		const struct kvm_regs *r = fake_kvm_regs(vcpu->fd);
		ck_assert_msg(r->rdi == 2 && r->rsi == 4, "%s mode: EDI/ESI = %llu/%llu, want vCPU 2 of 4",
			      mode ? "long" : "protected", (unsigned long long)r->rdi, (unsigned long long)r->rsi);
		ck_assert_msg(ut_call(KVM_SET_SREGS, 0)->fd == vcpu->fd, "SREGS are set on the vCPU's own handle");
	}
}
END_TEST

static Suite *lab02_suite(void)
{
	Suite *s = suite_create("lab02");
	TCase *tc = ut_tcase("segments", 10);
	tcase_add_test(tc, ex1_protected_code_segment);
	tcase_add_test(tc, ex1_data_segments);
	tcase_add_test(tc, ex1_long_code_segment);
	tcase_add_test(tc, ex1_segments_match_the_gdt);
	suite_add_tcase(s, tc);
	tc = ut_tcase("page-tables", 10);
	tcase_add_test(tc, ex2_identity_map_below_4g);
	tcase_add_test(tc, ex2_nothing_above_4g);
	tcase_add_test(tc, ex2_writes_only_the_table_area);
	suite_add_tcase(s, tc);
	tc = ut_tcase("sregs", 10);
	tcase_add_test(tc, ex3_protected_mode_sregs);
	tcase_add_test(tc, ex3_long_mode_sregs);
	tcase_add_test(tc, ex3_entry_registers_per_vcpu);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { lab02_suite() };
	return ut_run(suites, 1);
}
