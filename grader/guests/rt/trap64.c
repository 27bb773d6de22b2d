/* SPDX-License-Identifier: MIT */
#include "rt.h"
#include "trap64.h"
#include <x86/pgtable.h>

extern const uint64_t trap64_stub_table[TRAP64_VECTORS];
extern uint64_t trap64_catch_rsp;
_Noreturn void trap64_resume(uint64_t rsp);
void trap64_handler(struct trap64_frame *f);

struct trap64_event trap64_last;

/* The 64-bit TSS (SDM Vol. 3 8.7, figure 8-11): only RSP0 is used, the
 * stack a ring-3 exception switches to. No I/O bitmap (base past the limit). */
struct __attribute__((packed)) tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
};
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

static struct tss64 tss __attribute__((aligned(16)));
static uint8_t ring0_stack[4096] __attribute__((aligned(16)));

/* Code/data descriptors (SDM Vol. 3 3.4.5): the VMM's first four (guest_abi.h),
 * then ring 3's 64-bit code (L=1, DPL 3) and data (DPL 3), then the TSS's
 * 16-byte system descriptor (type 9, available 64-bit TSS). */
static uint64_t gdt[9] __attribute__((aligned(16))) = {
	0,
	0x00cf9b000000ffffull, /* 0x08 flat 32-bit code */
	0x00cf93000000ffffull, /* 0x10 flat data */
	0x00af9b000000ffffull, /* 0x18 64-bit code */
	0,                     /* 0x20 unused */
	0x00affb000000ffffull, /* 0x28 64-bit code, DPL 3 */
	0x00cff3000000ffffull, /* 0x30 data, DPL 3 */
};
_Static_assert(TRAP64_SEL_TSS / 8 + 2 == sizeof(gdt) / sizeof(gdt[0]), "TSS is the GDT's last descriptor");

/* 64-bit interrupt gates (SDM Vol. 3 6.14.1, figure 6-8): IF cleared on entry, IST 0. */
static uint64_t idt[TRAP64_VECTORS * 2] __attribute__((aligned(16)));

void trap64_init(void)
{
	uint64_t t = (uint64_t)(uintptr_t)&tss;
	tss.rsp[0] = (uint64_t)(uintptr_t)(ring0_stack + sizeof(ring0_stack));
	tss.iomap_base = sizeof(tss);
	gdt[TRAP64_SEL_TSS / 8] = (sizeof(tss) - 1) | ((t & 0xffffff) << 16) | (0x89ull << 40) |
				  ((t >> 24 & 0xff) << 56);
	gdt[TRAP64_SEL_TSS / 8 + 1] = t >> 32;
	for (unsigned v = 0; v < TRAP64_VECTORS; v++) {
		uint64_t off = trap64_stub_table[v];
		idt[2 * v] = (off & 0xffff) | ((uint64_t)TRAP64_SEL_KCODE << 16) | (0x8eull << 40) |
			     ((off >> 16 & 0xffff) << 48);
		idt[2 * v + 1] = off >> 32;
	}
	struct dt_reg g = { .limit = sizeof(gdt) - 1, .base = (unsigned long)gdt };
	struct dt_reg i = { .limit = sizeof(idt) - 1, .base = (unsigned long)idt };
	__asm__ volatile("lgdt %0" : : "m"(g));
	lidt(&i);
	__asm__ volatile("ltr %w0" : : "r"((uint16_t)TRAP64_SEL_TSS));
}

void trap64_handler(struct trap64_frame *f)
{
	if (trap64_catch_rsp) {
		trap64_last.vector = f->vector;
		trap64_last.error = f->error;
		trap64_last.rip = f->rip;
		trap64_last.cr2 = f->vector == 14 ? read_cr2() : 0;
		trap64_last.cpl = f->cs & 3;
		trap64_last.rsp = f->rsp;
		trap64_resume(trap64_catch_rsp);
	}
	/* Through report(), so the line is covered by the report's MAC. */
	report(0, "unexpected-exception", "vector %llu error 0x%llx at rip 0x%llx (CPL %llu) cr2 0x%lx",
	       (unsigned long long)f->vector, (unsigned long long)f->error, (unsigned long long)f->rip,
	       (unsigned long long)(f->cs & 3), read_cr2());
	end();
}

void trap64_user_identity(uint64_t *pml4, uint64_t *pdpt, uint64_t *pd)
{
	const uint64_t f = PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK;
	for (uint64_t i = 0; i < PT64_ENT_PER_PAGE; i++)
		pd[i] = (i << LARGE_PAGE_SHIFT) | f | PT_PAGE_SIZE_MASK;
	pdpt[0] = (uint64_t)(uintptr_t)pd | f;
	pml4[0] = (uint64_t)(uintptr_t)pdpt | f;
}
