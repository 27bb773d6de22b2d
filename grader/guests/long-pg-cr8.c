/* SPDX-License-Identifier: MIT */
/*
 * long-pg-cr8: MOV to and from CR8 stay virtual. CR8 is the task-priority
 * register's view in 64-bit mode (SDM Vol. 3 10.8.6.1, "Task Priority in
 * IA-32e Mode"); minikvm makes both directions exit (CR8-load and CR8-store
 * exiting) so the guest never reaches the physical TPR, and keeps the value
 * itself. The guest runs on its own page tables and checks: every TPR value
 * written reads back; the value survives a CR3 switch and an exception; a
 * write with bits 63:4 set raises #GP(0) and leaves CR8 alone (SDM Vol. 2B,
 * MOV to control registers); at CPL 3 both MOV to and from CR8 raise #GP(0).
 */
#include "rt.h"
#include "trap64.h"
#include <x86/pgtable.h>
#include <x86/trapnr.h>

static uint64_t pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd[512] __attribute__((aligned(PAGE_SIZE)));
static uint8_t user_stack[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static inline uint64_t read_cr8(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr8, %0" : "=r"(v));
	return v;
}

static void write_cr8_fn(uint64_t v) { __asm__ volatile("mov %0, %%cr8" : : "r"(v) : "memory"); }
static void touch_unmapped(uint64_t va) { (void)*(volatile uint64_t *)(uintptr_t)va; }

/* Ring 3: MOV from CR8, then MOV to CR8, each expected to #GP; ud2 ends the run. */
extern const char user_cr8_read[], user_cr8_write[];
__asm__(".text\n"
	"user_cr8_read: mov %cr8, %rax\n\tud2\n"
	"user_cr8_write: mov %rdi, %cr8\n\tud2\n");

static void expect_gp(const char *check, const char *what)
{
	report(trap64_last.vector == GP_VECTOR && trap64_last.error == 0, check,
	       "%s: vector %llu error 0x%llx, want #GP(0) (vector 13)", what,
	       (unsigned long long)trap64_last.vector, (unsigned long long)trap64_last.error);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	trap64_user_identity(pml4, pdpt, pd);
	uint64_t vmm_cr3 = read_cr3();
	write_cr3((uint64_t)(uintptr_t)pml4);

	uint64_t v = read_cr8();
	report_eq("cr8-reset-value", v, 0);

	unsigned bad = 0;
	uint64_t first_bad = 0, first_got = 0;
	for (uint64_t tpr = 0; tpr < 16; tpr++) {
		write_cr8_fn(tpr);
		uint64_t got = read_cr8();
		if (got != tpr && !bad++) {
			first_bad = tpr;
			first_got = got;
		}
	}
	report(bad == 0, "cr8-roundtrip", "%u of 16 TPR values did not read back; first: wrote %llu read %llu", bad,
	       (unsigned long long)first_bad, (unsigned long long)first_got);

	write_cr8_fn(9);
	write_cr3(vmm_cr3);
	write_cr3((uint64_t)(uintptr_t)pml4);
	report_eq("cr8-kept-across-cr3", read_cr8(), 9);

	/* A #PF the hypervisor injects: pml4[1] is empty, so VA 512 GiB is not present. */
	int ok = trap64_run(touch_unmapped, 1ull << 39);
	report(!ok && trap64_last.vector == PF_VECTOR && read_cr8() == 9, "cr8-kept-across-exception",
	       "after the #PF (taken %d, vector %llu) CR8 reads %llu, want 9", !ok,
	       (unsigned long long)trap64_last.vector, (unsigned long long)read_cr8());

	ok = trap64_run(write_cr8_fn, 0x10);
	expect_gp("cr8-reserved-bits-gp", ok ? "MOV CR8, 0x10 did not fault" : "MOV CR8, 0x10");
	report_eq("cr8-unchanged-after-gp", read_cr8(), 9);

	trap64_run_user((uint64_t)(uintptr_t)user_cr8_read, (uint64_t)(uintptr_t)(user_stack + PAGE_SIZE), 0);
	expect_gp("cr8-read-cpl3-gp", "MOV RAX, CR8 at CPL 3");
	report(trap64_last.cpl == 3 && trap64_last.rip == (uint64_t)(uintptr_t)user_cr8_read, "cr8-read-cpl3-where",
	       "fault at CPL %llu RIP 0x%llx, want CPL 3 RIP 0x%llx", (unsigned long long)trap64_last.cpl,
	       (unsigned long long)trap64_last.rip, (unsigned long long)(uintptr_t)user_cr8_read);
	trap64_run_user((uint64_t)(uintptr_t)user_cr8_write, (uint64_t)(uintptr_t)(user_stack + PAGE_SIZE), 3);
	expect_gp("cr8-write-cpl3-gp", "MOV CR8, RDI at CPL 3");
	report_eq("cr8-unchanged-after-cpl3", read_cr8(), 9);

	write_cr8_fn(0);
	write_cr3(vmm_cr3);
	end();
}
