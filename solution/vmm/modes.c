/* SPDX-License-Identifier: MIT */
/*
 * Lab 02: protected and long mode, set up by the VMM through KVM_SET_SREGS
 * instead of by boot code in the guest. The guest starts exactly where a
 * boot loader would have left it: flat segments from a real GDT in guest
 * memory, and for long mode identity-mapped 4-level page tables.
 */
#include <string.h>

#include <kvmlabs/guest_abi.h>
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>

#include "vmm.h"

// @lab 02 modes_helpers: Your own types and static helpers for this file.
// @stub /* your helpers */
// @end

#define GDT_ENTRIES 4

// @region gdt_layout
/* Segment descriptors (SDM Vol. 3 3.4.5): base 0, limit 0xfffff in 4 KiB
 * units (G=1), present, DPL 0. Access byte 0x9a = code exec/read, 0x92 = data
 * read/write; flags 0xc = G|D (32-bit), 0xa = G|L (64-bit code). */
static const uint64_t gdt_template[GDT_ENTRIES] = {
	[0]                  = 0,                  /* the null descriptor */
	[ABI_SEL_CODE32 / 8] = 0x00cf9a000000ffff,
	[ABI_SEL_DATA / 8]   = 0x00cf92000000ffff,
	[ABI_SEL_CODE64 / 8] = 0x00af9a000000ffff,
};
// @end

void gdt_build(uint64_t *gdt)
{
	memcpy(gdt, gdt_template, sizeof(gdt_template));
}

/* The KVM view of a segment register is its descriptor unpacked, plus the
 * selector: what the CPU's hidden descriptor cache holds after a load. */
static struct kvm_segment segment_from_descriptor(uint16_t selector)
{
	// @lab 02 segment_from_descriptor: Unpack GDT descriptor `selector` into a struct kvm_segment.
	uint64_t d = gdt_template[selector / 8];
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	struct kvm_segment seg = {
		.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24),
		.selector = selector,
		.type = (d >> 40) & 0xf,
		.s = (d >> 44) & 1,
		.dpl = (d >> 45) & 3,
		.present = (d >> 47) & 1,
		.avl = (d >> 52) & 1,
		.l = (d >> 53) & 1,
		.db = (d >> 54) & 1,
		.g = (d >> 55) & 1,
	};
	/* KVM takes the limit in bytes, as the descriptor cache holds it. */
	seg.limit = seg.g ? (limit << 12) | 0xfff : limit;
	return seg;
	// @stub lab_todo(2, "segment_from_descriptor");
	// @end
}

void page_tables_build(uint8_t *ram, uint64_t ram_size)
{
	// @lab 02 page_tables_build: Identity-map the first 4 GiB with 2 MiB pages at ABI_PML4_GPA.
	(void)ram_size; /* the ABI reserves 0x2000..0x7fff, and RAM is at least 1 MiB */
	uint64_t *pml4 = (uint64_t *)(ram + ABI_PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(ram + ABI_PDPT_GPA);
	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	pml4[0] = ABI_PDPT_GPA | PT_PRESENT_MASK | PT_WRITABLE_MASK;
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t *pd = (uint64_t *)(ram + ABI_PD_GPA + i * PAGE_SIZE);
		pdpt[i] = (ABI_PD_GPA + i * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK;
		for (uint64_t j = 0; j < PT64_ENT_PER_PAGE; j++)
			pd[j] = (i << HUGE_PAGE_SHIFT) | (j << LARGE_PAGE_SHIFT) | PT_PRESENT_MASK | PT_WRITABLE_MASK |
				PT_PAGE_SIZE_MASK;
	}
	// @stub lab_todo(2, "page_tables_build");
	// @end
}

/* Registers shared by both modes: flat data segments, the GDT, and the
 * entry state of guest_abi.h (EDI = vCPU index, ESI = vCPU count). */
static int setup_flat(struct vcpu *vcpu, uint64_t entry, uint16_t code_selector,
		      uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer)
{
	struct kvm_sregs sregs;
	long r = kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs);
	if (r < 0)
		return (int)r;
	// @lab 02 setup_flat: Load code_selector into CS, ABI_SEL_DATA into the rest, the GDT and the control registers.
	sregs.cs = segment_from_descriptor(code_selector);
	struct kvm_segment data = segment_from_descriptor(ABI_SEL_DATA);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = ABI_GDT_GPA;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.cr0 = cr0;
	sregs.cr3 = cr3;
	sregs.cr4 = cr4;
	sregs.efer = efer;
	// @stub lab_todo(2, "setup_flat");
	// @end
	r = kvm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs);
	if (r < 0)
		return (int)r;
	struct kvm_regs regs = {
		.rip = entry,
		.rsp = ABI_IMAGE_GPA - (uint64_t)vcpu->id * 0x4000,
		.rflags = X86_EFLAGS_FIXED,
		.rdi = (uint64_t)vcpu->id,
		.rsi = (uint64_t)vcpu->vm->nr_vcpus,
	};
	return (int)kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs);
}

int vcpu_setup_protected(struct vcpu *vcpu, uint64_t entry)
{
	/* CR0.PE with paging off: linear = physical (SDM Vol. 3 10.9.1, "Switching to Protected Mode"). */
	return setup_flat(vcpu, entry, ABI_SEL_CODE32, X86_CR0_PE | X86_CR0_ET, 0, 0, 0);
}

int vcpu_setup_long(struct vcpu *vcpu, uint64_t entry)
{
	/* IA-32e mode needs PAE paging, EFER.LME and CR0.PG; with SREGS we also
	 * set EFER.LMA, which the CPU would set itself when enabling paging
	 * (SDM Vol. 3 10.8.5). CS.L=1 makes it 64-bit mode rather than compatibility. */
	return setup_flat(vcpu, entry, ABI_SEL_CODE64, X86_CR0_PE | X86_CR0_ET | X86_CR0_PG, ABI_PML4_GPA,
			  X86_CR4_PAE, EFER_LME | EFER_LMA);
}
