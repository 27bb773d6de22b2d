/* SPDX-License-Identifier: MIT */
/*
 * long-emu-mmio: MMIO through the instruction emulator, at CPL 0 (a
 * hypervisor without one ends the run there: KVM_EXIT_INTERNAL_ERROR, Linux's
 * handle_emulation_failure). The test window sits between two RAM pages
 * (rt/emu64.h), so accesses can cross from RAM into MMIO and back.
 *
 *   - MOV of 1, 2, 4 and 8 bytes at every offset within a qword, each read
 *     back whole and as the two qwords around it, against a model in RAM;
 *   - accesses of 2, 4 and 8 bytes across both page boundaries, at every
 *     split, and loads across them: the RAM part is RAM, the window part is
 *     the VMM's, one MMIO access each (emulator_read_write splits them);
 *   - read-modify-write instructions on MMIO (the eight ALU ops, TEST,
 *     INC/DEC/NOT/NEG, XCHG, CMPXCHG, XADD, BT/BTS/BTR/BTC, LOCK OR), each
 *     run on RAM too with the same operands and flags: the memory, RAX, the
 *     register operand and the arithmetic flags must agree (SDM Vol. 1
 *     3.4.3.1; the flags an instruction leaves undefined are not compared:
 *     AF after the logic ops, all but CF after the BT family, Vol. 2);
 *   - MMIO_ACCESSES counts every access: one per load or store, two per
 *     read-modify-write, one per CMP/TEST/BT; a CMPXCHG whose comparison
 *     fails may count one or two (the SDM has the CPU write the old value
 *     back; Linux's em_cmpxchg does not write).
 */
#include "emu64.h"
#include <x86/processor-flags.h>

#define FLAGS6  (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)
#define FLAGS_LOGIC (FLAGS6 & ~X86_EFLAGS_AF)
#define FLAGS_BT    X86_EFLAGS_CF

/* ---- plain MOVs: sizes and alignments ---------------------------------- */

#define SIZES_OFF 0x200 /* a 16-byte region of the window */

static uint8_t model[16];

static void sizes_and_alignments(void)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	unsigned bad = 0, cases = 0;
	uintptr_t w = EMU_WIN + SIZES_OFF;
	uint32_t before = emu_mmio_accesses();

	for (unsigned s = 0; s < 4; s++) {
		unsigned size = sizes[s];
		for (unsigned off = 0; off < 8; off++, cases++) {
			uint64_t fill = 0x0706050403020100ull + 0x1010101010101010ull * (cases & 7);
			uint64_t v = 0x8899aabbccddeeffull ^ ((uint64_t)cases << 56) ^ cases;
			emu_store(w, 8, fill);
			emu_store(w + 8, 8, ~fill);
			memcpy(model, &fill, 8);
			uint64_t nf = ~fill;
			memcpy(model + 8, &nf, 8);
			emu_store(w + off, size, v);
			memcpy(model + off, &v, size);
			uint64_t got = emu_load(w + off, size), lo = emu_load(w, 8), hi = emu_load(w + 8, 8);
			uint64_t want_lo, want_hi;
			memcpy(&want_lo, model, 8);
			memcpy(&want_hi, model + 8, 8);
			if (got != (v & emu_mask(size)) || lo != want_lo || hi != want_hi) {
				if (bad++ < 4)
					printf("  %u bytes at +%u: read 0x%llx, qwords 0x%llx 0x%llx; want 0x%llx, "
					       "0x%llx 0x%llx\n", size, off, (unsigned long long)got,
					       (unsigned long long)lo, (unsigned long long)hi,
					       (unsigned long long)(v & emu_mask(size)), (unsigned long long)want_lo,
					       (unsigned long long)want_hi);
			}
		}
	}
	uint32_t seen = emu_mmio_accesses() - before;
	report(bad == 0, "mov-sizes-offsets", "%u of %u stores of 1/2/4/8 bytes at offsets 0..7 read back wrong",
	       bad, cases);
	report(seen == cases * 6, "mov-sizes-count", "MMIO_ACCESSES grew by %u, want %u (6 accesses a case)", seen,
	       cases * 6);
}

