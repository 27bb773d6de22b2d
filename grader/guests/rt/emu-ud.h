/* SPDX-License-Identifier: MIT */
/*
 * Undefined opcodes for the lab 07 guests (long mode, rt/trap64.h): each
 * case's bytes, the exception it must raise, and ud_one(), which runs it at
 * CPL 3 or CPL 0 and reports "<case>-cpl<n>": the vector, RIP at the
 * instruction's first byte, its prefixes included (SDM Vol. 3 6.15,
 * "Interrupt 6": a fault, so the saved RIP points at the instruction), the
 * CPL, and error code 0 for #GP. Included by one guest source each.
 *
 *   UD2, UD1, UD0 (Vol. 2, UD); opcodes invalid in 64-bit mode (PUSH ES,
 *   DAA, D6; Vol. 2 Appendix A, "i64"); LOCK on an instruction that cannot
 *   take it or with a register destination (Vol. 2, LOCK: #UD); MOV to CS
 *   (Vol. 2, MOV: #UD); group encodings with no instruction (C6 /1, FE /2;
 *   Vol. 2 Table A-6); an operand-size prefix before UD2; and an
 *   instruction longer than 15 bytes, #GP(0) at its start (Vol. 2 2.3.11).
 */
#ifndef RT_EMU_UD_H
#define RT_EMU_UD_H

#include "rt.h"
#include "trap64.h"
#include <x86/trapnr.h>

/* ---- undefined opcodes ---------------------------------------------------- */

/* Each: a label at the instruction, then "ret" (CPL 0, called through
 * trap64_run) — never reached when the instruction faults. At CPL 3 the
 * same bytes are entered directly. */
#define UD_STUB(name, bytes) ".globl " #name "\n" #name ": .byte " bytes "\n\tret\n"
__asm__(".text\n"
	UD_STUB(ud_ud2, "0x0f, 0x0b")
	UD_STUB(ud_ud1, "0x0f, 0xb9, 0xc0")
	UD_STUB(ud_ud0, "0x0f, 0xff, 0xc0")
	UD_STUB(ud_push_es, "0x06")
	UD_STUB(ud_daa, "0x27")
	UD_STUB(ud_salc, "0xd6")
	UD_STUB(ud_lock_nop, "0xf0, 0x90")
	UD_STUB(ud_lock_add_reg, "0xf0, 0x01, 0xc0")
	UD_STUB(ud_mov_cs, "0x8e, 0xc8")
	UD_STUB(ud_grp11, "0xc6, 0xc8, 0x00")
	UD_STUB(ud_grp4, "0xfe, 0xd0")
	UD_STUB(ud_opsize_ud2, "0x66, 0x0f, 0x0b")
	/* 15 prefixes and a NOP: 16 bytes */
	UD_STUB(gp_too_long, "0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90")
	/* 14 prefixes and a NOP: 15 bytes, runs */
	UD_STUB(ok_15_bytes, "0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90"));

#define DECL(n) extern char n[];
DECL(ud_ud2) DECL(ud_ud1) DECL(ud_ud0) DECL(ud_push_es) DECL(ud_daa) DECL(ud_salc) DECL(ud_lock_nop)
DECL(ud_lock_add_reg) DECL(ud_mov_cs) DECL(ud_grp11) DECL(ud_grp4) DECL(ud_opsize_ud2) DECL(gp_too_long)
DECL(ok_15_bytes)

struct ud_case {
	const char *name;
	char *at;
	unsigned vector;
};

static const struct ud_case ud_cases[] = {
	{ "ud2", ud_ud2, UD_VECTOR },
	{ "ud1", ud_ud1, UD_VECTOR },
	{ "ud0", ud_ud0, UD_VECTOR },
	{ "push-es-64", ud_push_es, UD_VECTOR },
	{ "daa-64", ud_daa, UD_VECTOR },
	{ "d6-64", ud_salc, UD_VECTOR },
	{ "lock-nop", ud_lock_nop, UD_VECTOR },
	{ "lock-add-reg", ud_lock_add_reg, UD_VECTOR },
	{ "mov-cs", ud_mov_cs, UD_VECTOR },
	{ "grp11-c6-1", ud_grp11, UD_VECTOR },
	{ "grp4-fe-2", ud_grp4, UD_VECTOR },
	{ "opsize-ud2", ud_opsize_ud2, UD_VECTOR },
	{ "16-bytes", gp_too_long, GP_VECTOR },
};

static uint8_t ud_user_stack[4096] __attribute__((aligned(16)));

static void ud_one(const struct ud_case *c, int cpl)
{
	char name[40];
	uint64_t at = (uint64_t)(uintptr_t)c->at;
	if (cpl == 3)
		trap64_run_user(at, (uint64_t)(uintptr_t)(ud_user_stack + sizeof(ud_user_stack)), 0);
	else if (trap64_run((void (*)(uint64_t))(uintptr_t)c->at, 0))
		trap64_last.vector = ~0ull;
	int i = 0;
	for (const char *s = c->name; *s; s++)
		name[i++] = *s;
	name[i++] = '-', name[i++] = 'c', name[i++] = 'p', name[i++] = 'l', name[i++] = (char)('0' + cpl), name[i] = 0;
	report(trap64_last.vector == c->vector && trap64_last.rip == at && trap64_last.cpl == (uint64_t)cpl &&
		       (c->vector != GP_VECTOR || trap64_last.error == 0),
	       name, "vector %lld error 0x%llx at RIP 0x%llx CPL %llu; want vector %u%s at 0x%llx CPL %d",
	       (long long)trap64_last.vector, (unsigned long long)trap64_last.error,
	       (unsigned long long)trap64_last.rip, (unsigned long long)trap64_last.cpl, c->vector,
	       c->vector == GP_VECTOR ? " error 0" : "", (unsigned long long)at, cpl);
}

#endif
