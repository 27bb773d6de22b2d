/* SPDX-License-Identifier: MIT */
/*
 * long-emu-string: string instructions on MMIO, at CPL 0 (rt/emu64.h: the
 * test window between two RAM pages). Each one runs twice from the same
 * registers and memory: on the guest's pages with the window in the middle,
 * and on a RAM copy of those three pages. The registers (RSI, RDI, RCX, RAX
 * relative to where they started), the flags CMPS and SCAS set, the window's
 * bytes and the RAM around it must agree (SDM Vol. 2, MOVS/STOS/LODS/CMPS/
 * SCAS and REP/REPE/REPNE: one element per iteration, RCX counts down, DF
 * picks the direction; REPE/REPNE also stop on ZF).
 *
 *   - REP MOVS of 1, 2, 4 and 8 bytes into, out of and within the window,
 *     with DF = 0 and 1; REP STOS and REP LODS likewise;
 *   - REPE/REPNE CMPS and SCAS that stop early on a difference in the window;
 *   - counts that run across the window's start and end into RAM, both
 *     directions;
 *   - REP OUTS from the window and REP INS into it, at the test device ports;
 *   - MMIO_ACCESSES: one access per element per operand in the window (Linux
 *     re-enters the instruction after each MMIO exit, one element each),
 *     except that REP INS may store its elements in pieces of up to 8 bytes.
 */
#include "emu64.h"
#include <x86/processor-flags.h>

#define FLAGS6 (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

struct sregs {
	uint64_t rdi, rsi, rcx, rax, rdx, fl;
};

/* The flags in (DF among them), one string instruction, the flags out; DF
 * cleared again for the compiler (the ABI keeps it clear). */
#define STR(name, insn)                                                                            \
	static void name(struct sregs *r)                                                          \
	{                                                                                          \
		__asm__ volatile("pushq %[fl]\n\tpopfq\n\t" insn "\n\tpushfq\n\tpopq %[fl]\n\tcld"     \
				 : "+D"(r->rdi), "+S"(r->rsi), "+c"(r->rcx), "+a"(r->rax), "+d"(r->rdx), \
				   [fl] "+r"(r->fl)                                                \
				 :                                                                 \
				 : "memory", "cc");                                                \
	}
