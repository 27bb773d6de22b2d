/* SPDX-License-Identifier: MIT */
/*
 * x86_decode_insn: one instruction's bytes to the decode state of struct
 * x86_emulate_ctxt, over a table of encodings in 16-, 32- and 64-bit modes
 * (SDM Vol. 2 chapter 2: prefixes 2.1.1, REX 2.2.1, ModRM and SIB Tables
 * 2-1 to 2-3, RIP-relative 2.2.1.6; operand and address size Vol. 1 3.6),
 * the 15-byte limit (Vol. 2 2.3.11), fetches that fault part-way, and the
 * opcodes that must not be emulated. The fake's fetch serves the
 * instruction's own bytes and nothing else: the decoder must never read a
 * byte past the instruction.
 */
#include <stdio.h>

#include "lab07_tests.h"

/* Every register a distinct value, so an effective address shows which
 * registers went into it. */
#define R(i) ((uint64_t)((i) + 1) * 0x1000 + (uint64_t)(i) * 0x10)

static void set_pattern(void)
{
	fake_reset();
	for (unsigned int i = 0; i < 16; i++)
		F.regs[i] = R(i);
}

static const char *mode_name(enum x86emul_mode m)
{
	switch (m) {
	case X86EMUL_MODE_REAL: return "real mode";
	case X86EMUL_MODE_VM86: return "virtual-8086 mode";
	case X86EMUL_MODE_PROT16: return "16-bit protected mode";
	case X86EMUL_MODE_PROT32: return "32-bit protected mode";
	case X86EMUL_MODE_PROT64: return "64-bit mode";
	}
	return "?";
}

static const char *const op_type_name[] = { "OP_NONE", "OP_REG", "OP_MEM", "OP_IMM" };

/* An operand as it must be decoded: a register number (+ high byte), an
 * effective address and segment, or an immediate's value. bytes 0: not
 * checked. */
struct opnd {
	enum x86_operand_type type;
	unsigned int bytes;
	uint64_t v;
	int seg;
	bool high;
};

#define REG(n, sz)      { OP_REG, sz, n, 0, false }
#define HREG(n)         { OP_REG, 1, n, 0, true }
#define MEM(ea, sz, s)  { OP_MEM, sz, ea, X86_SREG_##s, false }
#define IMM(val, sz)    { OP_IMM, sz, val, 0, false }

struct enc {
	enum x86emul_mode mode;
	const char *hex, *text;
	unsigned int len;
	uint8_t b;
	bool twobyte;
	bool modrm;
	uint8_t mod, reg, rm;
	bool sib;
	uint8_t scale, index, base;
	unsigned int disp_bytes;
	int32_t disp;
	unsigned int op, ad;
	uint8_t rex, rep;
	bool lock, rip;
	struct opnd dst, src;
};

#define MODRM(m, r, x) .modrm = true, .mod = m, .reg = r, .rm = x
#define SIB(s, i, b)   .sib = true, .scale = s, .index = i, .base = b
#define DISP(n, d)     .disp_bytes = n, .disp = d

