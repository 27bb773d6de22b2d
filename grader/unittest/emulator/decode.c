/* SPDX-License-Identifier: MIT */
/*
 * Check unit tests of emulate.c: the decoder over a table of encodings
 * (length, opcode, ModRM/SIB fields, displacement, immediate, operand and
 * address size, prefixes, REX, RIP-relative, segments), the 15-byte limit,
 * truncated fetches, what must fail, and one test per handler. The fake
 * vCPU: 16 registers, the instruction at CODE_BASE, 4 KiB of memory at
 * MEM_BASE, and segment bases settable per test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86/processor-flags.h>
#include "kvm_emulate.h"

#define CODE_BASE 0x401000ull
#define MEM_BASE  0x10000ull
#define MEM_SIZE  4096
#define FLAGS6 (uint64_t)(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct fake {
	struct x86_emulate_ctxt ctxt;
	uint64_t regs[16];
	uint8_t code[32];
	unsigned int code_len;
	uint64_t fetch_end;
	uint8_t mem[MEM_SIZE];
	struct kvm_segment seg[6];
	int io_needed;              /* read_emulated answers X86EMUL_IO_NEEDED */
	unsigned int reads, writes;
};

static struct fake F;

static uint64_t f_read_gpr(struct x86_emulate_ctxt *c, unsigned int r) { (void)c; return F.regs[r]; }
static void f_write_gpr(struct x86_emulate_ctxt *c, unsigned int r, uint64_t v) { (void)c; F.regs[r] = v; }

/* Bytes past code_len fault as #PF, as an unmapped next page would. */
static int f_fetch(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	uint64_t base = CODE_BASE;
	(void)c;
	if (addr < base || addr + bytes > base + F.code_len) {
		*f = (struct x86_exception){ .vector = 14, .error_code_valid = true, .error_code = 0x10, .address = addr };
		return X86EMUL_PROPAGATE_FAULT;
	}
	memcpy(val, F.code + (addr - base), bytes);
	if (addr + bytes > F.fetch_end)
		F.fetch_end = addr + bytes;
	return X86EMUL_CONTINUE;
}

static uint8_t *fmem(uint64_t addr, unsigned int bytes)
{
	if (addr < MEM_BASE || addr + bytes > MEM_BASE + MEM_SIZE)
		return NULL;
	return F.mem + (addr - MEM_BASE);
}

static int f_read(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	uint8_t *p = fmem(addr, bytes);
	(void)c;
	(void)f;
	if (F.io_needed)
		return X86EMUL_IO_NEEDED;
	if (!p)
		return X86EMUL_UNHANDLEABLE;
	F.reads++;
	memcpy(val, p, bytes);
	return X86EMUL_CONTINUE;
}

static int f_write(struct x86_emulate_ctxt *c, uint64_t addr, const void *val, unsigned int bytes,
		   struct x86_exception *f)
{
	uint8_t *p = fmem(addr, bytes);
	(void)c;
	(void)f;
	if (!p)
		return X86EMUL_UNHANDLEABLE;
	F.writes++;
	memcpy(p, val, bytes);
	return X86EMUL_CONTINUE;
}

static void f_get_segment(struct x86_emulate_ctxt *c, struct kvm_segment *s, int sreg)
{
	(void)c;
	*s = F.seg[sreg];
}

static const struct x86_emulate_ops fake_ops = {
	.read_gpr = f_read_gpr, .write_gpr = f_write_gpr, .fetch = f_fetch,
	.read_emulated = f_read, .write_emulated = f_write, .get_segment = f_get_segment,
};

/* The ops x86.c has today: no read_emulated/write_emulated. */
static const struct x86_emulate_ops no_mmio_ops = {
	.read_gpr = f_read_gpr, .write_gpr = f_write_gpr, .fetch = f_fetch, .get_segment = f_get_segment,
};

static void reset(void) { memset(&F, 0, sizeof(F)); }

/* A new instruction; registers and memory stay (reset() clears them):
 * the decoder reads the address registers, so tests set them first. */
