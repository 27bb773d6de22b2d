/* SPDX-License-Identifier: MIT */
/*
 * long-ept-rom: the read-only memslot (KVM_MEM_READONLY, ABI_ROM_GPA) under
 * EPT. Its pages are mapped readable and executable but not writable (Linux:
 * the slot's pfns are write-protected in the spte, make_spte), so loads run
 * natively at any CPL; a store is an EPT violation on a present, read-only
 * entry that KVM turns into an MMIO write to userspace (api.rst 4.35), which
 * the VMM drops and counts (ABI_CMD_ROM_WRITES). Without an instruction
 * emulator (minikvm before lab 07) such a store cannot complete: outside
 * ring 0 it is the guest's #UD (x86.c, handle_emulation_failure).
 *
 * So: loads at CPL 0 and 3 read the signature and pattern; every store, at
 * CPL 3 only (in ring 0 a host without an emulator ends the run), either
 * completes as an MMIO write or is #UD; the ROM reads back unchanged, also
 * right after each store, and #UDs + the VMM's ROM writes = the stores made.
 * Then stores across two ROM pages: each is two MMIO writes, one per page
 * (KVM's emulator_read_write() splits an access at the page, and each part
 * that is MMIO leaves as its own KVM_EXIT_MMIO), or #UD. Their parts are
 * 1, 2 or 4 bytes, which the VMM's bus takes whole (one ROM write each).
 */
#include "rt.h"
#include "trap64.h"
#include "user64.h"
#include <x86/pgtable.h>

#define ROM         ABI_ROM_GPA                   /* identity-mapped */
#define ROM_PAGES   ((unsigned)(ABI_ROM_SIZE / PAGE_SIZE))
#define USER_FLAGS  (PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK)

/* Ring 3: the first GiB by 2 MiB pages, the ROM by 4 KiB pages that the
 * guest itself lets it write (the write must reach EPT, not be a #PF). */
static uint64_t pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_low[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_4g[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_rom[512] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }

/* What the ROM holds (guest_abi.h): the signature at 0, byte i >= 16 is i & 0xff. */
static uint8_t rom_byte(uint32_t off)
{
	static const char sig[16] = ABI_ROM_SIGNATURE;
	return off < 16 ? (uint8_t)sig[off] : (uint8_t)off;
}

static uint64_t rom_value(uint32_t off, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)rom_byte(off + i) << (8 * i);
	return v;
}

/* Ring 0 reads the whole ROM, a qword at a time: the first offset that
 * differs, or ABI_ROM_SIZE. */
static uint32_t rom_first_wrong(void)
{
	for (uint32_t off = 0; off < ABI_ROM_SIZE; off += 8)
		if (*(const volatile uint64_t *)(uintptr_t)(ROM + off) != rom_value(off, 8))
			return off;
	return ABI_ROM_SIZE;
}

