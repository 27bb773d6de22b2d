/* SPDX-License-Identifier: MIT */
/*
 * prot-pg-user: user-mode accesses under 32-bit paging (SDM Vol. 3 4.6
 * access rights, 4.7 page-fault error code).
 *
 * CPL 3 code needs segments of DPL 3 and a TSS whose SS0:ESP0 is the stack
 * a fault from CPL 3 switches to (SDM Vol. 3 6.12.1, 8.2.1), so the guest
 * loads a GDT of its own with both and a TSS. It enters user mode by IRET
 * to one load or store followed by UD2 (on a page mapped at CPL 3); the
 * #UD, or the #PF the access raises instead, brings it back to CPL 0,
 * where the handler records what happened and continues at user_return
 * rather than at the user code.
 *
 * Checked (4.6.1): a user access needs U/S=1 in every entry of the walk
 * (PDE and PTE); a user store needs R/W=1 in both, whatever CR0.WP says; a
 * supervisor load or store may touch user pages (no SMAP here), and a
 * supervisor store to a read-only page faults only with CR0.WP=1. Each
 * fault: error code P, W/R and U/S bits, CR2, the faulting EIP and CS.
 */
#include "rt.h"
#include "trap.h"
#include "paging32.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS   (0x18 | 3)
#define USER_DS   (0x20 | 3)
#define TSS_SEL   0x28

#define TAG(n)    (0x05e70000u + (n))

/* PDE 0x100 (U/S=1, R/W=1) → pt_user: */
#define VA_UCODE      0x40000000u   /* PTE 0: the user code page, U/S=1 R/W=0 */
#define VA_USTACK     0x40001000u   /* PTE 1: the user stack, U/S=1 R/W=1 */
#define VA_URW        0x40002000u   /* PTE 2: U/S=1 R/W=1 */
#define VA_URO        0x40003000u   /* PTE 3: U/S=1 R/W=0 */
#define VA_SUP        0x40004000u   /* PTE 4: U/S=0 R/W=1 */
#define VA_NP         0x40005000u   /* PTE 5: not present */
/* PDE 0x101 with U/S=0 → a PTE with U/S=1; PDE 0x102 with R/W=0 → a PTE with R/W=1. */
#define VA_SUP_PDE    0x40400000u
#define VA_RO_PDE     0x40800000u

#define PAGE_ALIGNED __attribute__((aligned(PAGE_SIZE)))

static pte32_t pd[PG_ENTRIES32] PAGE_ALIGNED, pt_low[PG_ENTRIES32] PAGE_ALIGNED;
static pte32_t pt_user[PG_ENTRIES32] PAGE_ALIGNED, pt_sup_pde[PG_ENTRIES32] PAGE_ALIGNED;
static pte32_t pt_ro_pde[PG_ENTRIES32] PAGE_ALIGNED;
static uint8_t page_ustack[PAGE_SIZE] PAGE_ALIGNED, page_urw[PAGE_SIZE] PAGE_ALIGNED;
static uint8_t page_uro[PAGE_SIZE] PAGE_ALIGNED, page_sup[PAGE_SIZE] PAGE_ALIGNED;
static uint8_t page_sup_pde[PAGE_SIZE] PAGE_ALIGNED, page_ro_pde[PAGE_SIZE] PAGE_ALIGNED;
/* The stack a fault from CPL 3 switches to (TSS.ESP0). */
static uint8_t ring0_stack[PAGE_SIZE] PAGE_ALIGNED;

/* A 32-bit TSS (SDM Vol. 3 8.2.1, figure 8-2); only SS0:ESP0 and the I/O
 * map base (past the limit: no I/O permission bitmap) are used. */
struct tss32 {
	uint32_t prev, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap_base;
};
_Static_assert(sizeof(struct tss32) == 104, "32-bit TSS layout (SDM Vol. 3 figure 8-2)");
static struct tss32 tss;

/* Flat 4 GiB segments (SDM Vol. 3 3.4.5): G=1, D/B=1, limit 0xfffff. */
#define SEG_FLAT(type_dpl) (0x00cf00000000ffffull | ((uint64_t)(type_dpl) << 40))
static uint64_t gdt[6] __attribute__((aligned(8)));

/* The user code: one access, then UD2 to come back. Position-independent,
 * it runs at VA_UCODE, mapped to this page. EAX: the address, ECX: the value
 * stored; a load leaves what it read in EDX. */
