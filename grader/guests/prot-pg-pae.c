/* SPDX-License-Identifier: MIT */
/*
 * prot-pg-pae: PAE paging (SDM Vol. 3 4.4) on the guest's own tables:
 * 2 MiB and 4 KiB pages, the PDPTE registers, and execute-disable.
 *
 * PDPTE registers (4.4.1): MOV to CR3 (and MOV to CR0 turning paging on)
 * loads the four PDPTEs from the 32-byte table CR3 names; a walk starts at
 * these registers, never at that table in memory. So a PDPTE changed in
 * memory takes effect at the next MOV to CR3 and not before, and a PDPTE
 * with P=1 and a reserved bit makes the MOV raise #GP(0) and load nothing.
 * A shadowing hypervisor keeps its own copy of the registers (Linux:
 * load_pdptrs) and must walk from it.
 *
 * Execute-disable (4.6.2, 4.7): with EFER.NXE=1 a fetch from a page whose
 * translation has XD set (in any entry of the walk) faults with I/D set; I/D
 * is set on a fetch's not-present fault too. With NXE=0 bit 63 is a
 * reserved bit (RSVD in the error code) and I/D is never set.
 */
#include "rt.h"
#include "trap.h"
#include "paging32.h"
#include <x86/cpuid.h>

#define TAG(n)           (0x9ae00000u + (n))
#define TAG_4K           TAG(1)
#define TAG_LARGE(n)     TAG(0x10 + (n))
#define TAG_Q3(pd, n)    TAG(0x20 + 2 * (pd) + (n))   /* quarter 3, directory a (0) or b (1) */
#define TAG_CODE         TAG(0x30)

/* Quarter 1 (PDPTE 1): PDE 1 → a page table, PDE 2 a 2 MiB page, PDE 3 an
 * XD page table, PDE 4 a 2 MiB XD page. */
#define VA_4K            0x40201000u   /* PTE 1: a data page */
#define VA_EXEC          0x40203000u   /* PTE 3: the code page */
#define VA_XD            0x40204000u   /* PTE 4: the code page, XD */
#define VA_NO_PTE        0x40205000u   /* PTE 5: not present */
#define VA_LARGE         0x40400000u
#define PA_LARGE         0x00400000u
#define VA_XD_PDE        0x40600000u   /* under a PDE with XD: the code page */
#define VA_XD_LARGE      0x40800000u   /* a 2 MiB page with XD: PA_LARGE */
/* Quarter 2: PDPTE 2 not present. */
#define VA_NO_PDPTE      0x80000000u
/* Quarter 3: PDE 1 → a page table whose PTEs 1 and 2 map a page each; two
 * directories (a, b) tell which PDPTE the walk used. */
#define VA_Q3(n)         (0xc0201000u + (n) * PAGE_SIZE)
/* Where the code page's `ret` is. */
#define CODE_OFF         0x800u

#define PAGE_ALIGNED __attribute__((aligned(PAGE_SIZE)))

/* PDPTs: the one in use, one at a 32-byte offset inside a page (CR3
 * bits 31:5, 4.4.1), and ones with bad entries. */
static pte64_t pdpt_a[PG_ENTRIES64] PAGE_ALIGNED, pdpt_page[PG_ENTRIES64] PAGE_ALIGNED;
static pte64_t pdpt_bad_rw[PG_ENTRIES64] PAGE_ALIGNED, pdpt_bad_63[PG_ENTRIES64] PAGE_ALIGNED;
static pte64_t pdpt_np_junk[PG_ENTRIES64] PAGE_ALIGNED;
static pte64_t pd0[PG_ENTRIES64] PAGE_ALIGNED, pd1[PG_ENTRIES64] PAGE_ALIGNED;
static pte64_t pd3[2][PG_ENTRIES64] PAGE_ALIGNED;
static pte64_t pt_low[PG_ENTRIES64] PAGE_ALIGNED, pt1[PG_ENTRIES64] PAGE_ALIGNED, pt_xd[PG_ENTRIES64] PAGE_ALIGNED;
static pte64_t pt3[2][PG_ENTRIES64] PAGE_ALIGNED;
static uint8_t page_4k[PAGE_SIZE] PAGE_ALIGNED, page_code[PAGE_SIZE] PAGE_ALIGNED;
static uint8_t page_q3[2][2][PAGE_SIZE] PAGE_ALIGNED;