static const struct { uint32_t off; unsigned size; } loads[] = {
	{ 0, 8 }, { 8, 8 }, { 16, 1 }, { 0x1234, 2 }, { 0x8001, 4 }, { 0xabcd, 1 }, { 0xfff8, 8 },
};
/* Every size, both pages holding the signature's first bytes, the last qword. */
static const struct { uint32_t off; unsigned size; uint64_t value; } stores[] = {
	{ 0x0, 8, 0xddddddddddddddddull }, { 0x100, 1, 0xaa }, { 0x202, 2, 0xbbbb }, { 0x304, 4, 0xcccccccc },
	{ 0x1000, 4, 0x11111111 }, { 0x8003, 2, 0x2222 }, { 0xc005, 1, 0x33 }, { 0xfff8, 8, 0x4444444444444444ull },
};

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	/* Ring 0 on the VMM's tables first. */
	const volatile char *rom = (const volatile char *)(uintptr_t)ROM;
	unsigned i = 0;
	while (i < 16 && rom[i] == (char)rom_byte(i))
		i++;
	report(i == 16, "rom-cpl0-signature", "byte %u reads 0x%x, want 0x%x (\"%s\")", i, (uint8_t)rom[i],
	       rom_byte(i), ABI_ROM_SIGNATURE);
	uint32_t wrong = rom_first_wrong();
	report(wrong == ABI_ROM_SIZE, "rom-cpl0-pattern", "the qword at +0x%x reads 0x%llx, want 0x%llx", wrong,
	       wrong < ABI_ROM_SIZE ? (unsigned long long)*(const volatile uint64_t *)(uintptr_t)(ROM + wrong) : 0,
	       (unsigned long long)rom_value(wrong, 8));

	trap64_init();
	trap64_user_identity(pml4, pdpt, pd_low);
	pdpt[PT64_INDEX(ROM, 3)] = pa(pd_4g) | USER_FLAGS;
	pd_4g[PT64_INDEX(ROM, 2)] = pa(pt_rom) | USER_FLAGS;
	for (unsigned p = 0; p < ROM_PAGES; p++)
		pt_rom[PT64_INDEX(ROM, 1) + p] = (ROM + (uint64_t)p * PAGE_SIZE) | USER_FLAGS;
	uint64_t vmm_cr3 = read_cr3();
	write_cr3(pa(pml4));

	unsigned bad = 0;
	for (i = 0; i < ARRAY_SIZE(loads); i++) {
		uint64_t v = 0, want = rom_value(loads[i].off, loads[i].size);
		enum user_end e = user_load(ROM + loads[i].off, loads[i].size, &v);
		if (e != USER_DONE || v != want) {
			if (!bad++)
				printf("  %u-byte load of +0x%x: %s, read 0x%llx, want 0x%llx\n", loads[i].size,
				       loads[i].off, user_end_name(e), (unsigned long long)v, (unsigned long long)want);
		}
	}
	report(bad == 0, "rom-cpl3-load", "%u of %u loads at CPL 3 did not read the ROM (it is memory: they "
	       "complete natively)", bad, (unsigned)ARRAY_SIZE(loads));

	uint32_t before = testdev_cmd(ABI_CMD_ROM_WRITES, 0);
	unsigned ud = 0, done = 0, odd = 0, reread_bad = 0;
	for (i = 0; i < ARRAY_SIZE(stores); i++) {
		enum user_end e = user_store(ROM + stores[i].off, stores[i].size, stores[i].value);
		e == USER_DONE ? done++ : e == USER_UD ? ud++ : odd++;
		if (e == USER_FAULT)
			printf("  %u-byte store to +0x%x: vector %llu at RIP 0x%llx\n", stores[i].size, stores[i].off,
			       (unsigned long long)trap64_last.vector, (unsigned long long)trap64_last.rip);
		/* The page is still readable memory after the write's exit. */
		uint64_t v = 0, want = rom_value(stores[i].off, stores[i].size);
		e = user_load(ROM + stores[i].off, stores[i].size, &v);
		if (e != USER_DONE || v != want) {
			if (!reread_bad++)
				printf("  load of +0x%x after the store: %s, read 0x%llx, want 0x%llx\n", stores[i].off,
				       user_end_name(e), (unsigned long long)v, (unsigned long long)want);
		}
	}
	uint32_t seen = testdev_cmd(ABI_CMD_ROM_WRITES, 0) - before;

	static const struct {
		uint32_t off;
		unsigned size;
	} cross[] = { { 0x0ffc, 8 }, { 0x1ffe, 4 }, { 0x2fff, 2 }, { 0x3ffe, 4 } };
	uint32_t cross_before = testdev_cmd(ABI_CMD_ROM_WRITES, 0);
	unsigned cross_done = 0, cross_ud = 0, cross_odd = 0;
	for (i = 0; i < ARRAY_SIZE(cross); i++) {
		enum user_end e = user_store(ROM + cross[i].off, cross[i].size, 0x5aa55aa55aa55aa5ull);
		e == USER_DONE ? cross_done++ : e == USER_UD ? cross_ud++ : cross_odd++;
	}
	uint32_t cross_seen = testdev_cmd(ABI_CMD_ROM_WRITES, 0) - cross_before;
	write_cr3(vmm_cr3);
	printf("rom: %u stores at CPL 3: %u completed as MMIO writes, %u #UD (no instruction emulator)\n",
	       (unsigned)ARRAY_SIZE(stores), done, ud);

	report(odd == 0, "rom-store-ends", "%u of %u stores neither completed nor were #UD", odd,
	       (unsigned)ARRAY_SIZE(stores));
	report(reread_bad == 0, "rom-load-after-store", "%u of %u loads right after a store did not read the ROM "
	       "unchanged at CPL 3", reread_bad, (unsigned)ARRAY_SIZE(stores));
	report(seen + ud == ARRAY_SIZE(stores), "rom-store-count", "the VMM saw %u ROM writes and %u stores were "
	       "#UD; want %u together (every store attempted, once)", seen, ud, (unsigned)ARRAY_SIZE(stores));
	report(cross_odd == 0 && cross_seen == 2 * cross_done, "rom-store-page-cross", "%u stores across two ROM "
	       "pages at CPL 3: %u completed, %u #UD, %u neither; the VMM saw %u ROM writes, want 2 per completed "
	       "store (one MMIO exit per page)", (unsigned)ARRAY_SIZE(cross), cross_done, cross_ud, cross_odd,
	       cross_seen);
	wrong = rom_first_wrong();
	report(wrong == ABI_ROM_SIZE, "rom-unchanged", "after the stores the qword at +0x%x reads 0x%llx, want "
	       "0x%llx", wrong,
	       wrong < ABI_ROM_SIZE ? (unsigned long long)*(const volatile uint64_t *)(uintptr_t)(ROM + wrong) : 0,
	       (unsigned long long)rom_value(wrong, 8));
	end();
}