static const struct enc encs[] = {
	/* ---- 64-bit mode ---- */
	{ M64, "89 08", "mov [rax], ecx", 2, 0x89, false, MODRM(0, 1, 0), .op = 4, .ad = 8,
	  .dst = MEM(R(RAX), 4, DS), .src = REG(RCX, 4) },
	{ M64, "4f 8b 4c 9a 10", "mov r9, [r10+r11*4+0x10] (REX.WRXB, SIB, disp8)", 5, 0x8B, false, MODRM(1, 9, 12),
	  SIB(2, 11, 10), DISP(1, 0x10), .op = 8, .ad = 8, .rex = 0x4F,
	  .dst = REG(R9, 8), .src = MEM(R(R10) + R(R11) * 4 + 0x10, 8, DS) },
	{ M64, "66 8b 05 00 01 00 00", "mov ax, [rip+0x100] (from the next instruction)", 7, 0x8B, false,
	  MODRM(0, 0, 5), DISP(4, 0x100), .op = 2, .ad = 8, .rip = true,
	  .dst = REG(RAX, 2), .src = MEM(CODE_BASE + 7 + 0x100, 2, DS) },
	{ M64, "67 8b 05 00 01 00 00", "mov eax, [eip+0x100] (67: a 32-bit RIP)", 7, 0x8B, false, MODRM(0, 0, 5),
	  DISP(4, 0x100), .op = 4, .ad = 4, .rip = true, .dst = REG(RAX, 4),
	  .src = MEM((uint32_t)(CODE_BASE + 7 + 0x100), 4, DS) },
	{ M64, "67 81 83 78 56 34 12 44 33 22 11", "add dword [ebx+0x12345678], 0x11223344 (67, disp32, imm32)", 11,
	  0x81, false, MODRM(2, 0, 3), DISP(4, 0x12345678), .op = 4, .ad = 4,
	  .dst = MEM((uint32_t)(R(RBX) + 0x12345678), 4, DS), .src = IMM(0x11223344, 0) },
	{ M64, "48 83 c0 ff", "add rax, -1 (83: imm8 sign-extended to 64 bits)", 4, 0x83, false, MODRM(3, 0, 0),
	  .op = 8, .ad = 8, .rex = 0x48, .dst = REG(RAX, 8), .src = IMM(~0ull, 0) },
	{ M64, "66 83 c0 ff", "add ax, -1 (imm8 sign-extended to 16 bits)", 4, 0x83, false, MODRM(3, 0, 0), .op = 2,
	  .ad = 8, .dst = REG(RAX, 2), .src = IMM(0xffff, 0) },
	{ M64, "48 c7 c0 00 00 00 80", "mov rax, 0xffffffff80000000 (imm32 sign-extended: there is no imm64 here)",
	  7, 0xC7, false, MODRM(3, 0, 0), .op = 8, .ad = 8, .rex = 0x48, .dst = REG(RAX, 8),
	  .src = IMM(0xffffffff80000000ull, 0) },
	{ M64, "66 c7 00 34 12", "mov word [rax], 0x1234 (66: a 2-byte immediate)", 5, 0xC7, false, MODRM(0, 0, 0),
	  .op = 2, .ad = 8, .dst = MEM(R(RAX), 2, DS), .src = IMM(0x1234, 0) },
	{ M64, "89 04 25 00 10 00 00", "mov [0x1000], eax (SIB: no base with mod 00, no index: absolute, not RIP)",
	  7, 0x89, false, MODRM(0, 0, 4), SIB(0, 4, 5), DISP(4, 0x1000), .op = 4, .ad = 8,
	  .dst = MEM(0x1000, 4, DS), .src = REG(RAX, 4) },
	{ M64, "42 89 04 25 00 10 00 00", "mov [r12+0x1000], eax (index 100 with REX.X is R12, not 'none')", 8,
	  0x89, false, MODRM(0, 0, 4), SIB(0, 12, 5), DISP(4, 0x1000), .op = 4, .ad = 8, .rex = 0x42,
	  .dst = MEM(R(R12) + 0x1000, 4, DS), .src = REG(RAX, 4) },
	{ M64, "89 44 24 f8", "mov [rsp-8], eax (base RSP: SS)", 4, 0x89, false, MODRM(1, 0, 4), SIB(0, 4, 4),
	  DISP(1, -8), .op = 4, .ad = 8, .dst = MEM(R(RSP) - 8, 4, SS), .src = REG(RAX, 4) },
	{ M64, "41 89 45 00", "mov [r13+0], eax (rm 101 + REX.B needs its disp8; R13 is not RBP: DS)", 4, 0x89,
	  false, MODRM(1, 0, 13), DISP(1, 0), .op = 4, .ad = 8, .rex = 0x41,
	  .dst = MEM(R(R13), 4, DS), .src = REG(RAX, 4) },
	{ M64, "41 89 04 24", "mov [r12], eax (rm 100 + REX.B needs a SIB; R12 is not RSP: DS)", 4, 0x89, false,
	  MODRM(0, 0, 12), SIB(0, 4, 12), .op = 4, .ad = 8, .rex = 0x41,
	  .dst = MEM(R(R12), 4, DS), .src = REG(RAX, 4) },
	{ M64, "0f b6 06", "movzx eax, byte [rsi]", 3, 0xB6, true, MODRM(0, 0, 6), .op = 4, .ad = 8,
	  .dst = REG(RAX, 4), .src = MEM(R(RSI), 1, DS) },
	{ M64, "0f ba 27 05", "bt dword [rdi], 5 (0F BA /4 ib)", 4, 0xBA, true, MODRM(0, 4, 7), .op = 4, .ad = 8,
	  .dst = MEM(R(RDI), 4, DS), .src = IMM(5, 0) },
	{ M64, "a0 88 77 66 55 44 33 22 11", "mov al, [0x1122334455667788] (moffs64)", 9, 0xA0, false, .op = 4,
	  .ad = 8, .dst = REG(RAX, 1), .src = MEM(0x1122334455667788ull, 1, DS) },
	{ M64, "67 a1 44 33 22 11", "mov eax, [0x11223344] (67: moffs32)", 6, 0xA1, false, .op = 4, .ad = 4,
	  .dst = REG(RAX, 4), .src = MEM(0x11223344, 4, DS) },
	{ M64, "64 a3 08 00 00 00 00 00 00 00", "mov fs:[8], eax (moffs with a segment override)", 10, 0xA3, false,
	  .op = 4, .ad = 8, .dst = MEM(8, 4, FS), .src = REG(RAX, 4) },
	{ M64, "48 66 89 c0", "mov ax, ax: a REX before a legacy prefix is ignored (Vol. 2 2.2.1)", 4, 0x89, false,
	  MODRM(3, 0, 0), .op = 2, .ad = 8, .dst = REG(RAX, 2), .src = REG(RAX, 2) },
	{ M64, "66 48 89 c0", "mov rax, rax: REX.W wins over 66 (Vol. 1 Table 3-4)", 4, 0x89, false, MODRM(3, 0, 0),
	  .op = 8, .ad = 8, .rex = 0x48, .dst = REG(RAX, 8), .src = REG(RAX, 8) },
	{ M64, "44 89 c0", "mov eax, r8d (REX.R extends ModRM.reg)", 3, 0x89, false, MODRM(3, 8, 0), .op = 4,
	  .ad = 8, .rex = 0x44, .dst = REG(RAX, 4), .src = REG(R8, 4) },
	{ M64, "88 e0", "mov al, ah (byte register 4 without REX: AH, bits 15:8 of RAX)", 2, 0x88, false,
	  MODRM(3, 4, 0), .op = 4, .ad = 8, .dst = REG(RAX, 1), .src = HREG(RAX) },
	{ M64, "40 88 e0", "mov al, spl (byte register 4 with any REX: SPL)", 3, 0x88, false, MODRM(3, 4, 0),
	  .op = 4, .ad = 8, .rex = 0x40, .dst = REG(RAX, 1), .src = REG(RSP, 1) },
	{ M64, "f6 c7 80", "test bh, 0x80 (F6 /0 ib, rm 111 without REX)", 3, 0xF6, false, MODRM(3, 0, 7), .op = 4,
	  .ad = 8, .dst = HREG(RBX), .src = IMM(0x80, 0) },
	{ M64, "f0 48 0f b1 0b", "lock cmpxchg [rbx], rcx", 5, 0xB1, true, MODRM(0, 1, 3), .op = 8, .ad = 8,
	  .rex = 0x48, .lock = true, .dst = MEM(R(RBX), 8, DS), .src = REG(RCX, 8) },
	{ M64, "f3 65 88 08", "mov gs:[rax], cl with a (meaningless) REP prefix", 4, 0x88, false, MODRM(0, 1, 0),
	  .op = 4, .ad = 8, .rep = 0xF3, .dst = MEM(R(RAX), 1, GS), .src = REG(RCX, 1) },
	/* ---- 32-bit mode ---- */
	{ M32, "89 45 fc", "mov [ebp-4], eax (base EBP: SS)", 3, 0x89, false, MODRM(1, 0, 5), DISP(1, -4), .op = 4,
	  .ad = 4, .dst = MEM(R(RBP) - 4, 4, SS), .src = REG(RAX, 4) },
	{ M32, "66 89 05 00 20 00 00", "mov [0x2000], ax (mod 00 rm 101: absolute outside 64-bit mode)", 7, 0x89,
	  false, MODRM(0, 0, 5), DISP(4, 0x2000), .op = 2, .ad = 4, .dst = MEM(0x2000, 2, DS), .src = REG(RAX, 2) },
	{ M32, "8b 04 cd 00 01 00 00", "mov eax, [ecx*8+0x100] (SIB scale 8, no base)", 7, 0x8B, false,
	  MODRM(0, 0, 4), SIB(3, 1, 5), DISP(4, 0x100), .op = 4, .ad = 4, .dst = REG(RAX, 4),
	  .src = MEM(R(RCX) * 8 + 0x100, 4, DS) },
	{ M32, "67 89 07", "mov [bx], eax (67 in 32-bit code: 16-bit ModRM)", 3, 0x89, false, MODRM(0, 0, 7),
	  .op = 4, .ad = 2, .dst = MEM(R(RBX) & 0xffff, 4, DS), .src = REG(RAX, 4) },
	{ M32, "66 a3 34 12 00 00", "mov [0x1234], ax (moffs32)", 6, 0xA3, false, .op = 2, .ad = 4,
	  .dst = MEM(0x1234, 2, DS), .src = REG(RAX, 2) },
	{ M32, "67 a1 34 12", "mov eax, [0x1234] (67: moffs16)", 4, 0xA1, false, .op = 4, .ad = 2,
	  .dst = REG(RAX, 4), .src = MEM(0x1234, 4, DS) },
	/* ---- 16-bit modes ---- */
	{ M16, "88 40 7f", "mov [bx+si+0x7f], al", 3, 0x88, false, MODRM(1, 0, 0), DISP(1, 0x7f), .op = 2, .ad = 2,
	  .dst = MEM((R(RBX) + R(RSI) + 0x7f) & 0xffff, 1, DS), .src = REG(RAX, 1) },
	{ M16, "89 06 34 12", "mov [0x1234], ax (mod 00 rm 110: disp16, no BP)", 4, 0x89, false, MODRM(0, 0, 6),
	  DISP(2, 0x1234), .op = 2, .ad = 2, .dst = MEM(0x1234, 2, DS), .src = REG(RAX, 2) },
	{ M16, "89 83 00 80", "mov [bp+di-0x8000], ax (disp16 sign-extended, the sum wraps at 64 KiB, SS)", 4, 0x89,
	  false, MODRM(2, 0, 3), DISP(2, -0x8000), .op = 2, .ad = 2,
	  .dst = MEM((R(RBP) + R(RDI) - 0x8000) & 0xffff, 2, SS), .src = REG(RAX, 2) },
	{ M16, "89 46 00", "mov [bp+0], ax (mod 01 rm 110: BP, SS)", 3, 0x89, false, MODRM(1, 0, 6), DISP(1, 0),
	  .op = 2, .ad = 2, .dst = MEM(R(RBP) & 0xffff, 2, SS), .src = REG(RAX, 2) },
	{ M16, "66 67 89 04 24", "mov [esp], eax (66 and 67 in 16-bit code: 32-bit sizes, SIB)", 5, 0x89, false,
	  MODRM(0, 0, 4), SIB(0, 4, 4), .op = 4, .ad = 4, .dst = MEM(R(RSP), 4, SS), .src = REG(RAX, 4) },
	{ M16, "67 a1 78 56 34 12", "mov ax, [0x12345678] (67: moffs32)", 6, 0xA1, false, .op = 2, .ad = 4,
	  .dst = REG(RAX, 2), .src = MEM(0x12345678, 2, DS) },
	{ MREAL, "a1 34 12", "mov ax, [0x1234] in real mode (moffs16)", 3, 0xA1, false, .op = 2, .ad = 2,
	  .dst = REG(RAX, 2), .src = MEM(0x1234, 2, DS) },
	{ MREAL, "26 88 27", "mov es:[bx], ah in real mode", 3, 0x88, false, MODRM(0, 4, 7), .op = 2, .ad = 2,
	  .dst = MEM(R(RBX) & 0xffff, 1, ES), .src = HREG(RAX) },
	{ X86EMUL_MODE_VM86, "48", "48 in virtual-8086 mode is DEC AX, never a REX: not emulated", .len = 0 },
};