static void setup(enum x86emul_mode mode, const void *code, unsigned int len)
{
	memset(&F.ctxt, 0, sizeof(F.ctxt));
	F.fetch_end = 0;
	F.io_needed = 0;
	F.reads = F.writes = 0;
	for (int i = 0; i < 6; i++)
		F.seg[i] = (struct kvm_segment){ .limit = mode == X86EMUL_MODE_REAL ? 0xffff : 0xffffffff,
						 .present = 1, .s = 1, .type = 3, .db = 1 };
	memcpy(F.code, code, len);
	F.code_len = len;
	F.ctxt.ops = &fake_ops;
	F.ctxt.mode = mode;
	F.ctxt.eip = CODE_BASE;
	F.ctxt.eflags = X86_EFLAGS_FIXED;
	/* Outside 64-bit mode the code is at CS.base + IP, IP 0x1000. */
	if (mode != X86EMUL_MODE_PROT64) {
		F.seg[X86_SREG_CS].base = CODE_BASE - 0x1000;
		F.ctxt.eip = 0x1000;
	}
}

static int decode_bytes(enum x86emul_mode mode, const char *hex)
{
	uint8_t b[32];
	unsigned int n = 0;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		unsigned int v;
		ck_assert_int_eq(sscanf(p, "%2x", &v), 1);
		b[n++] = (uint8_t)v;
		p += 2;
	}
	setup(mode, b, n);
	return x86_decode_insn(&F.ctxt, 0);
}

/* Decode then execute; the result of both. */
static int run_bytes(enum x86emul_mode mode, const char *hex)
{
	int rc = decode_bytes(mode, hex);
	return rc == EMULATION_OK ? x86_emulate_insn(&F.ctxt) : rc;
}

/* ---- the table of encodings ---------------------------------------------------------- */

struct enc {
	enum x86emul_mode mode;
	const char *hex;
	unsigned int len, b, twobyte, mod, reg, rm, has_sib, scale, index, base, disp_bytes;
	int32_t disp;
	unsigned int op_bytes, ad_bytes, rex, rip_rel;
	enum x86_operand_type dst, src;
	uint64_t src_imm;     /* OP_IMM: the value */
};

#define M64 X86EMUL_MODE_PROT64
#define M32 X86EMUL_MODE_PROT32
#define M16 X86EMUL_MODE_PROT16
static const struct enc encs[] = {
	/* mov [rax], ecx */
	{ M64, "89 08", 2, 0x89, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 8, 0, 0, OP_MEM, OP_REG, 0 },
	/* mov r9, [r10+r11*4+0x10]: REX.WRXB, SIB, disp8 */
	{ M64, "4f 8b 4c 9a 10", 5, 0x8B, 0, 1, 9, 12, 1, 2, 11, 10, 1, 0x10, 8, 8, 0x4F, 0, OP_REG, OP_MEM, 0 },
	/* mov ax, [rip+0x100]: 66, RIP-relative disp32 */
	{ M64, "66 8b 05 00 01 00 00", 7, 0x8B, 0, 0, 0, 5, 0, 0, 0, 0, 4, 0x100, 2, 8, 0, 1, OP_REG, OP_MEM, 0 },
	/* add dword [ebx+0x12345678], 0x11223344: 67, disp32, imm32 */
	{ M64, "67 81 83 78 56 34 12 44 33 22 11", 11, 0x81, 0, 2, 0, 3, 0, 0, 0, 0, 4, 0x12345678, 4, 4, 0, 0,
	  OP_MEM, OP_IMM, 0x11223344 },
	/* add rax, -1 (83 /0 ib sign-extended to 64) */
	{ M64, "48 83 c0 ff", 4, 0x83, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 0x48, 0, OP_REG, OP_IMM, ~0ull },
	/* mov rax, imm32 sign-extended (C7 /0) */
	{ M64, "48 c7 c0 00 00 00 80", 7, 0xC7, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 0x48, 0, OP_REG, OP_IMM,
	  0xffffffff80000000ull },
	/* mov [disp32] via SIB without base or index: 89 04 25 */
	{ M64, "89 04 25 00 10 00 00", 7, 0x89, 0, 0, 0, 4, 1, 0, 4, 5, 4, 0x1000, 4, 8, 0, 0, OP_MEM, OP_REG, 0 },
	/* mov [r13+0] needs a disp8 (mod 01, rm 101 + REX.B) */
	{ M64, "41 89 45 00", 4, 0x89, 0, 1, 0, 13, 0, 0, 0, 0, 1, 0, 4, 8, 0x41, 0, OP_MEM, OP_REG, 0 },
	/* mov [r12], eax needs a SIB (rm 100 + REX.B) */
	{ M64, "41 89 04 24", 4, 0x89, 0, 0, 0, 12, 1, 0, 4, 12, 0, 0, 4, 8, 0x41, 0, OP_MEM, OP_REG, 0 },
	/* movzx eax, byte [rsi] */
	{ M64, "0f b6 06", 3, 0xB6, 1, 0, 0, 6, 0, 0, 0, 0, 0, 0, 4, 8, 0, 0, OP_REG, OP_MEM, 0 },
	/* bt dword [rdi], 5 (0F BA /4 ib) */
	{ M64, "0f ba 27 05", 4, 0xBA, 1, 0, 4, 7, 0, 0, 0, 0, 0, 0, 4, 8, 0, 0, OP_MEM, OP_IMM, 5 },
	/* mov al, [moffs64] */
	{ M64, "a0 88 77 66 55 44 33 22 11", 9, 0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 8, 0, 0, OP_REG, OP_MEM, 0 },
	/* REX then a legacy prefix: the REX is ignored (66 48 would be W; 48 66 is not) */
	{ M64, "48 66 89 c0", 4, 0x89, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 2, 8, 0, 0, OP_REG, OP_REG, 0 },
	/* 32-bit mode: mov [ebp-4], eax (SS default) */
	{ M32, "89 45 fc", 3, 0x89, 0, 1, 0, 5, 0, 0, 0, 0, 1, -4, 4, 4, 0, 0, OP_MEM, OP_REG, 0 },
	/* 32-bit mode: mov [disp32], ax: absolute, not RIP-relative */
	{ M32, "66 89 05 00 20 00 00", 7, 0x89, 0, 0, 0, 5, 0, 0, 0, 0, 4, 0x2000, 2, 4, 0, 0, OP_MEM, OP_REG, 0 },
	/* 16-bit mode: mov [bx+si+0x7f], al */
	{ M16, "88 40 7f", 3, 0x88, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x7f, 2, 2, 0, 0, OP_MEM, OP_REG, 0 },
	/* 16-bit mode: mov [0x1234], ax: mod 00 rm 110 is disp16 */
	{ M16, "89 06 34 12", 4, 0x89, 0, 0, 0, 6, 0, 0, 0, 0, 2, 0x1234, 2, 2, 0, 0, OP_MEM, OP_REG, 0 },
	/* 16-bit mode with 66 67: 32-bit operand and address */
	{ M16, "66 67 89 04 24", 5, 0x89, 0, 0, 0, 4, 1, 0, 4, 4, 0, 0, 4, 4, 0, 0, OP_MEM, OP_REG, 0 },
	/* 40-4F are not REX outside 64-bit mode: INC eax, not emulated here */
};

