/* SPDX-License-Identifier: MIT */
/*
 * long-ept-large: guest RAM behind 2 MiB EPT leaves. Where a memslot's
 * guest-physical and host-virtual addresses are both 2 MiB aligned and the
 * host backs the range with a 2 MiB page, KVM maps it with one 2 MiB EPT
 * entry (Linux: kvm_mmu_max_mapping_level, "lpage_info"; SDM Vol. 3 29.3.2,
 * table 29-4: bit 7 of an EPT PDE). With the default --mem the VMM's RAM is
 * so aligned on minikvm, which says so in its "tdp:" line (pages_2m); the
 * guest cannot see the size of an EPT leaf, only whether every address
 * inside one lands on the right byte:
 *
 *   - a tag in every 4 KiB page of 16 MiB, read back (a leaf's offset bits
 *     20:12 taken from the wrong place sends pages to one another);
 *   - 8-byte (ring 0 and 3) and 16-byte (ring 3, SSE) accesses straddling
 *     a 2 MiB boundary, the first of each into ranges never touched before,
 *     so one instruction faults in two leaves;
 *   - code copied into the middle of a 2 MiB range, and across a boundary,
 *     then run, patched and run again;
 *   - the guest's own 4 KiB PTEs (in a permuted order) and its own 2 MiB
 *     PDE over the same frames agree with each other and with the identity
 *     map, writes through each seen through the others.
 *
 * Needs 32 MiB of RAM (fw_cfg says how much there is).
 */
#include "rt.h"
#include "kut.h"
#include "trap64.h"
#include "user64.h"
#include <x86/cpuid.h>
#include <x86/pgtable.h>
#include <x86/trapnr.h>

#define MIB          (1ull << 20)
#define RAM_NEEDED   (32 * MIB)
#define SWEEP_GPA    (4 * MIB)    /* 16 MiB of tags: [4, 20) MiB */
#define SWEEP_PAGES  4096u
#define ALIAS_GPA    (20 * MIB)   /* the 2 MiB the guest maps twice */
#define B8           (24 * MIB)   /* ring-0 qwords across [22, 24) and [24, 26), fresh */
#define B8_USER      (26 * MIB)   /* a ring-3 qword across [24, 26) and [26, 28) */
#define B16          (28 * MIB)   /* 16 bytes across [26, 28) and [28, 30), the second fresh */
#define CODE_MID     (31 * MIB)   /* the middle of [30, 32) */
#define CODE_CROSS   (30 * MIB)   /* code whose first instruction crosses this boundary */
#define VA_4K        0x40000000ull /* PDPT 1, PD 0: a page table */
#define VA_2M        0x40200000ull /* PDPT 1, PD 1: a 2 MiB page */
#define PERMUTE      0x155u       /* 4 KiB PTE i maps frame i ^ PERMUTE */
#define FLAGS        (PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_USER_MASK)

extern char _end[]; /* rt/image64.ld */

