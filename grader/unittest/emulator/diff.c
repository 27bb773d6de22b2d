/* SPDX-License-Identifier: MIT */
/*
 * The emulator against the host CPU (the pattern of Linux's fastops test
 * and of kvm-unit-tests' x86/emulator.c): each case is one instruction of
 * the subset emulate.c handles, with random operand size, registers,
 * addressing form, operands and arithmetic flags. It runs twice from the
 * same state:
 *
 *   natively: the bytes are copied between a fixed prologue and epilogue in
 *     an executable page; the prologue loads all general registers but RSP
 *     and RFLAGS from a struct, the epilogue stores them back (RFLAGS with
 *     PUSHFQ right after the instruction);
 *   emulated: x86_decode_insn + x86_emulate_insn in 64-bit mode, with RIP
 *     = the address of the same bytes, fetch from that page, and memory
 *     operands on a copy of the data page at the same addresses.
 *
 * Both pages are mapped below 2 GiB (MAP_32BIT) so that 67-prefixed
 * (32-bit) addressing and RIP-relative operands reach the data. Compared:
 * the 15 registers, the data page, RIP, and CF PF AF ZF SF OF except the
 * flags the SDM leaves undefined for the instruction (AF after AND, OR,
 * XOR, TEST; OF SF AF PF after BT, BTS, BTR, BTC).
 *
 *   diff [CASES [SEED]]     default 1000000 cases; exit 1 on a mismatch
 *   diff --bench [SEED]     the throughput figure of make bench (below), seed 1 by default
 *
 * --bench times the same instruction mix both ways, in one run: BENCH_CASES
 * cases made as above, each JIT'd once into a slot of its own (so the timed
 * loop never rewrites code: a store to code about to run costs the CPU a
 * pipeline flush, SDM Vol. 3 11.6), run natively slot after slot, and
 * through x86_decode_insn + x86_emulate_insn with the callbacks above, in
 * interleaved samples; a side's figure is its fastest sample (a sample can
 * only be slowed by the host, never sped up). Both sides move the case's
 * register state in and out: the native call's prologue and epilogue, the
 * emulator's read_gpr/write_gpr. A third side runs the instruction
 * BENCH_REPEAT times in each slot, for its cost alone (bench() says how).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <x86/processor-flags.h>
#include "kvm_emulate.h"

#define ARITH (uint64_t)(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)
#define PAGE 4096
#define RSP 4

struct state {
	uint64_t r[16];
	uint64_t flags;
};

static uint8_t *code, *data, *edata;
static size_t code_size = PAGE;   /* what e_fetch may read from code on */
static uint8_t *slot;             /* where the case's prologue is: code, or a --bench slot */
static unsigned int prologue_len;

/* ---- random ------------------------------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned int rndn(unsigned int n) { return (unsigned int)(rnd() % n); }

/* Operand values with the edges that flip flags more often than uniform ones. */
static uint64_t rnd_value(void)
{
	static const uint64_t edge[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
					 0xffffffff, 0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0xf, 0x10 };
	switch (rndn(4)) {
	case 0: return edge[rndn(16)];
	case 1: return edge[rndn(16)] + rndn(3) - 1;
	default: return rnd();
	}
}

/* ---- the native side ---------------------------------------------------------- */

static unsigned int emit_mov_rdi(uint8_t *p, unsigned int reg, bool store, unsigned int disp)
{
	p[0] = (uint8_t)(0x48 | (reg >= 8 ? 4 : 0));
	p[1] = store ? 0x89 : 0x8B;
	p[2] = (uint8_t)(0x80 | ((reg & 7) << 3) | 7);   /* [rdi + disp32] */
	memcpy(p + 3, &disp, 4);
	return 7;
}

static void build_prologue(void)
{
	static const uint8_t save[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57, 0x57,
					0xff, 0xb7, 0x80, 0, 0, 0, 0x9d };  /* push ...; push rdi; push [rdi+128]; popfq */
	uint8_t *p = code;
	memcpy(p, save, sizeof(save));
	p += sizeof(save);
	for (unsigned int r = 0; r < 16; r++)
		if (r != RSP && r != 7)
			p += emit_mov_rdi(p, r, false, r * 8);
	p += emit_mov_rdi(p, 7, false, 7 * 8);
	prologue_len = (unsigned int)(p - code);
}