__asm__(".pushsection .text.user_page, \"ax\"\n"
	".balign 4096\n"
	"user_page:\n"
	"user_load: movl (%eax), %edx\n"
	"\tud2\n"
	"user_store: movl %ecx, (%eax)\n"
	"\tud2\n"
	".balign 4096\n"
	".popsection");
extern const uint8_t user_page[], user_load[], user_store[];

/* Enter CPL 3 at eip with ESP esp, EAX va and ECX value; user_return
 * (where the #UD and #PF handlers send a fault from CPL 3) comes back here. */
void user_run(uint32_t eip, uint32_t esp, uint32_t va, uint32_t value);
extern const uint8_t user_return[];
static uint32_t user_kernel_esp __attribute__((used)); /* user_run and user_return use it */
__asm__(".text\n"
	".globl user_run\n"
	"user_run:\n"
	"\tpushl %ebp\n\tpushl %ebx\n\tpushl %esi\n\tpushl %edi\n"
	"\tmovl %esp, user_kernel_esp\n"
	"\tmovl 20(%esp), %edx\n"
	"\tmovl 24(%esp), %ebx\n"
	"\tmovl 28(%esp), %eax\n"
	"\tmovl 32(%esp), %ecx\n"
	/* IRET to an outer level pops EIP, CS, EFLAGS, ESP, SS (SDM Vol. 2 IRET). */
	"\tpushl $0x23\n\tpushl %ebx\n\tpushl $2\n\tpushl $0x1b\n\tpushl %edx\n"
	"\tmovl $0x23, %edx\n\tmovl %edx, %ds\n\tmovl %edx, %es\n"
	"\tiret\n"
	".globl user_return\n"
	"user_return:\n"
	"\tmovl $0x10, %edx\n\tmovl %edx, %ds\n\tmovl %edx, %es\n"
	"\tmovl user_kernel_esp, %esp\n"
	"\tpopl %edi\n\tpopl %esi\n\tpopl %ebx\n\tpopl %ebp\n"
	"\tret\n");
_Static_assert(USER_CS == 0x1b && USER_DS == 0x23 && KERNEL_DS == 0x10, "user_run's selectors");

/* How the last trip to CPL 3 ended. */
static volatile uint32_t user_ud, user_value, user_other, user_other_vector;

static void on_user_exit(struct trap_frame *f)
{
	if (!(f->cs & 3)) {
		report(0, "unexpected-exception", "vector %u error 0x%x at EIP 0x%x (CPL 0)", f->vector, f->error, f->eip);
		end();
	}
	if (f->vector == UD_VECTOR) {
		user_ud++;
		user_value = f->edx;
	} else {
		user_other++;
		user_other_vector = f->vector;
	}
	f->eip = (uint32_t)(uintptr_t)user_return;
}

static void setup_segments(void)
{
	uint32_t base = pg_pa(&tss), limit = sizeof(tss) - 1;
	gdt[0] = 0;
	gdt[KERNEL_CS >> 3] = SEG_FLAT(0x9a);        /* P, DPL 0, code execute/read */
	gdt[KERNEL_DS >> 3] = SEG_FLAT(0x92);        /* P, DPL 0, data read/write */
	gdt[USER_CS >> 3] = SEG_FLAT(0xfa);          /* P, DPL 3, code */
	gdt[USER_DS >> 3] = SEG_FLAT(0xf2);          /* P, DPL 3, data */
	/* P, DPL 0, type 9: available 32-bit TSS (SDM Vol. 3 8.2.2). */
	gdt[TSS_SEL >> 3] = (limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) | (0x89ull << 40) |
			    ((uint64_t)(limit >> 16) << 48) | ((uint64_t)(base >> 24) << 56);
	tss.ss0 = KERNEL_DS;
	tss.esp0 = pg_pa(ring0_stack) + sizeof(ring0_stack);
	tss.iomap_base = sizeof(tss);
	struct dt_reg r = { .limit = sizeof(gdt) - 1, .base = (unsigned long)gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp %1, $1f\n"
			 "1:\tmovl %2, %%eax\n\tmovl %%eax, %%ds\n\tmovl %%eax, %%es\n\tmovl %%eax, %%ss\n"
			 "\tmovl %%eax, %%fs\n\tmovl %%eax, %%gs\n"
			 "\tmovw %3, %%ax\n\tltr %%ax"
			 :
			 : "m"(r), "i"(KERNEL_CS), "i"(KERNEL_DS), "i"(TSS_SEL)
			 : "eax", "memory");
}

