/* SPDX-License-Identifier: MIT */
/*
 * The string instructions (MOVS STOS LODS CMPS SCAS, INS OUTS) with and
 * without REP, PUSH/POP and CMPXCHG8B. A string instruction does one
 * element per x86_emulate_insn call: rSI/rDI step by the element's size,
 * down when EFLAGS.DF is set; with REP, rCX counts down and, while elements
 * are left, ctxt->restart is set with RIP still on the instruction (x86.c
 * runs it again, 1024 at most per exit, as Linux does); REPE/REPNE on CMPS
 * and SCAS also stop on ZF (SDM Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ", "MOVS",
 * "CMPS", "SCAS", "INS", "OUTS", "PUSH", "POP", "CMPXCHG8B").
 */
#include <stdio.h>
#include <string.h>

#include "lab07_tests.h"

#define SRC 0x000u     /* offsets in the fake's memory */
#define DST 0x800u

static void string_setup(uint64_t rcx, bool df)
{
	fake_reset();
	F.regs[RSI] = MEM_BASE + SRC;
	F.regs[RDI] = MEM_BASE + DST;
	F.regs[RCX] = rcx;
	for (unsigned int i = 0; i < 64; i++)
		F.mem[SRC + i] = (uint8_t)(0x10 + i);
	(void)df;
}

/* Decode once, then run until the instruction is done (restart clear) or
 * max runs; each run must do one element and leave RIP on the instruction
 * until the last. Returns the number of runs. */
static unsigned int run_string(const char *text, const char *hex, uint64_t flags, unsigned int max)
{
	unsigned int runs = 0;
	int rc = emu_decode(M64, hex);
	require(rc == EMULATION_OK, "%s (%s): x86_decode_insn gave %s", text, hex, emu_result(rc));
	F.ctxt.eflags = X86_EFLAGS_FIXED | flags;
	for (;;) {
		rc = x86_emulate_insn(&F.ctxt);
		runs++;
		require(rc == EMULATION_OK, "%s (%s), run %u: x86_emulate_insn gave %s", text, hex, runs, emu_result(rc));
		if (!F.ctxt.restart)
			break;
		require(F.ctxt.eip == CODE_BASE, "%s (%s), run %u: ctxt->restart is set but RIP is 0x%llx; while "
			"elements are left RIP stays on the instruction (an interrupt may come between two)", text, hex,
			runs, (unsigned long long)F.ctxt.eip);
		require(runs < max, "%s (%s): still restarting after %u runs, RCX 0x%llx: REP stops at rCX = 0 (and "
			"REPE/REPNE on ZF)", text, hex, runs, (unsigned long long)F.regs[RCX]);
	}
	require(F.ctxt.eip == CODE_BASE + F.code_len, "%s (%s): done after %u runs with RIP 0x%llx, expected 0x%llx "
		"(the next instruction)", text, hex, runs, (unsigned long long)F.ctxt.eip,
		(unsigned long long)(CODE_BASE + F.code_len));
	return runs;
}