#define PDPT_ALT_OFF 0x60   /* the 32-byte-aligned PDPT inside pdpt_page */

static const uint32_t large_offsets[2] = { 0x1000, 0x1ff000 };

static void copy_pdpt(pte64_t *to, const pte64_t *from)
{
	for (int i = 0; i < 4; i++)
		to[i] = from[i];
}

static void build_tables(bool nx)
{
	pg_identity_pt64(pt_low, 0);
	pd0[0] = pg_pa(pt_low) | PG_P | PG_W;

	pd1[pg_pd_index64(VA_4K)] = pg_pa(pt1) | PG_P | PG_W;
	pt1[pg_pt_index64(VA_4K)] = pg_pa(page_4k) | PG_P | PG_W;
	pg_tag(pg_pa(page_4k), TAG_4K);
	pd1[pg_pd_index64(VA_LARGE)] = PA_LARGE | PG_PS | PG_P | PG_W;
	for (int i = 0; i < 2; i++)
		pg_tag(PA_LARGE + large_offsets[i], TAG_LARGE(i));

	/* The code page: a tag, and `ret` at CODE_OFF, here and in the 2 MiB page. */
	pg_tag(pg_pa(page_code), TAG_CODE);
	page_code[CODE_OFF] = 0xc3;
	*(volatile uint8_t *)(uintptr_t)(PA_LARGE + CODE_OFF) = 0xc3;
	pt1[pg_pt_index64(VA_EXEC)] = pg_pa(page_code) | PG_P | PG_W;
	if (nx) {
		pt1[pg_pt_index64(VA_XD)] = pg_pa(page_code) | PG_XD | PG_P | PG_W;
		pd1[pg_pd_index64(VA_XD_PDE)] = pg_pa(pt_xd) | PG_XD | PG_P | PG_W;
		pt_xd[0] = pg_pa(page_code) | PG_P | PG_W;
		pd1[pg_pd_index64(VA_XD_LARGE)] = PA_LARGE | PG_XD | PG_PS | PG_P | PG_W;
	}

	for (int d = 0; d < 2; d++) {
		pd3[d][pg_pd_index64(VA_Q3(0))] = pg_pa(pt3[d]) | PG_P | PG_W;
		for (int n = 0; n < 2; n++) {
			pt3[d][pg_pt_index64(VA_Q3(n))] = pg_pa(page_q3[d][n]) | PG_P | PG_W;
			pg_tag(pg_pa(page_q3[d][n]), TAG_Q3(d, n));
		}
	}

	/* PDPTEs have P and the address only (Table 4-8): no R/W, U/S or XD. */
	pdpt_a[0] = pg_pa(pd0) | PG_P;
	pdpt_a[1] = pg_pa(pd1) | PG_P;
	pdpt_a[2] = 0;
	pdpt_a[3] = pg_pa(pd3[0]) | PG_P;
	copy_pdpt(&pdpt_page[PDPT_ALT_OFF / 8], pdpt_a);
	pdpt_page[PDPT_ALT_OFF / 8 + 3] = pg_pa(pd3[1]) | PG_P;
	copy_pdpt(pdpt_bad_rw, pdpt_a);
	pdpt_bad_rw[1] |= PG_W;                    /* bit 1: reserved in a PDPTE */
	copy_pdpt(pdpt_bad_63, pdpt_a);
	pdpt_bad_63[1] |= 1ull << 63;              /* reserved: a PDPTE has no XD */
	copy_pdpt(pdpt_np_junk, pdpt_a);
	pdpt_np_junk[2] = PG_W | PG_U | (1ull << 63); /* P=0: the other bits are ignored */
}

