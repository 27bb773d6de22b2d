/* SPDX-License-Identifier: MIT */
/*
 * long-pt-flags: the access rights of the VMM's identity tables (SDM Vol. 3
 * 4.5, 4.6). guest_abi.h maps the first 4 GiB writable: every entry on the way
 * to a 2 MiB page is present and has R/W, the last one has PS. A walk from
 * CR3 checks that at addresses in each of the four GiB; then, with CR0.WP set
 * (supervisor writes obey R/W, SDM Vol. 3 4.6.1, as a Linux guest runs), the
 * guest writes to its stack and its data, which must not fault (a #PF here
 * has no handler: the run would end in a triple fault).
 */
#include "rt.h"
#include <x86/pgtable.h>

#define RW (PT_PRESENT_MASK | PT_WRITABLE_MASK)

/* The flags a walk of va found at each level; 0 = not mapped there. */
struct flags {
	uint64_t pml4e, pdpte, pde;
};

static struct flags walk(uint64_t cr3, uint64_t va)
{
	struct flags f = { 0, 0, 0 };
	const volatile uint64_t *pml4 = (const volatile uint64_t *)(uintptr_t)(cr3 & PT64_BASE_ADDR_MASK);
	f.pml4e = pml4[PT64_INDEX(va, 4)];
	if (!(f.pml4e & PT_PRESENT_MASK))
		return f;
	const volatile uint64_t *pdpt = (const volatile uint64_t *)(uintptr_t)(f.pml4e & PT64_BASE_ADDR_MASK);
	f.pdpte = pdpt[PT64_INDEX(va, 3)];
	if (!(f.pdpte & PT_PRESENT_MASK) || (f.pdpte & PT_PAGE_SIZE_MASK))
		return f;
	const volatile uint64_t *pd = (const volatile uint64_t *)(uintptr_t)(f.pdpte & PT64_BASE_ADDR_MASK);
	f.pde = pd[PT64_INDEX(va, 2)];
	return f;
}

static unsigned writable_pages, checked_pages;

static void check(uint64_t cr3, uint64_t va)
{
	struct flags f = walk(cr3, va);
	checked_pages++;
	if ((f.pml4e & RW) == RW && (f.pdpte & RW) == RW && (f.pde & (RW | PT_PAGE_SIZE_MASK)) == (RW | PT_PAGE_SIZE_MASK)) {
		writable_pages++;
		return;
	}
	printf("VA 0x%llx: PML4E 0x%llx PDPTE 0x%llx PDE 0x%llx\n", (unsigned long long)va,
	       (unsigned long long)f.pml4e, (unsigned long long)f.pdpte, (unsigned long long)f.pde);
}

static volatile uint64_t data_word;

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	uint64_t cr3 = read_cr3();
	volatile uint64_t stack_word = 0;
	static const uint64_t addresses[] = {
		0x0, ABI_IMAGE_GPA, 0x3fe00000, 0x40000000, 0x7fe00000, 0x80000000, 0xbfe00000, 0xc0000000,
		ABI_ROM_GPA, 0xffe00000,
	};
	for (unsigned i = 0; i < sizeof(addresses) / sizeof(addresses[0]); i++)
		check(cr3, addresses[i]);
	check(cr3, (uint64_t)(uintptr_t)&stack_word);
	check(cr3, (uint64_t)(uintptr_t)&data_word);
	report(writable_pages == checked_pages, "tables-present-writable",
	       "%u of %u addresses have P and R/W at every level and PS on the 2 MiB page", writable_pages, checked_pages);

	/* Supervisor writes obey R/W only with CR0.WP (SDM Vol. 3 4.6.1). */
	uint64_t cr0 = read_cr0();
	write_cr0(cr0 | X86_CR0_WP);
	stack_word = 0x5741;
	data_word = 0x5742;
	write_cr0(cr0);
	report(stack_word == 0x5741 && data_word == 0x5742, "write-with-cr0-wp",
	       "with CR0.WP set the stack reads 0x%llx and the data 0x%llx after writing 0x5741 and 0x5742",
	       (unsigned long long)stack_word, (unsigned long long)data_word);
	end();
}
