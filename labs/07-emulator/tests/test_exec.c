/* SPDX-License-Identifier: MIT */
/*
 * x86_emulate_insn: each handler through the fake's callbacks, and the
 * rules around them: memory is written before any register (so a fault or
 * an MMIO exit on the write leaves the registers, RIP and the flags as they
 * were), LOCK raises #UD unless the instruction allows it and its
 * destination is memory (SDM Vol. 2 "LOCK"), CMPXCHG's two outcomes, BT's
 * register offset that moves the memory operand (Vol. 2 "BT"), MOVZX/MOVSX,
 * moffs in each address size, segment bases, limits and canonical form
 * (Vol. 3 6.15), and the register writes of each size (Vol. 1 3.4.1.1).
 */
#include <stdio.h>
#include <string.h>

#include "lab07_tests.h"

static void fill_regs(void)
{
	for (unsigned int i = 0; i < 16; i++)
		F.regs[i] = 0x1111111111111111ull * (i + 1) ^ 0x0123456789abcdefull;
}

/* ---- failures ------------------------------------------------------------------- */

START_TEST(exec_no_mmio_callbacks)
{
	struct x86_emulate_ops ops;
	int rc;

	fake_reset();
	F.regs[RBX] = MEM_BASE;
	emu_decode(M64, "89 03");
	ops = *F.ctxt.ops;
	ops.read_emulated = NULL;
	ops.write_emulated = NULL;
	F.ctxt.ops = &ops;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_FAILED && !F.ctxt.have_exception && F.ctxt.failure && F.ctxt.eip == CODE_BASE,
		"mov [rbx], eax (89 03) with no write_emulated callback: %s, RIP 0x%llx; expected EMULATION_FAILED "
		"with a reason, no exception, RIP unchanged", emu_result(rc), (unsigned long long)F.ctxt.eip);
	F.regs[RAX] = 1;
	F.regs[RBX] = 2;
	emu_decode(M64, "01 d8");
	F.ctxt.ops = &ops;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.regs[RAX] == 3, "add eax, ebx (01 d8) needs no memory callback: %s, EAX %llu",
		emu_result(rc), (unsigned long long)F.regs[RAX]);
}
END_TEST

/* A #PF from the memory callback: the instruction has not happened. */
START_TEST(exec_fault_changes_nothing)
{
	static const struct {
		const char *hex, *text;
		bool on_write;
		uint16_t error_code;   /* a read-modify-write's read faults as a write (W set) */
	} cases[] = {
		{ "87 0b", "xchg [rbx], ecx (the write faults)", true, 2 },
		{ "01 0b", "add [rbx], ecx (the write faults)", true, 2 },
		{ "48 ff 03", "inc qword [rbx] (the write faults)", true, 2 },
		{ "0f b1 0b", "cmpxchg [rbx], ecx, not equal (the write of the old value faults)", true, 2 },
		{ "0f b1 0b", "cmpxchg [rbx], ecx (the read faults)", false, 2 },
		{ "01 0b", "add [rbx], ecx (the read faults)", false, 2 },
		{ "03 0b", "add ecx, [rbx] (the read faults)", false, 0 },
		{ "39 0b", "cmp [rbx], ecx (the read faults: no write)", false, 0 },
		{ "48 8b 0b", "mov rcx, [rbx] (the read faults)", false, 0 },
		{ "0f be 0b", "movsx ecx, byte [rbx] (the read faults)", false, 0 },
		{ "0f ab 0b", "bts [rbx], ecx (the write faults)", true, 2 },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t before[16];
		fake_reset();
		fill_regs();
		F.regs[RBX] = MEM_BASE + 0x100;
		F.regs[RCX] = 3;
		mem_set(0x100, 0x55, 8);
		memcpy(before, F.regs, sizeof(before));
		int rc = emu_decode(M64, cases[i].hex);
		require(rc == EMULATION_OK, "%s (%s): x86_decode_insn gave %s", cases[i].text, cases[i].hex,
			emu_result(rc));
		F.fault_lo = MEM_BASE + 0x100;
		F.fault_hi = MEM_BASE + 0x108;
		F.fault_writes = cases[i].on_write;
		F.fault_reads = !cases[i].on_write;
		F.ctxt.eflags = X86_EFLAGS_FIXED | X86_EFLAGS_CF | X86_EFLAGS_ZF;
		rc = x86_emulate_insn(&F.ctxt);
		const struct x86_exception *x = &F.ctxt.exception;
		require(rc == EMULATION_FAILED && F.ctxt.have_exception && x->vector == 14 &&
			x->address == MEM_BASE + 0x100 && x->error_code == cases[i].error_code,
			"%s (%s): %s, address 0x%llx, error code 0x%x; expected EMULATION_FAILED with the callback's #PF "
			"(vector 14, error code 0x%x, CR2 0x%llx) in ctxt->exception (the read of a read-modify-write "
			"faults with W set, as the processor reports it)", cases[i].text, cases[i].hex, emu_result(rc),
			(unsigned long long)x->address, x->error_code, cases[i].error_code,
			(unsigned long long)(MEM_BASE + 0x100));
		require(!memcmp(before, F.regs, sizeof(before)) && F.gpr_writes == 0,
			"%s (%s): a register changed (%u write_gpr calls) though the instruction faulted: write memory "
			"first, registers last, so a fault leaves them as they were", cases[i].text, cases[i].hex,
			F.gpr_writes);
		require(F.ctxt.eip == CODE_BASE, "%s (%s): RIP moved to 0x%llx though the instruction faulted: the fault "
			"is delivered with RIP on the instruction (SDM Vol. 3 6.5: a fault is restartable)",
			cases[i].text, cases[i].hex, (unsigned long long)F.ctxt.eip);
		require(F.ctxt.eflags == (X86_EFLAGS_FIXED | X86_EFLAGS_CF | X86_EFLAGS_ZF),
			"%s (%s): EFLAGS changed to %s though the instruction faulted", cases[i].text, cases[i].hex,
			flag_names(F.ctxt.eflags));
		require(mem_get(0x100, 8) == 0x55, "%s (%s): memory changed", cases[i].text, cases[i].hex);
	}
}
END_TEST