#define STR4(op, prefix)                          \
	STR(op##b, prefix " " #op "b")               \
	STR(op##w, prefix " " #op "w")               \
	STR(op##l, prefix " " #op "l")               \
	STR(op##q, prefix " " #op "q")

STR4(movs, "rep") STR4(stos, "rep") STR4(lods, "rep")
STR(repe_cmpsb, "repe cmpsb") STR(repe_cmpsq, "repe cmpsq") STR(repne_cmpsw, "repne cmpsw")
STR(repne_scasb, "repne scasb") STR(repe_scasl, "repe scasl") STR(repne_scasq, "repne scasq")
STR(rep_outsb, "rep outsb") STR(rep_outsw, "rep outsw") STR(rep_outsl, "rep outsl")
STR(rep_insb, "rep insb") STR(rep_insl, "rep insl")

typedef void str_fn(struct sregs *);

enum { SRC = 1, DST = 2, FLAGS = 4 }; /* what an element touches, and whether flags are compared */

struct str_test {
	const char *name;
	str_fn *fn;
	unsigned size, uses;
	uint64_t rdi, rsi, rcx, rax; /* RDI and RSI as offsets from EMU_VA */
	int df;
	uint16_t port;
};

#define A(off)   ((uint64_t)(off))                    /* RAM A */
#define W(off)   ((uint64_t)PAGE_SIZE + (off))         /* the window */
#define B(off)   ((uint64_t)2 * PAGE_SIZE + (off))     /* RAM B */
#define PORT_SCRATCH (ABI_TESTDEV_PORT + ABI_TESTDEV_SCRATCH)
#define PORT_ID      (ABI_TESTDEV_PORT + ABI_TESTDEV_ID)

static const struct str_test tests[] = {
	/* into, out of and within the window, both directions */
	{ "movsb-to-mmio", movsb, 1, SRC | DST, W(0x103), A(0x10), 13, 0, 0, 0 },
	{ "movsw-to-mmio-df", movsw, 2, SRC | DST, W(0x13e), A(0x40), 7, 0, 1, 0 },
	{ "movsl-from-mmio", movsl, 4, SRC | DST, A(0x21), W(0x100), 9, 0, 0, 0 },
	{ "movsq-from-mmio-df", movsq, 8, SRC | DST, A(0x80), W(0x138), 6, 0, 1, 0 },
	{ "movsq-mmio-to-mmio", movsq, 8, SRC | DST, W(0x120), W(0x100), 4, 0, 0, 0 },
	{ "movsb-mmio-overlap-df", movsb, 1, SRC | DST, W(0x13f), W(0x13c), 11, 0, 1, 0 },
	{ "stosb-mmio", stosb, 1, DST, W(0x105), 0, 17, 0x5a, 0, 0 },
	{ "stosw-mmio-df", stosw, 2, DST, W(0x13a), 0, 5, 0xbeef, 1, 0 },
	{ "stosl-mmio", stosl, 4, DST, W(0x102), 0, 7, 0xcafef00d, 0, 0 },
	{ "stosq-mmio-df", stosq, 8, DST, W(0x138), 0, 4, 0x0123456789abcdefull, 1, 0 },
	{ "lodsb-mmio", lodsb, 1, SRC, 0, W(0x107), 9, 0, 0, 0 },
	{ "lodsw-mmio-df", lodsw, 2, SRC, 0, W(0x130), 5, 0, 1, 0 },
	{ "lodsl-mmio", lodsl, 4, SRC, 0, W(0x101), 3, 0, 0, 0 },
	{ "lodsq-mmio-df", lodsq, 8, SRC, 0, W(0x128), 4, 0, 1, 0 },
	/* stop early: the window and RAM A differ at element 5 (set below) */
	{ "repe-cmpsb", repe_cmpsb, 1, SRC | DST | FLAGS, A(0x10), W(0x100), 12, 0, 0, 0 },
	{ "repe-cmpsq-df", repe_cmpsq, 8, SRC | DST | FLAGS, A(0x48), W(0x138), 5, 0, 1, 0 },
	{ "repne-cmpsw", repne_cmpsw, 2, SRC | DST | FLAGS, W(0x104), A(0x14), 9, 0, 0, 0 },
	{ "repne-scasb", repne_scasb, 1, DST | FLAGS, W(0x100), 0, 20, 0x15, 0, 0 },
	{ "repe-scasl-df", repe_scasl, 4, DST | FLAGS, W(0x13c), 0, 8, 0x3f3e3d3c, 1, 0 },
	{ "repne-scasq-miss", repne_scasq, 8, DST | FLAGS, W(0x100), 0, 4, 0x1234, 0, 0 },
	/* across the window's start and end */
	{ "movsb-cross-end", movsb, 1, SRC | DST, W(0xff4), A(0x10), 24, 0, 0, 0 },
	{ "movsl-cross-start-df", movsl, 4, SRC | DST, W(0x8), A(0x40), 6, 0, 1, 0 },
	{ "stosq-cross-end-df", stosq, 8, DST, B(0x10), 0, 5, 0x1122334455667788ull, 1, 0 },
	{ "stosw-cross-start", stosw, 2, DST, A(0xffa), 0, 6, 0x7e7f, 0, 0 },
	{ "lodsl-cross-start", lodsl, 4, SRC, 0, A(0xff8), 4, 0, 0, 0 },
	{ "movsq-cross-end-from", movsq, 8, SRC | DST, A(0x40), W(0xff0), 4, 0, 0, 0 },
	{ "repe-cmpsb-cross-end", repe_cmpsb, 1, SRC | DST | FLAGS, W(0xffc), A(0x10), 6, 0, 0, 0 },
	/* port I/O with the window on the memory side (the test device's
	 * SCRATCH keeps the last element, ID reads the magic) */
	{ "outsb-from-mmio", rep_outsb, 1, SRC, 0, W(0x104), 5, 0, 0, PORT_SCRATCH },
	{ "outsw-from-mmio-df", rep_outsw, 2, SRC, 0, W(0x10e), 4, 0, 1, PORT_SCRATCH },
	{ "outsl-cross-end", rep_outsl, 4, SRC, 0, W(0xff8), 4, 0, 0, PORT_SCRATCH },
	{ "insl-to-mmio", rep_insl, 4, DST, W(0x104), 0, 5, 0, 0, PORT_ID },
	{ "insb-to-mmio-df", rep_insb, 1, DST, W(0x109), 0, 6, 0, 1, PORT_SCRATCH },
	{ "insl-cross-start-df", rep_insl, 4, DST, W(0x4), 0, 4, 0, 1, PORT_ID },
};

/* The RAM copy of EMU_VA's three pages. */
static uint8_t mirror[3 * PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* The bytes compared: RAM A's first 0x100 and last 0x100, the window's
 * 0x100..0x140 and its first and last 0x20, RAM B's first 0x100. */
struct zone {
	uint64_t off, len;
};
static const struct zone ram_zones[] = { { A(0), 0x100 }, { A(0xf00), 0x100 }, { B(0), 0x100 } };
static const struct zone win_zones[] = { { W(0), 0x20 }, { W(0x100), 0x40 }, { W(0xfe0), 0x20 } };

static uint8_t pattern(uint64_t off, unsigned t)
{
	/* Varied bytes; RAM A's 0x10..0x50 equal the window's 0x100..0x140
	 * except at the window's 0x105, 0x108 and 0x12a, so CMPS has runs of
	 * equal elements to stop at the end of. */
	uint64_t o = off;
	if (off >= W(0x100) && off < W(0x140))
		o = A(0x10) + (off - W(0x100));
	uint8_t v = (uint8_t)(o * 7 + (o >> 8) + t);
	if (off == W(0x105) || off == W(0x12a) || off == W(0x108))
		v ^= 0x80;
	return v;
}

static void fill(unsigned t)
{
	for (unsigned z = 0; z < ARRAY_SIZE(ram_zones); z++)
		for (uint64_t i = 0; i < ram_zones[z].len; i++) {
			uint64_t off = ram_zones[z].off + i;
			uint8_t v = pattern(off, t);
			mirror[off] = v;
			*(volatile uint8_t *)(uintptr_t)(EMU_VA + off) = v;
		}
	for (unsigned z = 0; z < ARRAY_SIZE(win_zones); z++)
		for (uint64_t i = 0; i < win_zones[z].len; i += 8) {
			uint64_t off = win_zones[z].off + i, q = 0;
			for (unsigned b = 0; b < 8; b++)
				mirror[off + b] = pattern(off + b, t), q |= (uint64_t)mirror[off + b] << (8 * b);
			emu_store(EMU_VA + off, 8, q);
		}
}

/* 0: same bytes; else the offset from EMU_VA of the first difference + 1. */
static uint64_t compare(void)
{
	for (unsigned z = 0; z < ARRAY_SIZE(ram_zones); z++)
		for (uint64_t i = 0; i < ram_zones[z].len; i++) {
			uint64_t off = ram_zones[z].off + i;
			if (*(volatile uint8_t *)(uintptr_t)(EMU_VA + off) != mirror[off])
				return off + 1;
		}
	for (unsigned z = 0; z < ARRAY_SIZE(win_zones); z++)
		for (uint64_t i = 0; i < win_zones[z].len; i += 8) {
			uint64_t off = win_zones[z].off + i, q = emu_load(EMU_VA + off, 8);
			for (unsigned b = 0; b < 8; b++)
				if ((uint8_t)(q >> (8 * b)) != mirror[off + b])
					return off + b + 1;
		}
	return 0;
}

static int in_window(uint64_t off, unsigned size)
{
	return off >= W(0) && off + size <= W(PAGE_SIZE);
}

static unsigned win_accesses(const struct str_test *t, uint64_t done)
{
	unsigned n = 0;
	for (uint64_t i = 0; i < done; i++) {
		uint64_t step = t->df ? -(i * t->size) : i * t->size;
		n += (t->uses & SRC) && in_window(t->rsi + step, t->size);
		n += (t->uses & DST) && in_window(t->rdi + step, t->size);
	}
	return n;
}

static unsigned count_bad, count_first, count_seen, count_want;

static void run(const struct str_test *t, unsigned idx)
{
	uint64_t fl = 0x2 | (t->df ? X86_EFLAGS_DF : 0);
	struct sregs r = { (uintptr_t)mirror + t->rdi, (uintptr_t)mirror + t->rsi, t->rcx, t->rax, t->port, fl };
	struct sregs m = { EMU_VA + t->rdi, EMU_VA + t->rsi, t->rcx, t->rax, t->port, fl };

	fill(idx);
	/* Ports: RAM first, then the window; SCRATCH starts from the same value. */
	outl(PORT_SCRATCH, 0x600d0000u + idx);
	t->fn(&r);
	uint32_t scratch_ram = inl(PORT_SCRATCH);
	outl(PORT_SCRATCH, 0x600d0000u + idx);
	uint32_t before = emu_mmio_accesses();
	t->fn(&m);
	uint32_t seen = emu_mmio_accesses() - before;
	uint32_t scratch_mmio = inl(PORT_SCRATCH);
	uint64_t diff = compare();
	unsigned want = win_accesses(t, t->rcx - r.rcx);
	uint64_t fmask = X86_EFLAGS_DF | (t->uses & FLAGS ? FLAGS6 : 0);

	int regs = m.rdi - EMU_VA == r.rdi - (uintptr_t)mirror && m.rsi - EMU_VA == r.rsi - (uintptr_t)mirror &&
		   m.rcx == r.rcx && m.rax == r.rax && (m.fl & fmask) == (r.fl & fmask);
	report(regs && !diff && scratch_mmio == scratch_ram, t->name,
	       "with MMIO: RDI +0x%llx RSI +0x%llx RCX %llu RAX 0x%llx flags 0x%llx scratch 0x%x; on RAM: RDI "
	       "+0x%llx RSI +0x%llx RCX %llu RAX 0x%llx flags 0x%llx scratch 0x%x; memory %s0x%llx",
	       (unsigned long long)(m.rdi - EMU_VA), (unsigned long long)(m.rsi - EMU_VA),
	       (unsigned long long)m.rcx, (unsigned long long)m.rax, (unsigned long long)(m.fl & fmask), scratch_mmio,
	       (unsigned long long)(r.rdi - (uintptr_t)mirror), (unsigned long long)(r.rsi - (uintptr_t)mirror),
	       (unsigned long long)r.rcx, (unsigned long long)r.rax, (unsigned long long)(r.fl & fmask), scratch_ram,
	       diff ? "first differs at EMU_VA+" : "agrees ", (unsigned long long)(diff ? diff - 1 : 0));
	/* REP INS with DF = 0 may read ahead from the port and store the
	 * elements as one write (Linux: pio_in_emulated's read-ahead, then one
	 * segmented_write of them all), which reaches the VMM in MMIO exits of
	 * up to 8 bytes: as few as one access per 8 bytes of the window. */
	unsigned least = want;
	if (t->port && (t->uses & DST) && !t->df)
		least = (want * t->size + 7) / 8;
	if ((seen < least || seen > want) && count_bad++ == 0)
		count_first = idx, count_seen = seen, count_want = want;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	emu_map_window();
	for (unsigned i = 0; i < ARRAY_SIZE(tests); i++)
		run(&tests[i], i);
	report(count_bad == 0, "string-mmio-count", "MMIO_ACCESSES wrong after %u of %u string instructions (first: "
	       "%s, grew by %u, want %u, one per element and operand in the window)", count_bad,
	       (unsigned)ARRAY_SIZE(tests), tests[count_first].name, count_seen, count_want);
	end();
}
