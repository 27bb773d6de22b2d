/* SPDX-License-Identifier: MIT */
/*
 * The test MMIO window between two pages of RAM, for the lab 07 guests
 * (long mode): the guest's own tables map three consecutive 4 KiB pages at
 * EMU_VA (PML4 0, PDPT 1, PD 0, PT 0..2)
 *
 *   EMU_VA            RAM (emu_ram_a)
 *   EMU_WIN           the test window, ABI_TESTMMIO_GPA
 *   EMU_WIN + 0x1000  RAM (emu_ram_b)
 *
 * so one access can cross from RAM into MMIO and from MMIO into RAM. The
 * architecture treats such an access as bytes at consecutive linear
 * addresses, each page translated on its own (SDM Vol. 3 4.10.2 and Vol. 1
 * 4.1.1: an unaligned access is not atomic across the boundary); Linux
 * splits it at the page in emulator_read_write() and sends only the MMIO
 * part to the VMM, one exit. The first GiB stays identity-mapped by 2 MiB
 * pages with U/S = 1 (trap64_user_identity), so ring 3 can run the image.
 */
#ifndef RT_EMU64_H
#define RT_EMU64_H

#include "rt.h"
#include "trap64.h"
#include <x86/pgtable.h>

#define EMU_VA      0x40000000ul
#define EMU_WIN     (EMU_VA + PAGE_SIZE)
#define EMU_RAM_B   (EMU_WIN + PAGE_SIZE)
#define EMU_FLAGS   (PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK)

static uint64_t emu_pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t emu_pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t emu_pd_low[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t emu_pd_va[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t emu_pt_va[512] __attribute__((aligned(PAGE_SIZE)));
static uint8_t emu_ram_a[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));
static uint8_t emu_ram_b[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* Builds the tables and loads them; trap64_init() first. */
static inline void emu_map_window(void)
{
	trap64_user_identity(emu_pml4, emu_pdpt, emu_pd_low);
	emu_pdpt[PT64_INDEX(EMU_VA, 3)] = (uint64_t)(uintptr_t)emu_pd_va | EMU_FLAGS;
	emu_pd_va[PT64_INDEX(EMU_VA, 2)] = (uint64_t)(uintptr_t)emu_pt_va | EMU_FLAGS;
	emu_pt_va[0] = (uint64_t)(uintptr_t)emu_ram_a | EMU_FLAGS;
	emu_pt_va[1] = ABI_TESTMMIO_GPA | EMU_FLAGS;
	emu_pt_va[2] = (uint64_t)(uintptr_t)emu_ram_b | EMU_FLAGS;
	write_cr3((uint64_t)(uintptr_t)emu_pml4);
}

static inline uint32_t emu_mmio_accesses(void)
{
	return testdev_cmd(ABI_CMD_MMIO_ACCESSES, 0);
}

/* One access of 1, 2, 4 or 8 bytes by a plain MOV (rt/x86.h). */
static inline void emu_store(uintptr_t va, unsigned size, uint64_t v)
{
	switch (size) {
	case 1: mmio_write8(va, (uint8_t)v); break;
	case 2: mmio_write16(va, (uint16_t)v); break;
	case 4: mmio_write32(va, (uint32_t)v); break;
	default: mmio_write64(va, v); break;
	}
}

static inline uint64_t emu_load(uintptr_t va, unsigned size)
{
	switch (size) {
	case 1: return mmio_read8(va);
	case 2: return mmio_read16(va);
	case 4: return mmio_read32(va);
	default: return mmio_read64(va);
	}
}

static inline uint64_t emu_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

#endif