/* The write to memory comes before every register write (Linux: writeback()
 * before the register cache is written back), so an MMIO write that exits
 * to the VMM carries the instruction's whole effect with it. */
START_TEST(exec_memory_before_registers)
{
	static const struct {
		const char *hex, *text;
		unsigned int reg;
	} cases[] = {
		{ "87 0b", "xchg [rbx], ecx", RCX },
		{ "0f b1 0b", "cmpxchg [rbx], ecx, not equal (EAX gets the old value)", RAX },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		fake_reset();
		F.regs[RAX] = 1;
		F.regs[RCX] = 2;
		F.regs[RDX] = 3;
		mem_set(0, 0x77, 8);
		F.regs[RBX] = MEM_BASE;
		emu_decode(M64, cases[i].hex);
		int rc = x86_emulate_insn(&F.ctxt);
		require(rc == EMULATION_OK, "%s (%s): %s", cases[i].text, cases[i].hex, emu_result(rc));
		int w = event_find(EV_WRITE, MEM_BASE), g = event_find(EV_GPR, cases[i].reg);
		require(w >= 0 && g >= 0 && w < g, "%s (%s): the memory write is event %d and the register %u write event "
			"%d; memory must be written first (a fault or exit there must leave registers unchanged)",
			cases[i].text, cases[i].hex, w, cases[i].reg, g);
	}
}
END_TEST

START_TEST(exec_io_needed)
{
	fake_reset();
	F.regs[RBX] = MEM_BASE;
	F.regs[RAX] = 7;
	emu_decode(M64, "03 03");   /* add eax, [rbx] */
	F.io_needed = 1;
	uint64_t fl = F.ctxt.eflags;
	int rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_IO_NEEDED, "add eax, [rbx] (03 03) whose read goes to the VMM (read_emulated "
		"returns X86EMUL_IO_NEEDED): %s, expected EMULATION_IO_NEEDED", emu_result(rc));
	require(F.regs[RAX] == 7 && F.gpr_writes == 0 && F.ctxt.eflags == fl && F.ctxt.eip == CODE_BASE,
		"add eax, [rbx] waiting for its MMIO read: EAX %llu, %u register writes, flags %s, RIP 0x%llx; nothing "
		"may change until the data is back and the instruction runs again", (unsigned long long)F.regs[RAX],
		F.gpr_writes, flag_names(F.ctxt.eflags), (unsigned long long)F.ctxt.eip);
}
END_TEST

START_TEST(exec_lock_rules)
{
	static const struct {
		const char *hex, *text;
		bool ud;
	} cases[] = {
		{ "f0 01 c8", "lock add eax, ecx (register destination)", true },
		{ "f0 03 03", "lock add eax, [rbx] (register destination)", true },
		{ "f0 89 03", "lock mov [rbx], eax (MOV is not lockable)", true },
		{ "f0 8b 03", "lock mov eax, [rbx]", true },
		{ "f0 c6 03 01", "lock mov byte [rbx], 1", true },
		{ "f0 39 03", "lock cmp [rbx], eax (CMP is not lockable)", true },
		{ "f0 80 3b 01", "lock cmp byte [rbx], 1", true },
		{ "f0 85 03", "lock test [rbx], eax", true },
		{ "f0 0f a3 03", "lock bt [rbx], eax (BT is not lockable; BTS is)", true },
		{ "f0 0f ba 23 01", "lock bt dword [rbx], 1", true },
		{ "f0 0f b6 03", "lock movzx eax, byte [rbx]", true },
		{ "f0 01 03", "lock add [rbx], eax", false },
		{ "f0 80 0b 01", "lock or byte [rbx], 1", false },
		{ "f0 87 03", "lock xchg [rbx], eax", false },
		{ "f0 0f b1 03", "lock cmpxchg [rbx], eax", false },
		{ "f0 0f ab 03", "lock bts [rbx], eax", false },
		{ "f0 0f ba 2b 01", "lock bts dword [rbx], 1", false },
		{ "f0 f7 1b", "lock neg dword [rbx]", false },
		{ "f0 ff 03", "lock inc dword [rbx]", false },
		{ "f0 66 f7 13", "lock not word [rbx]", false },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		fake_reset();
		F.regs[RBX] = MEM_BASE;
		int rc = emu_run(M64, cases[i].hex);
		if (cases[i].ud) {
			require(rc == EMULATION_FAILED && F.ctxt.have_exception && F.ctxt.exception.vector == 6 &&
				!F.ctxt.exception.error_code_valid,
				"%s (%s): %s, expected #UD (vector 6, no error code): LOCK is allowed only with ADD ADC AND "
				"BTC BTR BTS CMPXCHG DEC INC NEG NOT OR SBB SUB XOR XADD XCHG and a memory destination "
				"(SDM Vol. 2 \"LOCK\")", cases[i].text, cases[i].hex, emu_result(rc));
			require(F.nev == 0 && F.ctxt.eip == CODE_BASE, "%s (%s): %u memory accesses or register writes "
				"and RIP 0x%llx before the #UD: it comes before any access", cases[i].text, cases[i].hex,
				F.nev, (unsigned long long)F.ctxt.eip);
		} else {
			require(rc == EMULATION_OK, "%s (%s): %s, expected EMULATION_OK (a lockable instruction with a "
				"memory destination, SDM Vol. 2 \"LOCK\")", cases[i].text, cases[i].hex, emu_result(rc));
		}
	}
}
END_TEST