static void build_tables(void)
{
	pg_identity_pt32(pt_low);
	pd[0] = pg_pa(pt_low) | PG_P | PG_W;      /* supervisor only */
	pd[pg_pd_index32(VA_UCODE)] = pg_pa(pt_user) | PG_P | PG_W | PG_U;
	pd[pg_pd_index32(VA_SUP_PDE)] = pg_pa(pt_sup_pde) | PG_P | PG_W;
	pd[pg_pd_index32(VA_RO_PDE)] = pg_pa(pt_ro_pde) | PG_P | PG_U;
	pt_user[pg_pt_index32(VA_UCODE)] = pg_pa(user_page) | PG_P | PG_U;
	pt_user[pg_pt_index32(VA_USTACK)] = pg_pa(page_ustack) | PG_P | PG_W | PG_U;
	pt_user[pg_pt_index32(VA_URW)] = pg_pa(page_urw) | PG_P | PG_W | PG_U;
	pt_user[pg_pt_index32(VA_URO)] = pg_pa(page_uro) | PG_P | PG_U;
	pt_user[pg_pt_index32(VA_SUP)] = pg_pa(page_sup) | PG_P | PG_W;
	pt_sup_pde[0] = pg_pa(page_sup_pde) | PG_P | PG_W | PG_U;
	pt_ro_pde[0] = pg_pa(page_ro_pde) | PG_P | PG_W | PG_U;
	pg_tag(pg_pa(page_urw), TAG(1));
	pg_tag(pg_pa(page_uro), TAG(2));
	pg_tag(pg_pa(page_sup), TAG(3));
	pg_tag(pg_pa(page_sup_pde), TAG(4));
	pg_tag(pg_pa(page_ro_pde), TAG(5));
}

/* One access at CPL 3; returns the user instruction's address. */
static uint32_t user_access(bool store, uint32_t va, uint32_t value)
{
	const uint8_t *insn = store ? user_store : user_load;
	uint32_t eip = VA_UCODE + (uint32_t)(insn - user_page);
	pg_fault_reset();
	user_ud = user_other = 0;
	user_value = 0xbad0bad0u;
	user_run(eip, VA_USTACK + PAGE_SIZE, va, value);
	return eip;
}

#define USER_SEEN_FMT PG_SEEN_FMT ", CS 0x%x, %s"
#define USER_SEEN_ARGS PG_SEEN_ARGS, pg_fault.cs, user_ud ? "reached the UD2 after it" : "did not reach the UD2 after it"

/* A user access that must not fault (a load must read want). */
static void expect_user_ok(const char *check, const char *what, bool store, uint32_t va, uint32_t want)
{
	user_access(store, va, want);
	bool ok = pg_fault.count == 0 && user_ud == 1 && user_other == 0 && (store || user_value == want);
	report(ok, check, "%s: CPL 3 %s 0x%x: " USER_SEEN_FMT ", read 0x%x, %u other exception(s) (last vector %u); want "
	       "no #PF%s0x%x", what, store ? "store to" : "load of", va, USER_SEEN_ARGS, user_value, user_other,
	       user_other_vector, store ? ", stored " : ", read ", want);
}

/* A user access that must fault with want_error, CR2 va, at the user instruction in CS 0x1b. */
static void expect_user_fault(const char *check, const char *what, bool store, uint32_t va, uint32_t want_error)
{
	uint32_t eip = user_access(store, va, 0x0005e700u);
	bool ok = pg_fault.count == 1 && pg_fault.error == want_error && pg_fault.cr2 == va && pg_fault.eip == eip &&
		  pg_fault.cs == USER_CS && !user_ud && !user_other;
	report(ok, check, "%s: CPL 3 %s 0x%x: " USER_SEEN_FMT "; want 1 #PF, error 0x%x CR2 0x%x EIP 0x%x CS 0x%x", what,
	       store ? "store to" : "load of", va, USER_SEEN_ARGS, want_error, va, eip, USER_CS);
}

