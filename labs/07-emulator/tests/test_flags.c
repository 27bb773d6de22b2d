/* SPDX-License-Identifier: MIT */
/*
 * The six arithmetic flags (CF PF AF ZF SF OF) of each ALU handler on the
 * corner cases the SDM names: carry out of the top bit, signed overflow both
 * ways, AF from bit 3, PF of the low byte only, ZF and SF at the operand
 * size, INC/DEC keeping CF, NEG's CF, NOT changing none, BT* setting CF
 * only (SDM Vol. 1 3.4.3.1 and Appendix A; Vol. 2, each instruction's
 * "Flags Affected"). Register forms, AL/AX/EAX/RAX against CL/CX/ECX/RCX,
 * so that only the flags and the result are at stake; the memory forms run
 * the same handlers (test_exec.c).
 */
#include <stdio.h>

#include "lab07_tests.h"

#define CF X86_EFLAGS_CF
#define PF X86_EFLAGS_PF
#define AF X86_EFLAGS_AF
#define ZF X86_EFLAGS_ZF
#define SF X86_EFLAGS_SF
#define OF X86_EFLAGS_OF
#define ALL FLAGS6
/* AND, OR, XOR, TEST leave AF undefined; BT* leave OF SF AF PF undefined. */
#define LOGIC_DEFINED (CF | PF | ZF | SF | OF)
#define BT_DEFINED    (CF | ZF)

struct flag_case {
	const char *text, *hex;
	unsigned int bytes;
	uint64_t a, b;            /* RAX, RCX before */
	uint64_t in;              /* arithmetic flags before */
	uint64_t res;             /* RAX after, at the operand size */
	uint64_t out;             /* arithmetic flags after */
	uint64_t defined;         /* the flags the SDM defines for it (0: all six) */
	const char *sdm;
};