START_TEST(exec_canonical_and_limits)
{
	int rc;

	fake_reset();
	F.regs[RBX] = 0x0000800000000000ull;
	rc = emu_run(M64, "89 03");
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 13 && F.nev == 0,
		"mov [rbx], eax (89 03) with RBX 0x0000800000000000 (not canonical): %s, expected #GP(0) before any "
		"access (SDM Vol. 3 6.15 \"Interrupt 13\")", emu_result(rc));
	F.regs[RBX] = 0x00007ffffffffffeull;
	rc = emu_run(M64, "89 03");
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 13,
		"mov [rbx], eax with RBX 0x00007ffffffffffe: its last byte is not canonical: %s, expected #GP(0)",
		emu_result(rc));
	F.regs[RBP] = 0x0000800000000000ull;
	rc = emu_run(M64, "89 45 00");
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 12 && F.ctxt.exception.error_code == 0,
		"mov [rbp+0], eax (89 45 00) with RBP not canonical: %s, expected #SS(0): the segment is SS "
		"(SDM Vol. 3 6.15 \"Interrupt 12\")", emu_result(rc));
	F.regs[R13] = 0x0000800000000000ull;
	rc = emu_run(M64, "41 89 45 00");
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 13,
		"mov [r13+0], eax (41 89 45 00) with R13 not canonical: %s, expected #GP(0): R13 is not RBP, its "
		"segment is DS (Vol. 1 Table 3-5)", emu_result(rc));
	/* 32-bit: limits */
	F.regs[RBX] = 0x100;
	emu_decode(M32, "89 03");
	F.seg[X86_SREG_DS].base = MEM_BASE;
	F.seg[X86_SREG_DS].limit = 0x102;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 13 && F.writes == 0,
		"mov [ebx], eax (89 03, 32-bit) with EBX 0x100 and DS.limit 0x102: bytes 0x100-0x103 pass the limit: "
		"%s, expected #GP(0) and no write (SDM Vol. 3 6.15)", emu_result(rc));
	F.seg[X86_SREG_DS].limit = 0x103;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.writes == 1, "mov [ebx], eax with EBX 0x100 and DS.limit 0x103 (the last byte "
		"is at the limit: allowed): %s", emu_result(rc));
	F.regs[RBP] = 0x100;
	emu_decode(M32, "89 45 00");
	F.seg[X86_SREG_SS].base = MEM_BASE;
	F.seg[X86_SREG_SS].limit = 0xff;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_FAILED && F.ctxt.exception.vector == 12, "mov [ebp+0], eax (32-bit) past SS.limit: "
		"%s, expected #SS(0)", emu_result(rc));
}
END_TEST

START_TEST(exec_segment_bases)
{
	int rc;

	fake_reset();
	F.regs[RBX] = 0x108;
	F.regs[RAX] = 0x5a;
	emu_decode(MREAL, "88 07");   /* mov [bx], al */
	F.seg[X86_SREG_DS].base = MEM_BASE - 0x100;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.mem[8] == 0x5a, "mov [bx], al (88 07) in real mode, DS.base 0x%llx, BX 0x108: "
		"%s, byte at MEM_BASE+8 is 0x%x; the linear address is DS.base + BX", (unsigned long long)(MEM_BASE - 0x100),
		emu_result(rc), F.mem[8]);
	require(F.ctxt.eip == 0x1002, "mov [bx], al at IP 0x1000 in real mode: IP 0x%llx after, expected 0x1002",
		(unsigned long long)F.ctxt.eip);
	F.regs[RBX] = MEM_BASE + 16;
	F.regs[RAX] = 0xa5;
	emu_decode(M64, "88 03");
	F.seg[X86_SREG_DS].base = 0x1000;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.mem[16] == 0xa5, "mov [rbx], al in 64-bit mode with DS.base 0x1000: %s; DS's "
		"base is 0 in 64-bit mode, only FS and GS have one (SDM Vol. 1 3.4.2.1)", emu_result(rc));
	F.regs[RBX] = 24;
	F.regs[RAX] = 0x3c;
	emu_decode(M64, "64 88 03");
	F.seg[X86_SREG_FS].base = MEM_BASE;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.mem[24] == 0x3c, "mov fs:[rbx], al (64 88 03), FS.base MEM_BASE, RBX 24: %s; "
		"FS's base applies in 64-bit mode", emu_result(rc));
	/* 16-bit code at IP 0xfffe: the next IP wraps to 0. */
	uint8_t b[2] = { 0x88, 0x07 };
	F.regs[RBX] = 0;
	fake_setup_at(M16, 0xfffe, b, 2);
	F.seg[X86_SREG_DS].base = MEM_BASE;
	rc = x86_decode_insn(&F.ctxt, 0);
	if (rc == EMULATION_OK)
		rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK && F.ctxt.eip == 0, "mov [bx], al at IP 0xfffe in 16-bit code: %s, IP 0x%llx after, "
		"expected 0 (IP wraps at 64 KiB)", emu_result(rc), (unsigned long long)F.ctxt.eip);
}
END_TEST

/* ---- the handlers ------------------------------------------------------------------ */

