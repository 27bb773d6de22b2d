/* SPDX-License-Identifier: MIT */
/*
 * long-pg-bad: page tables a hostile or broken guest writes, and the fault
 * each must give rather than a host crash, a hang or a wrong translation.
 *
 * - Reserved bits (SDM Vol. 3 4.5, tables 4-15 to 4-20; error code 4.7): an
 *   address bit at or above MAXPHYADDR in a PTE, XD with EFER.NXE = 0, PS in
 *   a PML4E, frame bits 20:13 of a 2 MiB page: #PF with P and RSVD set, W/R
 *   as the access, CR2 the address.
 * - A table outside guest memory: a PML4E and a PDE naming a table at a GPA
 *   no memory slot holds. Hardware would read whatever the bus returns; a
 *   hypervisor's walker cannot read it and, as Linux's FNAME(walk_addr_generic)
 *   does, reports the walk as not present: #PF with P clear.
 * - A self-map: a PML4E that points back to the PML4 (read-only). Addresses
 *   whose upper indexes name that slot walk the PML4 again as a lower level,
 *   so the tables themselves appear as data (4.5: each level's entry only
 *   names the next table's frame). Reading through it must show the PML4,
 *   a PDPT, a PD and a PT, as their entries read through the identity map
 *   (A/D aside: the walk itself may set them). Nothing writes through it: a
 *   write would be to the current root, which stage 05 cannot handle.
 */
#include "rt.h"
#include "trap64.h"
#include <x86/pgtable.h>
#include <x86/trapnr.h>

#define TEST_VA    0x8000000000ull  /* PML4 slot 1 */
#define OUTSIDE_VA 0x10000000000ull /* PML4 slot 2 */
#define SELF_SLOT  400ull
#define NOWHERE    0x80000000ull    /* 2 GiB: no slot, no device (guest_abi.h) */
#define OWN_FLAGS  (PT_PRESENT_MASK | PT_WRITABLE_MASK)
#define AD_MASK    (PT_ACCESSED_MASK | PT_DIRTY_MASK)