#define FIELD(name, got, want, why)                                                                          \
	require((uint64_t)(got) == (uint64_t)(want),                                                         \
		"%s (%s, %s): %s is 0x%llx, expected 0x%llx (%s)", e->text, e->hex, mode_name(e->mode), name, \
		(unsigned long long)(got), (unsigned long long)(want), why)

static void check_operand(const struct enc *e, const char *which, const struct x86_operand *op,
			  const struct opnd *want)
{
	const struct x86_emulate_ctxt *c = &F.ctxt;
	char name[64];

	require(op->type == want->type, "%s (%s, %s): %s is %s, expected %s", e->text, e->hex, mode_name(e->mode),
		which, op->type <= OP_IMM ? op_type_name[op->type] : "?", op_type_name[want->type]);
	if (want->bytes) {
		snprintf(name, sizeof(name), "%s.bytes", which);
		FIELD(name, op->bytes, want->bytes, "the operand size: ByteOp, else 66/REX.W and the mode");
	}
	switch (want->type) {
	case OP_REG:
		snprintf(name, sizeof(name), "%s.addr.reg", which);
		FIELD(name, op->addr.reg, want->v, "ModRM.reg/rm with REX.R/REX.B, SDM Vol. 2 Table 3-1");
		snprintf(name, sizeof(name), "%s.addr.high_byte", which);
		FIELD(name, op->addr.high_byte, want->high,
		      "byte registers 4-7 are AH CH DH BH only without REX, Vol. 2 2.2.1.2");
		break;
	case OP_MEM:
		snprintf(name, sizeof(name), "%s's effective address", which);
		FIELD(name, op->addr.mem.ea & (c->ad_bytes == 8 ? ~0ull : (1ull << (c->ad_bytes * 8)) - 1), want->v,
		      "base + index * scale + disp, at the address size; RIP-relative from the next instruction");
		snprintf(name, sizeof(name), "%s.addr.mem.seg", which);
		FIELD(name, op->addr.mem.seg, want->seg,
		      "SS when the base is (E/R)BP or (E/R)SP, an override prefix wins; Vol. 1 Table 3-5");
		break;
	case OP_IMM:
		snprintf(name, sizeof(name), "%s.val (the immediate)", which);
		FIELD(name, op->val, want->v, "sign-extended to the operand size, Vol. 2 2.2.1.5");
		break;
	default:
		break;
	}
}