START_TEST(exec_mov)
{
	fake_reset();
	F.regs[RAX] = 0x1122334455667788ull;
	mem_set(0, ~0ull, 8);
	emu_exec("mov [rbx], eax", "89 03", 0, 0);
	require(mem_get(0, 8) == 0xffffffff55667788ull, "mov [rbx], eax (89 03): memory 0x%llx, expected "
		"0xffffffff55667788 (4 bytes written)", (unsigned long long)mem_get(0, 8));
	require(F.reads == 0 && F.writes == 1, "mov [rbx], eax: %u reads and %u writes of memory; MOV only writes "
		"its destination (a read of MMIO has side effects)", F.reads, F.writes);
	emu_exec("mov rcx, [rbx]", "48 8b 0b", 0, 0);
	require(F.regs[RCX] == 0xffffffff55667788ull, "mov rcx, [rbx] (48 8b 0b): RCX 0x%llx",
		(unsigned long long)F.regs[RCX]);
	emu_exec("mov qword [rbx], -2", "48 c7 03 fe ff ff ff", 0, 0);
	require(mem_get(0, 8) == 0xfffffffffffffffeull, "mov qword [rbx], -2 (48 c7 03 fe ff ff ff): 0x%llx, expected "
		"the imm32 sign-extended", (unsigned long long)mem_get(0, 8));
	F.regs[RAX] = 0x99;
	emu_exec("mov [rip+disp32], eax to MEM_BASE+0x20", "89 05 1a f0 c0 ff", 0, 0);
	require(mem_get(0x20, 4) == 0x99, "mov [rip-0x3f0fe6], eax (89 05 1a f0 c0 ff) at RIP 0x%llx: the write went "
		"to 0x%llx, expected 0x%llx (RIP-relative: from the end of the instruction)", (unsigned long long)CODE_BASE,
		F.nev ? (unsigned long long)F.ev[0].addr : 0ull, (unsigned long long)(MEM_BASE + 0x20));
	mem_set(0x30, 0x1234, 2);
	emu_exec("mov byte [rbx], 0xab", "c6 03 ab", 0x30, 0);
	require(mem_get(0x30, 2) == 0x12ab, "mov byte [rbx], 0xab (c6 03 ab): word 0x%llx, expected 0x12ab",
		(unsigned long long)mem_get(0x30, 2));
}
END_TEST

/* Register writes: 8 and 16 bits keep the rest, 32 bits zero-extend to 64
 * (SDM Vol. 1 3.4.1.1), AH..BH are bits 15:8. */
START_TEST(exec_register_write_sizes)
{
	static const struct {
		const char *hex, *text;
		unsigned int reg;
		uint64_t want;
	} cases[] = {
		{ "8a 0b", "mov cl, [rbx]", RCX, 0xffffffffffffff88ull },
		{ "8a 2b", "mov ch, [rbx]", RCX, 0xffffffffffff88ffull },
		{ "40 8a 33", "mov sil, [rbx]", RSI, 0xffffffffffffff88ull },
		{ "8a 33", "mov dh, [rbx] (rm 110 without REX: DH)", RDX, 0xffffffffffff88ffull },
		{ "66 8b 0b", "mov cx, [rbx]", RCX, 0xffffffffffff7788ull },
		{ "8b 0b", "mov ecx, [rbx]", RCX, 0x55667788ull },
		{ "48 8b 0b", "mov rcx, [rbx]", RCX, 0x1122334455667788ull },
		{ "4c 8b 03", "mov r8, [rbx]", R8, 0x1122334455667788ull },
		{ "44 8a 3b", "mov r15b, [rbx]", R15, 0xffffffffffffff88ull },
		{ "03 0b", "add ecx, [rbx] (ECX -1: the 32-bit sum zero-extends)", RCX, 0x55667787ull },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		fake_reset();
		for (unsigned int r = 0; r < 16; r++)
			if (r != RBX)
				F.regs[r] = ~0ull;
		mem_set(0, 0x1122334455667788ull, 8);
		emu_exec(cases[i].text, cases[i].hex, 0, 0);
		require(F.regs[cases[i].reg] == cases[i].want, "%s (%s) with every register -1: register %u is 0x%llx, "
			"expected 0x%llx (8- and 16-bit writes keep bits 63:8 / 63:16, a 32-bit write zero-extends, "
			"SDM Vol. 1 3.4.1.1)", cases[i].text, cases[i].hex, cases[i].reg,
			(unsigned long long)F.regs[cases[i].reg], (unsigned long long)cases[i].want);
		for (unsigned int r = 0; r < 16; r++)
			require(r == cases[i].reg || r == RBX || F.regs[r] == ~0ull, "%s (%s): register %u changed too",
				cases[i].text, cases[i].hex, r);
	}
}
END_TEST