START_TEST(string_rep_movs_one_element_per_run)
{
	string_setup(3, false);
	int rc = emu_decode(M64, "f3 a4");
	require(rc == EMULATION_OK, "rep movsb (f3 a4): x86_decode_insn gave %s", emu_result(rc));
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.ctxt.restart && F.ctxt.eip == CODE_BASE,
		"rep movsb with RCX 3, first run: %s, restart %d, RIP 0x%llx; expected one element done, restart set "
		"and RIP on the instruction", emu_result(rc), F.ctxt.restart, (unsigned long long)F.ctxt.eip);
	require(F.reads == 1 && F.writes == 1 && F.ev[0].addr == MEM_BASE + SRC && F.ev[1].addr == MEM_BASE + DST,
		"rep movsb, first run: %u reads and %u writes, expected one byte read at [RSI] then one written at [RDI]",
		F.reads, F.writes);
	require(F.regs[RSI] == MEM_BASE + SRC + 1 && F.regs[RDI] == MEM_BASE + DST + 1 && F.regs[RCX] == 2,
		"rep movsb, first run: RSI +%lld, RDI +%lld, RCX %llu; expected +1, +1, 2",
		(long long)(F.regs[RSI] - MEM_BASE - SRC), (long long)(F.regs[RDI] - MEM_BASE - DST),
		(unsigned long long)F.regs[RCX]);
	string_setup(3, false);
	unsigned int runs = run_string("rep movsb, RCX 3", "f3 a4", 0, 10);
	require(runs == 3 && F.regs[RCX] == 0 && !memcmp(F.mem + DST, F.mem + SRC, 3) && F.mem[DST + 3] == 0,
		"rep movsb, RCX 3: %u runs, RCX %llu, 3 bytes copied: %d; expected 3 runs of one element each",
		runs, (unsigned long long)F.regs[RCX], !memcmp(F.mem + DST, F.mem + SRC, 3));
}
END_TEST

START_TEST(string_sizes_and_direction)
{
	static const struct {
		const char *hex, *text;
		unsigned int size;
		bool rsi, rdi;
	} cases[] = {
		{ "a4", "movsb", 1, true, true },       { "66 a5", "movsw", 2, true, true },
		{ "a5", "movsd", 4, true, true },       { "48 a5", "movsq", 8, true, true },
		{ "aa", "stosb", 1, false, true },      { "48 ab", "stosq", 8, false, true },
		{ "ac", "lodsb", 1, true, false },      { "66 ad", "lodsw", 2, true, false },
		{ "a6", "cmpsb", 1, true, true },       { "a7", "cmpsd", 4, true, true },
		{ "ae", "scasb", 1, false, true },      { "48 af", "scasq", 8, false, true },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++)
		for (int df = 0; df < 2; df++) {
			string_setup(5, df);
			F.regs[RSI] += 0x40;
			F.regs[RDI] += 0x40;
			run_string(cases[i].text, cases[i].hex, df ? X86_EFLAGS_DF : 0, 2);
			int64_t step = df ? -(int64_t)cases[i].size : (int64_t)cases[i].size;
			int64_t dsi = (int64_t)(F.regs[RSI] - (MEM_BASE + SRC + 0x40));
			int64_t ddi = (int64_t)(F.regs[RDI] - (MEM_BASE + DST + 0x40));
			require(dsi == (cases[i].rsi ? step : 0) && ddi == (cases[i].rdi ? step : 0) && F.regs[RCX] == 5,
				"%s (%s) with DF %d: RSI moved %lld, RDI %lld, RCX %llu; expected %lld, %lld and RCX "
				"untouched (no REP): each register the instruction uses steps by the element size, down "
				"when DF is set", cases[i].text, cases[i].hex, df, (long long)dsi, (long long)ddi,
				(unsigned long long)F.regs[RCX], (long long)(cases[i].rsi ? step : 0),
				(long long)(cases[i].rdi ? step : 0));
			for (unsigned int e = 0; e < F.nev; e++)
				require(F.ev[e].kind == EV_GPR || F.ev[e].bytes == cases[i].size,
					"%s (%s): a memory access of %u bytes, expected %u", cases[i].text, cases[i].hex,
					F.ev[e].bytes, cases[i].size);
		}
}
END_TEST

START_TEST(string_stos_lods)
{
	string_setup(2, false);
	F.regs[RAX] = 0x1122334455667788ull;
	run_string("rep stosq, RCX 2", "f3 48 ab", 0, 4);
	require(mem_get(DST, 8) == 0x1122334455667788ull && mem_get(DST + 8, 8) == 0x1122334455667788ull &&
		mem_get(DST + 16, 8) == 0 && F.reads == 0,
		"rep stosq, RCX 2: memory 0x%llx 0x%llx 0x%llx, %u reads; expected RAX twice, then nothing, and no read "
		"(STOS only writes)", (unsigned long long)mem_get(DST, 8), (unsigned long long)mem_get(DST + 8, 8),
		(unsigned long long)mem_get(DST + 16, 8), F.reads);
	string_setup(0, false);
	F.regs[RAX] = ~0ull;
	run_string("lodsb", "ac", 0, 2);
	require(F.regs[RAX] == 0xffffffffffffff10ull && F.writes == 0, "lodsb of 0x10 with RAX -1: RAX 0x%llx, %u "
		"writes; expected AL loaded, bits 63:8 kept, no write", (unsigned long long)F.regs[RAX], F.writes);
}
END_TEST

