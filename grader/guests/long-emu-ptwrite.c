/* SPDX-License-Identifier: MIT */
/*
 * long-emu-ptwrite: a guest that edits its own page tables all the time,
 * each store followed by an access through the entry it changed. Under
 * shadow paging every page table the guest uses is write-protected, so each
 * of these stores is a fault the hypervisor must carry out for the guest:
 * lab 05 unprotects the page (and zaps its shadow), lab 07 emulates the
 * store and updates the shadow entry in place (Linux's kvm_mmu_pte_write,
 * for the instructions x86_page_table_writing_insn names). With EPT none of
 * them exits. Either way the guest sees only the architecture:
 *
 *   - 64 PTEs remapped round after round among 16 frames, by MOV, XCHG,
 *     LOCK CMPXCHG (which must find the entry it read), a 32-bit store of the
 *     low half, and LOCK BTR / LOCK OR to clear and set P; after changing a
 *     present entry INVLPG (SDM Vol. 3 4.10.4.1), after making a not-present
 *     entry present nothing (4.10.4.3: no TLB entry can hold a not-present
 *     translation); each access reads the frame's tag, every fourth writes
 *     one and the identity map must see it;
 *   - a working set of all 64 slots read again after each of 16 stores;
 *   - the page directory entry switched between two page tables (MOV CR3
 *     after it, 4.10.4.1), the slots then reading the other table's frames.
 */
#include "rt.h"
#include <x86/pgtable.h>

#define VA        0x40000000ul
#define SLOTS     64
#define FRAMES    16
#define ROUNDS    8
#define WS_STORES 16
#define TFLAGS    (PT_PRESENT_MASK | PT_WRITABLE_MASK)