START_TEST(exec_alu_memory)
{
	fake_reset();
	mem_set(0, 0x7f, 8);
	F.regs[RAX] = 1;
	emu_exec("add [rbx], al", "00 03", 0, 0);
	require(mem_get(0, 8) == 0x80, "add [rbx], al (00 03), 0x7f + 1: memory 0x%llx, expected 0x80 (one byte)",
		(unsigned long long)mem_get(0, 8));
	mem_set(8, 0x80000000, 8);
	emu_exec("sub dword [rbx], 1", "83 2b 01", 8, 0);
	require(mem_get(8, 8) == 0x7fffffff, "sub dword [rbx], 1 (83 2b 01): 0x%llx", (unsigned long long)mem_get(8, 8));
	emu_exec("cmp dword [rbx], 1", "83 3b 01", 8, 0);
	require(F.writes == 0 && mem_get(8, 8) == 0x7fffffff, "cmp dword [rbx], 1 (83 3b 01): %u writes; CMP only "
		"reads its destination", F.writes);
	emu_exec("test byte [rbx], 0x80", "f6 03 80", 8, 0);
	require(F.writes == 0, "test byte [rbx], 0x80 (f6 03 80): %u writes; TEST only reads", F.writes);
	mem_set(16, 0xf0f0, 2);
	F.regs[RDX] = 0x0ff0;
	emu_exec("and [rbx], dx", "66 21 13", 16, 0);
	require(mem_get(16, 8) == 0x00f0 && F.ev[F.nev - 1].bytes == 2, "and [rbx], dx (66 21 13): 0x%llx, last "
		"access %u bytes; expected 0xf0 written as 2 bytes", (unsigned long long)mem_get(16, 8),
		F.ev[F.nev - 1].bytes);
	emu_exec("or [rbx], dx", "66 09 13", 16, 0);
	emu_exec("xor [rbx], dx", "66 31 13", 16, 0);
	require(mem_get(16, 8) == 0, "or then xor [rbx], dx: 0x%llx, expected 0", (unsigned long long)mem_get(16, 8));
	mem_set(24, 0xff, 1);
	emu_exec("inc byte [rbx]", "fe 03", 24, 0);
	require(mem_get(24, 8) == 0, "inc byte [rbx] (fe 03) of 0xff: 0x%llx, expected 0 (a byte)",
		(unsigned long long)mem_get(24, 8));
	emu_exec("dec qword [rbx]", "48 ff 0b", 24, 0);
	require(mem_get(24, 8) == ~0ull, "dec qword [rbx] (48 ff 0b) of 0: 0x%llx", (unsigned long long)mem_get(24, 8));
	mem_set(32, 0x0f, 8);
	emu_exec("not byte [rbx]", "f6 13", 32, 0);
	require(mem_get(32, 8) == 0xf0, "not byte [rbx] (f6 13) of 0x0f: 0x%llx", (unsigned long long)mem_get(32, 8));
	emu_exec("neg dword [rbx]", "f7 1b", 32, 0);
	require(mem_get(32, 8) == 0xffffff10, "neg dword [rbx] (f7 1b) of 0xf0: 0x%llx",
		(unsigned long long)mem_get(32, 8));
	F.regs[RCX] = 0x5555;
	mem_set(40, 0xaaaa, 8);
	emu_exec("xchg [rbx], cx", "66 87 0b", 40, 0);
	require(mem_get(40, 8) == 0x5555 && (F.regs[RCX] & 0xffff) == 0xaaaa, "xchg [rbx], cx (66 87 0b): memory "
		"0x%llx, CX 0x%llx; expected 0x5555 and 0xaaaa", (unsigned long long)mem_get(40, 8),
		(unsigned long long)(F.regs[RCX] & 0xffff));
	F.regs[RCX] = 0x10;
	mem_set(48, 0x20, 8);
	emu_exec("adc rcx, [rbx] with CF", "48 13 0b", 48, X86_EFLAGS_CF);
	require(F.regs[RCX] == 0x31 && mem_get(48, 8) == 0x20, "adc rcx, [rbx] (48 13 0b), 0x10 + 0x20 + CF: RCX "
		"0x%llx, expected 0x31 and memory unchanged", (unsigned long long)F.regs[RCX]);
}
END_TEST

START_TEST(exec_cmpxchg)
{
	static const struct {
		const char *hex, *text;
		unsigned int bytes;
		uint64_t flags;       /* of the CMP when not equal */
	} forms[] = {
		{ "0f b0 0b", "cmpxchg [rbx], cl", 1, X86_EFLAGS_SF },
		{ "66 0f b1 0b", "cmpxchg [rbx], cx", 2, X86_EFLAGS_SF },
		{ "0f b1 0b", "cmpxchg [rbx], ecx", 4, X86_EFLAGS_OF },
		{ "48 0f b1 0b", "cmpxchg [rbx], rcx", 8, 0 },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(forms); i++) {
		unsigned int n = forms[i].bytes;
		uint64_t mask = n == 8 ? ~0ull : (1ull << (n * 8)) - 1;
		uint64_t rax0 = 0xa5a5a5a5a5a5a5a5ull;
		/* Equal: [rbx] = src, ZF set, the accumulator untouched. */
		fake_reset();
		F.regs[RAX] = rax0;
		F.regs[RCX] = 0x0102030405060708ull;
		mem_set(0, rax0 & mask, n);
		mem_set(8, 0xeeeeeeeeeeeeeeeeull, 8);
		emu_exec(forms[i].text, forms[i].hex, 0, 0);
		require(mem_get(0, n) == (F.regs[RCX] & mask) && (F.ctxt.eflags & X86_EFLAGS_ZF) && F.regs[RAX] == rax0,
			"%s (%s), accumulator equal to [rbx]: memory 0x%llx, ZF %d, RAX 0x%llx; expected memory = the "
			"source 0x%llx, ZF 1, RAX unchanged (SDM Vol. 2 \"CMPXCHG\")", forms[i].text, forms[i].hex,
			(unsigned long long)mem_get(0, n), !!(F.ctxt.eflags & X86_EFLAGS_ZF), (unsigned long long)F.regs[RAX],
			(unsigned long long)(F.regs[RCX] & mask));
		require(n == 8 || mem_get(n, 8 - n) == 0, "%s (%s): wrote past its %u bytes", forms[i].text, forms[i].hex,
			n);
		/* Not equal: the accumulator = [rbx], ZF clear, [rbx] written with its own value. */
		fake_reset();
		F.regs[RAX] = rax0;
		F.regs[RCX] = 0x0102030405060708ull;
		mem_set(0, 0x8877665544332211ull & mask, n);
		emu_exec(forms[i].text, forms[i].hex, 0, X86_EFLAGS_ZF);
		uint64_t want_rax = n == 4 ? (0x44332211ull) : (rax0 & ~mask) | (0x8877665544332211ull & mask);
		require(F.regs[RAX] == want_rax && !(F.ctxt.eflags & X86_EFLAGS_ZF) &&
			mem_get(0, n) == (0x8877665544332211ull & mask),
			"%s (%s), accumulator not equal: RAX 0x%llx, ZF %d, memory 0x%llx; expected RAX 0x%llx (the old "
			"value; a 32-bit accumulator zero-extends), ZF 0, memory unchanged", forms[i].text, forms[i].hex,
			(unsigned long long)F.regs[RAX], !!(F.ctxt.eflags & X86_EFLAGS_ZF), (unsigned long long)mem_get(0, n),
			(unsigned long long)want_rax);
		require(F.writes == 1, "%s, not equal: %u writes of memory, expected 1: \"the destination operand is "
			"written back if the comparison fails\" (SDM Vol. 2 \"CMPXCHG\": a locked read is always paired "
			"with a write)", forms[i].text, F.writes);
		require(flags6() == forms[i].flags,
			"%s (%s), not equal: flags %s, expected %s: those of CMP accumulator, [rbx] (0x%llx - 0x%llx at %u "
			"bytes)", forms[i].text, forms[i].hex, flag_names(flags6()), flag_names(forms[i].flags),
			(unsigned long long)(rax0 & mask), (unsigned long long)(0x8877665544332211ull & mask), n);
	}
	/* Register destination, not equal: EAX = ECX's old value, ECX not written. */
	fake_reset();
	F.regs[RAX] = 0xdeadbeef00000004ull;
	F.regs[RDX] = 0x1111111100000005ull;
	F.regs[RCX] = 9;
	emu_exec("cmpxchg edx, ecx", "0f b1 ca", 0, 0);
	require(F.regs[RAX] == 5 && F.regs[RDX] == 0x1111111100000005ull,
		"cmpxchg edx, ecx (0f b1 ca), EAX 4 vs EDX 5: RAX 0x%llx, RDX 0x%llx; expected RAX 5 (zero-extended) "
		"and RDX untouched, as the host CPU does", (unsigned long long)F.regs[RAX], (unsigned long long)F.regs[RDX]);
	F.regs[RAX] = 0xdeadbeef00000005ull;
	emu_exec("cmpxchg edx, ecx", "0f b1 ca", 0, 0);
	require(F.regs[RDX] == 9 && F.regs[RAX] == 0xdeadbeef00000005ull,
		"cmpxchg edx, ecx, EAX 5 = EDX 5: RDX 0x%llx, RAX 0x%llx; expected RDX 9 and RAX untouched",
		(unsigned long long)F.regs[RDX], (unsigned long long)F.regs[RAX]);
}
END_TEST