static void check_user_accesses(void)
{
	const uint32_t p = PFERR_PRESENT_MASK, w = PFERR_WRITE_MASK, u = PFERR_USER_MASK;
	expect_user_ok("user-load-user-page", "U/S=1 R/W=1", false, VA_URW + PG_PROBE, TAG(1));
	expect_user_ok("user-store-user-page", "U/S=1 R/W=1", true, VA_URW + PG_PROBE, 0x05e75701u);
	pg_expect_load("user-store-landed", "the user store, at the physical address", pg_pa(page_urw) + PG_PROBE,
		       0x05e75701u);
	expect_user_ok("user-load-ro-page", "U/S=1 R/W=0", false, VA_URO + PG_PROBE, TAG(2));
	expect_user_fault("user-store-ro-page", "U/S=1 R/W=0 (CR0.WP=1)", true, VA_URO + PG_PROBE, p | w | u);
	expect_user_fault("user-load-supervisor-page", "PTE U/S=0", false, VA_SUP + PG_PROBE, p | u);
	expect_user_fault("user-store-supervisor-page", "PTE U/S=0", true, VA_SUP + PG_PROBE, p | w | u);
	pg_expect_load("user-store-supervisor-not-landed", "the supervisor page after the refused user store",
		       pg_pa(page_sup) + PG_PROBE, TAG(3));
	expect_user_fault("user-load-supervisor-pde", "PDE U/S=0, PTE U/S=1", false, VA_SUP_PDE + PG_PROBE, p | u);
	expect_user_ok("user-load-ro-pde", "PDE R/W=0, PTE R/W=1", false, VA_RO_PDE + PG_PROBE, TAG(5));
	expect_user_fault("user-store-ro-pde", "PDE R/W=0, PTE R/W=1", true, VA_RO_PDE + PG_PROBE, p | w | u);
	expect_user_fault("user-load-not-present", "PTE P=0", false, VA_NP + PG_PROBE, u);
	expect_user_fault("user-store-not-present", "PTE P=0", true, VA_NP + PG_PROBE, w | u);
}

static void check_supervisor_accesses(void)
{
	const uint32_t p = PFERR_PRESENT_MASK, w = PFERR_WRITE_MASK;
	pg_expect_load("supervisor-load-user-page", "CPL 0, U/S=1 R/W=1", VA_URW + PG_PROBE, 0x05e75701u);
	pg_expect_store("supervisor-store-user-page", "CPL 0, U/S=1 R/W=1", VA_URW + PG_PROBE, 0x05e75702u);
	expect_user_ok("user-load-after-supervisor-store", "the page CPL 0 just stored to", false, VA_URW + PG_PROBE,
		       0x05e75702u);
	pg_expect_load("supervisor-load-user-pde", "CPL 0 under a PDE with U/S=0", VA_SUP_PDE + PG_PROBE, TAG(4));
	pg_expect_store_fault("wp1-supervisor-store-ro-user-page", "CR0.WP=1, CPL 0 store to U/S=1 R/W=0",
			      VA_URO + PG_PROBE, p | w);

	/* CR0.WP=0: the supervisor may store to read-only pages, the user
	 * still may not; and a user load of that page stays allowed. */
	pg_set_cr0_wp(false);
	pg_expect_store("wp0-supervisor-store-ro-user-page", "CR0.WP=0, CPL 0 store to U/S=1 R/W=0", VA_URO + PG_PROBE,
			0x05e75703u);
	expect_user_ok("wp0-user-load-ro-page", "CR0.WP=0, the page CPL 0 just stored to", false, VA_URO + PG_PROBE,
		       0x05e75703u);
	expect_user_fault("wp0-user-store-ro-page", "CR0.WP=0 (a user store ignores WP)", true, VA_URO + PG_PROBE,
			  p | w | PFERR_USER_MASK);
	pg_expect_store("wp0-supervisor-store-ro-user-page-again", "CR0.WP=0, the CPL 0 store after the user's",
			VA_URO + PG_PROBE, 0x05e75704u);
	expect_user_fault("wp0-user-store-ro-pde", "CR0.WP=0, PDE R/W=0", true, VA_RO_PDE + PG_PROBE,
			  p | w | PFERR_USER_MASK);
	pg_set_cr0_wp(true);
	pg_expect_store_fault("wp1-again-supervisor-store-ro-user-page", "CR0.WP=1 again, CPL 0 store to U/S=1 R/W=0",
			      VA_URO + PG_PROBE, p | w);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	setup_segments();
	pg_traps_init();
	pg_user_resume = (uint32_t)(uintptr_t)user_return;
	trap_exception_handler[UD_VECTOR] = on_user_exit;
	trap_exception_handler[GP_VECTOR] = on_user_exit;
	build_tables();
	pg_enable(pg_pa(pd), 0);
	pg_set_cr0_wp(true);
	report_eq("cr0-pg-wp-set", read_cr0() & (X86_CR0_PG | X86_CR0_WP), X86_CR0_PG | X86_CR0_WP);
	check_user_accesses();
	check_supervisor_accesses();
	end();
}