START_TEST(test_decode_table)
{
	const struct enc *e = &encs[_i];
	ck_assert_msg(decode_bytes(e->mode, e->hex) == EMULATION_OK, "%s: %s", e->hex,
		      F.ctxt.failure ? F.ctxt.failure : "exception");
	struct x86_emulate_ctxt *c = &F.ctxt;
	ck_assert_uint_eq(c->insn_len, e->len);
	ck_assert_uint_eq(F.fetch_end, CODE_BASE + e->len);
	ck_assert_uint_eq(c->b, e->b);
	ck_assert_uint_eq(c->twobyte, e->twobyte);
	if (e->dst == OP_MEM || e->src == OP_MEM || e->mod == 3) {
		ck_assert_uint_eq(c->modrm_mod, e->mod);
		ck_assert_uint_eq(c->modrm_reg, e->reg);
		ck_assert_uint_eq(c->modrm_rm, e->rm);
	}
	ck_assert_uint_eq(c->has_sib, e->has_sib);
	if (e->has_sib) {
		ck_assert_uint_eq(c->sib_scale, e->scale);
		ck_assert_uint_eq(c->sib_index, e->index);
		ck_assert_uint_eq(c->sib_base, e->base);
	}
	ck_assert_uint_eq(c->disp_bytes, e->disp_bytes);
	ck_assert_int_eq(c->disp, e->disp);
	ck_assert_uint_eq(c->op_bytes, e->op_bytes);
	ck_assert_uint_eq(c->ad_bytes, e->ad_bytes);
	ck_assert_uint_eq(c->rex_prefix, e->rex);
	ck_assert_uint_eq(c->rip_relative, e->rip_rel);
	ck_assert_int_eq(c->dst.type, e->dst);
	ck_assert_int_eq(c->src.type, e->src);
	if (e->src == OP_IMM)
		ck_assert_uint_eq(c->src.val, e->src_imm);
}
END_TEST