/* BT r/m, r with a memory operand: the register is a signed bit offset
 * from the operand's address, so it picks the operand-size word the bit is
 * in, below the address for a negative one (SDM Vol. 2 "BT": "Effective
 * Address + (OpSize/8 * (BitOffset DIV OpSize))"). With an immediate, the
 * offset is taken modulo the operand size. */
START_TEST(exec_bt_offset_moves_operand)
{
	static const struct {
		const char *hex, *text;
		uint64_t rcx;
		int64_t delta;        /* where the access goes, from RBX */
		unsigned int bit;     /* in the operand at delta */
		unsigned int bytes;
		int kind;             /* 0 BT, 1 BTS, 2 BTR, 3 BTC */
	} cases[] = {
		{ "0f a3 0b", "bt [rbx], ecx, ECX 100", 100, 12, 4, 4, 0 },
		{ "0f a3 0b", "bt [rbx], ecx, ECX -1", 0xffffffff, -4, 31, 4, 0 },
		{ "0f a3 0b", "bt [rbx], ecx, ECX -32", (uint32_t)-32, -4, 0, 4, 0 },
		{ "0f a3 0b", "bt [rbx], ecx, ECX -33", (uint32_t)-33, -8, 31, 4, 0 },
		{ "0f a3 0b", "bt [rbx], ecx, RCX 0xffffffff00000004 (ECX is the offset)", 0xffffffff00000004ull, 0, 4, 4,
		  0 },
		{ "66 0f a3 0b", "bt [rbx], cx, CX -1", 0xffff, -2, 15, 2, 0 },
		{ "66 0f a3 0b", "bt [rbx], cx, CX 0x7fff", 0x7fff, 4094, 15, 2, 0 },
		{ "48 0f a3 0b", "bt [rbx], rcx, RCX -65", (uint64_t)-65, -16, 63, 8, 0 },
		{ "48 0f a3 0b", "bt [rbx], rcx, RCX 200", 200, 24, 8, 8, 0 },
		{ "0f ab 0b", "bts [rbx], ecx, ECX -1", 0xffffffff, -4, 31, 4, 1 },
		{ "0f b3 0b", "btr [rbx], ecx, ECX -100", (uint32_t)-100, -16, 28, 4, 2 },
		{ "48 0f bb 0b", "btc [rbx], rcx, RCX 1000", 1000, 120, 40, 8, 3 },
		{ "0f ba 23 64", "bt dword [rbx], 100 (immediate: 100 mod 32 = 4, no move)", 0, 0, 4, 4, 0 },
		{ "0f ba 2b ff", "bts dword [rbx], 255 (immediate: bit 31, no move)", 0, 0, 31, 4, 1 },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		unsigned int off = (unsigned int)(0x1000 + cases[i].delta);
		uint64_t bit = 1ull << cases[i].bit;
		for (int set = 0; set < 2; set++) {
			fake_reset();
			memset(F.mem, 0x00, MEM_SIZE);
			F.regs[RCX] = cases[i].rcx;
			if (set)
				mem_set(off, bit, cases[i].bytes);
			emu_exec(cases[i].text, cases[i].hex, 0x1000, set ? 0 : X86_EFLAGS_CF);
			int r = event_find(EV_READ, ~0ull);
			require(r >= 0 && F.ev[r].addr == MEM_BASE + off && F.ev[r].bytes == cases[i].bytes,
				"%s (%s): read %u bytes at RBX%+lld, expected %u bytes at RBX%+lld (SDM Vol. 2 \"BT\": a "
				"register offset is signed and selects the word it falls in; an immediate does not move)",
				cases[i].text, cases[i].hex, r >= 0 ? F.ev[r].bytes : 0,
				r >= 0 ? (long long)(F.ev[r].addr - (MEM_BASE + 0x1000)) : 0LL, cases[i].bytes,
				(long long)cases[i].delta);
			require(!!(F.ctxt.eflags & X86_EFLAGS_CF) == set, "%s (%s): CF %d with bit %u of the word at RBX%+lld "
				"%s, expected CF = the bit", cases[i].text, cases[i].hex, !!(F.ctxt.eflags & X86_EFLAGS_CF),
				cases[i].bit, (long long)cases[i].delta, set ? "set" : "clear");
			uint64_t want = set ? bit : 0;
			if (cases[i].kind == 1)
				want = bit;
			else if (cases[i].kind == 2)
				want = 0;
			else if (cases[i].kind == 3)
				want = set ? 0 : bit;
			require(mem_get(off, cases[i].bytes) == want, "%s (%s), bit %s before: the word at RBX%+lld is 0x%llx, "
				"expected 0x%llx", cases[i].text, cases[i].hex, set ? "set" : "clear", (long long)cases[i].delta,
				(unsigned long long)mem_get(off, cases[i].bytes), (unsigned long long)want);
			require(cases[i].kind != 0 || F.writes == 0, "%s: BT wrote memory", cases[i].text);
		}
	}
}
END_TEST