static uint64_t pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_low[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_va[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_a[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_b[512] __attribute__((aligned(PAGE_SIZE)));
static uint8_t frames[FRAMES][PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static uint64_t frame_pte(unsigned f) { return pa(frames[f]) | TFLAGS; }
static uintptr_t slot_va(unsigned i) { return VA + (uintptr_t)i * PAGE_SIZE; }
static uint64_t tag(unsigned f, unsigned i) { return 0x7467000000000000ull | (uint64_t)f << 32 | i; }

/* Where slot i reads its tag in any frame (a different qword per slot). */
static unsigned tag_off(unsigned i) { return (i * 72) % (PAGE_SIZE - 8); }

static void set_tags(void)
{
	for (unsigned f = 0; f < FRAMES; f++)
		for (unsigned i = 0; i < SLOTS; i++)
			*(volatile uint64_t *)(frames[f] + tag_off(i)) = tag(f, i);
}

static void invlpg_va(uintptr_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static unsigned bad_use, bad_write, bad_cmpxchg, stores;
static unsigned first_bad = ~0u;

/* The store that maps slot i to frame f, by one of five instructions. */
static void remap(uint64_t *pt, unsigned i, unsigned f, unsigned how)
{
	volatile uint64_t *e = &pt[i];
	uint64_t nv = frame_pte(f);
	switch (how) {
	case 0: /* MOV over a present entry */
		*e = nv;
		invlpg_va(slot_va(i));
		stores++;
		break;
	case 1: { /* XCHG (locked: Vol. 2, XCHG) */
		uint64_t v = nv;
		__asm__ volatile("xchgq %0, %1" : "+r"(v), "+m"(*e) : : "memory");
		invlpg_va(slot_va(i));
		stores++;
		break;
	}
	case 2: { /* LOCK CMPXCHG of what the entry holds now, A/D included */
		uint64_t old = *e;
		uint8_t zf;
		__asm__ volatile("lock cmpxchgq %2, %1\n\tsetz %0"
				 : "=q"(zf), "+m"(*e), "+r"(nv), "+a"(old)
				 :
				 : "memory", "cc");
		bad_cmpxchg += !zf;
		invlpg_va(slot_va(i));
		stores++;
		break;
	}
	case 3: /* LOCK BTR clears P, then a 32-bit store of the low half
		 * (the frames are below 4 GiB: the high half stays 0) */
		__asm__ volatile("lock btrq $0, %0" : "+m"(*e) : : "memory", "cc");
		invlpg_va(slot_va(i));
		*(volatile uint32_t *)e = (uint32_t)nv;
		stores += 2;
		break;
	default: /* MOV of 0, then LOCK OR of the new entry */
		*e = 0;
		invlpg_va(slot_va(i));
		__asm__ volatile("lock orq %1, %0" : "+m"(*e) : "r"(nv) : "memory", "cc");
		stores += 2;
		break;
	}
}

static void use(unsigned i, unsigned f, unsigned round)
{
	volatile uint64_t *p = (volatile uint64_t *)(slot_va(i) + tag_off(i));
	uint64_t got = *p;
	if (got != tag(f, i) && bad_use++ == 0)
		first_bad = round << 16 | i;
	if ((i + round) % 4 == 0) {
		uint64_t t = tag(f, i) ^ 0xff00;
		*p = t;
		volatile uint64_t *id = (volatile uint64_t *)(frames[f] + tag_off(i));
		bad_write += *id != t;
		*id = tag(f, i);
	}
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	set_tags();
	pml4[0] = pa(pdpt) | TFLAGS;
	pdpt[0] = pa(pd_low) | TFLAGS;
	for (uint64_t i = 0; i < 8; i++)
		pd_low[i] = (i << LARGE_PAGE_SHIFT) | TFLAGS | PT_PAGE_SIZE_MASK;
	pdpt[PT64_INDEX(VA, 3)] = pa(pd_va) | TFLAGS;
	pd_va[0] = pa(pt_a) | TFLAGS;
	for (unsigned i = 0; i < SLOTS; i++) {
		pt_a[i] = frame_pte(i % FRAMES);
		pt_b[i] = frame_pte((i + 5) % FRAMES);
	}
	write_cr3(pa(pml4));

	unsigned cur[SLOTS];
	for (unsigned i = 0; i < SLOTS; i++)
		cur[i] = i % FRAMES, use(i, cur[i], 0);

	for (unsigned round = 1; round <= ROUNDS; round++) {
		for (unsigned i = 0; i < SLOTS; i++) {
			unsigned f = (cur[i] + 1 + (i * 7 + round) % (FRAMES - 1)) % FRAMES;
			remap(pt_a, i, f, (i + round) % 5);
			cur[i] = f;
			use(i, f, round);
		}
	}
	report(bad_use == 0, "pte-remap-reads", "%u of %u accesses after a PTE store read the wrong frame (first: "
	       "round %u slot %u)", bad_use, SLOTS * (ROUNDS + 1), first_bad >> 16, first_bad & 0xffff);
	report(bad_write == 0, "pte-remap-writes", "%u stores through a remapped slot did not reach its frame",
	       bad_write);
	report(bad_cmpxchg == 0, "pte-cmpxchg", "%u LOCK CMPXCHGs did not find the entry just read there",
	       bad_cmpxchg);

	/* A working set: after each store, every slot is read again, as a
	 * process goes on using its pages while its kernel changes one entry
	 * (a copy-on-write break, say). Lab 05's unprotect rebuilds the
	 * table's whole shadow after each store; lab 07's in-place update
	 * drops only the entry that changed. */
	unsigned ws_bad = 0;
	for (unsigned k = 0; k < WS_STORES; k++) {
		unsigned i = (k * 11) % SLOTS, f = (cur[i] + 3) % FRAMES;
		remap(pt_a, i, f, 0);
		cur[i] = f;
		for (unsigned j = 0; j < SLOTS; j++)
			ws_bad += *(volatile uint64_t *)(slot_va(j) + tag_off(j)) != tag(cur[j], j);
	}
	report(ws_bad == 0, "pte-working-set", "%u reads of the working set after a PTE store were wrong", ws_bad);

	/* The PDE: to pt_b (slot i -> frame i + 5), back to pt_a, to pt_b. */
	unsigned pde_bad = 0;
	for (unsigned k = 0; k < 3; k++) {
		int b = k != 1;
		pd_va[0] = pa(b ? pt_b : pt_a) | TFLAGS;
		write_cr3(pa(pml4));
		stores++;
		for (unsigned i = 0; i < SLOTS; i += 3) {
			unsigned f = b ? (i + 5) % FRAMES : cur[i];
			pde_bad += *(volatile uint64_t *)(slot_va(i) + tag_off(i)) != tag(f, i);
		}
	}
	report(pde_bad == 0, "pde-switch", "%u reads after switching the PDE between two page tables were wrong",
	       pde_bad);
	printf("page-table stores: %u\n", stores);
	end();
}