START_TEST(test_decode_rip_relative_ea)
{
	/* mov [rip+0x10], eax: from the next instruction (6 bytes on). */
	ck_assert_int_eq(decode_bytes(M64, "89 05 10 00 00 00"), EMULATION_OK);
	ck_assert_uint_eq(F.ctxt.dst.addr.mem.ea, CODE_BASE + 6 + 0x10);
}
END_TEST

START_TEST(test_decode_segments)
{
	/* 16-bit: [bp+di] defaults to SS, [bx+si] to DS, an override wins. */
	ck_assert_int_eq(decode_bytes(M16, "89 03"), EMULATION_OK);
	ck_assert_int_eq(F.ctxt.dst.addr.mem.seg, X86_SREG_SS);
	ck_assert_int_eq(decode_bytes(M16, "89 00"), EMULATION_OK);
	ck_assert_int_eq(F.ctxt.dst.addr.mem.seg, X86_SREG_DS);
	ck_assert_int_eq(decode_bytes(M16, "26 89 03"), EMULATION_OK);
	ck_assert_int_eq(F.ctxt.dst.addr.mem.seg, X86_SREG_ES);
	/* 64-bit: [rsp+...] through SIB is SS; GS override. */
	ck_assert_int_eq(decode_bytes(M64, "89 04 24"), EMULATION_OK);
	ck_assert_int_eq(F.ctxt.dst.addr.mem.seg, X86_SREG_SS);
	ck_assert_int_eq(decode_bytes(M64, "65 89 04 24"), EMULATION_OK);
	ck_assert_int_eq(F.ctxt.dst.addr.mem.seg, X86_SREG_GS);
}
END_TEST

START_TEST(test_decode_15_byte_limit)
{
	/* 13 prefixes + 89 c0 = 15 bytes: fine. */
	ck_assert_int_eq(decode_bytes(M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 89 c0"), EMULATION_OK);
	ck_assert_uint_eq(F.ctxt.insn_len, 15);
	/* 14 prefixes: the 16th byte is never fetched, #GP(0). */
	ck_assert_int_eq(decode_bytes(M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 c0"), EMULATION_FAILED);
	ck_assert(F.ctxt.have_exception);
	ck_assert_uint_eq(F.ctxt.exception.vector, 13);
	ck_assert(F.ctxt.exception.error_code_valid);
	ck_assert_uint_eq(F.ctxt.exception.error_code, 0);
	ck_assert_uint_le(F.fetch_end, CODE_BASE + 15);
	/* An immediate that would be bytes 14-17: #GP too. */
	ck_assert_int_eq(decode_bytes(M64, "67 67 67 67 67 67 67 67 67 67 81 00 01 02 03 04"), EMULATION_FAILED);
	ck_assert_uint_eq(F.ctxt.exception.vector, 13);
}
END_TEST

START_TEST(test_decode_truncated_fetch)
{
	/* The fetch faults past the given bytes: the fault is the guest's. */
	static const char *const cut[] = { "89", "66", "0f", "0f b1", "89 04", "89 44 24", "89 80 00 00",
					   "81 c0 01 02", "a1 00 00 00 00", "48 c7 c0 00" };
	for (unsigned int i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		ck_assert_int_eq(decode_bytes(M64, cut[i]), EMULATION_FAILED);
		ck_assert_msg(F.ctxt.have_exception && F.ctxt.exception.vector == 14, "%s", cut[i]);
		ck_assert_uint_le(F.fetch_end, CODE_BASE + F.code_len);
	}
}
END_TEST

START_TEST(test_decode_unknown)
{
	static const char *const bad[] = { "0f 0b", "f7 e0", "ff d0", "90", "0f 05", "c6 c8 00", "fe d0", "0f ba 00 00",
					   "8d 00" };
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(decode_bytes(M64, bad[i]), EMULATION_FAILED);
		ck_assert_msg(!F.ctxt.have_exception && F.ctxt.failure, "%s", bad[i]);
	}
	/* 40 is INC eax outside 64-bit mode, not a REX: not emulated. */
	ck_assert_int_eq(decode_bytes(M32, "40"), EMULATION_FAILED);
	ck_assert_int_eq(decode_bytes(M32, "48 89 c0"), EMULATION_FAILED);
}
END_TEST

/* ---- execution: failures --------------------------------------------------------- */

START_TEST(test_no_mmio_callbacks)
{
	/* x86.c's emulate_ops have no read_emulated yet: a memory operand fails. */
	reset();
	F.regs[RBX] = MEM_BASE;
	setup(M64, "\x89\x03", 2);
	F.ctxt.ops = &no_mmio_ops;
	ck_assert_int_eq(x86_decode_insn(&F.ctxt, 0), EMULATION_OK);
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_FAILED);
	ck_assert(!F.ctxt.have_exception);
	ck_assert_ptr_nonnull(F.ctxt.failure);
	ck_assert_uint_eq(F.ctxt.eip, CODE_BASE);
	/* A register-only instruction still runs. */
	F.regs[RAX] = 1;
	F.regs[RBX] = 2;
	setup(M64, "\x01\xd8", 2);
	F.ctxt.ops = &no_mmio_ops;
	ck_assert_int_eq(x86_decode_insn(&F.ctxt, 0), EMULATION_OK);
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_OK);
	ck_assert_uint_eq(F.regs[RAX], 3);
}
END_TEST

START_TEST(test_lock_ud)
{
	reset();
	ck_assert_int_eq(run_bytes(M64, "f0 01 c0"), EMULATION_FAILED);      /* register dst */
	ck_assert(F.ctxt.have_exception && F.ctxt.exception.vector == 6);
	ck_assert_int_eq(run_bytes(M64, "f0 89 03"), EMULATION_FAILED);      /* MOV is not lockable */
	ck_assert(F.ctxt.have_exception && F.ctxt.exception.vector == 6);
	ck_assert_uint_eq(F.reads + F.writes, 0);
	F.regs[RBX] = MEM_BASE;
	ck_assert_int_eq(run_bytes(M64, "f0 01 03"), EMULATION_OK);
}
END_TEST

START_TEST(test_canonical_and_limits)
{
	reset();
	F.regs[RBX] = 0x0000800000000000ull;
	ck_assert_int_eq(run_bytes(M64, "89 03"), EMULATION_FAILED);
	ck_assert_uint_eq(F.ctxt.exception.vector, 13);
	F.regs[RBP] = 0x0000800000000000ull;
	ck_assert_int_eq(run_bytes(M64, "89 45 00"), EMULATION_FAILED);   /* [rbp+0]: SS, #SS */
	ck_assert_uint_eq(F.ctxt.exception.vector, 12);
	/* 32-bit: past DS's limit. */
	F.regs[RBX] = MEM_BASE;
	decode_bytes(M32, "89 03");
	F.seg[X86_SREG_DS].limit = MEM_BASE + 2;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_FAILED);
	ck_assert_uint_eq(F.ctxt.exception.vector, 13);
	ck_assert_uint_eq(F.writes, 0);
}
END_TEST