START_TEST(string_repe_repne_stop_on_zf)
{
	string_setup(5, false);
	memcpy(F.mem + DST, F.mem + SRC, 8);
	F.mem[DST + 2] ^= 0xff;
	unsigned int runs = run_string("repe cmpsb, RCX 5, bytes differ at index 2", "f3 a6", X86_EFLAGS_ZF, 10);
	require(runs == 3 && F.regs[RCX] == 2 && !(F.ctxt.eflags & X86_EFLAGS_ZF) &&
		F.regs[RSI] == MEM_BASE + SRC + 3 && F.regs[RDI] == MEM_BASE + DST + 3,
		"repe cmpsb, RCX 5, bytes differ at index 2: %u runs, RCX %llu, ZF %d, RSI +%llu; expected 3 elements "
		"(stop after the first difference), RCX 2, ZF 0, RSI and RDI +3", runs, (unsigned long long)F.regs[RCX],
		!!(F.ctxt.eflags & X86_EFLAGS_ZF), (unsigned long long)(F.regs[RSI] - MEM_BASE - SRC));
	/* The order of the subtraction: [rSI] - [rDI] (1 - 2 borrows). */
	string_setup(0, false);
	F.mem[SRC] = 1;
	F.mem[DST] = 2;
	run_string("cmpsb, [RSI] 1, [RDI] 2", "a6", 0, 2);
	require((F.ctxt.eflags & FLAGS6) == (X86_EFLAGS_CF | X86_EFLAGS_SF | X86_EFLAGS_AF | X86_EFLAGS_PF),
		"cmpsb with [RSI] 1 and [RDI] 2: flags %s, expected CF SF AF PF: those of [rSI] - [rDI] = 0xff (SDM Vol. 2 "
		"\"CMPS\": the first operand is DS:rSI)", flag_names(flags6()));

	string_setup(10, false);
	F.regs[RAX] = 0x13;   /* the byte at SRC + 3 */
	F.regs[RDI] = MEM_BASE + SRC;
	runs = run_string("repne scasb, AL 0x13 at index 3, RCX 10", "f2 ae", 0, 20);
	require(runs == 4 && F.regs[RCX] == 6 && (F.ctxt.eflags & X86_EFLAGS_ZF) && F.regs[RDI] == MEM_BASE + SRC + 4,
		"repne scasb, AL at index 3, RCX 10: %u runs, RCX %llu, ZF %d, RDI +%llu; expected 4 elements (stop on "
		"the match), RCX 6, ZF 1, RDI +4", runs, (unsigned long long)F.regs[RCX],
		!!(F.ctxt.eflags & X86_EFLAGS_ZF), (unsigned long long)(F.regs[RDI] - MEM_BASE - SRC));

	string_setup(4, false);
	memcpy(F.mem + DST, F.mem + SRC, 8);
	runs = run_string("repe cmpsb, RCX 4, equal bytes", "f3 a6", 0, 10);
	require(runs == 4 && F.regs[RCX] == 0 && (F.ctxt.eflags & X86_EFLAGS_ZF), "repe cmpsb over 4 equal bytes: "
		"%u runs, RCX %llu, ZF %d; expected 4, 0, 1 (stops at RCX 0)", runs, (unsigned long long)F.regs[RCX],
		!!(F.ctxt.eflags & X86_EFLAGS_ZF));
	string_setup(3, false);
	runs = run_string("rep movsb: F2 on MOVS is REP, ZF does not stop it", "f2 a4", X86_EFLAGS_ZF, 10);
	require(runs == 3 && F.regs[RCX] == 0, "repne movsb (f2 a4), RCX 3, ZF set: %u runs, RCX %llu; ZF stops only "
		"CMPS and SCAS", runs, (unsigned long long)F.regs[RCX]);
}
END_TEST