static unsigned int build_epilogue(uint8_t *p0)
{
	static const uint8_t head[] = { 0x9c, 0x57, 0x48, 0x8b, 0x7c, 0x24, 0x10 };  /* pushfq; push rdi; mov rdi,[rsp+16] */
	static const uint8_t tail[] = { 0x58, 0x48, 0x89, 0x87, 0x38, 0, 0, 0,      /* pop rax; mov [rdi+56],rax */
					0x58, 0x48, 0x89, 0x87, 0x80, 0, 0, 0,      /* pop rax; mov [rdi+128],rax */
					0x5f, 0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	uint8_t *p = p0;
	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	for (unsigned int r = 0; r < 16; r++)
		if (r != RSP && r != 7)
			p += emit_mov_rdi(p, r, true, r * 8);
	memcpy(p, tail, sizeof(tail));
	p += sizeof(tail);
	return (unsigned int)(p - p0);
}

static void load_insn(const uint8_t *insn, unsigned int len)
{
	memcpy(code + prologue_len, insn, len);
	build_epilogue(code + prologue_len + len);
}

static void run_native(struct state *st)
{
	((void (*)(struct state *))(void *)code)(st);
}

/* ---- the emulated side --------------------------------------------------------- */

struct emu {
	struct x86_emulate_ctxt ctxt;
	struct state st;
	uint64_t fetch_end;
};

static uint64_t e_read_gpr(struct x86_emulate_ctxt *c, unsigned int reg)
{
	return ((struct emu *)c)->st.r[reg];
}

static void e_write_gpr(struct x86_emulate_ctxt *c, unsigned int reg, uint64_t val)
{
	((struct emu *)c)->st.r[reg] = val;
}

static int e_fetch(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	(void)f;
	if (addr < (uint64_t)(uintptr_t)code || addr + bytes > (uint64_t)(uintptr_t)code + code_size)
		return X86EMUL_UNHANDLEABLE;
	memcpy(val, (void *)(uintptr_t)addr, bytes);
	if (addr + bytes > ((struct emu *)c)->fetch_end)
		((struct emu *)c)->fetch_end = addr + bytes;
	return X86EMUL_CONTINUE;
}

static uint8_t *emem(uint64_t addr, unsigned int bytes)
{
	uint64_t base = (uint64_t)(uintptr_t)data;
	if (addr < base || addr + bytes > base + PAGE)
		return NULL;
	return edata + (addr - base);
}

static int e_read(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	uint8_t *p = emem(addr, bytes);
	(void)c;
	(void)f;
	if (!p)
		return X86EMUL_UNHANDLEABLE;
	memcpy(val, p, bytes);
	return X86EMUL_CONTINUE;
}

static int e_write(struct x86_emulate_ctxt *c, uint64_t addr, const void *val, unsigned int bytes,
		   struct x86_exception *f)
{
	uint8_t *p = emem(addr, bytes);
	(void)c;
	(void)f;
	if (!p)
		return X86EMUL_UNHANDLEABLE;
	memcpy(p, val, bytes);
	return X86EMUL_CONTINUE;
}

static void e_get_segment(struct x86_emulate_ctxt *c, struct kvm_segment *s, int sreg)
{
	(void)c;
	(void)sreg;
	*s = (struct kvm_segment){ .limit = 0xffffffff, .present = 1, .s = 1, .type = 3, .l = 1, .g = 1 };
}

static const struct x86_emulate_ops emu_ops = {
	.read_gpr = e_read_gpr, .write_gpr = e_write_gpr, .fetch = e_fetch,
	.read_emulated = e_read, .write_emulated = e_write, .get_segment = e_get_segment,
};

/* ---- the instruction forms ---------------------------------------------------- */

enum { IMM_NONE, IMM_OP, IMM_8 };
enum { K_MODRM, K_ACC, K_MOFFS };

struct form {
	const char *name;
	uint8_t op[2];
	uint8_t oplen;
	int8_t ext;            /* ModRM.reg of a group, or -1 */
	bool byte;
	uint8_t imm;
	uint8_t kind;
	uint8_t src_bytes;     /* MOVZX/MOVSX: the r/m's size */
	bool bitop;            /* BT r/m, r: the offset moves the address */
	bool dst_reg_only;     /* MOVZX/MOVSX: modrm.reg is written at op size */
	bool lockable;
	bool cmpxchg;
	uint64_t undef;        /* flags the SDM leaves undefined */
};

static struct form forms[160];
static unsigned int nforms;

static void add(const char *name, unsigned int op0, int op1, int ext, bool byte, int imm, int kind, uint64_t undef,
		bool lockable)
{
	struct form *f = &forms[nforms++];
	*f = (struct form){ .name = name, .op = { (uint8_t)op0, (uint8_t)op1 }, .oplen = op1 < 0 ? 1 : 2,
			    .ext = (int8_t)ext, .byte = byte, .imm = (uint8_t)imm, .kind = (uint8_t)kind,
			    .undef = undef, .lockable = lockable };
}

static void build_forms(void)
{
	static const char *alu[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };
	for (int i = 0; i < 8; i++) {
		uint64_t u = (i == 1 || i == 4 || i == 6) ? X86_EFLAGS_AF : 0;
		bool lk = i != 7;
		add(alu[i], i * 8 + 0, -1, -1, true, IMM_NONE, K_MODRM, u, lk);
		add(alu[i], i * 8 + 1, -1, -1, false, IMM_NONE, K_MODRM, u, lk);
		add(alu[i], i * 8 + 2, -1, -1, true, IMM_NONE, K_MODRM, u, false);
		add(alu[i], i * 8 + 3, -1, -1, false, IMM_NONE, K_MODRM, u, false);
		add(alu[i], i * 8 + 4, -1, -1, true, IMM_8, K_ACC, u, false);
		add(alu[i], i * 8 + 5, -1, -1, false, IMM_OP, K_ACC, u, false);
		add(alu[i], 0x80, -1, i, true, IMM_8, K_MODRM, u, lk);
		add(alu[i], 0x81, -1, i, false, IMM_OP, K_MODRM, u, lk);
		add(alu[i], 0x83, -1, i, false, IMM_8, K_MODRM, u, lk);
	}
	add("test", 0x84, -1, -1, true, IMM_NONE, K_MODRM, X86_EFLAGS_AF, false);
	add("test", 0x85, -1, -1, false, IMM_NONE, K_MODRM, X86_EFLAGS_AF, false);
	add("test", 0xF6, -1, 0, true, IMM_8, K_MODRM, X86_EFLAGS_AF, false);
	add("test", 0xF7, -1, 0, false, IMM_OP, K_MODRM, X86_EFLAGS_AF, false);
	add("xchg", 0x86, -1, -1, true, IMM_NONE, K_MODRM, 0, true);
	add("xchg", 0x87, -1, -1, false, IMM_NONE, K_MODRM, 0, true);
	add("mov", 0x88, -1, -1, true, IMM_NONE, K_MODRM, 0, false);
	add("mov", 0x89, -1, -1, false, IMM_NONE, K_MODRM, 0, false);
	add("mov", 0x8A, -1, -1, true, IMM_NONE, K_MODRM, 0, false);
	add("mov", 0x8B, -1, -1, false, IMM_NONE, K_MODRM, 0, false);
	add("mov", 0xA0, -1, -1, true, IMM_NONE, K_MOFFS, 0, false);
	add("mov", 0xA1, -1, -1, false, IMM_NONE, K_MOFFS, 0, false);
	add("mov", 0xA2, -1, -1, true, IMM_NONE, K_MOFFS, 0, false);
	add("mov", 0xA3, -1, -1, false, IMM_NONE, K_MOFFS, 0, false);
	add("mov", 0xC6, -1, 0, true, IMM_8, K_MODRM, 0, false);
	add("mov", 0xC7, -1, 0, false, IMM_OP, K_MODRM, 0, false);
	add("not", 0xF6, -1, 2, true, IMM_NONE, K_MODRM, 0, true);
	add("not", 0xF7, -1, 2, false, IMM_NONE, K_MODRM, 0, true);
	add("neg", 0xF6, -1, 3, true, IMM_NONE, K_MODRM, 0, true);
	add("neg", 0xF7, -1, 3, false, IMM_NONE, K_MODRM, 0, true);
	add("inc", 0xFE, -1, 0, true, IMM_NONE, K_MODRM, 0, true);
	add("dec", 0xFE, -1, 1, true, IMM_NONE, K_MODRM, 0, true);
	add("inc", 0xFF, -1, 0, false, IMM_NONE, K_MODRM, 0, true);
	add("dec", 0xFF, -1, 1, false, IMM_NONE, K_MODRM, 0, true);
	add("cmpxchg", 0x0F, 0xB0, -1, true, IMM_NONE, K_MODRM, 0, true);
	forms[nforms - 1].cmpxchg = true;
	add("cmpxchg", 0x0F, 0xB1, -1, false, IMM_NONE, K_MODRM, 0, true);
	forms[nforms - 1].cmpxchg = true;
	static const struct { const char *n; uint8_t op, sz; } mx[] = {
		{ "movzx", 0xB6, 1 }, { "movzx", 0xB7, 2 }, { "movsx", 0xBE, 1 }, { "movsx", 0xBF, 2 } };
	for (int i = 0; i < 4; i++) {
		add(mx[i].n, 0x0F, mx[i].op, -1, false, IMM_NONE, K_MODRM, 0, false);
		forms[nforms - 1].src_bytes = mx[i].sz;
		forms[nforms - 1].dst_reg_only = true;
	}
	uint64_t btu = X86_EFLAGS_OF | X86_EFLAGS_SF | X86_EFLAGS_AF | X86_EFLAGS_PF;
	static const struct { const char *n; uint8_t op; } bt[] = { { "bt", 0xA3 }, { "bts", 0xAB }, { "btr", 0xB3 }, { "btc", 0xBB } };
	for (int i = 0; i < 4; i++) {
		add(bt[i].n, 0x0F, bt[i].op, -1, false, IMM_NONE, K_MODRM, btu, i != 0);
		forms[nforms - 1].bitop = true;
		add(bt[i].n, 0x0F, 0xBA, 4 + i, false, IMM_8, K_MODRM, btu, i != 0);
	}
}

/* ---- one case --------------------------------------------------------------------- */

struct tcase {
	const struct form *f;
	uint8_t insn[15];
	unsigned int len;
	struct state in;
	int disp_at;           /* where a RIP-relative displacement is, or -1 */
};

static void put(struct tcase *t, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		t->insn[t->len++] = (uint8_t)(v >> (8 * i));
}

/* Registers that may be a base or an index: not RSP, and not RAX-RBX, whose
 * bits 15:8 are AH-BH of the byte forms. */
static unsigned int addr_reg(bool low)
{
	static const uint8_t r[] = { 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	return r[rndn(low ? 3 : sizeof(r))];
}

static unsigned int pick_reg(bool byte, unsigned int *rex)
{
	unsigned int r;
	if (byte && !*rex)
		return rndn(8);
	do
		r = rndn(16);
	while (r == RSP);
	if (r >= 8)
		*rex |= 0x40;
	return r;
}

static void make_case(struct tcase *t)
{
	const struct form *f = &forms[rndn(nforms)];
	unsigned int opb, rex = 0, modrm_reg, rm = 0, mod = 3, base = 0, index = 4, scale = 0;
	bool op16 = false, ad32 = false, mem, lock = false, sib = false, riprel = false;
	int disp_size = 0;
	uint64_t target = 0;
	unsigned int moff_bytes = 8;

	memset(t, 0, sizeof(*t));
	t->f = f;
	t->disp_at = -1;
	for (int i = 0; i < 16; i++)
		t->in.r[i] = rnd_value();
	t->in.flags = 0x202 | (rnd() & ARITH);

	if (f->byte) {
		opb = 1;
		if (rndn(2))
			rex = 0x40;
	} else {
		switch (rndn(3)) {
		case 0: opb = 2; op16 = true; break;
		case 1: opb = 4; break;
		default: opb = 8; rex = 0x48; break;
		}
	}
	mem = f->kind == K_MODRM && rndn(3) != 0;
	if (mem && f->lockable && rndn(4) == 0)
		lock = true;
	ad32 = rndn(5) == 0;

	/* The register of ModRM.reg: any but RSP, or SPL once there is a REX
	 * (without one, byte register 4 is AH and welcome). */
	modrm_reg = pick_reg(f->byte, &rex);

	uint64_t off = 64 + rndn(PAGE - 128);
	if (f->bitop && mem)
		off = 1024 + rndn(2048);
	target = (uint64_t)(uintptr_t)data + off;

	/* A byte form without REX keeps it: a REX.B/X for R8-R15 as base or
	 * index would turn AH-BH into SPL-DIL. */
	bool low = f->byte && !rex;
	if (f->kind == K_MODRM) {
		if (mem) {
			mod = rndn(3);
			switch (rndn(4)) {
			case 0:  /* RIP-relative */
				riprel = true;
				mod = 0;
				rm = 5;
				break;
			case 1:  /* SIB */
				sib = true;
				rm = 4;
				do base = addr_reg(low); while (0);
				do index = addr_reg(low); while (index == base);
				if (rndn(4) == 0)
					index = 4;   /* no index */
				scale = rndn(4);
				break;
			default:
				do base = addr_reg(low); while ((base & 7) == 4);
				rm = base;
				if ((base & 7) == 5 && mod == 0)
					mod = 1;
				break;
			}
			if (sib && (base & 7) == 5 && mod == 0)
				mod = 1;
			disp_size = riprel ? 4 : mod == 1 ? 1 : mod == 2 ? 4 : 0;
			if (base == modrm_reg || (index != 4 && index == modrm_reg))
				modrm_reg = (modrm_reg == 3) ? 2 : 3;
		} else {
			rm = pick_reg(f->byte || f->src_bytes == 1, &rex);
		}
	}
	/* Build the bytes. */
	if (op16)
		t->insn[t->len++] = 0x66;
	if (ad32 && (mem || f->kind == K_MOFFS)) {
		t->insn[t->len++] = 0x67;
		moff_bytes = 4;
	} else {
		ad32 = false;
	}
	if (lock)
		t->insn[t->len++] = 0xF0;
	if (f->kind == K_MODRM) {
		if (modrm_reg >= 8) rex |= 0x44;
		if (mem && !riprel && base >= 8) rex |= 0x41;
		if (!mem && rm >= 8) rex |= 0x41;
		if (sib && index != 4 && index >= 8) rex |= 0x42;
	}
	if (rex)
		t->insn[t->len++] = (uint8_t)rex;
	for (unsigned int i = 0; i < f->oplen; i++)
		t->insn[t->len++] = f->op[i];

	unsigned int reg_field = f->ext >= 0 ? (unsigned int)f->ext : modrm_reg;
	if (f->kind == K_MODRM) {
		t->insn[t->len++] = (uint8_t)(mod << 6 | (reg_field & 7) << 3 | (rm & 7));
		if (sib)
			t->insn[t->len++] = (uint8_t)(scale << 6 | (index & 7) << 3 | (base & 7));
	}
	unsigned int disp_at = t->len;
	int64_t disp = 0;
	if (disp_size == 1)
		disp = (int8_t)rnd();
	else if (disp_size == 4)
		disp = (int32_t)(rnd() & 0xfffff) - 0x80000;
	put(t, (uint64_t)disp, (unsigned int)disp_size);
	if (f->kind == K_MOFFS)
		put(t, target, moff_bytes);
	if (f->imm == IMM_8)
		put(t, rnd_value(), 1);
	else if (f->imm == IMM_OP)
		put(t, rnd_value(), opb > 4 ? 4 : opb);

	/* Registers that make the memory operand hit target. */
	if (mem) {
		uint64_t want = target;
		if (riprel) {
			uint64_t next = (uint64_t)(uintptr_t)slot + prologue_len + t->len;
			disp = (int64_t)(target - next);
			if (ad32)
				disp = (int64_t)(int32_t)(uint32_t)(target - (uint32_t)next);
			for (int i = 0; i < 4; i++)
				t->insn[disp_at + i] = (uint8_t)((uint64_t)disp >> (8 * i));
			t->disp_at = (int)disp_at;
		} else {
			uint64_t idx = 0;
			if (sib && index != 4) {
				t->in.r[index] = rnd_value() & 0xff;
				if (rndn(2))
					t->in.r[index] = (uint64_t)-(int64_t)t->in.r[index];
				idx = t->in.r[index] << scale;
			}
			uint64_t b = want - (uint64_t)disp - idx;
			if (ad32)
				b = (uint32_t)b | (rnd() << 32);   /* the high half must be ignored */
			t->in.r[base] = b;
		}
	}
	/* Operands that make the instruction interesting. */
	if (f->bitop && mem) {
		int64_t o = (int64_t)rndn(16000) - 8000;
		uint64_t keep = opb == 8 ? 0 : rnd() << (opb * 8);
		t->in.r[modrm_reg] = ((uint64_t)o & (opb == 8 ? ~0ull : (1ull << (opb * 8)) - 1)) | keep;
	}
	if (f->cmpxchg && rndn(2)) {
		uint64_t v = mem ? 0 : t->in.r[rm];
		if (mem)
			memcpy(&v, data + off, 8);
		if (!mem && f->byte && !rex && rm >= 4 && rm < 8)
			v = t->in.r[rm - 4] >> 8;
		t->in.r[0] = (t->in.r[0] & ~0xffull) | (v & 0xff);
		if (!f->byte)
			t->in.r[0] = v;
	}
}

/* ---- run and compare ------------------------------------------------------------------ */

static void dump(const struct tcase *t, const char *why, const struct state *nat, const struct state *emu,
		 uint64_t nat_rip, uint64_t emu_rip)
{
	printf("MISMATCH (%s) %s:", why, t->f->name);
	for (unsigned int i = 0; i < t->len; i++)
		printf(" %02x", t->insn[i]);
	printf("\n  in   flags %#06" PRIx64 "\n", t->in.flags);
	for (int r = 0; r < 16; r++)
		if (r != RSP)
			printf("  r%-2d in %016" PRIx64 "  cpu %016" PRIx64 "  emu %016" PRIx64 "%s\n", r, t->in.r[r],
			       nat->r[r], emu->r[r], nat->r[r] != emu->r[r] ? "  <--" : "");
	printf("  flags cpu %#06" PRIx64 " emu %#06" PRIx64 " (compared %#06" PRIx64 ")\n", nat->flags & ARITH,
	       emu->flags & ARITH, ARITH & ~t->f->undef);
	printf("  rip   cpu %#" PRIx64 " emu %#" PRIx64 "\n", nat_rip, emu_rip);
}

static int run_case(const struct tcase *t)
{
	static uint8_t init[PAGE];
	struct emu e = { .st = t->in };
	struct state nat = t->in;
	uint64_t rip = (uint64_t)(uintptr_t)code + prologue_len;

	for (unsigned int i = 0; i < PAGE; i += 8) {
		uint64_t v = rnd_value();
		memcpy(init + i, &v, 8);
	}
	memcpy(data, init, PAGE);
	memcpy(edata, init, PAGE);

	load_insn(t->insn, t->len);
	e.ctxt.ops = &emu_ops;
	e.ctxt.mode = X86EMUL_MODE_PROT64;
	e.ctxt.eip = rip;
	e.ctxt.eflags = t->in.flags;
	int rc = x86_decode_insn(&e.ctxt, 0);
	if (rc == EMULATION_OK)
		rc = x86_emulate_insn(&e.ctxt);
	e.st.flags = e.ctxt.eflags;
	run_native(&nat);

	if (rc != EMULATION_OK) {
		char why[96];
		if (e.ctxt.have_exception)
			snprintf(why, sizeof(why), "emulation raised vector %u", e.ctxt.exception.vector);
		else
			snprintf(why, sizeof(why), "emulation failed: %s", e.ctxt.failure ? e.ctxt.failure : "?");
		dump(t, why, &nat, &e.st, rip + t->len, e.ctxt.eip);
		return 1;
	}
	if (e.fetch_end > rip + t->len) {
		dump(t, "fetched past the instruction", &nat, &e.st, rip + t->len, e.ctxt.eip);
		return 1;
	}
	if (e.ctxt.eip != rip + t->len || e.ctxt.insn_len != t->len) {
		dump(t, "length", &nat, &e.st, rip + t->len, e.ctxt.eip);
		return 1;
	}
	for (int r = 0; r < 16; r++)
		if (r != RSP && nat.r[r] != e.st.r[r]) {
			dump(t, "register", &nat, &e.st, rip + t->len, e.ctxt.eip);
			return 1;
		}
	uint64_t cmp = ARITH & ~t->f->undef;
	if ((nat.flags & cmp) != (e.st.flags & cmp)) {
		dump(t, "flags", &nat, &e.st, rip + t->len, e.ctxt.eip);
		return 1;
	}
	if (memcmp(data, edata, PAGE)) {
		dump(t, "memory", &nat, &e.st, rip + t->len, e.ctxt.eip);
		for (unsigned int i = 0; i < PAGE; i++)
			if (data[i] != edata[i])
				printf("  mem +%#x cpu %02x emu %02x (was %02x)\n", i, data[i], edata[i], init[i]);
		return 1;
	}
	return 0;
}

/* ---- the throughput figure (--bench) ------------------------------------------------------ */

/* 512 cases cover the 110 forms about five times each. Slots: the prologue
 * (123 bytes), the instruction once or BENCH_REPEAT times (at most 120
 * bytes), the epilogue (133): 384 bytes, 192 KiB a side, past the L1
 * instruction cache but alike for both native sides, so their difference
 * does not carry the fetch. */
#define BENCH_CASES   512
#define BENCH_SLOT    384
#define BENCH_REPEAT  8
#define BENCH_PASSES  32      /* passes over the cases per sample */
#define BENCH_SAMPLES 101

/* The native sides (the instruction once, BENCH_REPEAT times) and the emulator. */
enum { SIDE_ONCE, SIDE_REPEAT, SIDE_EMULATED, SIDES };

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* One sample of one side: ns per case, or -1 if the emulator failed. */
static double bench_sample(int side, const struct tcase *cases, uint8_t *const native[2])
{
	static struct emu e = { .ctxt = { .ops = &emu_ops, .mode = X86EMUL_MODE_PROT64 } };
	double t0 = now_ns();
	for (unsigned int pass = 0; pass < BENCH_PASSES; pass++)
		for (unsigned int i = 0; i < BENCH_CASES; i++) {
			const struct tcase *t = &cases[i];
			if (side != SIDE_EMULATED) {
				struct state st = t->in;
				((void (*)(struct state *))(void *)(native[side] + i * BENCH_SLOT))(&st);
				continue;
			}
			e.st = t->in;
			e.ctxt.eip = (uint64_t)(uintptr_t)native[SIDE_ONCE] + i * BENCH_SLOT + prologue_len;
			e.ctxt.eflags = t->in.flags;
			int rc = x86_decode_insn(&e.ctxt, 0);
			if (rc == EMULATION_OK)
				rc = x86_emulate_insn(&e.ctxt);
			if (rc != EMULATION_OK) {
				printf("bench: emulation of case %u (%s) failed: %s\n", i, t->f->name,
				       e.ctxt.failure ? e.ctxt.failure : "an exception");
				return -1;
			}
		}
	return (now_ns() - t0) / (BENCH_PASSES * BENCH_CASES);
}

/*
 * The instruction alone is the slot with it BENCH_REPEAT times in a row less
 * the slot with it once, over BENCH_REPEAT - 1: one instruction between the
 * prologue's loads and the epilogue's stores overlaps them in an
 * out-of-order core, and a slot without it is no baseline either (it came
 * out 2 ns slower than with it: POPFQ's flags go straight to PUSHFQ). The
 * repeats are safe: make_case never lets an instruction write a register
 * its address is made of. Repeats that write their own source wait for
 * each other, so the figure is nearer the instruction's latency than its
 * throughput: the native side's largest honest cost, the emulator's ratio
 * to it its smallest.
 */
static int bench(uint64_t seed)
{
	static struct tcase cases[BENCH_CASES];
	size_t size = BENCH_CASES * BENCH_SLOT + PAGE;   /* a page past the last slot: e_fetch may look ahead */
	uint8_t *buf = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
			    -1, 0);
	if (buf == MAP_FAILED) {
		perror("diff: mmap");
		return 2;
	}
	uint8_t *const native[2] = { buf, buf + size };
	static const unsigned int times[2] = { 1, BENCH_REPEAT };
	unsigned int used[sizeof(forms) / sizeof(forms[0])] = { 0 }, nused = 0;

	for (unsigned int i = 0; i < BENCH_CASES; i++) {
		struct tcase *t = &cases[i];
		slot = native[SIDE_ONCE] + i * BENCH_SLOT;
		make_case(t);
		/* A RIP-relative operand is made for the once side's address: each
		 * other copy gets the displacement that reaches the same byte. */
		int32_t disp = 0;
		if (t->disp_at >= 0)
			memcpy(&disp, t->insn + t->disp_at, 4);
		uint64_t target = (uint64_t)(uintptr_t)slot + prologue_len + t->len + (uint64_t)(int64_t)disp;
		for (int side = 0; side < 2; side++) {
			uint8_t *p = native[side] + i * BENCH_SLOT;
			memcpy(p, code, prologue_len);
			p += prologue_len;
			for (unsigned int k = 0; k < times[side]; k++, p += t->len) {
				memcpy(p, t->insn, t->len);
				if (t->disp_at >= 0) {
					int32_t d = (int32_t)(target - ((uint64_t)(uintptr_t)p + t->len));
					memcpy(p + t->disp_at, &d, 4);
				}
			}
			if (p + build_epilogue(p) > native[side] + (i + 1) * BENCH_SLOT) {
				printf("bench: case %u does not fit its %u-byte slot\n", i, BENCH_SLOT);
				return 2;
			}
		}
		nused += !used[t->f - forms]++;
	}
	code = native[SIDE_ONCE];
	code_size = size;
	memcpy(edata, data, PAGE);

	/* Interleaved, so that a burst of load from elsewhere falls on every side. */
	double best[SIDES];
	for (int side = 0; side < SIDES; side++)
		best[side] = 1e18;
	for (unsigned int n = 0; n <= BENCH_SAMPLES; n++)
		for (int side = 0; side < SIDES; side++) {
			double ns = bench_sample(side, cases, native);
			if (ns < 0)
				return 1;
			if (n && ns < best[side])   /* sample 0 warms up caches and predictors */
				best[side] = ns;
		}
	double alone = (best[SIDE_REPEAT] - best[SIDE_ONCE]) / (BENCH_REPEAT - 1), emu = best[SIDE_EMULATED];
	printf("emulator vs host CPU, throughput: %u cases of %u of the %u forms (seed %" PRIu64 "), %u instructions "
	       "a sample, fastest of %u samples\n", BENCH_CASES, nused, nforms, seed, BENCH_PASSES * BENCH_CASES,
	       BENCH_SAMPLES);
	printf("  native, one instruction with the register state loaded and stored  %7.2f ns\n", best[SIDE_ONCE]);
	printf("  native, the same with it %u times in a row                          %7.2f ns\n", BENCH_REPEAT,
	       best[SIDE_REPEAT]);
	printf("  native, the instruction alone ((%u times - once) / %u)                %7.2f ns\n", BENCH_REPEAT,
	       BENCH_REPEAT - 1, alone);
	printf("  emulated, x86_decode_insn + x86_emulate_insn, state in and out      %7.2f ns: %.1fx the native call, "
	       "%.0fx the instruction alone\n", emu, emu / best[SIDE_ONCE], alone > 0 ? emu / alone : 0.0);
	printf("bench emulate cases %u forms %u instructions %u once-ns %.3f repeat %u repeat-ns %.3f emulated-ns %.3f\n",
	       BENCH_CASES, nused, BENCH_PASSES * BENCH_CASES, best[SIDE_ONCE], BENCH_REPEAT, best[SIDE_REPEAT], emu);
	return 0;
}

int main(int argc, char **argv)
{
	bool bench_mode = argc > 1 && !strcmp(argv[1], "--bench");
	if (bench_mode) {
		argc--;
		argv++;
	}
	unsigned long cases = argc > 1 && !bench_mode ? strtoul(argv[1], NULL, 0) : 1000000;
	/* --bench: one mix, the same from run to run, unless a seed is given */
	uint64_t seed = argc > 2 - bench_mode ? strtoull(argv[2 - bench_mode], NULL, 0) : bench_mode ? 1 : (uint64_t)time(NULL);
	unsigned long mismatches = 0;
	struct timespec t0, t1;

	rng = seed * 0x9e3779b97f4a7c15ull | 1;
	code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	data = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	edata = malloc(PAGE);
	if (code == MAP_FAILED || data == MAP_FAILED || !edata) {
		perror("diff: mmap");
		return 2;
	}
	build_prologue();
	build_forms();
	slot = code;
	if (bench_mode)
		return bench(seed);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; i < cases; i++) {
		struct tcase t;
		make_case(&t);
		if (run_case(&t) && ++mismatches >= 10)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("emulator vs host CPU: %lu cases (%u forms, seed %" PRIu64 ") in %.2f s, %.0f cases/s, %lu mismatches\n",
	       cases, nforms, seed, s, (double)cases / s, mismatches);
	return mismatches ? 1 : 0;
}