START_TEST(test_segment_bases)
{
	/* Real mode: DS base applied. */
	reset();
	F.regs[RBX] = 0x100 + 8;
	F.regs[RAX] = 0x5a;
	decode_bytes(X86EMUL_MODE_REAL, "88 07");   /* mov [bx], al */
	F.seg[X86_SREG_DS].base = MEM_BASE - 0x100;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_OK);
	ck_assert_uint_eq(F.mem[8], 0x5a);
	/* 64-bit: DS base ignored, FS base applied. */
	F.regs[RBX] = MEM_BASE + 16;
	F.regs[RAX] = 0xa5;
	decode_bytes(M64, "88 03");
	F.seg[X86_SREG_DS].base = 0x1000;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_OK);
	ck_assert_uint_eq(F.mem[16], 0xa5);
	F.regs[RBX] = 24;
	F.regs[RAX] = 0x3c;
	decode_bytes(M64, "64 88 03");
	F.seg[X86_SREG_FS].base = MEM_BASE;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_OK);
	ck_assert_uint_eq(F.mem[24], 0x3c);
	/* 16-bit code: IP wraps at 64 KiB. */
	F.regs[RBX] = 0;
	decode_bytes(M16, "88 07");
	F.ctxt.insn_eip = 0xffff;
	F.ctxt.insn_len = 2;
	F.seg[X86_SREG_DS].base = MEM_BASE;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_OK);
	ck_assert_uint_eq(F.ctxt.eip, 1);
}
END_TEST

START_TEST(test_io_needed)
{
	reset();
	F.regs[RBX] = MEM_BASE;
	F.regs[RAX] = 7;
	decode_bytes(M64, "03 03");   /* add eax, [rbx] */
	F.io_needed = 1;
	uint64_t fl = F.ctxt.eflags;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_IO_NEEDED);
	ck_assert_uint_eq(F.regs[RAX], 7);
	ck_assert_uint_eq(F.ctxt.eflags, fl);
	ck_assert_uint_eq(F.ctxt.eip, CODE_BASE);
}
END_TEST