/* A MOV to CR3 that must raise #GP(0) at itself and leave CR3 as it was. */
static void expect_gp(const char *check, const char *kept_check, const char *what, uint32_t insn, uint32_t cr3_before)
{
	report(trap_fault.caught == 1 && trap_fault.error == 0 && trap_fault.eip == insn, check,
	       "%s: %u #GP (error 0x%x at EIP 0x%x); want one #GP(0) at 0x%x", what, trap_fault.caught, trap_fault.error,
	       trap_fault.eip, insn);
	report_eq(kept_check, read_cr3(), cr3_before);
}

static uint32_t mov_cr3_catch_gp(uint32_t cr3)
{
	uint32_t insn;
	fault_expect(GP_VECTOR);
	__asm__ volatile("movl $0f, %[insn]\n\t" FAULT_RESUME_AT_1F "0: movl %[v], %%cr3\n1:\tmovl $0, trap_fault+4"
			 : [insn] "=&r"(insn)
			 : [v] "r"(cr3)
			 : "memory");
	return insn;
}

/* Paging on with CR3 naming a PDPT with a reserved bit: MOV to CR0 raises
 * #GP(0) and paging stays off (4.4.1). */
static void check_paging_on_bad_pdpte(void)
{
	write_cr3(pg_pa(pdpt_bad_rw));
	write_cr4(read_cr4() | X86_CR4_PAE);
	uint32_t insn, cr0 = read_cr0() | X86_CR0_PG;
	fault_expect(GP_VECTOR);
	__asm__ volatile("movl $0f, %[insn]\n\t" FAULT_RESUME_AT_1F "0: movl %[v], %%cr0\n1:\tmovl $0, trap_fault+4"
			 : [insn] "=&r"(insn)
			 : [v] "r"(cr0)
			 : "memory");
	report(trap_fault.caught == 1 && trap_fault.error == 0 && trap_fault.eip == insn, "cr0-pg-rsvd-pdpte-gp",
	       "MOV to CR0 setting PG with PAE and a PDPTE with reserved bit 1: %u #GP (error 0x%x at EIP 0x%x); want "
	       "one #GP(0) at 0x%x", trap_fault.caught, trap_fault.error, trap_fault.eip, insn);
	report_eq("cr0-pg-rsvd-pdpte-paging-off", read_cr0() & X86_CR0_PG, 0);
}

static void check_pages(void)
{
	pg_expect_load("pae-4k", "a 4 KiB page", VA_4K + PG_PROBE, TAG_4K);
	pg_expect_load("pae-2m-first", "a page of a 2 MiB page", VA_LARGE + large_offsets[0] + PG_PROBE, TAG_LARGE(0));
	pg_expect_load("pae-2m-last", "the last page of a 2 MiB page", VA_LARGE + large_offsets[1] + PG_PROBE,
		       TAG_LARGE(1));
	pg_expect_store("pae-2m-store", "a page of a 2 MiB page", VA_LARGE + large_offsets[1] + PG_PROBE, 0x2d0057edu);
	pg_expect_load("pae-2m-store-read-back", "the store through the 2 MiB page", VA_LARGE + large_offsets[1] + PG_PROBE,
		       0x2d0057edu);
	pg_expect_load("pae-quarter-3", "quarter 3 (PDPTE 3)", VA_Q3(0) + PG_PROBE, TAG_Q3(0, 0));
	pg_expect_load_fault("pdpte-not-present", "load in a GiB whose PDPTE has P=0", VA_NO_PDPTE + PG_PROBE, 0);
	pg_expect_load_fault("pte-not-present", "load through a PTE with P=0", VA_NO_PTE + PG_PROBE, 0);
	pg_expect_store_fault("pte-not-present-store", "store through a PTE with P=0", VA_NO_PTE + PG_PROBE,
			      PFERR_WRITE_MASK);
}