/* ---- accesses across the window's two page boundaries ------------------ */

/* The window's part of a crossing access is one MMIO exit of 1 to 7 bytes;
 * the VMM serves a 3, 5, 6 or 7 as naturally aligned pieces (bus.c,
 * handle_mmio, as QEMU's access_with_adjusted_size()) and the window counts
 * each piece. A kernel may also give the part as several exits, never more
 * than those pieces. */
static unsigned pieces(uint64_t off, unsigned len)
{
	if (!(len & (len - 1)))
		return 1;
	unsigned n = 0;
	for (unsigned done = 0, size; done < len; done += size, n++)
		for (size = 8; size > len - done || ((off + done) & (size - 1)); size /= 2)
			;
	return n;
}

static void page_crossing(void)
{
	unsigned bad = 0, cases = 0, most = 0;
	uint32_t before = emu_mmio_accesses();

	for (unsigned size = 2; size <= 8; size *= 2) {
		for (unsigned k = 1; k < size; k++) {
			/* RAM A into the window: k bytes of RAM, size - k of MMIO. */
			for (int side = 0; side < 2; side++, cases++) {
				uintptr_t va = side == 0 ? EMU_WIN - k : EMU_RAM_B - k;
				/* Two plain accesses, the crossing store and load. */
				most += 2 + 2 * (side == 0 ? pieces(0, size - k) : pieces(PAGE_SIZE - k, k));
				uint64_t v = 0xf1e2d3c4b5a69788ull ^ ((uint64_t)cases * 0x0101010101010101ull);
				/* Known bytes on both sides first. */
				emu_store(side == 0 ? EMU_WIN : EMU_WIN + PAGE_SIZE - 8, 8, 0);
				memset(side == 0 ? emu_ram_a + PAGE_SIZE - 8 : emu_ram_b, 0, 8);
				emu_store(va, size, v);
				uint64_t win, ram = 0, want_win, want_ram;
				if (side == 0) {
					win = emu_load(EMU_WIN, 8);
					memcpy(&ram, emu_ram_a + PAGE_SIZE - k, k);
					want_ram = v & emu_mask(k);
					want_win = (v >> (8 * k)) & emu_mask(size - k);
				} else {
					win = emu_load(EMU_WIN + PAGE_SIZE - 8, 8) >> (8 * (8 - k));
					memcpy(&ram, emu_ram_b, size - k);
					want_win = v & emu_mask(k);
					want_ram = (v >> (8 * k)) & emu_mask(size - k);
				}
				uint64_t back = emu_load(va, size);
				if (win != want_win || ram != want_ram || back != (v & emu_mask(size))) {
					if (bad++ < 4)
						printf("  %u bytes at %s - %u: window part 0x%llx, RAM part 0x%llx, "
						       "read back 0x%llx; want 0x%llx, 0x%llx, 0x%llx\n", size,
						       side == 0 ? "window" : "window end", k,
						       (unsigned long long)win, (unsigned long long)ram,
						       (unsigned long long)back, (unsigned long long)want_win,
						       (unsigned long long)want_ram,
						       (unsigned long long)(v & emu_mask(size)));
				}
			}
		}
	}
	uint32_t seen = emu_mmio_accesses() - before;
	report(bad == 0, "mov-page-cross", "%u of %u accesses across a RAM/MMIO page boundary wrong", bad, cases);
	report(seen >= cases * 4 && seen <= most, "mov-page-cross-count", "MMIO_ACCESSES grew by %u, want %u..%u "
	       "(the window part of each crossing access once, or as the VMM's aligned pieces)", seen, cases * 4,
	       most);
}

