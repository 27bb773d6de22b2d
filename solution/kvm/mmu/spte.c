/* SPDX-License-Identifier: MIT */
/*
 * EPT entries as minikvm makes them (Linux: arch/x86/kvm/mmu/spte.c, with
 * the masks of kvm_mmu_set_ept_masks): leaves and links of the TDP tables,
 * and MMIO sptes. Pure code, built hosted for the unit tests.
 *
 * An MMIO spte caches "this gfn has no memslot" in the EPT entry itself. It
 * is write-only (W=1, R=0), which the processor treats as a misconfiguration
 * (SDM Vol. 3 29.3.3.1), so the next access to the page exits with
 * EXIT_REASON_EPT_MISCONFIG instead of an EPT violation: minikvm knows at
 * once that it is MMIO, without looking for a memslot. The spte also holds
 * the gfn and the memslot generation it was made under; a later memslot
 * change (say, RAM plugged in at that gfn) bumps the generation and every
 * older MMIO spte stops counting (Linux: make_mmio_spte, check_mmio_spte).
 * For our own code an MMIO spte is not present: bit 0 (R) is clear.
 */
#include <stddef.h>

#include "kvmlabs/lab.h"
#include "spte.h"
#include "../vmx/vmcs.h"

bool spte_ept_format;

// @lab 06 spte_helpers: Your own types and static helpers for spte.c.
// @stub /* your helpers */
// @end

uint64_t make_ept_leaf_spte(uint64_t hpa, unsigned access, int level)
{
	// @lab 06 make_ept_leaf_spte: An EPT leaf for hpa at level (1: 4 KiB, 2: 2 MiB): R, W and X from access, memory type WB with IPAT, A and D set.
	/* Guest RAM is ordinary memory: write-back, whatever the guest's PAT
	 * says (Linux: vmx_get_mt_mask without non-coherent DMA). A and D are
	 * set now so the processor never writes our tables (and D only where a
	 * write is allowed). Always readable: a write- or execute-only leaf
	 * would be misconfigured or need the execute-only capability. */
	uint64_t spte = hpa | VMX_EPT_READABLE_MASK | VMX_EPT_ACCESS_BIT;
	spte |= (VMX_EPT_MT_WB << VMX_EPT_MT_EPTE_SHIFT) | VMX_EPT_IPAT_BIT;
	if (access & ACC_WRITE_MASK)
		spte |= VMX_EPT_WRITABLE_MASK | VMX_EPT_DIRTY_BIT;
	if (access & ACC_EXEC_MASK)
		spte |= VMX_EPT_EXECUTABLE_MASK;
	if (level > 1)
		spte |= VMX_EPT_LARGE_PAGE_BIT;
	return spte;
	// @stub (void)hpa, (void)access, (void)level;
	// @stub lab_todo(6, "make_ept_leaf_spte");
	// @end
}

/* An EPT entry that points to the table at child_hpa. */
uint64_t make_ept_nonleaf_spte(uint64_t child_hpa)
{
	/* Links allow everything: the leaves decide (SDM Vol. 3 29.3.3.2 ANDs
	 * the rights of every level). Bits 7:3 of a link are reserved. */
	return child_hpa | VMX_EPT_RWX_MASK | VMX_EPT_ACCESS_BIT;
}

uint64_t make_mmio_spte(uint64_t gfn, uint64_t generation)
{
	// @lab 06 make_mmio_spte: A misconfigured EPT leaf that holds gfn and the low MMIO_SPTE_GEN_BITS bits of generation.
	uint64_t gen = generation & MMIO_SPTE_GEN_MASK;
	uint64_t low = gen & ((1ull << MMIO_SPTE_GEN_LOW_BITS) - 1);
	uint64_t high = gen >> MMIO_SPTE_GEN_LOW_BITS;
	return MMIO_SPTE_VALUE | (low << MMIO_SPTE_GEN_LOW_SHIFT) | (high << MMIO_SPTE_GEN_HIGH_SHIFT) |
	       ((gfn << 12) & PT64_BASE_ADDR_MASK);
	// @stub (void)gfn, (void)generation;
	// @stub lab_todo(6, "make_mmio_spte");
	// @end
}