static void check_pdpte_registers(void)
{
	/* PDPTE 3 in memory now names directory b; the registers still name a. */
	pdpt_a[3] = pg_pa(pd3[1]) | PG_P;
	pg_expect_load("pdpte-memory-not-loaded", "quarter 3 after its PDPTE changed in memory, before MOV CR3",
		       VA_Q3(0) + PG_PROBE, TAG_Q3(0, 0));
	pg_expect_load("pdpte-register-walked", "a page of quarter 3 never touched before, after its PDPTE changed in "
		       "memory, before MOV CR3 (the walk starts at the PDPTE registers)", VA_Q3(1) + PG_PROBE,
		       TAG_Q3(0, 1));
	/* MOV to CR0 that changes only WP does not load the PDPTEs (4.4.1 lists
	 * CD, NW and PG): a hypervisor that rebuilds its view of the guest's
	 * paging here must still start at the registers, not at memory. */
	write_cr0(read_cr0() & ~X86_CR0_WP);
	write_cr0(read_cr0() | X86_CR0_WP);
	pg_expect_load("pdpte-register-kept-by-cr0-wp", "quarter 3 after its PDPTE changed in memory and MOV to CR0 "
		       "toggled WP (no PDPTE load)", VA_Q3(0) + PG_PROBE, TAG_Q3(0, 0));
	write_cr3(pg_pa(pdpt_a));
	pg_expect_load("pdpte-loaded-by-mov-cr3", "quarter 3 after MOV CR3 loaded the changed PDPTE", VA_Q3(0) + PG_PROBE,
		       TAG_Q3(1, 0));
	pg_expect_load("pdpte-loaded-by-mov-cr3-2", "the other page of quarter 3 after MOV CR3", VA_Q3(1) + PG_PROBE,
		       TAG_Q3(1, 1));
	pdpt_a[3] = pg_pa(pd3[0]) | PG_P;
	write_cr3(pg_pa(pdpt_a));
	pg_expect_load("pdpte-restored", "quarter 3 after its PDPTE was restored and MOV CR3", VA_Q3(0) + PG_PROBE,
		       TAG_Q3(0, 0));

	/* A PDPT at a 32-byte boundary inside a page (CR3 bits 31:5). */
	write_cr3(pg_pa(pdpt_page) + PDPT_ALT_OFF);
	report_eq("pdpt-32-byte-aligned-cr3", read_cr3(), pg_pa(pdpt_page) + PDPT_ALT_OFF);
	pg_expect_load("pdpt-32-byte-aligned", "quarter 3 with CR3 naming a PDPT at offset 0x60 of a page",
		       VA_Q3(0) + PG_PROBE, TAG_Q3(1, 0));
	pg_expect_load("pdpt-32-byte-aligned-q1", "quarter 1 with that PDPT", VA_4K + PG_PROBE, TAG_4K);
	write_cr3(pg_pa(pdpt_a));

	/* Reserved bits (Table 4-8): #GP(0), nothing loaded, CR3 unchanged. */
	uint32_t insn = mov_cr3_catch_gp(pg_pa(pdpt_bad_rw));
	expect_gp("mov-cr3-rsvd-pdpte-bit1-gp", "mov-cr3-rsvd-pdpte-bit1-cr3-kept", "MOV CR3 of a PDPT whose PDPTE 1 sets reserved bit 1 (R/W)", insn,
		  pg_pa(pdpt_a));
	insn = mov_cr3_catch_gp(pg_pa(pdpt_bad_63));
	expect_gp("mov-cr3-rsvd-pdpte-bit63-gp", "mov-cr3-rsvd-pdpte-bit63-cr3-kept", "MOV CR3 of a PDPT whose PDPTE 1 sets reserved bit 63", insn,
		  pg_pa(pdpt_a));
	pg_expect_load("after-gp-mapping-kept", "quarter 1 after the refused MOV CR3s", VA_4K + PG_PROBE, TAG_4K);

	insn = mov_cr3_catch_gp(pg_pa(pdpt_np_junk));
	report(trap_fault.caught == 0, "pdpte-not-present-junk-ignored",
	       "MOV CR3 of a PDPT whose PDPTE 2 has P=0 and bits 1, 2, 63 set: %u #GP (at 0x%x); want none",
	       trap_fault.caught, trap_fault.eip);
	report_eq("pdpte-not-present-junk-cr3", read_cr3(), pg_pa(pdpt_np_junk));
	pg_expect_load_fault("pdpte-not-present-junk-fault", "load in that GiB", VA_NO_PDPTE + PG_PROBE, 0);
	write_cr3(pg_pa(pdpt_a));
}