/* ---- read-modify-write, differential against RAM ----------------------- */

struct rmw_out {
	uint64_t rax, src, flags;
};
typedef void rmw_fn(uintptr_t p, uint64_t rax, uint64_t src, uint64_t fl, struct rmw_out *o);

/* The flags in, one instruction on (p), the flags out: RAX and the source
 * register are in and out operands (XCHG, CMPXCHG and XADD write them). */
#define RMW(name, insn)                                                                        \
	static void name(uintptr_t p, uint64_t rax, uint64_t src, uint64_t fl, struct rmw_out *o) \
	{                                                                                      \
		__asm__ volatile("pushq %[fl]\n\tpopfq\n\t" insn "\n\tpushfq\n\tpopq %[fl]"      \
				 : [fl] "+r"(fl), "+a"(rax), [src] "+r"(src)                  \
				 : [p] "r"(p)                                                  \
				 : "memory", "cc");                                            \
		o->rax = rax, o->src = src, o->flags = fl;                                     \
	}
#define RMW4(op)                                                  \
	RMW(op##_b, #op "b %b[src], (%[p])")                        \
	RMW(op##_w, #op "w %w[src], (%[p])")                        \
	RMW(op##_l, #op "l %k[src], (%[p])")                        \
	RMW(op##_q, #op "q %q[src], (%[p])")
#define RMW4_1(op)                        \
	RMW(op##_b, #op "b (%[p])")        \
	RMW(op##_w, #op "w (%[p])")        \
	RMW(op##_l, #op "l (%[p])")        \
	RMW(op##_q, #op "q (%[p])")
/* The BT family has no byte form (Vol. 2, BT: 0F A3 /r is 16, 32 or 64 bits). */
#define RMW3(op)                          \
	RMW(op##_w, #op "w %w[src], (%[p])") \
	RMW(op##_l, #op "l %k[src], (%[p])") \
	RMW(op##_q, #op "q %q[src], (%[p])")

RMW4(add) RMW4(or) RMW4(adc) RMW4(sbb) RMW4(and) RMW4(sub) RMW4(xor) RMW4(cmp) RMW4(test)
RMW4_1(inc) RMW4_1(dec) RMW4_1(not) RMW4_1(neg)
RMW4(xchg) RMW4(cmpxchg) RMW4(xadd)
RMW3(bt) RMW3(bts) RMW3(btr) RMW3(btc)
RMW(lock_or_l, "lock orl %k[src], (%[p])")
RMW(lock_xadd_q, "lock xaddq %q[src], (%[p])")

struct rmw_op {
	const char *name;
	rmw_fn *fn[9];  /* by operand size */
	uint64_t flags; /* the flags the SDM defines after it */
	unsigned accesses; /* 1: only reads its operand, 2: reads and writes */
};

#define OPS4(op, fl, n) { #op, { [1] = op##_b, [2] = op##_w, [4] = op##_l, [8] = op##_q }, fl, n }
#define OPS3(op, fl, n) { #op, { [2] = op##_w, [4] = op##_l, [8] = op##_q }, fl, n }

static const struct rmw_op ops[] = {
	OPS4(add, FLAGS6, 2), OPS4(or, FLAGS_LOGIC, 2), OPS4(adc, FLAGS6, 2), OPS4(sbb, FLAGS6, 2),
	OPS4(and, FLAGS_LOGIC, 2), OPS4(sub, FLAGS6, 2), OPS4(xor, FLAGS_LOGIC, 2), OPS4(cmp, FLAGS6, 1),
	OPS4(test, FLAGS_LOGIC, 1), OPS4(inc, FLAGS6, 2), OPS4(dec, FLAGS6, 2), OPS4(not, FLAGS6, 2),
	OPS4(neg, FLAGS6, 2), OPS4(xchg, FLAGS6, 2), OPS4(cmpxchg, FLAGS6, 2), OPS4(xadd, FLAGS6, 2),
	OPS3(bt, FLAGS_BT, 1), OPS3(bts, FLAGS_BT, 2), OPS3(btr, FLAGS_BT, 2), OPS3(btc, FLAGS_BT, 2),
	{ "lock-or", { [4] = lock_or_l }, FLAGS_LOGIC, 2 },
	{ "lock-xadd", { [8] = lock_xadd_q }, FLAGS6, 2 },
};

/* Operands: memory, register, RAX (CMPXCHG's comparand), flags in. */
struct rmw_case {
	uint64_t mem, src, rax, flags;
};

#define RMW_OFF 0x400 /* 24 bytes of the window, and of rmw_ram */
static uint8_t rmw_ram[32] __attribute__((aligned(8)));

static unsigned rmw_bad, rmw_count_bad, rmw_cases, rmw_min, rmw_max;

static void rmw_one(const struct rmw_op *op, unsigned size, unsigned off, const struct rmw_case *c,
		    uintptr_t mmio_base, const char *where)
{
	uint64_t init[3] = { c->mem, ~c->mem ^ 0x5555, c->mem * 3 };
	struct rmw_out r = { 0, 0, 0 }, m = { 0, 0, 0 };
	/* The BT family's register offset is signed and may reach past the
	 * operand (Vol. 2, BT: bit base addressing): keep it inside 24 bytes. */
	uint64_t src = c->src;
	if (op->flags == FLAGS_BT)
		src %= 8 * (24 - 8 - off);

	memcpy(rmw_ram, init, 24);
	for (unsigned i = 0; i < 3; i++)
		emu_store(mmio_base + 8 * i, 8, init[i]);
	op->fn[size]((uintptr_t)rmw_ram + off, c->rax, src, c->flags, &r);
	uint32_t before = emu_mmio_accesses();
	op->fn[size](mmio_base + off, c->rax, src, c->flags, &m);
	uint32_t seen = emu_mmio_accesses() - before;
	uint64_t got[3], want[3];
	memcpy(want, rmw_ram, 24);
	for (unsigned i = 0; i < 3; i++)
		got[i] = emu_load(mmio_base + 8 * i, 8);

	int cmpxchg_failed = op->fn[8] == cmpxchg_q && !(r.flags & X86_EFLAGS_ZF);
	unsigned lo = cmpxchg_failed ? 1 : op->accesses, hi = op->accesses;
	rmw_min += lo, rmw_max += hi, rmw_cases++;
	int same = !memcmp(got, want, 24) && m.rax == r.rax && m.src == r.src &&
		   (m.flags & op->flags) == (r.flags & op->flags);
	int counted_wrong = seen < lo || seen > hi;
	rmw_bad += !same, rmw_count_bad += counted_wrong;
	if (!same || counted_wrong) {
		if (rmw_bad + rmw_count_bad < 6)
			printf("  %s %u bytes at %s+%u mem 0x%llx src 0x%llx rax 0x%llx flags 0x%llx: MMIO "
			       "mem 0x%llx rax 0x%llx src 0x%llx flags 0x%llx (%u accesses); RAM mem 0x%llx rax "
			       "0x%llx src 0x%llx flags 0x%llx (%u..%u accesses)\n",
			       op->name, size, where, off, (unsigned long long)c->mem, (unsigned long long)src,
			       (unsigned long long)c->rax, (unsigned long long)c->flags,
			       (unsigned long long)got[off / 8 > 1 ? 1 : 0], (unsigned long long)m.rax,
			       (unsigned long long)m.src, (unsigned long long)(m.flags & op->flags), seen,
			       (unsigned long long)want[off / 8 > 1 ? 1 : 0], (unsigned long long)r.rax,
			       (unsigned long long)r.src, (unsigned long long)(r.flags & op->flags), lo, hi);
	}
}

static const struct rmw_case rmw_cases_tab[] = {
	/* signed overflow at the top of every size, carry in */
	{ 0x7fffffffffffffffull, 0x8000800080008001ull, 0x7fffffffffffffffull, 0x2 | X86_EFLAGS_CF },
	/* a zero result, a carry out */
	{ 0xff00ff00ff00ff00ull, 0x00ff00ff00ff0100ull, 0x1234567812345678ull, 0x2 },
	/* CMPXCHG's comparison succeeds, borrow in */
	{ 0x1234567887654321ull, 0x0f0f0f0f0f0f0f0full, 0x1234567887654321ull, 0x2 | X86_EFLAGS_CF | X86_EFLAGS_ZF },
	/* zero memory, a large BT offset */
	{ 0, 0x8000000000000093ull, 0x1ull, 0x2 | X86_EFLAGS_OF | X86_EFLAGS_SF },
};

static void read_modify_write(void)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++)
		for (unsigned size = 1; size <= 8; size *= 2)
			if (ops[i].fn[size])
				for (unsigned c = 0; c < ARRAY_SIZE(rmw_cases_tab); c++, n++)
					rmw_one(&ops[i], size, n % 8, &rmw_cases_tab[c], EMU_WIN + RMW_OFF,
						"window");
	report(rmw_bad == 0, "rmw-vs-ram", "%u of %u read-modify-write instructions on MMIO disagree with RAM "
	       "(memory, RAX, register or flags)", rmw_bad, rmw_cases);
}

/* Read-modify-write across the window's boundaries: 8 bytes straddling
 * RAM A and the window, and the window and RAM B. */
static void read_modify_write_crossing(void)
{
	static rmw_fn *const fns[] = { add_q, xchg_q, cmpxchg_q, not_q, btc_q, xadd_l };
	static const char *const names[] = { "add", "xchg", "cmpxchg", "not", "btc", "xadd" };
	unsigned bad = 0, cases = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(fns); i++) {
		for (int side = 0; side < 2; side++, cases++) {
			uintptr_t va = side == 0 ? EMU_WIN - 3 : EMU_RAM_B - 5;
			const struct rmw_case *c = &rmw_cases_tab[(i + side) % ARRAY_SIZE(rmw_cases_tab)];
			uint64_t src = fns[i] == btc_q ? 37 : c->src;
			struct rmw_out r = { 0, 0, 0 }, m = { 0, 0, 0 };
			uint64_t fl = fns[i] == btc_q ? FLAGS_BT : FLAGS6, ram = c->mem;
			emu_store(va, 8, c->mem);
			fns[i]((uintptr_t)&ram, c->rax, src, c->flags, &r);
			fns[i](va, c->rax, src, c->flags, &m);
			uint64_t got = emu_load(va, 8);
			if (got != ram || m.rax != r.rax || m.src != r.src || (m.flags & fl) != (r.flags & fl)) {
				if (bad++ < 4)
					printf("  %s across %s: mem 0x%llx rax 0x%llx src 0x%llx, want 0x%llx "
					       "0x%llx 0x%llx\n", names[i], side == 0 ? "RAM->window" : "window->RAM",
					       (unsigned long long)got, (unsigned long long)m.rax,
					       (unsigned long long)m.src, (unsigned long long)ram,
					       (unsigned long long)r.rax, (unsigned long long)r.src);
			}
		}
	}
	report(bad == 0, "rmw-page-cross", "%u of %u read-modify-writes across a RAM/MMIO page boundary wrong", bad,
	       cases);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	emu_map_window();

	sizes_and_alignments();
	page_crossing();
	read_modify_write();
	report(rmw_count_bad == 0, "rmw-count", "%u of %u read-modify-writes counted wrong by MMIO_ACCESSES (one "
	       "per CMP, TEST or BT, two per other; %u..%u in all)", rmw_count_bad, rmw_cases, rmw_min, rmw_max);
	read_modify_write_crossing();
	end();
}