static uint64_t pml4[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pdpt[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_low[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pd_alias[512] __attribute__((aligned(PAGE_SIZE)));
static uint64_t pt_alias[512] __attribute__((aligned(PAGE_SIZE)));

static uint64_t pa(const void *p) { return (uint64_t)(uintptr_t)p; }
static volatile uint64_t *q(uint64_t a) { return (volatile uint64_t *)(uintptr_t)a; }
static volatile uint8_t *b(uint64_t a) { return (volatile uint8_t *)(uintptr_t)a; }

/* A tag no other page or offset holds: the page's address and a salt. */
static uint64_t tag(uint64_t gpa, uint64_t salt) { return (gpa * 0x9e3779b97f4a7c15ull) ^ salt; }
/* Where in its page a tag goes: a different qword for neighbouring pages. */
static uint64_t tag_off(unsigned page) { return (page * 0x48u) & (PAGE_SIZE - 8); }

static void test_sweep(void)
{
	for (unsigned i = 0; i < SWEEP_PAGES; i++) {
		uint64_t a = SWEEP_GPA + (uint64_t)i * PAGE_SIZE;
		*q(a + tag_off(i)) = tag(a, 0x5357);
	}
	unsigned bad = 0, first = 0;
	for (unsigned i = 0; i < SWEEP_PAGES; i++) {
		uint64_t a = SWEEP_GPA + (uint64_t)i * PAGE_SIZE;
		if (*q(a + tag_off(i)) != tag(a, 0x5357) && !bad++)
			first = i;
	}
	report(bad == 0, "large-tags", "%u of %u pages of [0x%llx, 0x%llx) lost their tag; first at 0x%llx reads "
	       "0x%llx, want 0x%llx", bad, SWEEP_PAGES, SWEEP_GPA, SWEEP_GPA + SWEEP_PAGES * PAGE_SIZE,
	       SWEEP_GPA + first * PAGE_SIZE + tag_off(first),
	       (unsigned long long)*q(SWEEP_GPA + first * PAGE_SIZE + tag_off(first)),
	       (unsigned long long)tag(SWEEP_GPA + first * PAGE_SIZE, 0x5357));
}

/* The bytes at a, one load each (each inside one leaf). */
static uint64_t bytes_at(uint64_t a, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)*b(a + i) << (8 * i);
	return v;
}

static void test_straddle8(void)
{
	static const unsigned skew[] = { 1, 4, 7 };
	unsigned bad = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(skew); i++) {
		uint64_t a = B8 - skew[i], v = tag(a, 8);
		*q(a) = v;
		uint64_t whole = *q(a), parts = bytes_at(a, 8);
		if (whole != v || parts != v) {
			if (!bad++)
				printf("  qword at 0x%llx: wrote 0x%llx, reads 0x%llx, bytes 0x%llx\n", (unsigned long long)a,
				       (unsigned long long)v, (unsigned long long)whole, (unsigned long long)parts);
		}
	}
	report(bad == 0, "large-straddle-8", "%u of %u ring-0 qwords across 0x%llx did not read back",
	       bad, (unsigned)ARRAY_SIZE(skew), B8);

	/* Ring 3, natively: RAM never needs the emulator. */
	uint64_t a = B8_USER - 3, v = tag(a, 3), got = 0;
	enum user_end st = user_store(a, 8, v), ld = user_load(a, 8, &got);
	report(st == USER_DONE && ld == USER_DONE && got == v && bytes_at(a, 8) == v, "large-straddle-8-cpl3",
	       "at CPL 3 across 0x%llx: store %s, load %s, read 0x%llx (bytes 0x%llx), want 0x%llx", B8_USER,
	       user_end_name(st), user_end_name(ld), (unsigned long long)got, (unsigned long long)bytes_at(a, 8),
	       (unsigned long long)v);
}

/* 16 bytes in one instruction: MOVDQU at CPL 3 (ring 0 stays away from
 * SSE, which a host that emulates ring 0 may not run; README.md). RDI
 * points at { va, value[2], got[2] }; the store and the load each cross. */
static struct { uint64_t va, value[2], got[2]; } sse_args;
extern const char u_movdqu[], u_movdqu_done[];
__asm__(".text\n"
	"u_movdqu: movq (%rdi), %rcx\n"
	"\tmovdqu 8(%rdi), %xmm0\n"
	"\tmovdqu %xmm0, (%rcx)\n"
	"\tmovdqu (%rcx), %xmm1\n"
	"\tmovdqu %xmm1, 24(%rdi)\n"
	"u_movdqu_done: ud2\n");
static uint8_t sse_stack[1024] __attribute__((aligned(16)));

static void test_straddle16(int sse)
{
	if (!sse) {
		report(0, "large-straddle-16", "CPUID.1:EDX says no SSE or FXSR: no 16-byte access to make");
		return;
	}
	write_cr4(read_cr4() | X86_CR4_OSFXSR); /* SSE instructions #UD without it (SDM Vol. 3 2.5) */
	static const unsigned skew[] = { 8, 1, 15, 5 };
	unsigned bad = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(skew); i++) {
		uint64_t a = B16 - skew[i];
		sse_args.va = a;
		sse_args.value[0] = tag(a, 16);
		sse_args.value[1] = tag(a, 17);
		sse_args.got[0] = sse_args.got[1] = 0;
		trap64_run_user(pa(u_movdqu), pa(sse_stack + sizeof(sse_stack)), pa(&sse_args));
		int done = trap64_last.vector == UD_VECTOR && trap64_last.rip == pa(u_movdqu_done);
		uint64_t lo = bytes_at(a, 8), hi = bytes_at(a + 8, 8);
		if (!done || sse_args.got[0] != sse_args.value[0] || sse_args.got[1] != sse_args.value[1] ||
		    lo != sse_args.value[0] || hi != sse_args.value[1]) {
			if (!bad++)
				printf("  16 bytes at 0x%llx: %s (vector %llu at 0x%llx); wrote 0x%llx:%llx, loaded "
				       "0x%llx:%llx, bytes 0x%llx:%llx\n", (unsigned long long)a,
				       done ? "completed" : "faulted", (unsigned long long)trap64_last.vector,
				       (unsigned long long)trap64_last.rip, (unsigned long long)sse_args.value[1],
				       (unsigned long long)sse_args.value[0], (unsigned long long)sse_args.got[1],
				       (unsigned long long)sse_args.got[0], (unsigned long long)hi, (unsigned long long)lo);
		}
	}
	report(bad == 0, "large-straddle-16", "%u of %u MOVDQU stores and loads across a 2 MiB boundary at CPL 3 "
	       "did not round-trip", bad, (unsigned)ARRAY_SIZE(skew));
}

