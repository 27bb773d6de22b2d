/* SPDX-License-Identifier: MIT */
/*
 * Paging structures: entry bits (SDM Vol. 3 4.3 "32-Bit Paging", 4.4 "PAE
 * Paging", 4.5 "4-Level Paging and 5-Level Paging") and the page-fault error
 * code (SDM Vol. 3 4.7). Names follow Linux KVM (arch/x86/kvm/mmu.h and
 * asm/kvm_host.h). Usable from C and assembly.
 */
#ifndef KVMLABS_X86_PGTABLE_H
#define KVMLABS_X86_PGTABLE_H

#include <x86/const.h>

#define PAGE_SHIFT          12
#define PAGE_SIZE           (X86_AC(1, ull) << PAGE_SHIFT)
#define PAGE_MASK           (~(PAGE_SIZE - 1))
#define LARGE_PAGE_SHIFT    21                      /* 2 MiB: a PS=1 PDE with PAE or 4-level paging */
#define LARGE_PAGE_SIZE     (X86_AC(1, ull) << LARGE_PAGE_SHIFT)
#define HUGE_PAGE_SHIFT     30                      /* 1 GiB: a PS=1 PDPTE with 4-level paging */

#define PT_PRESENT_MASK     X86_BIT(0)
#define PT_WRITABLE_MASK    X86_BIT(1)
#define PT_USER_MASK        X86_BIT(2)
#define PT_PWT_MASK         X86_BIT(3)
#define PT_PCD_MASK         X86_BIT(4)
#define PT_ACCESSED_MASK    X86_BIT(5)
#define PT_DIRTY_MASK       X86_BIT(6)
#define PT_PAGE_SIZE_MASK   X86_BIT(7)   /* PS in a PDE/PDPTE; PAT in a PTE */
#define PT_GLOBAL_MASK      X86_BIT(8)
#define PT64_NX_MASK        X86_BIT(63)
/* Bits 51:12 of a PAE/4-level entry: the next table's or the page's address. */
#define PT64_BASE_ADDR_MASK X86_AC(0x000ffffffffff000, ull)
/* Bits 31:12 of a 32-bit paging entry. */
#define PT32_BASE_ADDR_MASK X86_AC(0xfffff000, ull)
#define PT64_ENT_PER_PAGE   512
#define PT32_ENT_PER_PAGE   1024
/* A PAE/4-level table index: PT64_LEVEL_BITS of the address per level, level
 * 1 (the PT) right above the page offset, level 4 the PML4 (Linux KVM, mmu.c). */
#define PT64_LEVEL_BITS     9
#define PT64_LEVEL_SHIFT(level) (PAGE_SHIFT + ((level) - 1) * PT64_LEVEL_BITS)
#define PT64_INDEX(address, level) \
	(((address) >> PT64_LEVEL_SHIFT(level)) & (PT64_ENT_PER_PAGE - 1))

/* The page-fault error code (SDM Vol. 3 4.7, Figure 4-12). */
#define PFERR_PRESENT_MASK  X86_BIT(0)   /* 0: not present, 1: protection violation */
#define PFERR_WRITE_MASK    X86_BIT(1)
#define PFERR_USER_MASK     X86_BIT(2)   /* CPL 3 */
#define PFERR_RSVD_MASK     X86_BIT(3)   /* a reserved bit was set */
#define PFERR_FETCH_MASK    X86_BIT(4)   /* instruction fetch */
#define PFERR_PK_MASK       X86_BIT(5)
/* KVM's own bits above the architectural ones, for faults on guest-physical
 * addresses (Linux: PFERR_GUEST_FINAL_MASK, PFERR_GUEST_PAGE_MASK): the access
 * was the final translation of a guest-linear address, or a read or A/D
 * update of the guest's own page tables. */
#define PFERR_GUEST_FINAL_MASK (1ull << 32)
#define PFERR_GUEST_PAGE_MASK  (1ull << 33)

#endif