START_TEST(exec_movzx_movsx)
{
	static const struct {
		const char *hex, *text;
		unsigned int reg;
		uint64_t want;
	} cases[] = {
		{ "0f b6 03", "movzx eax, byte [rbx]", RAX, 0x81 },
		{ "66 0f b6 03", "movzx ax, byte [rbx] (bits 63:16 kept)", RAX, 0x1234567890ab0081ull },
		{ "48 0f b6 03", "movzx rax, byte [rbx]", RAX, 0x81 },
		{ "0f b7 03", "movzx eax, word [rbx]", RAX, 0x8081 },
		{ "48 0f b7 03", "movzx rax, word [rbx]", RAX, 0x8081 },
		{ "0f be 03", "movsx eax, byte [rbx] (zero-extended past bit 31)", RAX, 0xffffff81ull },
		{ "48 0f be 03", "movsx rax, byte [rbx]", RAX, 0xffffffffffffff81ull },
		{ "66 0f be 03", "movsx ax, byte [rbx] (bits 63:16 kept)", RAX, 0x1234567890abff81ull },
		{ "0f bf 03", "movsx eax, word [rbx]", RAX, 0xffff8081ull },
		{ "48 0f bf 03", "movsx rax, word [rbx]", RAX, 0xffffffffffff8081ull },
		{ "44 0f b6 03", "movzx r8d, byte [rbx] (REX.R)", R8, 0x81 },
		{ "0f b6 c4", "movzx eax, ah", RAX, 0x81 },
		{ "40 0f b6 c4", "movzx eax, spl (REX: SPL, not AH)", RAX, 0x7f },
		{ "0f be c1", "movsx eax, cl", RAX, 0xffffff80ull },
		{ "48 0f bf c1", "movsx rax, cx", RAX, 0xffffffffffffff80ull },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		fake_reset();
		F.regs[RAX] = 0x1234567890ab81cdull;
		F.regs[RCX] = 0xff80;
		F.regs[RSP] = 0x7f;
		F.regs[R8] = ~0ull;
		mem_set(0, 0x55aa8081, 4);
		emu_exec(cases[i].text, cases[i].hex, 0, 0);
		require(F.regs[cases[i].reg] == cases[i].want, "%s (%s), byte [rbx] 0x81, word [rbx] 0x8081, AH 0x81, "
			"CX 0xff80: register %u is 0x%llx, expected 0x%llx (SDM Vol. 2 \"MOVZX\", \"MOVSX\"; a 32-bit "
			"destination zero-extends to 64 bits)", cases[i].text, cases[i].hex, cases[i].reg,
			(unsigned long long)F.regs[cases[i].reg], (unsigned long long)cases[i].want);
		int r = event_find(EV_READ, ~0ull);
		require(r < 0 || F.ev[r].bytes == ((cases[i].hex[strlen(cases[i].hex) - 4] == '7' ||
						    cases[i].hex[strlen(cases[i].hex) - 4] == 'f') ? 2u : 1u),
			"%s (%s): read %u bytes of memory; the source is a byte (B6/BE) or a word (B7/BF) whatever the "
			"operand size", cases[i].text, cases[i].hex, r >= 0 ? F.ev[r].bytes : 0);
	}
}
END_TEST

/* A0-A3: the offset is an immediate of the address size (SDM Vol. 2 "MOV",
 * note on moffs), in DS unless overridden. */