START_TEST(decode_table)
{
	const struct enc *e = &encs[_i];
	const struct x86_emulate_ctxt *c = &F.ctxt;

	set_pattern();
	int rc = emu_decode(e->mode, e->hex);
	if (!e->len) {
		require(rc == EMULATION_FAILED && !c->have_exception,
			"%s (%s, %s): x86_decode_insn gave %s, expected EMULATION_FAILED with a reason and no exception",
			e->text, e->hex, mode_name(e->mode), emu_result(rc));
		return;
	}
	require(rc == EMULATION_OK, "%s (%s, %s): x86_decode_insn gave %s, expected EMULATION_OK", e->text, e->hex,
		mode_name(e->mode), emu_result(rc));
	FIELD("insn_len", c->insn_len, e->len, "prefixes + opcode + ModRM + SIB + displacement + immediate");
	FIELD("the bytes fetched", F.fetched, e->len, "never a byte past the instruction: it may be on an unmapped page");
	FIELD("b (the opcode byte)", c->b, e->b, "the byte after the prefixes, or after 0F");
	FIELD("twobyte", c->twobyte, e->twobyte, "0F xx, Vol. 2 Table A-3");
	if (e->modrm) {
		FIELD("modrm_mod", c->modrm_mod, e->mod, "ModRM bits 7:6");
		FIELD("modrm_reg", c->modrm_reg, e->reg, "ModRM bits 5:3 | REX.R << 3");
		FIELD("modrm_rm", c->modrm_rm, e->rm, "ModRM bits 2:0 | REX.B << 3");
	}
	FIELD("has_sib", c->has_sib, e->sib, "a SIB follows rm 100 with mod != 11 and a 32/64-bit address");
	if (e->sib) {
		FIELD("sib_scale", c->sib_scale, e->scale, "SIB bits 7:6");
		FIELD("sib_index", c->sib_index, e->index, "SIB bits 5:3 | REX.X << 3");
		FIELD("sib_base", c->sib_base, e->base, "SIB bits 2:0 | REX.B << 3");
	}
	FIELD("disp_bytes", c->disp_bytes, e->disp_bytes, "Vol. 2 Tables 2-1 and 2-2: by mod, and rm/base 101");
	FIELD("disp", (uint32_t)c->disp, (uint32_t)e->disp, "the displacement, sign-extended");
	FIELD("op_bytes", c->op_bytes, e->op, "default by mode, 66 toggles 16/32, REX.W makes 64 (Vol. 1 3.6)");
	FIELD("ad_bytes", c->ad_bytes, e->ad, "default by mode, 67 toggles (64 to 32 in 64-bit mode)");
	FIELD("rex_prefix", c->rex_prefix, e->rex, "a REX counts only as the last byte before the opcode");
	FIELD("rep_prefix", c->rep_prefix, e->rep, "F2/F3");
	FIELD("lock_prefix", c->lock_prefix, e->lock, "F0");
	FIELD("rip_relative", c->rip_relative, e->rip, "mod 00 rm 101 in 64-bit mode only, Vol. 2 2.2.1.6");
	check_operand(e, "dst", &c->dst, &e->dst);
	check_operand(e, "src", &c->src, &e->src);
}
END_TEST