static const struct flag_case cases[] = {
	/* ADD */
	{ "add al, cl: 0x7f + 1, signed overflow upward", "00 c8", 1, 0x7f, 1, 0, 0x80, OF | SF | AF, 0, "ADD" },
	{ "add al, cl: 0xff + 1, carry out", "00 c8", 1, 0xff, 1, 0, 0, CF | ZF | PF | AF, 0, "ADD" },
	{ "add al, cl: 0x80 + 0x80, carry and overflow downward", "00 c8", 1, 0x80, 0x80, 0, 0, CF | OF | ZF | PF, 0,
	  "ADD" },
	{ "add al, cl: 8 + 8, AF is the carry out of bit 3", "00 c8", 1, 8, 8, 0, 0x10, AF, 0, "ADD" },
	{ "add ax, cx: 0xff + 1 = 0x100, PF of the low byte only (0x00: even)", "66 01 c8", 2, 0xff, 1, 0, 0x100,
	  PF | AF, 0, "ADD; Vol. 1 3.4.3.1" },
	{ "add eax, ecx: 0x7fffffff + 1", "01 c8", 4, 0x7fffffff, 1, 0, 0x80000000, OF | SF | AF | PF, 0, "ADD" },
	{ "add rax, rcx: -1 + 1", "48 01 c8", 8, ~0ull, 1, 0, 0, CF | ZF | PF | AF, 0, "ADD" },
	{ "add rax, rcx: 2^63 + 2^63", "48 01 c8", 8, 1ull << 63, 1ull << 63, 0, 0, CF | OF | ZF | PF, 0, "ADD" },
	{ "add eax, ecx: 1 + 1 with every flag set before (ADD ignores CF)", "01 c8", 4, 1, 1, ALL, 2, 0, 0, "ADD" },
	/* ADC */
	{ "adc al, cl: 0xff + 0 + CF", "10 c8", 1, 0xff, 0, CF, 0, CF | ZF | PF | AF, 0, "ADC" },
	{ "adc al, cl: 0x7f + 0 + CF, overflow from the carry alone", "10 c8", 1, 0x7f, 0, CF, 0x80, OF | SF | AF, 0,
	  "ADC" },
	{ "adc ax, cx: 0xffff + 0xffff + CF", "66 11 c8", 2, 0xffff, 0xffff, CF, 0xffff, CF | AF | SF | PF, 0, "ADC" },
	{ "adc eax, ecx: 0x7fffffff + 0, CF clear", "11 c8", 4, 0x7fffffff, 0, 0, 0x7fffffff, PF, 0, "ADC" },
	/* SUB */
	{ "sub al, cl: 0 - 1, borrow", "28 c8", 1, 0, 1, 0, 0xff, CF | SF | AF | PF, 0, "SUB" },
	{ "sub al, cl: 0x80 - 1, signed overflow upward", "28 c8", 1, 0x80, 1, 0, 0x7f, OF | AF, 0, "SUB" },
	{ "sub al, cl: 0x7f - 0xff, overflow downward and borrow", "28 c8", 1, 0x7f, 0xff, 0, 0x80, CF | OF | SF, 0,
	  "SUB" },
	{ "sub eax, ecx: 5 - 5", "29 c8", 4, 5, 5, 0, 0, ZF | PF, 0, "SUB" },
	{ "sub rax, rcx: 0 - 2^63", "48 29 c8", 8, 0, 1ull << 63, 0, 1ull << 63, CF | OF | SF | PF, 0, "SUB" },
	{ "sub ax, cx: 0x10 - 1, AF is the borrow into bit 3", "66 29 c8", 2, 0x10, 1, 0, 0xf, AF | PF, 0, "SUB" },
	/* SBB */
	{ "sbb al, cl: 0 - 0 - CF", "18 c8", 1, 0, 0, CF, 0xff, CF | SF | PF | AF, 0, "SBB" },
	{ "sbb al, cl: 0x80 - 0x7f - CF", "18 c8", 1, 0x80, 0x7f, CF, 0, ZF | PF | OF | AF, 0, "SBB" },
	{ "sbb eax, ecx: 0xffffffff - 0xffffffff - CF", "19 c8", 4, 0xffffffff, 0xffffffff, CF, 0xffffffff,
	  CF | SF | PF | AF, 0, "SBB" },
	/* CMP: SUB's flags, AL..RAX unchanged */
	{ "cmp al, cl: 1 vs 2", "38 c8", 1, 1, 2, 0, 1, CF | SF | PF | AF, 0, "CMP" },
	{ "cmp eax, ecx: 0x80000000 vs 1", "39 c8", 4, 0x80000000, 1, 0, 0x80000000, OF | AF | PF, 0, "CMP" },
	{ "cmp rax, rcx: equal", "48 39 c8", 8, 0x123456789ull, 0x123456789ull, ALL, 0x123456789ull, ZF | PF, 0,
	  "CMP" },
	/* AND OR XOR TEST: CF and OF cleared */
	{ "and al, cl: 0xf0 & 0x0f, CF and OF set before", "20 c8", 1, 0xf0, 0x0f, CF | OF, 0, ZF | PF, LOGIC_DEFINED,
	  "AND" },
	{ "and eax, ecx: SF from bit 31", "21 c8", 4, 0x80000001, 0x80000003, 0, 0x80000001, SF, LOGIC_DEFINED, "AND" },
	{ "or ax, cx: 0x100 | 3, PF of the low byte", "66 09 c8", 2, 0x100, 3, 0, 0x103, PF, LOGIC_DEFINED, "OR" },
	{ "xor rax, rcx: x ^ x, every flag set before", "48 31 c8", 8, 0xabcdef, 0xabcdef, ALL, 0, ZF | PF,
	  LOGIC_DEFINED, "XOR" },
	{ "test al, cl: 0x80 & 0xff", "84 c8", 1, 0x80, 0xff, CF | OF, 0x80, SF, LOGIC_DEFINED, "TEST" },
	{ "test eax, ecx: 0x100 & 0x100 (ZF at the operand size)", "85 c8", 4, 0x100, 0x100, 0, 0x100, PF,
	  LOGIC_DEFINED, "TEST" },
	/* INC DEC: CF kept */
	{ "inc al: 0xff + 1 with CF set (INC keeps CF)", "fe c0", 1, 0xff, 0, CF, 0, CF | ZF | PF | AF, 0, "INC" },
	{ "inc al: 0x7f + 1", "fe c0", 1, 0x7f, 0, 0, 0x80, OF | SF | AF, 0, "INC" },
	{ "inc eax: 0xf + 1 with CF set", "ff c0", 4, 0xf, 0, CF, 0x10, CF | AF, 0, "INC" },
	{ "dec al: 0 - 1 with CF clear (DEC sets no CF)", "fe c8", 1, 0, 0, 0, 0xff, SF | PF | AF, 0, "DEC" },
	{ "dec ax: 0x8000 - 1 with CF set", "66 ff c8", 2, 0x8000, 0, CF, 0x7fff, CF | OF | AF | PF, 0, "DEC" },
	{ "dec rax: 1 - 1", "48 ff c8", 8, 1, 0, 0, 0, ZF | PF, 0, "DEC" },
	/* NEG: CF = (source != 0) */
	{ "neg al: 0 (CF clear only for 0)", "f6 d8", 1, 0, 0, CF, 0, ZF | PF, 0, "NEG" },
	{ "neg al: 0x80 (the one value whose negation overflows)", "f6 d8", 1, 0x80, 0, 0, 0x80, CF | OF | SF, 0,
	  "NEG" },
	{ "neg eax: 1", "f7 d8", 4, 1, 0, 0, 0xffffffff, CF | SF | PF | AF, 0, "NEG" },
	{ "neg ax: 0x10", "66 f7 d8", 2, 0x10, 0, 0, 0xfff0, CF | SF | PF, 0, "NEG" },
	{ "neg rax: 2^63", "48 f7 d8", 8, 1ull << 63, 0, 0, 1ull << 63, CF | OF | SF | PF, 0, "NEG" },
	/* NOT: no flag */
	{ "not al with every flag set (NOT changes none)", "f6 d0", 1, 0x0f, 0, ALL, 0xf0, ALL, 0, "NOT" },
	{ "not rax with no flag set", "48 f7 d0", 8, 0, 0, 0, ~0ull, 0, 0, "NOT" },
	/* BT BTS BTR BTC: CF = the bit, ZF kept */
	{ "bt eax, ecx: bit 4 of 0x10, ZF set before (kept)", "0f a3 c8", 4, 0x10, 4, ZF, 0x10, CF | ZF, BT_DEFINED,
	  "BT" },
	{ "bt eax, ecx: offset 36 is bit 4 (register operand: offset mod 32)", "0f a3 c8", 4, 0x10, 36, 0, 0x10, CF,
	  BT_DEFINED, "BT" },
	{ "bts eax, ecx: bit 31 of 0", "0f ab c8", 4, 0, 31, CF, 0x80000000, 0, BT_DEFINED, "BTS" },
	{ "btr rax, rcx: bit 63 of -1", "48 0f b3 c8", 8, ~0ull, 63, 0, ~0ull >> 1, CF, BT_DEFINED, "BTR" },
	{ "btc ax, cx: offset 16 is bit 0 (mod 16)", "66 0f bb c8", 2, 1, 16, 0, 0, CF, BT_DEFINED, "BTC" },
	{ "bt rax, rcx: offset 64 is bit 0 (mod 64)", "48 0f a3 c8", 8, 1, 64, 0, 1, CF, BT_DEFINED, "BT" },
};