START_TEST(string_rep_rcx_zero_and_address_size)
{
	string_setup(0, false);
	unsigned int runs = run_string("rep movsb, RCX 0", "f3 a4", 0, 2);
	require(runs == 1 && F.nev == 0, "rep movsb with RCX 0: %u runs, %u accesses; expected no element at all",
		runs, F.nev);

	string_setup(0xffffffff00000001ull, false);
	F.regs[RSI] = 0xabcd000000000000ull | (MEM_BASE + SRC);
	F.regs[RDI] = 0xabcd000000000000ull | (MEM_BASE + DST);
	runs = run_string("rep movsb with 67 (32-bit addresses: ESI, EDI, ECX)", "67 f3 a4", 0, 4);
	require(runs == 1 && F.regs[RCX] == 0 && F.regs[RSI] == MEM_BASE + SRC + 1 && F.regs[RDI] == MEM_BASE + DST + 1,
		"67 f3 a4 with RCX 0xffffffff00000001: %u runs, RCX 0x%llx, RSI 0x%llx; expected one element (ECX 1), "
		"and ECX, ESI, EDI written as 32-bit registers (zero-extended)", runs, (unsigned long long)F.regs[RCX],
		(unsigned long long)F.regs[RSI]);
}
END_TEST

START_TEST(string_mmio_read_runs_again)
{
	string_setup(0, false);
	int rc = emu_decode(M64, "a5");
	require(rc == EMULATION_OK, "movsd: %s", emu_result(rc));
	F.io_needed = 1;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_IO_NEEDED && F.regs[RSI] == MEM_BASE + SRC && F.writes == 0 && F.ctxt.eip == CODE_BASE,
		"movsd whose read of [RSI] leaves for the VMM: %s, RSI +%llu, %u writes; expected EMULATION_IO_NEEDED "
		"and nothing done", emu_result(rc), (unsigned long long)(F.regs[RSI] - MEM_BASE - SRC), F.writes);
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.regs[RSI] == MEM_BASE + SRC + 4 && F.regs[RDI] == MEM_BASE + DST + 4 &&
		mem_get(DST, 4) == mem_get(SRC, 4), "movsd run again once the data is back: %s, RSI +%llu, RDI +%llu; "
		"expected one element: +4 and +4, the dword copied", emu_result(rc),
		(unsigned long long)(F.regs[RSI] - MEM_BASE - SRC), (unsigned long long)(F.regs[RDI] - MEM_BASE - DST));
}
END_TEST

START_TEST(string_ins_outs)
{
	string_setup(0, false);
	F.regs[RDX] = 0x3f8;
	F.ports[0x3f8] = 0x5a;
	run_string("insb", "6c", 0, 2);
	int e = event_find(EV_PIO_IN, 0x3f8);
	require(e >= 0 && F.ev[e].bytes == 1 && F.mem[DST] == 0x5a && F.regs[RDI] == MEM_BASE + DST + 1,
		"insb with DX 0x3f8: port access %d, byte at [RDI] 0x%x, RDI +%llu; expected a 1-byte IN from port "
		"DX stored at [RDI], RDI +1", e, F.mem[DST], (unsigned long long)(F.regs[RDI] - MEM_BASE - DST));
	string_setup(2, false);
	F.regs[RDX] = 0x1234;
	unsigned int runs = run_string("rep outsd, RCX 2", "f3 6f", 0, 4);
	unsigned int outs = 0;
	for (unsigned int i = 0; i < F.nev; i++)
		if (F.ev[i].kind == EV_PIO_OUT) {
			require(F.ev[i].addr == 0x1234 && F.ev[i].bytes == 4 &&
				(uint32_t)F.ev[i].val == (uint32_t)mem_get(SRC + 4 * outs, 4),
				"rep outsd: OUT %u to port 0x%llx of %u bytes, value 0x%llx; expected port DX 0x1234, 4 "
				"bytes, the dword at [RSI]", outs, (unsigned long long)F.ev[i].addr, F.ev[i].bytes,
				(unsigned long long)F.ev[i].val);
			outs++;
		}
	require(runs == 2 && outs == 2 && F.regs[RSI] == MEM_BASE + SRC + 8 && F.regs[RCX] == 0,
		"rep outsd, RCX 2: %u runs, %u OUTs, RSI +%llu, RCX %llu; expected 2, 2, +8, 0", runs, outs,
		(unsigned long long)(F.regs[RSI] - MEM_BASE - SRC), (unsigned long long)F.regs[RCX]);
}
END_TEST