/* Default segments of the 16-bit forms (Vol. 2 Table 2-1: BP-based are SS)
 * and overrides. */
START_TEST(decode_segments)
{
	static const struct {
		enum x86emul_mode mode;
		const char *hex, *text;
		int seg;
	} cases[] = {
		{ M16, "89 00", "mov [bx+si], ax", X86_SREG_DS },   { M16, "89 01", "mov [bx+di], ax", X86_SREG_DS },
		{ M16, "89 02", "mov [bp+si], ax", X86_SREG_SS },   { M16, "89 03", "mov [bp+di], ax", X86_SREG_SS },
		{ M16, "89 04", "mov [si], ax", X86_SREG_DS },      { M16, "89 05", "mov [di], ax", X86_SREG_DS },
		{ M16, "89 07", "mov [bx], ax", X86_SREG_DS },      { M16, "26 89 03", "mov es:[bp+di], ax", X86_SREG_ES },
		{ M16, "2e 89 00", "mov cs:[bx+si], ax", X86_SREG_CS },
		{ M16, "36 89 07", "mov ss:[bx], ax", X86_SREG_SS },
		{ M16, "3e 89 46 02", "mov ds:[bp+2], ax", X86_SREG_DS },
		{ M32, "89 04 24", "mov [esp], eax", X86_SREG_SS }, { M32, "89 45 00", "mov [ebp+0], eax", X86_SREG_SS },
		{ M32, "89 04 2c", "mov [esp+ebp], eax (the base decides: ESP)", X86_SREG_SS },
		{ M32, "89 04 29", "mov [ecx+ebp], eax (EBP as index: DS)", X86_SREG_DS },
		{ M32, "89 04 2d 00 00 00 00", "mov [ebp*1+0], eax (SIB base 101, mod 00: no base, DS)", X86_SREG_DS },
		{ M64, "65 89 04 24", "mov gs:[rsp], eax", X86_SREG_GS },
		{ M64, "64 48 89 45 f8", "mov fs:[rbp-8], rax", X86_SREG_FS },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		set_pattern();
		int rc = emu_decode(cases[i].mode, cases[i].hex);
		require(rc == EMULATION_OK, "%s (%s): x86_decode_insn gave %s", cases[i].text, cases[i].hex,
			emu_result(rc));
		require(F.ctxt.dst.type == OP_MEM && F.ctxt.dst.addr.mem.seg == cases[i].seg,
			"%s (%s, %s): segment %d, expected %d (X86_SREG_*: ES 0 CS 1 SS 2 DS 3 FS 4 GS 5; SS when "
			"the base is BP/SP, Vol. 1 Table 3-5, Vol. 2 Table 2-1; an override prefix wins)",
			cases[i].text, cases[i].hex, mode_name(cases[i].mode), F.ctxt.dst.addr.mem.seg, cases[i].seg);
	}
}
END_TEST

