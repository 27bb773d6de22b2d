/* SPDX-License-Identifier: MIT */
/*
 * The guest page-table walker (Linux: arch/x86/kvm/mmu/paging_tmpl.h,
 * FNAME(walk_addr_generic), instantiated there once per paging format).
 *
 * It translates a guest-linear address the way the processor would with
 * the guest's own tables, for one access (read, write, fetch; supervisor or
 * user), and either returns the guest-physical address, with every entry it
 * used, or the #PF the processor would raise (error code and CR2). It sets
 * the accessed and dirty flags the processor would set.
 *
 * Pure logic: guest memory is reached through struct paging_mem, so the unit
 * tests walk synthetic tables on the host and minikvm walks real ones.
 */
#ifndef KVMLABS_KVM_MMU_PAGING_H
#define KVMLABS_KVM_MMU_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include <x86/pgtable.h>

/* The deepest walk: 4-level paging (no LA57). Arrays below are indexed by
 * level, 1 (page table) .. 4 (PML4). */
#define PAGING_MAX_LEVEL 4

/* What an entry allows, accumulated down the walk (Linux: ACC_*_MASK). The
 * write and user bits are the entry's own R/W and U/S positions. */
#define ACC_EXEC_MASK  1u
#define ACC_WRITE_MASK ((unsigned)PT_WRITABLE_MASK)
#define ACC_USER_MASK  ((unsigned)PT_USER_MASK)
#define ACC_ALL        (ACC_EXEC_MASK | ACC_WRITE_MASK | ACC_USER_MASK)

/* The guest state that decides how its tables are read (Linux: struct
 * kvm_mmu_role_regs and the cpu_role derived from it). levels says the
 * format: 2 = 32-bit paging (4-byte entries), 3 = PAE, 4 = 4-level. */
struct paging_mode {
	uint8_t levels;
	bool cr0_wp;              /* supervisor writes obey R/W (SDM Vol. 3 4.6.1) */
	bool cr4_pse;             /* 32-bit paging: PS=1 PDEs map 4 MiB */
	bool efer_nx;             /* XD bits are checked, not reserved */
	bool gbpages;             /* PS=1 PDPTEs map 1 GiB (CPUID 80000001H:EDX[26]) */
	uint8_t maxphyaddr;       /* CPUID 80000008H:EAX[7:0]: entries' bits above are reserved */
	uint64_t cr3;
	uint64_t pdptrs[4];       /* PAE: the PDPTE registers, loaded at the last CR3 load */
};

/* Guest-physical memory as the walker sees it. read: 0, or -1 when gpa is
 * outside every memslot. cmpxchg sets accessed/dirty flags: 0 done, 1 the
 * entry changed under the walker (walk again), -1 not writable memory. */
struct paging_mem {
	int (*read)(void *ctx, uint64_t gpa, void *val, unsigned size);
	int (*cmpxchg)(void *ctx, uint64_t gpa, uint64_t old, uint64_t new_val, unsigned size);
	void *ctx;
};

/* The fault a walk ends in (the fields of Linux's struct x86_exception that
 * a #PF uses). */
struct paging_fault {
	uint32_t error_code;      /* PFERR_* (SDM Vol. 3 4.7) */
	uint64_t address;         /* CR2 */
};

/* One translation (Linux: struct guest_walker). */
struct guest_walker {
	int level;                              /* of the leaf: 1 (4 KiB), 2 (2/4 MiB), 3 (1 GiB) */
	int max_level;                          /* of the walk's first table */
	uint64_t gfn;                           /* the 4 KiB frame the address falls in */
	uint64_t ptes[PAGING_MAX_LEVEL + 1];    /* the entry used at each level, as read */
	uint64_t pte_gpa[PAGING_MAX_LEVEL + 1]; /* where it is */
	uint64_t table_gfn[PAGING_MAX_LEVEL + 1]; /* the table at each level */
	unsigned pt_access[PAGING_MAX_LEVEL + 1]; /* ACC_* allowed by the entries at this level and above */
	unsigned pte_access;                    /* ACC_* of the whole translation (= pt_access[level]) */
	bool dirty;                             /* the leaf's D flag, after this walk */
	struct paging_fault fault;
};

/* Walk for an access made of PFERR_WRITE_MASK, PFERR_USER_MASK (CPL 3) and
 * PFERR_FETCH_MASK. Returns true with w->gfn set, or false with w->fault
 * the #PF the processor would raise. */
bool paging_walk_addr(struct guest_walker *w, const struct paging_mode *m, const struct paging_mem *mem,
		      uint64_t addr, uint32_t access);

/* The reserved bits of an entry at level (for PAE, level 3 means a PDPTE),
 * for the mode (Linux: rsvd_bits, __reset_rsvds_bits_mask). */
uint64_t paging_rsvd_mask(const struct paging_mode *m, int level, bool large);

/* Whether the combined rights pte_access allow the access (PFERR_* bits),
 * by SDM Vol. 3 4.6 (Linux: permission_fault): 0, or the PFERR_* bits of
 * the #PF (PFERR_PRESENT_MASK with the access bits). */
uint32_t paging_permission_fault(const struct paging_mode *m, unsigned pte_access, uint32_t access);

/* A PAE PDPTE loaded into the PDPTE registers must have no reserved bit set
 * (SDM Vol. 3 4.4.1): MOV to CR3 with one raises #GP (Linux: load_pdptrs). */
bool paging_pdpte_valid(const struct paging_mode *m, uint64_t pdpte);

/* Entries per table and bytes per entry of a format, and the index of addr
 * at level in a guest table (1024 4-byte entries for 32-bit paging). */
static inline unsigned paging_pte_size(const struct paging_mode *m)
{
	return m->levels == 2 ? 4 : 8;
}

static inline unsigned paging_index(const struct paging_mode *m, uint64_t addr, int level)
{
	if (m->levels == 2)
		return (addr >> (PAGE_SHIFT + (level - 1) * 10)) & (PT32_ENT_PER_PAGE - 1);
	return PT64_INDEX(addr, level);
}

#endif