/* ---- one test per handler --------------------------------------------------------- */

static uint64_t mem64(unsigned int off)
{
	uint64_t v;
	memcpy(&v, F.mem + off, 8);
	return v;
}

static void set_mem64(unsigned int off, uint64_t v) { memcpy(F.mem + off, &v, 8); }

/* Decode hex, set RBX = MEM_BASE + off and flags, run. */
static void exec(const char *hex, unsigned int off, uint64_t flags)
{
	F.regs[RBX] = MEM_BASE + off;
	ck_assert_int_eq(decode_bytes(M64, hex), EMULATION_OK);
	F.ctxt.eflags = X86_EFLAGS_FIXED | flags;
	ck_assert_int_eq(x86_emulate_insn(&F.ctxt), EMULATION_OK);
	ck_assert_uint_eq(F.ctxt.eip, CODE_BASE + F.ctxt.insn_len);
}

static uint64_t fl(void) { return F.ctxt.eflags & FLAGS6; }


START_TEST(test_em_add)
{
	reset();
	set_mem64(0, 0x7f);
	F.regs[RAX] = 1;
	exec("00 03", 0, 0);                               /* add [rbx], al: 0x7f + 1 */
	ck_assert_uint_eq(F.mem[0], 0x80);
	ck_assert_uint_eq(fl(), X86_EFLAGS_OF | X86_EFLAGS_SF | X86_EFLAGS_AF);
	F.regs[RCX] = 0xffffffffffffffffull;
	exec("48 01 0b", 8, 0);                             /* add [rbx], rcx: 0 + -1 */
	ck_assert_uint_eq(mem64(8), ~0ull);
	ck_assert_uint_eq(fl(), X86_EFLAGS_SF | X86_EFLAGS_PF);
}
END_TEST

START_TEST(test_em_adc_sbb)
{
	reset();
	F.regs[RAX] = 0xffff;
	exec("66 83 d0 00", 0, X86_EFLAGS_CF);               /* adc ax, 0 with CF */
	ck_assert_uint_eq(F.regs[RAX], 0);
	ck_assert_uint_eq(fl(), X86_EFLAGS_CF | X86_EFLAGS_ZF | X86_EFLAGS_PF | X86_EFLAGS_AF);
	F.regs[RAX] = 0;
	exec("1c 00", 0, X86_EFLAGS_CF);                    /* sbb al, 0 with CF: 0 - 0 - 1 */
	ck_assert_uint_eq(F.regs[RAX], 0xff);
	ck_assert_uint_eq(fl(), X86_EFLAGS_CF | X86_EFLAGS_SF | X86_EFLAGS_PF | X86_EFLAGS_AF);
}
END_TEST

START_TEST(test_em_sub_cmp)
{
	reset();
	set_mem64(0, 0x80000000);
	exec("83 2b 01", 0, 0);                             /* sub dword [rbx], 1 */
	ck_assert_uint_eq(mem64(0), 0x7fffffff);
	ck_assert_uint_eq(fl(), X86_EFLAGS_OF | X86_EFLAGS_AF | X86_EFLAGS_PF);
	exec("83 3b 01", 0, 0);                             /* cmp: no write */
	unsigned int w = F.writes;
	ck_assert_uint_eq(mem64(0), 0x7fffffff);
	ck_assert_uint_eq(w, 0);
	F.regs[RAX] = 0x7fffffff;
	exec("3b 03", 0, 0);                                /* cmp eax, [rbx] */
	ck_assert_uint_eq(fl(), X86_EFLAGS_ZF | X86_EFLAGS_PF);
}
END_TEST

START_TEST(test_em_logic)
{
	reset();
	set_mem64(0, 0xf0f0);
	F.regs[RDX] = 0x0ff0;
	exec("66 21 13", 0, X86_EFLAGS_CF | X86_EFLAGS_OF);  /* and [rbx], dx */
	ck_assert_uint_eq(mem64(0), 0x00f0);
	ck_assert_uint_eq(fl(), X86_EFLAGS_PF);
	exec("66 09 13", 0, 0);                              /* or */
	ck_assert_uint_eq(mem64(0), 0x0ff0);
	exec("66 31 13", 0, 0);                              /* xor */
	ck_assert_uint_eq(mem64(0), 0);
	ck_assert_uint_eq(fl(), X86_EFLAGS_ZF | X86_EFLAGS_PF);
	set_mem64(0, 0x80);
	exec("f6 03 80", 0, 0);                              /* test byte [rbx], 0x80 */
	ck_assert_uint_eq(fl(), X86_EFLAGS_SF);
	ck_assert_uint_eq(F.writes, 0);
	F.regs[RAX] = 1;
	exec("84 03", 0, 0);                                 /* test [rbx], al */
	ck_assert_uint_eq(fl(), X86_EFLAGS_ZF | X86_EFLAGS_PF);
}
END_TEST

