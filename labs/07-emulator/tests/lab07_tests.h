/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_LAB07_TESTS_H
#define KVMLABS_LAB07_TESTS_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include <x86/processor-flags.h>

#include "kvm/kvm_emulate.h"

/* ck_assert_msg() for loops: acts only on failure (see lab 06's). */
#define require(cond, ...)                          \
	do {                                        \
		if (!(cond))                        \
			ck_abort_msg(__VA_ARGS__);  \
	} while (0)

/* ---- the fake vCPU behind struct x86_emulate_ops (emu_fake.c) ----------------------
 * 16 registers; the instruction's bytes at CS.base + IP and nowhere else (a
 * fetch of any other byte is a #PF there, as an unmapped next page would be);
 * MEM_SIZE bytes of memory at MEM_BASE (two pages, so an access can cross
 * one); an address range that faults; six segments; 64 KiB of I/O ports.
 * Every memory access and register write is logged in order. */
#define CODE_BASE 0x401000ull
#define MEM_BASE  0x10000ull
#define MEM_SIZE  0x2000u
#define FLAGS6    ((uint64_t)(X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | \
			      X86_EFLAGS_OF))

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

#define M16  X86EMUL_MODE_PROT16
#define M32  X86EMUL_MODE_PROT32
#define M64  X86EMUL_MODE_PROT64
#define MREAL X86EMUL_MODE_REAL

enum emu_event_kind { EV_READ, EV_WRITE, EV_GPR, EV_PIO_IN, EV_PIO_OUT };

struct emu_event {
	enum emu_event_kind kind;
	uint64_t addr;            /* linear address, register number or port */
	unsigned int bytes, count;
	uint64_t val;             /* the first 8 bytes */
};

#define FAKE_MAX_EVENTS 512

struct fake {
	struct x86_emulate_ctxt ctxt;
	uint64_t regs[16];
	/* the instruction: byte i at code_la[i] */
	uint8_t code[32];
	uint64_t code_la[32];
	unsigned int code_len, fetched;  /* fetched: 1 + the last byte index read */
	uint8_t mem[MEM_SIZE];
	struct kvm_segment seg[6];
	/* read_emulated/write_emulated of [fault_lo, fault_hi) answer a #PF */
	uint64_t fault_lo, fault_hi;
	bool fault_reads, fault_writes;
	int io_needed;            /* read_emulated answers X86EMUL_IO_NEEDED this many times */
	unsigned int reads, writes, gpr_writes;
	struct emu_event ev[FAKE_MAX_EVENTS];
	unsigned int nev;
	uint8_t ports[0x10000];   /* what IN reads; OUT writes here too */
};

extern struct fake F;

/* Registers, memory, ports and segments back to the start (registers all 0). */
void fake_reset(void);
/* A new instruction at the mode's usual IP (64-bit: RIP CODE_BASE; else
 * CS.base CODE_BASE - 0x1000, IP 0x1000); registers, memory and ports stay,
 * segments become flat. fake_setup_at: at another IP. */
void fake_setup(enum x86emul_mode mode, const uint8_t *code, unsigned int len);
void fake_setup_at(enum x86emul_mode mode, uint64_t ip, const uint8_t *code, unsigned int len);
/* "4f 8b 4c 9a 10" to bytes; returns the count. */
unsigned int parse_hex(const char *hex, uint8_t *out, unsigned int max);
/* fake_setup + x86_decode_insn. */
int emu_decode(enum x86emul_mode mode, const char *hex);
/* emu_decode, then x86_emulate_insn if the decode worked. */
int emu_run(enum x86emul_mode mode, const char *hex);
/* Decode and run in 64-bit mode with RBX = MEM_BASE + off and the given
 * arithmetic flags; the test fails, saying why, unless it completes with
 * RIP advanced by the instruction's length. */
void emu_exec(const char *what, const char *hex, unsigned int off, uint64_t flags);

/* What a result code and the ctxt say, for messages: "EMULATION_OK",
 * "EMULATION_FAILED (#GP(0))", "EMULATION_FAILED (not emulated: ...)". */
const char *emu_result(int rc);
/* "CF ZF" or "none" (each call its own buffer, a few per message). */
const char *flag_names(uint64_t flags);

uint64_t mem_get(unsigned int off, unsigned int bytes);
void mem_set(unsigned int off, uint64_t val, unsigned int bytes);
/* The index of the first event of a kind (and address, unless ~0), or -1. */
int event_find(enum emu_event_kind kind, uint64_t addr);
/* The flags the instruction left, of the six arithmetic ones. */
static inline uint64_t flags6(void) { return F.ctxt.eflags & FLAGS6; }

/* Each suite is named by the part of emulate.c it tests; test names start
 * with it (CK_RUN_SUITE=decode CK_RUN_CASE=table, or a test by its name). */
Suite *decode_suite(void);      /* x86_decode_insn: prefixes, REX, ModRM/SIB, operands */
Suite *flags_suite(void);       /* the six arithmetic flags of each ALU handler */
Suite *exec_suite(void);        /* x86_emulate_insn: each handler, faults, LOCK, writeback */
Suite *string_suite(void);      /* MOVS/STOS/LODS/CMPS/SCAS, INS/OUTS, PUSH/POP, CMPXCHG8B/16B */

#endif