START_TEST(stack_push_pop)
{
	fake_reset();
	F.regs[RSP] = MEM_BASE + 0x100;
	F.regs[RAX] = 0x1122334455667788ull;
	emu_exec("push rax", "50", 0, 0);
	require(F.regs[RSP] == MEM_BASE + 0xf8 && mem_get(0xf8, 8) == 0x1122334455667788ull,
		"push rax (50), RSP MEM_BASE+0x100: RSP +%lld, [MEM_BASE+0xf8] 0x%llx; expected RSP -8 and RAX stored "
		"there (64-bit mode pushes 8 bytes)", (long long)(F.regs[RSP] - MEM_BASE - 0x100),
		(unsigned long long)mem_get(0xf8, 8));
	emu_exec("push ax", "66 50", 0, 0);
	require(F.regs[RSP] == MEM_BASE + 0xf6 && mem_get(0xf6, 2) == 0x7788, "push ax (66 50): RSP +%lld, expected "
		"-2 more and AX stored", (long long)(F.regs[RSP] - MEM_BASE - 0x100));
	emu_exec("pop cx", "66 59", 0, 0);
	emu_exec("pop rdx", "5a", 0, 0);
	require(F.regs[RDX] == 0x1122334455667788ull && F.regs[RSP] == MEM_BASE + 0x100 &&
		(F.regs[RCX] & 0xffff) == 0x7788, "pop cx, pop rdx after the pushes: RDX 0x%llx, CX 0x%llx, RSP +%lld; "
		"expected the values back and RSP where it was", (unsigned long long)F.regs[RDX],
		(unsigned long long)(F.regs[RCX] & 0xffff), (long long)(F.regs[RSP] - MEM_BASE - 0x100));
	emu_exec("push -1 (6a ff: imm8 sign-extended)", "6a ff", 0, 0);
	require(mem_get(0xf8, 8) == ~0ull, "push -1 (6a ff): 0x%llx pushed, expected 8 bytes of 0xff",
		(unsigned long long)mem_get(0xf8, 8));
	emu_exec("pop qword [rbx]", "8f 03", 0x200, 0);
	require(mem_get(0x200, 8) == ~0ull && F.regs[RSP] == MEM_BASE + 0x100, "pop qword [rbx] (8f 03): 0x%llx at "
		"[rbx]", (unsigned long long)mem_get(0x200, 8));
	F.regs[RSP] = MEM_BASE + 0x100;
	emu_exec("push rsp (pushes its value before the push)", "54", 0, 0);
	require(mem_get(0xf8, 8) == MEM_BASE + 0x100, "push rsp (54): pushed 0x%llx, expected the old RSP 0x%llx (SDM "
		"Vol. 2 \"PUSH\")", (unsigned long long)mem_get(0xf8, 8), (unsigned long long)(MEM_BASE + 0x100));
	mem_set(0xf8, 0x4242, 8);
	emu_exec("pop qword [rsp] (the address uses the incremented RSP)", "8f 04 24", 0, 0);
	require(mem_get(0x100, 8) == 0x4242, "pop qword [rsp] (8f 04 24): [old RSP + 8] is 0x%llx, expected 0x4242: "
		"\"an RSP base is computed after the increment\" (SDM Vol. 2 \"POP\")", (unsigned long long)mem_get(0x100, 8));
	/* A push whose store faults leaves RSP alone. */
	F.regs[RSP] = MEM_BASE + 0x100;
	int rc = emu_decode(M64, "50");
	F.fault_writes = true;
	F.fault_lo = MEM_BASE + 0xf8;
	F.fault_hi = MEM_BASE + 0x100;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 14 && F.regs[RSP] == MEM_BASE + 0x100,
		"push rax whose store faults: %s, RSP +%lld; expected the #PF and RSP unchanged", emu_result(rc),
		(long long)(F.regs[RSP] - MEM_BASE - 0x100));
}
END_TEST

