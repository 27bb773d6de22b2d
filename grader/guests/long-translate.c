/* SPDX-License-Identifier: MIT */
/*
 * long-translate: KVM_TRANSLATE through the test device. With the guest's
 * own tables in CR3 (rt/paging64.h), ABI_CMD_TRANSLATE must walk THOSE
 * tables: ALIAS_VA gives the page it maps (offset kept), an address in the
 * identity-mapped range gives itself, and an address no entry maps gives
 * ~0. Back on the VMM's tables ALIAS_VA is identity-mapped again.
 */
#include "rt.h"
#include "paging64.h"

#define UNMAPPED_VA (ALIAS_VA + LARGE_PAGE_SIZE) /* next PD entry: not present */

static struct own_tables tables;
static uint8_t target[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static void check_translate(const char *name, uint32_t va, uint32_t want)
{
	uint32_t got = testdev_cmd(ABI_CMD_TRANSLATE, va);
	report(got == want, name, "TRANSLATE 0x%x gave 0x%x, want 0x%x", va, got, want);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	own_tables_build(&tables, target);
	uint64_t vmm_cr3 = read_cr3();
	write_cr3(pa_of(tables.pml4));

	uint32_t pa = (uint32_t)pa_of(target);
	check_translate("translate-alias", (uint32_t)ALIAS_VA, pa);
	check_translate("translate-alias-offset", (uint32_t)ALIAS_VA + 0x123, pa + 0x123);
	check_translate("translate-identity", (uint32_t)pa_of(&tables), (uint32_t)pa_of(&tables));
	check_translate("translate-unmapped", (uint32_t)UNMAPPED_VA, 0xffffffffu);

	write_cr3(vmm_cr3);
	check_translate("translate-vmm-tables", (uint32_t)ALIAS_VA, (uint32_t)ALIAS_VA);
	end();
}