START_TEST(test_em_inc_dec)
{
	reset();
	set_mem64(0, 0xff);
	exec("fe 03", 0, X86_EFLAGS_CF);                      /* inc byte [rbx]: CF kept */
	ck_assert_uint_eq(mem64(0), 0);
	ck_assert_uint_eq(fl(), X86_EFLAGS_CF | X86_EFLAGS_ZF | X86_EFLAGS_PF | X86_EFLAGS_AF);
	exec("48 ff 0b", 0, 0);                               /* dec qword [rbx] */
	ck_assert_uint_eq(mem64(0), ~0ull);
	ck_assert_uint_eq(fl(), X86_EFLAGS_SF | X86_EFLAGS_PF | X86_EFLAGS_AF);
}
END_TEST

START_TEST(test_em_not_neg)
{
	reset();
	set_mem64(0, 0x0f);
	exec("f6 13", 0, X86_EFLAGS_ZF);                      /* not byte [rbx]: flags kept */
	ck_assert_uint_eq(F.mem[0], 0xf0);
	ck_assert_uint_eq(fl(), X86_EFLAGS_ZF);
	exec("f7 1b", 0, 0);                                  /* neg dword: 0xf0 */
	ck_assert_uint_eq(mem64(0), 0xffffff10);
	ck_assert_uint_eq(fl(), X86_EFLAGS_CF | X86_EFLAGS_SF);
	set_mem64(0, 0);
	exec("f7 1b", 0, 0);                                  /* neg 0: CF = 0 */
	ck_assert_uint_eq(fl(), X86_EFLAGS_ZF | X86_EFLAGS_PF);
}
END_TEST

START_TEST(test_em_mov)
{
	reset();
	F.regs[RAX] = 0x1122334455667788ull;
	exec("89 03", 0, 0);                                  /* mov [rbx], eax */
	ck_assert_uint_eq(mem64(0), 0x55667788);
	ck_assert_uint_eq(F.reads, 0);                        /* Mov: dst not read */
	exec("48 8b 0b", 0, 0);                               /* mov rcx, [rbx] */
	ck_assert_uint_eq(F.regs[RCX], 0x55667788);
	F.regs[RDX] = ~0ull;
	exec("8a 33", 0, 0);                                  /* mov dh, [rbx] */
	ck_assert_uint_eq(F.regs[RDX], 0xffffffffffff88ffull);
	exec("40 8a 33", 0, 0);                               /* mov sil, [rbx] */
	ck_assert_uint_eq(F.regs[RSI] & 0xff, 0x88);
	exec("48 c7 03 fe ff ff ff", 0, 0);                   /* mov qword [rbx], -2 */
	ck_assert_uint_eq(mem64(0), 0xfffffffffffffffeull);
	exec("a1 00 00 01 00 00 00 00 00", 0, 0);             /* mov eax, [0x10000] */
	ck_assert_uint_eq(F.regs[RAX], 0xfffffffe);
	F.regs[RAX] = 0x99;
	exec("a2 10 00 01 00 00 00 00 00", 0, 0);             /* mov [0x10010], al */
	ck_assert_uint_eq(F.mem[0x10], 0x99);
}
END_TEST

START_TEST(test_em_movzx_movsx)
{
	reset();
	set_mem64(0, 0x8081);
	F.regs[RAX] = ~0ull;
	exec("0f b6 03", 0, 0);                                /* movzx eax, byte [rbx] */
	ck_assert_uint_eq(F.regs[RAX], 0x81);
	exec("48 0f be 03", 0, 0);                             /* movsx rax, byte [rbx] */
	ck_assert_uint_eq(F.regs[RAX], 0xffffffffffffff81ull);
	exec("66 0f bf 03", 0, 0);                             /* movsx ax, word [rbx] */
	ck_assert_uint_eq(F.regs[RAX], 0xffffffffffff8081ull);
	exec("0f b7 03", 0, 0);                                /* movzx eax, word [rbx] */
	ck_assert_uint_eq(F.regs[RAX], 0x8081);
}
END_TEST