START_TEST(exec_moffs)
{
	static const struct {
		enum x86emul_mode mode;
		const char *hex, *text;
		unsigned int len, bytes;
		bool write;
		int seg;
	} cases[] = {
		{ M64, "a1 10 00 01 00 00 00 00 00", "mov eax, [moffs64]", 9, 4, false, X86_SREG_DS },
		{ M64, "48 a1 10 00 01 00 00 00 00 00", "mov rax, [moffs64]", 10, 8, false, X86_SREG_DS },
		{ M64, "67 a0 10 00 01 00", "mov al, [moffs32] (67)", 6, 1, false, X86_SREG_DS },
		{ M64, "66 a3 10 00 01 00 00 00 00 00", "mov [moffs64], ax", 10, 2, true, X86_SREG_DS },
		{ M64, "65 a2 10 00 00 00 00 00 00 00", "mov gs:[moffs64], al (GS.base MEM_BASE)", 10, 1, true,
		  X86_SREG_GS },
		{ M32, "a1 10 00 00 00", "mov eax, [moffs32] (DS.base MEM_BASE)", 5, 4, false, X86_SREG_DS },
		{ M32, "67 a3 10 00", "mov [moffs16], eax (67)", 4, 4, true, X86_SREG_DS },
		{ M16, "a1 10 00", "mov ax, [moffs16]", 3, 2, false, X86_SREG_DS },
		{ M16, "66 67 a1 10 00 00 00", "mov eax, [moffs32] (66 67)", 7, 4, false, X86_SREG_DS },
		{ MREAL, "26 a0 10 00", "mov al, es:[moffs16] in real mode", 4, 1, false, X86_SREG_ES },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		fake_reset();
		F.regs[RAX] = 0x1122334455667788ull;
		mem_set(0x10, 0xa1a2a3a4a5a6a7a8ull, 8);
		int rc = emu_decode(cases[i].mode, cases[i].hex);
		require(rc == EMULATION_OK && F.ctxt.insn_len == cases[i].len, "%s (%s): %s, length %u, expected %u",
			cases[i].text, cases[i].hex, emu_result(rc), F.ctxt.insn_len, cases[i].len);
		if (cases[i].mode != M64 || cases[i].seg == X86_SREG_GS)
			F.seg[cases[i].seg].base = MEM_BASE;
		rc = x86_emulate_insn(&F.ctxt);
		require(rc == EMULATION_OK, "%s (%s): %s", cases[i].text, cases[i].hex, emu_result(rc));
		int e = event_find(cases[i].write ? EV_WRITE : EV_READ, ~0ull);
		require(e >= 0 && F.ev[e].addr == MEM_BASE + 0x10 && F.ev[e].bytes == cases[i].bytes,
			"%s (%s): %s %u bytes at 0x%llx, expected %u bytes at 0x%llx (segment base + the offset, read "
			"at the address size)", cases[i].text, cases[i].hex, cases[i].write ? "wrote" : "read",
			e >= 0 ? F.ev[e].bytes : 0, e >= 0 ? (unsigned long long)F.ev[e].addr : 0ull, cases[i].bytes,
			(unsigned long long)(MEM_BASE + 0x10));
		uint64_t mask = cases[i].bytes == 8 ? ~0ull : (1ull << (cases[i].bytes * 8)) - 1;
		if (cases[i].write)
			require(mem_get(0x10, cases[i].bytes) == (0x1122334455667788ull & mask), "%s: wrote 0x%llx",
				cases[i].text, (unsigned long long)mem_get(0x10, cases[i].bytes));
		else
			require((F.regs[RAX] & mask) == (0xa1a2a3a4a5a6a7a8ull & mask), "%s: RAX 0x%llx", cases[i].text,
				(unsigned long long)F.regs[RAX]);
	}
}
END_TEST

START_TEST(exec_page_table_writing)
{
	static const struct {
		const char *hex, *text;
		bool writes;
	} cases[] = {
		{ "89 03", "mov [rbx], eax", true },     { "8b 03", "mov eax, [rbx]", false },
		{ "39 03", "cmp [rbx], eax", false },    { "85 03", "test [rbx], eax", false },
		{ "0f a3 03", "bt [rbx], eax", false },  { "f0 0f b3 03", "lock btr [rbx], eax", true },
		{ "87 03", "xchg [rbx], eax", true },    { "f0 0f b1 0b", "lock cmpxchg [rbx], ecx", true },
		{ "09 03", "or [rbx], eax", true },      { "01 d8", "add eax, ebx (no memory)", false },
		{ "c7 03 01 00 00 00", "mov dword [rbx], 1", true },
	};
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		fake_reset();
		F.regs[RBX] = MEM_BASE;
		require(emu_decode(M64, cases[i].hex) == EMULATION_OK, "%s: not decoded", cases[i].text);
		require(x86_page_table_writing_insn(&F.ctxt) == cases[i].writes,
			"x86_page_table_writing_insn after %s (%s) is %d, expected %d (the MMU asks whether a write to a "
			"write-tracked page may be emulated: only instructions that write memory)", cases[i].text,
			cases[i].hex, x86_page_table_writing_insn(&F.ctxt), cases[i].writes);
	}
}
END_TEST

Suite *exec_suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("failures");
	tcase_add_test(tc, exec_no_mmio_callbacks);
	tcase_add_test(tc, exec_fault_changes_nothing);
	tcase_add_test(tc, exec_memory_before_registers);
	tcase_add_test(tc, exec_io_needed);
	tcase_add_test(tc, exec_lock_rules);
	tcase_add_test(tc, exec_canonical_and_limits);
	tcase_add_test(tc, exec_segment_bases);
	suite_add_tcase(s, tc);
	tc = tcase_create("handlers");
	tcase_add_test(tc, exec_mov);
	tcase_add_test(tc, exec_register_write_sizes);
	tcase_add_test(tc, exec_alu_memory);
	tcase_add_test(tc, exec_cmpxchg);
	tcase_add_test(tc, exec_bt_offset_moves_operand);
	tcase_add_test(tc, exec_movzx_movsx);
	tcase_add_test(tc, exec_moffs);
	tcase_add_test(tc, exec_page_table_writing);
	suite_add_tcase(s, tc);
	return s;
}