/* mov $imm32, %eax; add %edi, %eax; ret */
static const uint8_t code[] = { 0xb8, 0, 0, 0, 0, 0x01, 0xf8, 0xc3 };

static uint32_t run_code(uint64_t at, uint32_t imm, uint32_t arg)
{
	for (unsigned i = 0; i < sizeof(code); i++)
		*b(at + i) = code[i];
	for (unsigned i = 0; i < 4; i++)
		*b(at + 1 + i) = (uint8_t)(imm >> (8 * i));
	uint32_t (*fn)(uint32_t) = (uint32_t (*)(uint32_t))(uintptr_t)at;
	return fn(arg);
}

static void test_code(void)
{
	static const struct { uint64_t at; const char *name; } where[] = {
		{ CODE_MID, "large-code-middle" }, { CODE_CROSS - 3, "large-code-across" },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(where); i++) {
		/* Run, then patch the immediate and run again: stores to code
		 * are seen by the next fetch (SDM Vol. 3 11.6). */
		uint32_t r1 = run_code(where[i].at, 0x6b760000u + i, 0x100);
		uint32_t r2 = run_code(where[i].at, 0x12340000u + i, 0x200);
		report(r1 == 0x6b760100u + i && r2 == 0x12340200u + i, where[i].name,
		       "code at 0x%llx returned 0x%x then 0x%x, want 0x%x then 0x%x", (unsigned long long)where[i].at,
		       r1, r2, 0x6b760100u + i, 0x12340200u + i);
	}
}

/* One page's tag as seen through the three mappings of the alias range. */
static uint64_t via_id(unsigned frame, unsigned off) { return *q(ALIAS_GPA + frame * PAGE_SIZE + off); }
static uint64_t via_2m(unsigned frame, unsigned off) { return *q(VA_2M + frame * PAGE_SIZE + off); }
static uint64_t via_4k(unsigned frame, unsigned off) { return *q(VA_4K + (frame ^ PERMUTE) * PAGE_SIZE + off); }