START_TEST(test_em_xchg)
{
	reset();
	set_mem64(0, 0xaaaa);
	F.regs[RCX] = 0x5555;
	exec("66 87 0b", 0, 0);                                /* xchg [rbx], cx */
	ck_assert_uint_eq(mem64(0), 0x5555);
	ck_assert_uint_eq(F.regs[RCX], 0xaaaa);
}
END_TEST

START_TEST(test_em_cmpxchg)
{
	reset();
	set_mem64(0, 5);
	F.regs[RAX] = 5;
	F.regs[RCX] = 9;
	exec("0f b1 0b", 0, 0);                                /* equal: [rbx] = ecx */
	ck_assert_uint_eq(mem64(0), 9);
	ck_assert(F.ctxt.eflags & X86_EFLAGS_ZF);
	ck_assert_uint_eq(F.regs[RAX], 5);
	exec("0f b1 0b", 0, 0);                                /* differ: eax = [rbx], [rbx] rewritten */
	ck_assert_uint_eq(F.regs[RAX], 9);
	ck_assert_uint_eq(mem64(0), 9);
	ck_assert(!(F.ctxt.eflags & X86_EFLAGS_ZF));
	ck_assert_uint_eq(F.writes, 1);
}
END_TEST

START_TEST(test_em_bt)
{
	reset();
	set_mem64(8, 0x10);
	exec("0f ba 63 08 04", 0, X86_EFLAGS_ZF);            /* bt dword [rbx+8], 4 */
	ck_assert_uint_eq(fl(), X86_EFLAGS_CF | X86_EFLAGS_ZF);
	exec("0f ba 73 08 04", 0, 0);                        /* btr */
	ck_assert_uint_eq(mem64(8), 0);
	exec("0f ba 6b 08 24", 0, 0);                        /* bts dword, 36 = bit 4 */
	ck_assert_uint_eq(mem64(8), 0x10);
	exec("0f ba 7b 08 04", 0, 0);                        /* btc */
	ck_assert_uint_eq(mem64(8), 0);
	ck_assert(F.ctxt.eflags & X86_EFLAGS_CF);
	/* bts [rbx+8], ecx with ecx = -1: bit 31 of the dword before. */
	F.regs[RCX] = 0xffffffff;
	exec("0f ab 4b 08", 0, 0);
	ck_assert_uint_eq(mem64(0), 0x80000000ull << 32);
	/* bt rax, rcx: the offset mod 64. */
	F.regs[RAX] = 1;
	F.regs[RCX] = 64;
	exec("48 0f a3 c8", 0, 0);
	ck_assert(F.ctxt.eflags & X86_EFLAGS_CF);
}
END_TEST

START_TEST(test_page_table_writing)
{
	decode_bytes(M64, "89 03");
	ck_assert(x86_page_table_writing_insn(&F.ctxt));
	decode_bytes(M64, "8b 03");
	ck_assert(!x86_page_table_writing_insn(&F.ctxt));
	decode_bytes(M64, "39 03");
	ck_assert(!x86_page_table_writing_insn(&F.ctxt));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emulator");
	TCase *d = tcase_create("decode");
	tcase_add_loop_test(d, test_decode_table, 0, sizeof(encs) / sizeof(encs[0]));
	tcase_add_test(d, test_decode_rip_relative_ea);
	tcase_add_test(d, test_decode_segments);
	tcase_add_test(d, test_decode_15_byte_limit);
	tcase_add_test(d, test_decode_truncated_fetch);
	tcase_add_test(d, test_decode_unknown);
	suite_add_tcase(s, d);
	TCase *x = tcase_create("execute");
	tcase_add_test(x, test_no_mmio_callbacks);
	tcase_add_test(x, test_lock_ud);
	tcase_add_test(x, test_canonical_and_limits);
	tcase_add_test(x, test_segment_bases);
	tcase_add_test(x, test_io_needed);
	tcase_add_test(x, test_em_add);
	tcase_add_test(x, test_em_adc_sbb);
	tcase_add_test(x, test_em_sub_cmp);
	tcase_add_test(x, test_em_logic);
	tcase_add_test(x, test_em_inc_dec);
	tcase_add_test(x, test_em_not_neg);
	tcase_add_test(x, test_em_mov);
	tcase_add_test(x, test_em_movzx_movsx);
	tcase_add_test(x, test_em_xchg);
	tcase_add_test(x, test_em_cmpxchg);
	tcase_add_test(x, test_em_bt);
	tcase_add_test(x, test_page_table_writing);
	suite_add_tcase(s, x);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
