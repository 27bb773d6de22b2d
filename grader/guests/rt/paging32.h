/* SPDX-License-Identifier: MIT */
/*
 * Paging for protected-mode guests (prot-pg-*.elf): their own 32-bit (SDM
 * Vol. 3 4.3) or PAE (4.4) page tables, turned on from the VMM's flat entry
 * state, and accesses whose page faults are checked by value.
 *
 * The tables and test pages are page-aligned arrays in the image's .bss.
 * The guest builds them with paging off, where a linear address is the
 * physical one, and maps the first 4 MiB (GDT at 0x500, the image at 1 MiB)
 * one to one, so an array's address stays its physical address afterwards.
 *
 * A hypervisor that shadows these tables (minikvm, lab 05) write-protects
 * every table it shadows. Two rules keep a guest within what it can handle
 * before its emulator exists (lab 07): a table of the current root level
 * (a 32-bit page directory, the page directories a PAE guest's PDPTEs name)
 * is written only while another CR3 is loaded, and a page table the guest
 * edits never maps its own page (the identity page table is never edited).
 */
#ifndef RT_PAGING32_H
#define RT_PAGING32_H

#include <stdbool.h>
#include <stdint.h>
#include <x86/pgtable.h>
#include <x86/trapnr.h>

#include "rt.h"
#include "trap.h"

#define PG_ENTRIES32 1024               /* entries of a 32-bit table */
#define PG_ENTRIES64 512                /* entries of a PAE table */
#define PG_LARGE32   (1u << 22)         /* a 4 MiB page (32-bit paging, CR4.PSE) */
#define PG_LARGE64   (1u << 21)         /* a 2 MiB page (PAE paging) */
/* Where in a test page the guests read and write: not at offset 0, so a
 * CR2 that lost its page offset shows. */
#define PG_PROBE     0x124u

#define PG_P  ((uint32_t)PT_PRESENT_MASK)
#define PG_W  ((uint32_t)PT_WRITABLE_MASK)
#define PG_U  ((uint32_t)PT_USER_MASK)
#define PG_A  ((uint32_t)PT_ACCESSED_MASK)
#define PG_D  ((uint32_t)PT_DIRTY_MASK)
#define PG_PS ((uint32_t)PT_PAGE_SIZE_MASK)
#define PG_XD PT64_NX_MASK

typedef uint32_t pte32_t;
typedef uint64_t pte64_t;

static inline uint32_t pg_pa(const volatile void *p) { return (uint32_t)(uintptr_t)p; }
static inline uint32_t pg_pd_index32(uint32_t va) { return va >> 22; }
static inline uint32_t pg_pt_index32(uint32_t va) { return (va >> 12) & (PG_ENTRIES32 - 1); }
static inline uint32_t pg_pdpt_index(uint32_t va) { return va >> 30; }
static inline uint32_t pg_pd_index64(uint32_t va) { return (va >> 21) & (PG_ENTRIES64 - 1); }
static inline uint32_t pg_pt_index64(uint32_t va) { return (va >> 12) & (PG_ENTRIES64 - 1); }

/* A test page says which page it is: tag at its first word and at PG_PROBE. */
static inline void pg_tag(uint32_t pa, uint32_t tag)
{
	*(volatile uint32_t *)(uintptr_t)pa = tag;
	*(volatile uint32_t *)(uintptr_t)(pa + PG_PROBE) = tag;
}

/* The first 4 MiB one to one through 4 KiB pages, supervisor read/write. */
static inline void pg_identity_pt32(pte32_t *pt)
{
	for (uint32_t i = 0; i < PG_ENTRIES32; i++)
		pt[i] = (i << PAGE_SHIFT) | PG_P | PG_W;
}

static inline void pg_identity_pt64(pte64_t *pt, uint32_t base)
{
	for (uint32_t i = 0; i < PG_ENTRIES64; i++)
		pt[i] = (base + (i << PAGE_SHIFT)) | PG_P | PG_W;
}

/* Paging on (SDM Vol. 3 4.1.1): CR3 and CR4 first, then CR0.PG. With
 * CR4.PAE the MOV to CR0 loads the PDPTEs (4.4.1). */
static inline void pg_enable(uint32_t cr3, uint32_t cr4_set)
{
	write_cr3(cr3);
	write_cr4(read_cr4() | cr4_set);
	write_cr0(read_cr0() | X86_CR0_PG);
}

static inline void pg_set_cr0_wp(bool on)
{
	write_cr0(on ? read_cr0() | X86_CR0_WP : read_cr0() & ~X86_CR0_WP);
}

/* ---- faults ---------------------------------------------------------------- */

/* The last page fault, as the guest's #PF handler saw it. */
struct pg_fault_seen {
	volatile uint32_t count, error, cr2, eip, cs;
};
static struct pg_fault_seen pg_fault;

/* Where a fault taken at CPL 3 goes on (prot-pg-user: back to the CPL-0 code
 * that entered user mode); 0: such a fault is unexpected. */
static volatile uint32_t pg_user_resume;

static inline void pg_fault_reset(void)
{
	pg_fault.count = 0;
	pg_fault.error = pg_fault.cr2 = pg_fault.eip = pg_fault.cs = ~0u;
}