static void check_execute_disable(void)
{
	const uint32_t id = PFERR_FETCH_MASK;
	struct pg_access a = pg_call(VA_EXEC + CODE_OFF);
	report(pg_fault.count == 0, "nx-fetch-allowed", "call into a page without XD: " PG_SEEN_FMT "; want no #PF",
	       PG_SEEN_ARGS);
	a = pg_call(VA_XD + CODE_OFF);
	pg_report_fault("nx-fetch-xd-pte", "call into a page whose PTE has XD", VA_XD + CODE_OFF, a.insn,
			PFERR_PRESENT_MASK | id);
	pg_expect_load("nx-load-xd-page", "a load from that XD page", VA_XD + PG_PROBE, TAG_CODE);
	a = pg_call(VA_XD_PDE + CODE_OFF);
	pg_report_fault("nx-fetch-xd-pde", "call into a page under a PDE with XD (its PTE without)",
			VA_XD_PDE + CODE_OFF, a.insn, PFERR_PRESENT_MASK | id);
	a = pg_call(VA_XD_LARGE + CODE_OFF);
	pg_report_fault("nx-fetch-xd-2m", "call into a 2 MiB page with XD", VA_XD_LARGE + CODE_OFF, a.insn,
			PFERR_PRESENT_MASK | id);
	a = pg_call(VA_LARGE + CODE_OFF);
	report(pg_fault.count == 0, "nx-fetch-2m-allowed",
	       "call into the same physical page through a 2 MiB page without XD: " PG_SEEN_FMT "; want no #PF",
	       PG_SEEN_ARGS);
	a = pg_call(VA_NO_PTE + CODE_OFF);
	pg_report_fault("nx-fetch-not-present", "call into a page whose PTE has P=0 (I/D set with NXE)",
			VA_NO_PTE + CODE_OFF, a.insn, id);

	/* NXE off: XD is a reserved bit, and I/D is not reported (4.7). */
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NX);
	pg_expect_load_fault("xd-reserved-without-nxe", "load from a page whose PTE has XD, EFER.NXE=0",
			     VA_XD + PG_PROBE, PFERR_RSVD_MASK | PFERR_PRESENT_MASK);
	a = pg_call(VA_NO_PTE + CODE_OFF);
	pg_report_fault("fetch-not-present-without-nxe", "call into a page whose PTE has P=0, EFER.NXE=0 (no I/D)",
			VA_NO_PTE + CODE_OFF, a.insn, 0);
	a = pg_call(VA_EXEC + CODE_OFF);
	report(pg_fault.count == 0, "fetch-allowed-without-nxe", "call into a page without XD, EFER.NXE=0: " PG_SEEN_FMT
	       "; want no #PF", PG_SEEN_ARGS);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	pg_traps_init();

	uint32_t a, b, c, d;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	bool nx = false;
	if (a >= 0x80000001) {
		cpuid(0x80000001, 0, &a, &b, &c, &d);
		nx = d & CPUID_80000001_EDX_NX;
	}
	build_tables(nx);
	check_paging_on_bad_pdpte();

	pg_enable(pg_pa(pdpt_a), X86_CR4_PAE);
	report_eq("cr0-pg-set", read_cr0() & X86_CR0_PG, X86_CR0_PG);
	report_eq("cr4-pae-set", read_cr4() & X86_CR4_PAE, X86_CR4_PAE);
	report_eq("cr3-read-back", read_cr3(), pg_pa(pdpt_a));
	check_pages();
	check_pdpte_registers();
	if (nx) {
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NX);
		report_eq("efer-nxe-set", rdmsr(MSR_EFER) & EFER_NX, EFER_NX);
		check_execute_disable();
	} else {
		skip("nx", "CPUID.80000001H:EDX.NX clear: no execute-disable");
	}
	end();
}