static uint64_t root[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t out_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t data[512] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static uint64_t vmm_cr3, efer;
static unsigned maxphyaddr;

static void do_read(uint64_t va) { (void)*(volatile uint64_t *)(uintptr_t)va; }
static void do_write(uint64_t va) { *(volatile uint64_t *)(uintptr_t)va = 1; }

static uint64_t va_of(uint64_t i4, uint64_t i3, uint64_t i2, uint64_t i1)
{
	uint64_t va = i4 << 39 | i3 << 30 | i2 << 21 | i1 << 12;
	return i4 >= 256 ? va | 0xffff000000000000ull : va; /* canonical */
}

/* The test path TEST_VA -> data through 4 KiB pages, as each case starts from. */
static void path_reset(void)
{
	root[1] = pa(pdpt) | OWN_FLAGS;
	pdpt[0] = pa(pd) | OWN_FLAGS;
	pd[0] = pa(pt) | OWN_FLAGS;
	pt[0] = pa(data) | OWN_FLAGS;
}

/* Loads the test root, makes the access at CPL 0 and checks the #PF. */
static void expect_pf(const char *check, void (*fn)(uint64_t), uint64_t va, uint64_t want_error)
{
	write_cr3(pa(root));
	int completed = trap64_run(fn, va);
	write_cr3(vmm_cr3);
	report(!completed && trap64_last.vector == PF_VECTOR && trap64_last.error == want_error && trap64_last.cr2 == va,
	       check, "%s: vector %llu error 0x%llx CR2 0x%llx, want #PF error 0x%llx CR2 0x%llx",
	       completed ? "no fault" : "fault", (unsigned long long)trap64_last.vector,
	       (unsigned long long)trap64_last.error, (unsigned long long)trap64_last.cr2,
	       (unsigned long long)want_error, (unsigned long long)va);
	path_reset();
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	uint32_t a, b, c, d;
	cpuid(0x80000008u, 0, &a, &b, &c, &d);
	maxphyaddr = a & 0xff;
	efer = rdmsr(MSR_EFER);
	vmm_cr3 = read_cr3();
	root[0] = ((const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK))[0];
	data[0] = 0x0123456789abcdefull;
	path_reset();

	/* Sanity: the path works before anything is broken. */
	write_cr3(pa(root));
	uint64_t v = *(volatile uint64_t *)TEST_VA;
	write_cr3(vmm_cr3);
	report_eq("path-reads-data", v, data[0]);

	const uint64_t rsvd = PFERR_PRESENT_MASK | PFERR_RSVD_MASK;
	if (maxphyaddr < 52) {
		pt[0] |= 1ull << 51;
		expect_pf("rsvd-pte-bit51-read", do_read, TEST_VA, rsvd);
		pt[0] |= 1ull << maxphyaddr;
		expect_pf("rsvd-pte-maxphyaddr-write", do_write, TEST_VA, rsvd | PFERR_WRITE_MASK);
	} else {
		skip("rsvd-pte-bit51-read", "MAXPHYADDR is 52: no reserved address bits");
		skip("rsvd-pte-maxphyaddr-write", "MAXPHYADDR is 52: no reserved address bits");
	}
	wrmsr(MSR_EFER, efer & ~EFER_NX);
	pd[0] |= PT64_NX_MASK;
	expect_pf("rsvd-xd-without-nxe", do_read, TEST_VA, rsvd);
	wrmsr(MSR_EFER, efer);
	root[1] |= PT_PAGE_SIZE_MASK;
	expect_pf("rsvd-ps-in-pml4e", do_write, TEST_VA, rsvd | PFERR_WRITE_MASK);
	pd[0] = (pa(data) & ~(LARGE_PAGE_SIZE - 1)) | PT_PAGE_SIZE_MASK | OWN_FLAGS | (1ull << 14);
	expect_pf("rsvd-2m-frame-bit14", do_read, TEST_VA + (pa(data) & (LARGE_PAGE_SIZE - 1)), rsvd);

	/* Tables at a GPA outside guest memory. */
	root[2] = NOWHERE | OWN_FLAGS;
	expect_pf("pml4e-to-nowhere", do_read, OUTSIDE_VA + 0x123, 0);
	root[2] = pa(out_pdpt) | OWN_FLAGS;
	out_pdpt[0] = pa(pd) | OWN_FLAGS;
	pd[1] = (NOWHERE + PAGE_SIZE) | OWN_FLAGS;
	expect_pf("pde-to-nowhere", do_write, OUTSIDE_VA + LARGE_PAGE_SIZE + 0x40, PFERR_WRITE_MASK);
	pd[1] = 0;
	root[2] = 0;

	/* The self-map, read-only. */
	root[SELF_SLOT] = pa(root) | PT_PRESENT_MASK;
	write_cr3(pa(root));
	uint64_t got[4], want[4];
	got[0] = ((volatile uint64_t *)(uintptr_t)va_of(SELF_SLOT, SELF_SLOT, SELF_SLOT, SELF_SLOT))[1];
	got[1] = ((volatile uint64_t *)(uintptr_t)va_of(SELF_SLOT, SELF_SLOT, SELF_SLOT, 1))[0];
	got[2] = ((volatile uint64_t *)(uintptr_t)va_of(SELF_SLOT, SELF_SLOT, 1, 0))[0];
	got[3] = ((volatile uint64_t *)(uintptr_t)va_of(SELF_SLOT, 1, 0, 0))[0];
	uint64_t self_entry = ((volatile uint64_t *)(uintptr_t)va_of(SELF_SLOT, SELF_SLOT, SELF_SLOT, SELF_SLOT))[SELF_SLOT];
	write_cr3(vmm_cr3);
	want[0] = root[1];
	want[1] = pdpt[0];
	want[2] = pd[0];
	want[3] = pt[0];
	static const char *const names[] = { "self-map-pml4", "self-map-pdpt", "self-map-pd", "self-map-pt" };
	static const char *const what[] = { "PML4[1]", "PDPT[0]", "PD[0]", "PT[0]" };
	for (unsigned i = 0; i < 4; i++)
		report((got[i] & ~AD_MASK) == (want[i] & ~AD_MASK), names[i], "%s through the self-map reads 0x%llx, "
		       "through the identity map 0x%llx (A/D aside)", what[i], (unsigned long long)got[i],
		       (unsigned long long)want[i]);
	report((self_entry & PT64_BASE_ADDR_MASK) == pa(root), "self-map-entry",
	       "the self-map entry read through itself is 0x%llx, want frame 0x%llx", (unsigned long long)self_entry,
	       (unsigned long long)pa(root));
	/* Read-only at the PML4 level: a write through the self-map faults
	 * (CR0.WP = 1 is the VMM's setting), and never reaches the root. */
	uint64_t wp_va = va_of(SELF_SLOT, SELF_SLOT, SELF_SLOT, SELF_SLOT) + 8 * 3;
	write_cr0(read_cr0() | X86_CR0_WP);
	expect_pf("self-map-write-protected", do_write, wp_va, PFERR_PRESENT_MASK | PFERR_WRITE_MASK);
	report_eq("root-unchanged", root[3], 0);
	root[SELF_SLOT] = 0;
	end();
}