START_TEST(flags_cases)
{
	const struct flag_case *c = &cases[_i];
	uint64_t mask = c->bytes == 8 ? ~0ull : (1ull << (c->bytes * 8)) - 1;
	uint64_t defined = c->defined ? c->defined : ALL;

	fake_reset();
	F.regs[RAX] = c->a;
	F.regs[RCX] = c->b;
	int rc = emu_decode(M64, c->hex);
	require(rc == EMULATION_OK, "%s (%s): x86_decode_insn gave %s", c->text, c->hex, emu_result(rc));
	F.ctxt.eflags = X86_EFLAGS_FIXED | X86_EFLAGS_IF | c->in;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK, "%s (%s): x86_emulate_insn gave %s", c->text, c->hex, emu_result(rc));
	require((F.regs[RAX] & mask) == c->res, "%s (%s): the result is 0x%llx, expected 0x%llx (SDM Vol. 2 \"%s\")",
		c->text, c->hex, (unsigned long long)(F.regs[RAX] & mask), (unsigned long long)c->res, c->sdm);
	require((F.ctxt.eflags & defined) == (c->out & defined),
		"%s (%s), flags before: %s: flags after: %s, expected %s (of %s, which the SDM defines for it; "
		"SDM Vol. 2 \"%s\" Flags Affected; CF the carry/borrow out of bit %u, OF the signed overflow, AF the "
		"carry out of bit 3, PF the parity of bits 7:0 only, ZF and SF at the operand size)",
		c->text, c->hex, flag_names(c->in), flag_names(F.ctxt.eflags & defined), flag_names(c->out & defined),
		flag_names(defined), c->sdm, c->bytes * 8 - 1);
	require((F.ctxt.eflags & ~FLAGS6) == (X86_EFLAGS_FIXED | X86_EFLAGS_IF),
		"%s (%s): EFLAGS bits outside the six arithmetic flags changed: 0x%llx, expected 0x%llx (IF and bit 1)",
		c->text, c->hex, (unsigned long long)(F.ctxt.eflags & ~FLAGS6),
		(unsigned long long)(X86_EFLAGS_FIXED | X86_EFLAGS_IF));
}
END_TEST