/* #PF: record it with CR2 (SDM Vol. 3 4.7: the faulting linear address),
 * then resume where the access armed (FAULT_RESUME_AT_1F) or leave user mode. */
static void pg_on_page_fault(struct trap_frame *f)
{
	pg_fault.count++;
	pg_fault.error = f->error;
	pg_fault.cr2 = (uint32_t)read_cr2();
	pg_fault.eip = f->eip;
	pg_fault.cs = f->cs;
	if ((f->cs & 3) && pg_user_resume) {
		f->eip = pg_user_resume;
		return;
	}
	if (!(f->cs & 3) && trap_fault.resume) {
		f->eip = trap_fault.resume;
		trap_fault.resume = 0;
		return;
	}
	report(0, "unexpected-page-fault", "#PF error 0x%x CR2 0x%x at EIP 0x%x CS 0x%x", f->error, pg_fault.cr2,
	       f->eip, f->cs);
	end();
}

static inline void pg_traps_init(void)
{
	idt_init();
	trap_exception_handler[PF_VECTOR] = pg_on_page_fault;
}

/* One 32-bit load or store at CPL 0 and how it went. */
struct pg_access {
	uint32_t insn;    /* the access's own address: a fault's EIP must be it */
	uint32_t value;   /* what a load read */
};

static inline struct pg_access pg_load(uint32_t va)
{
	struct pg_access a = { .value = 0xbad0bad0u };
	pg_fault_reset();
	__asm__ volatile("movl $0f, %[insn]\n\t" FAULT_RESUME_AT_1F "0: movl (%[va]), %[v]\n"
			 "1:\tmovl $0, trap_fault+4"
			 : [v] "+r"(a.value), [insn] "=&r"(a.insn)
			 : [va] "r"(va)
			 : "memory");
	return a;
}

static inline struct pg_access pg_store(uint32_t va, uint32_t value)
{
	struct pg_access a = { .value = value };
	pg_fault_reset();
	__asm__ volatile("movl $0f, %[insn]\n\t" FAULT_RESUME_AT_1F "0: movl %[v], (%[va])\n"
			 "1:\tmovl $0, trap_fault+4"
			 : [insn] "=&r"(a.insn)
			 : [va] "r"(va), [v] "r"(value)
			 : "memory");
	return a;
}

/* A near call to target at CPL 0 (code there returns at once); a #PF on the
 * fetch resumes after the call, with ESP as it was before it. */
static inline struct pg_access pg_call(uint32_t target)
{
	struct pg_access a = { .insn = target };
	pg_fault_reset();
	__asm__ volatile("movl %%esp, %%edx\n\t" FAULT_RESUME_AT_1F "call *%[t]\n"
			 "1:\tmovl %%edx, %%esp\n\tmovl $0, trap_fault+4"
			 :
			 : [t] "a"(target)
			 : "ecx", "edx", "memory", "cc");
	return a;
}

/* The last access's faults, spelled out in a check's message. */
#define PG_SEEN_FMT "%u #PF (last: error 0x%x CR2 0x%x EIP 0x%x)"
#define PG_SEEN_ARGS pg_fault.count, pg_fault.error, pg_fault.cr2, pg_fault.eip

/* A load at CPL 0 that must not fault and must read `want`. */
static inline uint32_t pg_expect_load(const char *check, const char *what, uint32_t va, uint32_t want)
{
	struct pg_access a = pg_load(va);
	report(pg_fault.count == 0 && a.value == want, check, "%s: load of 0x%x: " PG_SEEN_FMT ", read 0x%x; want no #PF, 0x%x",
	       what, va, PG_SEEN_ARGS, a.value, want);
	return a.value;
}

/* A store at CPL 0 that must not fault. */
static inline void pg_expect_store(const char *check, const char *what, uint32_t va, uint32_t value)
{
	pg_store(va, value);
	report(pg_fault.count == 0, check, "%s: store to 0x%x: " PG_SEEN_FMT "; want no #PF", what, va, PG_SEEN_ARGS);
}

/* Whether the last access raised exactly one #PF with this error code, CR2
 * and EIP (a fault: EIP is the access itself, SDM Vol. 3 6.5). */
static inline void pg_report_fault(const char *check, const char *what, uint32_t va, uint32_t insn, uint32_t want_error)
{
	report(pg_fault.count == 1 && pg_fault.error == want_error && pg_fault.cr2 == va && pg_fault.eip == insn, check,
	       "%s: " PG_SEEN_FMT "; want 1 #PF, error 0x%x CR2 0x%x EIP 0x%x", what, PG_SEEN_ARGS, want_error, va, insn);
}

/* A load (or store) at CPL 0 that must fault with want_error (SDM Vol. 3 4.7). */
static inline void pg_expect_load_fault(const char *check, const char *what, uint32_t va, uint32_t want_error)
{
	struct pg_access a = pg_load(va);
	pg_report_fault(check, what, va, a.insn, want_error);
}

static inline void pg_expect_store_fault(const char *check, const char *what, uint32_t va, uint32_t want_error)
{
	struct pg_access a = pg_store(va, 0x5705e000u);
	pg_report_fault(check, what, va, a.insn, want_error);
}

#endif
