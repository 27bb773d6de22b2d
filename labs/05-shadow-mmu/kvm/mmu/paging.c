/* SPDX-License-Identifier: MIT */
/*
 * The guest page-table walker (Linux: paging_tmpl.h, FNAME(walk_addr_generic),
 * permission_fault(), __reset_rsvds_bits_mask()). SDM Vol. 3 chapter 4:
 * 4.3 (32-bit paging), 4.4 (PAE), 4.5 (4-level), 4.6 (access rights),
 * 4.7 (page-fault exceptions), 4.8 (accessed and dirty flags).
 * Pure logic, no guest memory of its own: also compiled hosted for the unit tests.
 */
#include <string.h>

#include "kvmlabs/lab.h"
#include "paging.h"

/* Bits lo..hi set (Linux: rsvd_bits). */
static inline uint64_t rsvd_bits(int lo, int hi)
{
	return hi < lo ? 0 : ((~0ull) >> (63 - hi)) & ~((1ull << lo) - 1);
}

uint64_t paging_rsvd_mask(const struct paging_mode *m, int level, bool large)
{
	if (m->levels == 2) {
		/* 32-bit paging: only a 4 MiB page has reserved bits. PSE-36 puts
		 * physical-address bits 39:32 in bits 20:13; bit 21 is reserved
		 * (SDM Vol. 3 Table 4-4). */
		if (level != 2 || !large)
			return 0;
		int phys = m->maxphyaddr > 40 ? 40 : m->maxphyaddr;
		return rsvd_bits(13 + phys - 32, 21);
	}
	/* PAE reserves the bits from MAXPHYADDR to 62, 4-level paging up to 51
	 * (SDM Vol. 3 Tables 4-8 to 4-11, 4-15 to 4-20); XD is reserved
	 * without EFER.NXE. */
	uint64_t rsvd = rsvd_bits(m->maxphyaddr, m->levels == 3 ? 62 : 51);
	if (!m->efer_nx)
		rsvd |= PT64_NX_MASK;
	switch (level) {
	case 4:
		return rsvd | PT_PAGE_SIZE_MASK;              /* a PML4E never maps a page */
	case 3:
		if (!large)
			return rsvd;
		if (!m->gbpages)
			return rsvd | PT_PAGE_SIZE_MASK;      /* no 1 GiB pages: PS itself is reserved */
		return rsvd | rsvd_bits(13, 29);              /* bits 29:13 of a 1 GiB page's address */
	case 2:
		return large ? rsvd | rsvd_bits(13, 20) : rsvd; /* bits 20:13 of a 2 MiB page's address */
	default:
		return rsvd;
	}
}

bool paging_pdpte_valid(const struct paging_mode *m, uint64_t pdpte)
{
	/* SDM Vol. 3 Table 4-8: bits 2:1 and 8:5 reserved, and every address bit
	 * from MAXPHYADDR up (a PDPTE has no XD bit). */
	if (!(pdpte & PT_PRESENT_MASK))
		return true;
	return !(pdpte & (rsvd_bits(m->maxphyaddr, 63) | rsvd_bits(5, 8) | rsvd_bits(1, 2)));
}

uint32_t paging_permission_fault(const struct paging_mode *m, unsigned pte_access, uint32_t access)
{
	// @lab 05 paging_permission_fault: The access rights of SDM Vol. 3 4.6 on the combined rights (Linux: permission_fault).
	(void)m, (void)pte_access, (void)access;
	lab_todo(5, "paging_permission_fault");
	// @end
}

// @lab 05 walker_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* What the entry grants: R/W, U/S and, with EFER.NXE, the absence of XD. */
static unsigned gpte_access(const struct paging_mode *m, uint64_t gpte)
{
	// @lab 05 gpte_access: The ACC_* rights one guest entry grants (SDM Vol. 3 4.6; Linux: FNAME(gpte_access)).
	(void)m, (void)gpte;
	lab_todo(5, "gpte_access");
	// @end
}

/* Whether the entry at level maps a page rather than a table: PS, where the
 * format gives it that meaning. */
static bool gpte_is_large(const struct paging_mode *m, uint64_t gpte, int level)
{
	// @lab 05 gpte_is_large: PS=1 maps a page at level 2 (32-bit: only with CR4.PSE) and 3; in a PML4E it is a reserved bit.
	(void)m, (void)gpte, (void)level;
	lab_todo(5, "gpte_is_large");
	// @end
}

/* The address of the next table an entry points to. */
static uint64_t gpte_table_addr(const struct paging_mode *m, uint64_t gpte)
{
	return gpte & (m->levels == 2 ? PT32_BASE_ADDR_MASK : PT64_BASE_ADDR_MASK);
}

/* The 4 KiB frame addr falls in, under a leaf entry at level. */
static uint64_t gpte_page_gfn(const struct paging_mode *m, uint64_t gpte, int level, uint64_t addr)
{
	// @lab 05 gpte_page_gfn: The frame of addr under a leaf: 4 KiB, 2 MiB, 1 GiB, or a 4 MiB page with PSE-36 (SDM Vol. 3 4.3, 4.5).
	(void)m, (void)gpte, (void)level, (void)addr;
	lab_todo(5, "gpte_page_gfn");
	// @end
}

bool paging_walk_addr(struct guest_walker *w, const struct paging_mode *m, const struct paging_mem *mem,
		      uint64_t addr, uint32_t access)
{
	// @lab 05 paging_walk_addr: Translate addr with the guest's tables for one access; set A/D; else the #PF (Linux: FNAME(walk_addr_generic)).
	(void)w, (void)m, (void)mem, (void)addr, (void)access;
	lab_todo(5, "paging_walk_addr");
	// @end
}