bool is_mmio_spte(uint64_t spte)
{
	// @lab 06 is_mmio_spte: Whether spte is one that make_mmio_spte made.
	return (spte & MMIO_SPTE_MASK) == MMIO_SPTE_VALUE;
	// @stub (void)spte;
	// @stub lab_todo(6, "is_mmio_spte");
	// @end
}

uint64_t get_mmio_spte_gfn(uint64_t spte)
{
	return (spte & PT64_BASE_ADDR_MASK) >> 12;
}

uint64_t get_mmio_spte_generation(uint64_t spte)
{
	// @lab 06 get_mmio_spte_generation: The generation make_mmio_spte put in spte.
	uint64_t low = (spte >> MMIO_SPTE_GEN_LOW_SHIFT) & ((1ull << MMIO_SPTE_GEN_LOW_BITS) - 1);
	uint64_t high = (spte >> MMIO_SPTE_GEN_HIGH_SHIFT) & ((1ull << MMIO_SPTE_GEN_HIGH_BITS) - 1);
	return low | (high << MMIO_SPTE_GEN_LOW_BITS);
	// @stub (void)spte;
	// @stub lab_todo(6, "get_mmio_spte_generation");
	// @end
}

// @region ept_misconfig_reason
/*
 * The processor's rules for a misconfigured EPT entry (SDM Vol. 3 29.3.3.1),
 * as an oracle: minikvm explains an unexpected EPT_MISCONFIG exit with it,
 * and the unit tests check every entry minikvm makes against it. level is
 * the entry's table: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT. Entries with
 * bits 2:0 clear are not present: they cause violations, never this.
 */
const char *ept_misconfig_reason(uint64_t e, int level, uint64_t ept_vpid_cap, unsigned maxphyaddr)
{
	unsigned rwx = e & VMX_EPT_RWX_MASK;
	if (!rwx)
		return NULL;
	if ((rwx & (VMX_EPT_READABLE_MASK | VMX_EPT_WRITABLE_MASK)) == VMX_EPT_WRITABLE_MASK)
		return "writable but not readable (bit 1 set, bit 0 clear)";
	if (rwx == VMX_EPT_EXECUTABLE_MASK && !(ept_vpid_cap & VMX_EPT_EXECUTE_ONLY_BIT))
		return "execute-only, which this processor does not support (IA32_VMX_EPT_VPID_CAP bit 0)";
	if (maxphyaddr < 52 && (e & (((1ull << 52) - 1) & ~((1ull << maxphyaddr) - 1))))
		return "physical-address bits above MAXPHYADDR set (bits 51:MAXPHYADDR are reserved)";
	bool large = (level == 2 || level == 3) && (e & VMX_EPT_LARGE_PAGE_BIT);
	if (level == 4 && (e & VMX_EPT_LARGE_PAGE_BIT))
		return "bit 7 set in a PML4 entry (reserved)";
	if (level == 3 && large && !(ept_vpid_cap & VMX_EPT_1GB_PAGE_BIT))
		return "a 1 GiB page, which this processor does not support (IA32_VMX_EPT_VPID_CAP bit 17)";
	if (level == 2 && large && !(ept_vpid_cap & VMX_EPT_2MB_PAGE_BIT))
		return "a 2 MiB page, which this processor does not support (IA32_VMX_EPT_VPID_CAP bit 16)";
	if (level > 1 && !large) {
		if (e & 0xf8)
			return "bits 7:3 of an entry that references a table are reserved";
		return NULL;
	}
	if (large && (e & ((1ull << (12 + 9 * (level - 1))) - 1) & ~0xfffull))
		return level == 2 ? "bits 20:12 of a 2 MiB page entry are reserved" : "bits 29:12 of a 1 GiB page entry are reserved";
	uint64_t mt = (e & VMX_EPT_MT_MASK) >> VMX_EPT_MT_EPTE_SHIFT;
	if (mt == 2 || mt == 3 || mt == 7)
		return "memory type 2, 3 or 7 in bits 5:3 (reserved)";
	return NULL;
}
// @end
