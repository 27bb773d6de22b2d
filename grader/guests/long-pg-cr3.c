/* SPDX-License-Identifier: MIT */
/*
 * long-pg-cr3: many address spaces switched by CR3, as a fork-heavy
 * workload makes them. NSPACES page-table trees share the identity map of
 * the image (code, stack, tables) through one PDPT, and each maps its own
 * private page at the same virtual address PRIVATE_VA. The guest switches
 * between them round-robin, then in a scrambled order that returns to
 * earlier ones, and in each checks that PRIVATE_VA shows that space's page
 * (the value it last wrote there) before writing a new one. Then it
 * "forks": a new tree whose private page starts as a copy of a parent's
 * and diverges from it, and it remaps one space's PTE while another space
 * is loaded (so the edit is to a table that is not the current root, as
 * stage 05 requires) and checks the change shows on switching to it.
 *
 * A shadow MMU that keyed its roots by anything but the guest's CR3 (SDM
 * Vol. 3 4.5: CR3 locates the PML4), reused one space's shadow for another,
 * or lost a space's shadow of a table written while it was not loaded
 * (4.10.4.1: MOV to CR3 invalidates what the TLB cached) shows here.
 */
#include "rt.h"
#include <x86/pgtable.h>

#define NSPACES    16
#define ROUNDS     6
#define PRIVATE_VA 0x8000000000ull /* PML4 slot 1, PDPT 0, PD 0, PT 0 */
#define OWN_FLAGS  (PT_PRESENT_MASK | PT_WRITABLE_MASK)

struct space {
	uint64_t pml4[512], pdpt[512], pd[512], pt[512];
	uint64_t data[512];
} __attribute__((aligned(PAGE_SIZE)));

static struct space spaces[NSPACES + 1]; /* the last one is the fork */
static uint64_t spare[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t last_tag[NSPACES + 1];

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

static void space_build(struct space *s, const uint64_t *identity_pml4)
{
	s->pml4[0] = identity_pml4[0]; /* the VMM's identity map: shared, never written */
	s->pml4[PT64_INDEX(PRIVATE_VA, 4)] = pa(s->pdpt) | OWN_FLAGS;
	s->pdpt[PT64_INDEX(PRIVATE_VA, 3)] = pa(s->pd) | OWN_FLAGS;
	s->pd[PT64_INDEX(PRIVATE_VA, 2)] = pa(s->pt) | OWN_FLAGS;
	s->pt[PT64_INDEX(PRIVATE_VA, 1)] = pa(s->data) | OWN_FLAGS;
}

static unsigned bad, checks;
static void visit(unsigned i, uint64_t round)
{
	write_cr3(pa(spaces[i].pml4));
	volatile uint64_t *v = (volatile uint64_t *)PRIVATE_VA;
	uint64_t got = v[0];
	checks++;
	if (got != last_tag[i] && bad++ < 4)
		printf("space %u (CR3 0x%llx) round %llu: PRIVATE_VA reads 0x%llx, want its own 0x%llx\n", i,
		       (unsigned long long)pa(spaces[i].pml4), (unsigned long long)round, (unsigned long long)got,
		       (unsigned long long)last_tag[i]);
	last_tag[i] = 0xc3c30000000000ull | (round << 16) | i;
	v[0] = last_tag[i];
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	uint64_t vmm_cr3 = read_cr3();
	const uint64_t *identity_pml4 = (const uint64_t *)(uintptr_t)(vmm_cr3 & PT64_BASE_ADDR_MASK);

	for (unsigned i = 0; i < NSPACES; i++) {
		space_build(&spaces[i], identity_pml4);
		last_tag[i] = spaces[i].data[0] = 0xa5a50000u | i;
	}

	for (uint64_t r = 0; r < ROUNDS; r++)
		for (unsigned i = 0; i < NSPACES; i++)
			visit(i, r);
	report(bad == 0, "round-robin", "%u of %u visits saw another space's data (details above)", bad, checks);

	/* Back to earlier spaces in an order that is not the creation order:
	 * i -> 7i + 3 (mod 16) is a permutation; each step goes back by 9. */
	bad = checks = 0;
	for (uint64_t r = 0; r < 4; r++)
		for (unsigned k = 0, i = (unsigned)r; k < NSPACES; k++, i = (7 * i + 3) % NSPACES)
			visit(i, ROUNDS + r);
	report(bad == 0, "scrambled-return", "%u of %u visits saw another space's data (details above)", bad, checks);

	/* Fork: space NSPACES copies space 0's private page, then both diverge. */
	write_cr3(pa(spaces[0].pml4));
	struct space *child = &spaces[NSPACES];
	space_build(child, identity_pml4);
	for (unsigned w = 0; w < 512; w++)
		child->data[w] = spaces[0].data[w];
	last_tag[NSPACES] = last_tag[0];
	bad = checks = 0;
	visit(NSPACES, 100);
	visit(0, 100);
	visit(NSPACES, 101);
	visit(0, 101);
	report(bad == 0, "fork-diverges", "%u of %u visits of parent and child saw the other's data", bad, checks);

	/* Remap space 5's private page while space 3 is loaded: its PT is not the root. */
	write_cr3(pa(spaces[3].pml4));
	spare[0] = 0x5a5a5a5a5a5a5a5aull;
	spaces[5].pt[PT64_INDEX(PRIVATE_VA, 1)] = pa(spare) | OWN_FLAGS;
	uint64_t in3 = *(volatile uint64_t *)PRIVATE_VA;
	write_cr3(pa(spaces[5].pml4));
	uint64_t in5 = *(volatile uint64_t *)PRIVATE_VA;
	report(in5 == spare[0], "remap-other-space", "space 5 reads 0x%llx after its PTE was pointed at another page, "
	       "want 0x%llx", (unsigned long long)in5, (unsigned long long)spare[0]);
	report(in3 == last_tag[3], "remap-leaves-current", "space 3 read 0x%llx while space 5 was remapped, want 0x%llx",
	       (unsigned long long)in3, (unsigned long long)last_tag[3]);

	/* Every private page holds exactly what its own space wrote last. */
	write_cr3(vmm_cr3);
	unsigned wrong = 0;
	for (unsigned i = 0; i <= NSPACES; i++)
		wrong += spaces[i].data[0] != last_tag[i];
	report(wrong == 0, "private-pages-intact", "%u of %u private pages hold another value than their space wrote",
	       wrong, NSPACES + 1);
	end();
}