START_TEST(decode_15_byte_limit)
{
	const struct x86_emulate_ctxt *c = &F.ctxt;
	int rc;

	set_pattern();
	rc = emu_decode(M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 89 c0");
	require(rc == EMULATION_OK && c->insn_len == 15, "13 prefixes + 89 c0 is 15 bytes, the most an instruction "
		"may have (SDM Vol. 2 2.3.11): %s, insn_len %u", emu_result(rc), c->insn_len);
	rc = emu_decode(M64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 c0");
	require(rc == EMULATION_FAILED && c->have_exception && c->exception.vector == 13 &&
		c->exception.error_code_valid && c->exception.error_code == 0,
		"14 prefixes + 89 c0 (16 bytes): %s, expected #GP(0) (Vol. 3 6.15 \"Interrupt 13\": an instruction "
		"longer than 15 bytes)", emu_result(rc));
	require(F.fetched <= 15, "16-byte instruction: %u bytes fetched; the 16th must never be read", F.fetched);
	rc = emu_decode(M64, "67 67 67 67 67 67 67 67 67 67 81 00 01 02 03 04");
	require(rc == EMULATION_FAILED && c->have_exception && c->exception.vector == 13,
		"10 prefixes + 81 00 + imm32 (16 bytes: the immediate crosses the limit): %s, expected #GP(0)",
		emu_result(rc));
	require(F.fetched <= 15, "an immediate past byte 15: %u bytes fetched, expected at most 15", F.fetched);
	rc = emu_decode(M64, "f0 f0 f0 f0 f0 f0 f0 f0 f0 f0 f0 48 0f b1 0b");
	require(rc == EMULATION_OK && c->insn_len == 15, "11 LOCKs + 48 0f b1 0b is 15 bytes: %s", emu_result(rc));
}
END_TEST

START_TEST(decode_truncated_fetch)
{
	/* The instruction runs into a page the fake does not map: the fetch's
	 * #PF is the guest's, at the first byte that is not there. */
	static const char *const cut[] = { "89", "66", "0f", "0f b1", "89 04", "89 44 24", "89 80 00 00", "81 c0 01 02",
					   "a1 00 00 00 00", "48 c7 c0 00", "48", "f0", "67 a1 00 00 00", "66 c7 00 34" };
	for (unsigned int i = 0; i < ARRAY_SIZE(cut); i++) {
		set_pattern();
		int rc = emu_decode(M64, cut[i]);
		const struct x86_exception *x = &F.ctxt.exception;
		require(rc == EMULATION_FAILED && F.ctxt.have_exception && x->vector == 14,
			"\"%s\" and then an unmapped page: %s, expected EMULATION_FAILED with the fetch's #PF (vector 14) "
			"as have_exception and exception", cut[i], emu_result(rc));
		require(x->address == CODE_BASE + F.code_len, "\"%s\" then an unmapped page: #PF at 0x%llx, expected "
			"0x%llx (CR2: the first byte missing, as ops->fetch reported it)", cut[i],
			(unsigned long long)x->address, (unsigned long long)(CODE_BASE + F.code_len));
		require(F.fetched <= F.code_len, "\"%s\": the decoder read past the bytes it was given", cut[i]);
	}
}
END_TEST

/* 16-bit code: the instruction's bytes wrap at IP 0xffff to 0 (the fake
 * serves them at CS.base + 0xffff and CS.base + 0). */
START_TEST(decode_ip_wraps_in_16_bit_code)
{
	uint8_t b[3] = { 0x89, 0x06, 0x34 };   /* mov [0x??34], ax: its disp16 wraps */
	set_pattern();
	fake_setup_at(M16, 0xfffe, b, 3);
	F.code[3] = 0x12;
	F.code_la[3] = CODE_BASE - 0x1000 + 1;
	F.code_len = 4;
	int rc = x86_decode_insn(&F.ctxt, 0);
	require(rc == EMULATION_OK && F.ctxt.insn_len == 4 && F.ctxt.dst.addr.mem.ea == 0x1234,
		"89 06 34 12 at IP 0xfffe in 16-bit code: %s, length %u, ea 0x%llx; expected the last two bytes at "
		"IP 0 and 1 (IP wraps at 64 KiB: CS.base + (uint16_t)IP)", emu_result(rc), F.ctxt.insn_len,
		(unsigned long long)F.ctxt.dst.addr.mem.ea);
}
END_TEST

START_TEST(decode_not_emulated)
{
	static const struct {
		enum x86emul_mode mode;
		const char *hex, *text;
	} bad[] = {
		{ M64, "0f 0b", "UD2" },
		{ M64, "f7 e0", "MUL eax (F7 /4)" },
		{ M64, "ff d0", "CALL rax (FF /2)" },
		{ M64, "0f 05", "SYSCALL" },
		{ M64, "c6 c8 00", "C6 /1 (undefined in group 11)" },
		{ M64, "fe d0", "FE /2 (undefined in group 4)" },
		{ M64, "0f ba 00 00", "0F BA /0 (undefined in group 8)" },
		{ M64, "8d 00", "LEA (no memory access to emulate)" },
		{ M64, "0f ff", "UD0" },
		{ M32, "40", "INC eax (40 is a REX only in 64-bit mode)" },
		{ M32, "48 89 c0", "DEC eax; mov eax, eax (48 is not REX.W in 32-bit mode)" },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		set_pattern();
		int rc = emu_decode(bad[i].mode, bad[i].hex);
		require(rc == EMULATION_FAILED && !F.ctxt.have_exception && F.ctxt.failure,
			"%s (%s, %s): x86_decode_insn gave %s, expected EMULATION_FAILED with ctxt->failure saying why "
			"and no exception (an opcode without a table entry is not emulated: never a guess)", bad[i].text,
			bad[i].hex, mode_name(bad[i].mode), emu_result(rc));
	}
}
END_TEST

/* Decoding reads registers (the address) but changes nothing. */
START_TEST(decode_changes_nothing)
{
	set_pattern();
	int rc = emu_decode(M64, "4f 8b 4c 9a 10");
	require(rc == EMULATION_OK && F.gpr_writes == 0 && F.nev == 0, "x86_decode_insn (4f 8b 4c 9a 10): %s, %u "
		"register writes and %u memory accesses; decoding reads the instruction and registers only",
		emu_result(rc), F.gpr_writes, F.nev);
	require(F.ctxt.eip == CODE_BASE, "x86_decode_insn moved ctxt->eip to 0x%llx: it is advanced by "
		"x86_emulate_insn, when the instruction completes", (unsigned long long)F.ctxt.eip);
}
END_TEST

Suite *decode_suite(void)
{
	Suite *s = suite_create("decode");
	TCase *tc = tcase_create("table");
	tcase_add_loop_test(tc, decode_table, 0, (int)ARRAY_SIZE(encs));
	tcase_add_test(tc, decode_segments);
	tcase_add_test(tc, decode_ip_wraps_in_16_bit_code);
	tcase_add_test(tc, decode_changes_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, decode_15_byte_limit);
	tcase_add_test(tc, decode_truncated_fetch);
	tcase_add_test(tc, decode_not_emulated);
	suite_add_tcase(s, tc);
	return s;
}