START_TEST(cmpxchg8b_both_outcomes)
{
	fake_reset();
	F.regs[RSI] = MEM_BASE;
	mem_set(0, 0x1111111122222222ull, 8);
	F.regs[RDX] = 0x11111111;
	F.regs[RAX] = 0x22222222;
	F.regs[RCX] = 0x33333333;
	F.regs[RBX] = 0x44444444;
	int rc = emu_run(M64, "f0 0f c7 0e");
	require(rc == EMULATION_OK && mem_get(0, 8) == 0x3333333344444444ull && (F.ctxt.eflags & X86_EFLAGS_ZF),
		"lock cmpxchg8b [rsi] (f0 0f c7 0e), EDX:EAX equal to m64: %s, m64 0x%llx, ZF %d; expected m64 = "
		"ECX:EBX 0x3333333344444444 and ZF 1 (SDM Vol. 2 \"CMPXCHG8B\")", emu_result(rc),
		(unsigned long long)mem_get(0, 8), !!(F.ctxt.eflags & X86_EFLAGS_ZF));
	F.regs[RAX] = 0xffffffff00000000ull;
	emu_decode(M64, "0f c7 0e");
	F.ctxt.eflags = X86_EFLAGS_FIXED | X86_EFLAGS_ZF | X86_EFLAGS_CF;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.regs[RAX] == 0x44444444 && F.regs[RDX] == 0x33333333 &&
		!(F.ctxt.eflags & X86_EFLAGS_ZF) && (F.ctxt.eflags & X86_EFLAGS_CF) && mem_get(0, 8) == 0x3333333344444444ull,
		"cmpxchg8b [rsi], EDX:EAX not equal: %s, RAX 0x%llx, RDX 0x%llx, flags %s; expected EDX:EAX = m64 "
		"(each zero-extended), ZF 0, the other flags as they were, m64 unchanged", emu_result(rc),
		(unsigned long long)F.regs[RAX], (unsigned long long)F.regs[RDX], flag_names(flags6()));
	require(F.writes == 1, "cmpxchg8b, not equal: %u writes, expected m64 written back once (as CMPXCHG)",
		F.writes);
}
END_TEST

Suite *string_suite(void)
{
	Suite *s = suite_create("string");
	TCase *tc = tcase_create("string");
	tcase_add_test(tc, string_rep_movs_one_element_per_run);
	tcase_add_test(tc, string_sizes_and_direction);
	tcase_add_test(tc, string_stos_lods);
	tcase_add_test(tc, string_repe_repne_stop_on_zf);
	tcase_add_test(tc, string_rep_rcx_zero_and_address_size);
	tcase_add_test(tc, string_mmio_read_runs_again);
	tcase_add_test(tc, string_ins_outs);
	suite_add_tcase(s, tc);
	tc = tcase_create("stack");
	tcase_add_test(tc, stack_push_pop);
	tcase_add_test(tc, cmpxchg8b_both_outcomes);
	suite_add_tcase(s, tc);
	return s;
}