static void test_alias(void)
{
	unsigned bad[3] = { 0, 0, 0 }, first[3] = { 0, 0, 0 };
	static const char *const writer[3] = { "the identity map", "the 4 KiB PTEs", "the 2 MiB PDE" };
	for (unsigned w = 0; w < 3; w++) {
		for (unsigned f = 0; f < 512; f++) {
			unsigned off = (unsigned)tag_off(f + w);
			uint64_t v = tag(ALIAS_GPA + f * PAGE_SIZE, w);
			volatile uint64_t *dst = w == 0 ? q(ALIAS_GPA + f * PAGE_SIZE + off)
					       : w == 1 ? q(VA_4K + (f ^ PERMUTE) * PAGE_SIZE + off)
							: q(VA_2M + f * PAGE_SIZE + off);
			*dst = v;
		}
		for (unsigned f = 0; f < 512; f++) {
			unsigned off = (unsigned)tag_off(f + w);
			uint64_t v = tag(ALIAS_GPA + f * PAGE_SIZE, w);
			if ((via_id(f, off) != v || via_4k(f, off) != v || via_2m(f, off) != v) && !bad[w]++)
				first[w] = f;
		}
	}
	for (unsigned w = 0; w < 3; w++)
		if (bad[w]) {
			unsigned f = first[w], off = (unsigned)tag_off(f + w);
			printf("  written through %s: frame %u reads 0x%llx (identity), 0x%llx (4 KiB), 0x%llx "
			       "(2 MiB), want 0x%llx\n", writer[w], f, (unsigned long long)via_id(f, off),
			       (unsigned long long)via_4k(f, off), (unsigned long long)via_2m(f, off),
			       (unsigned long long)tag(ALIAS_GPA + f * PAGE_SIZE, w));
		}
	report(!bad[0] && !bad[1] && !bad[2], "large-alias-4k-2m", "frames of [0x%llx, 0x%llx) disagree between "
	       "the mappings: %u written by identity, %u by 4 KiB PTEs, %u by the 2 MiB PDE", ALIAS_GPA,
	       ALIAS_GPA + LARGE_PAGE_SIZE, bad[0], bad[1], bad[2]);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	uint64_t ram = fw_cfg_ram_size();
	report(ram >= RAM_NEEDED && pa(_end) <= SWEEP_GPA, "large-layout", "RAM 0x%llx (want >= 0x%llx), image "
	       "ends at 0x%llx (want <= 0x%llx)", (unsigned long long)ram, RAM_NEEDED,
	       (unsigned long long)pa(_end), SWEEP_GPA);
	if (ram < RAM_NEEDED || pa(_end) > SWEEP_GPA)
		end();
	uint32_t a, bx, c, d;
	cpuid(1, 0, &a, &bx, &c, &d);
	int sse = (d & (CPUID_1_EDX_SSE | CPUID_1_EDX_FXSR)) == (CPUID_1_EDX_SSE | CPUID_1_EDX_FXSR);

	trap64_init();
	trap64_user_identity(pml4, pdpt, pd_low);
	pdpt[PT64_INDEX(VA_4K, 3)] = pa(pd_alias) | FLAGS;
	pd_alias[PT64_INDEX(VA_4K, 2)] = pa(pt_alias) | FLAGS;
	for (unsigned i = 0; i < 512; i++)
		pt_alias[i] = (ALIAS_GPA + (uint64_t)(i ^ PERMUTE) * PAGE_SIZE) | FLAGS;
	pd_alias[PT64_INDEX(VA_2M, 2)] = ALIAS_GPA | FLAGS | PT_PAGE_SIZE_MASK;
	uint64_t vmm_cr3 = read_cr3();
	write_cr3(pa(pml4));

	test_sweep();
	test_straddle8();
	test_straddle16(sse);
	test_code();
	test_alias();

	write_cr3(vmm_cr3);
	end();
}
