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
	bool user = access & PFERR_USER_MASK, write = access & PFERR_WRITE_MASK, fetch = access & PFERR_FETCH_MASK;
	bool fault = false;
	if (user && !(pte_access & ACC_USER_MASK))
		fault = true;
	/* A supervisor write ignores R/W unless CR0.WP (4.6.1); a user write never does. */
	if (write && !(pte_access & ACC_WRITE_MASK) && (user || m->cr0_wp))
		fault = true;
	/* XD counts only with EFER.NXE; without it the bit is reserved (4.6.2). */
	if (fetch && m->efer_nx && !(pte_access & ACC_EXEC_MASK))
		fault = true;
	return fault ? PFERR_PRESENT_MASK : 0;
	// @stub (void)m, (void)pte_access, (void)access;
	// @stub lab_todo(5, "paging_permission_fault");
	// @end
}

// @lab 05 walker_helpers: Your own types and static helpers for this file.
// @stub /* your helpers */
// @end

/* What the entry grants: R/W, U/S and, with EFER.NXE, the absence of XD. */
static unsigned gpte_access(const struct paging_mode *m, uint64_t gpte)
{
	// @lab 05 gpte_access: The ACC_* rights one guest entry grants (SDM Vol. 3 4.6; Linux: FNAME(gpte_access)).
	unsigned access = (unsigned)(gpte & (PT_WRITABLE_MASK | PT_USER_MASK)) | ACC_EXEC_MASK;
	if (m->levels > 2 && m->efer_nx && (gpte & PT64_NX_MASK))
		access &= ~ACC_EXEC_MASK;
	return access;
	// @stub (void)m, (void)gpte;
	// @stub lab_todo(5, "gpte_access");
	// @end
}

/* Whether the entry at level maps a page rather than a table: PS, where the
 * format gives it that meaning. */
static bool gpte_is_large(const struct paging_mode *m, uint64_t gpte, int level)
{
	// @lab 05 gpte_is_large: PS=1 maps a page at level 2 (32-bit: only with CR4.PSE) and 3; in a PML4E it is a reserved bit.
	if (level == 1 || !(gpte & PT_PAGE_SIZE_MASK))
		return false;
	if (m->levels == 2)
		return m->cr4_pse;
	return level <= 3;
	// @stub (void)m, (void)gpte, (void)level;
	// @stub lab_todo(5, "gpte_is_large");
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
	uint64_t base;
	uint64_t offset_mask;
	if (m->levels == 2 && level == 2) {
		/* 4 MiB page: bits 31:22, and PSE-36's 39:32 from bits 20:13. */
		base = (gpte & 0xffc00000ull) | (((gpte >> 13) & 0xff) << 32);
		offset_mask = (1ull << 22) - 1;
	} else {
		offset_mask = (1ull << PT64_LEVEL_SHIFT(level)) - 1;
		base = gpte & PT64_BASE_ADDR_MASK & ~offset_mask;
	}
	return (base + (addr & offset_mask)) >> PAGE_SHIFT;
	// @stub (void)m, (void)gpte, (void)level, (void)addr;
	// @stub lab_todo(5, "gpte_page_gfn");
	// @end
}

bool paging_walk_addr(struct guest_walker *w, const struct paging_mode *m, const struct paging_mem *mem,
		      uint64_t addr, uint32_t access)
{
	// @lab 05 paging_walk_addr: Translate addr with the guest's tables for one access; set A/D; else the #PF (Linux: FNAME(walk_addr_generic)).
	bool write = access & PFERR_WRITE_MASK;
	unsigned size = paging_pte_size(m);
	uint32_t errcode;
	if (m->levels < 4)
		addr = (uint32_t)addr;  /* a linear address outside IA-32e mode has 32 bits */
retry:
	memset(w, 0, sizeof(*w));
	errcode = 0;
	int level = m->levels;
	unsigned pt_access = ACC_ALL;
	uint64_t table;
	w->max_level = level;
	if (m->levels == 3) {
		/* PAE: the walk starts at a PDPTE register, not in memory (4.4.1). */
		int i = (addr >> 30) & 3;
		uint64_t pdpte = m->pdptrs[i];
		w->ptes[3] = pdpte;
		w->pte_gpa[3] = (m->cr3 & ~0x1full) + i * 8;
		w->table_gfn[3] = m->cr3 >> PAGE_SHIFT;
		w->pt_access[3] = ACC_ALL;
		if (!(pdpte & PT_PRESENT_MASK))
			goto error;
		table = pdpte & PT64_BASE_ADDR_MASK;
		level = 2;
	} else {
		table = gpte_table_addr(m, m->cr3);
	}
	for (;; level--) {
		uint64_t gpa = table + (uint64_t)paging_index(m, addr, level) * size;
		uint64_t gpte = 0;
		w->table_gfn[level] = table >> PAGE_SHIFT;
		w->pte_gpa[level] = gpa;
		/* A table outside guest memory reads as not present, as Linux's walker does. */
		if (mem->read(mem->ctx, gpa, &gpte, size))
			goto error;
		w->ptes[level] = gpte;
		if (!(gpte & PT_PRESENT_MASK))
			goto error;
		bool large = gpte_is_large(m, gpte, level);
		if (gpte & paging_rsvd_mask(m, level, large)) {
			errcode = PFERR_RSVD_MASK | PFERR_PRESENT_MASK;
			goto error;
		}
		pt_access &= gpte_access(m, gpte);
		w->pt_access[level] = pt_access;
		if (level == 1 || large) {
			w->level = level;
			w->gfn = gpte_page_gfn(m, gpte, level, addr);
			break;
		}
		table = gpte_table_addr(m, gpte);
	}
	w->pte_access = pt_access;
	errcode = paging_permission_fault(m, pt_access, access);
	if (errcode)
		goto error;
	/* The processor sets A in every entry it used and D in the leaf of a
	 * write (4.8), atomically: an entry that changed meanwhile means walk again. */
	for (level = w->max_level; level >= w->level; level--) {
		if (m->levels == 3 && level == 3)
			continue;  /* PDPTE registers have no accessed flag */
		uint64_t old = w->ptes[level], new_val = old | PT_ACCESSED_MASK;
		if (level == w->level && write)
			new_val |= PT_DIRTY_MASK;
		if (new_val == old)
			continue;
		int r = mem->cmpxchg(mem->ctx, w->pte_gpa[level], old, new_val, size);
		if (r > 0)
			goto retry;
		if (r == 0)
			w->ptes[level] = new_val;
		/* r < 0: the table is in read-only memory; the flag is lost, as a write to ROM is. */
	}
	w->dirty = w->ptes[w->level] & PT_DIRTY_MASK;
	return true;

error:
	errcode |= access & (PFERR_WRITE_MASK | PFERR_USER_MASK);
	/* I/D is reported only where fetches can fault on XD: PAE or 4-level
	 * paging with EFER.NXE (4.7; SMEP, the other case, is not offered). */
	if ((access & PFERR_FETCH_MASK) && m->efer_nx && m->levels > 2)
		errcode |= PFERR_FETCH_MASK;
	w->fault = (struct paging_fault){ .error_code = errcode, .address = addr };
	return false;
	// @stub (void)w, (void)m, (void)mem, (void)addr, (void)access;
	// @stub lab_todo(5, "paging_walk_addr");
	// @end
}