/* The same add on memory, every size, every carry-in: a second path to the
 * handler (the operand comes through read_emulated). */
START_TEST(flags_adc_sbb_memory_exhaustive_bytes)
{
	for (unsigned int a = 0; a < 256; a += 5)
		for (unsigned int b = 0; b < 256; b += 3)
			for (unsigned int cin = 0; cin < 2; cin++) {
				fake_reset();
				mem_set(0, a, 1);
				F.regs[RCX] = b;
				emu_exec("adc byte [rbx], cl", "10 0b", 0, cin ? CF : 0);
				unsigned int sum = a + b + cin, r = sum & 0xff;
				uint64_t want = (sum > 0xff ? CF : 0) | (r == 0 ? ZF : 0) | (r & 0x80 ? SF : 0) |
						((a ^ b ^ r) & 0x10 ? AF : 0) |
						(__builtin_popcount(r) % 2 ? 0 : PF) |
						((~(a ^ b) & (a ^ r) & 0x80) ? OF : 0);
				require(mem_get(0, 1) == r && flags6() == want,
					"adc byte [rbx], cl (10 0b): 0x%02x + 0x%02x + CF %u = 0x%02llx with %s, expected "
					"0x%02x with %s (SDM Vol. 1 3.4.3.1)", a, b, cin,
					(unsigned long long)mem_get(0, 1), flag_names(flags6()), r, flag_names(want));
				fake_reset();
				mem_set(0, a, 1);
				F.regs[RCX] = b;
				emu_exec("sbb byte [rbx], cl", "18 0b", 0, cin ? CF : 0);
				r = (a - b - cin) & 0xff;
				want = (a < b + cin ? CF : 0) | (r == 0 ? ZF : 0) | (r & 0x80 ? SF : 0) |
				       ((a ^ b ^ r) & 0x10 ? AF : 0) | (__builtin_popcount(r) % 2 ? 0 : PF) |
				       (((a ^ b) & (a ^ r) & 0x80) ? OF : 0);
				require(mem_get(0, 1) == r && flags6() == want,
					"sbb byte [rbx], cl (18 0b): 0x%02x - 0x%02x - CF %u = 0x%02llx with %s, expected "
					"0x%02x with %s (SDM Vol. 1 3.4.3.1)", a, b, cin,
					(unsigned long long)mem_get(0, 1), flag_names(flags6()), r, flag_names(want));
			}
}
END_TEST

Suite *flags_suite(void)
{
	Suite *s = suite_create("flags");
	TCase *tc = tcase_create("alu");
	tcase_add_loop_test(tc, flags_cases, 0, (int)ARRAY_SIZE(cases));
	tcase_add_test(tc, flags_adc_sbb_memory_exhaustive_bytes);
	suite_add_tcase(s, tc);
	return s;
}
