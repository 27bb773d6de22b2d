/* SPDX-License-Identifier: MIT */
/*
 * The instruction emulator's interface (Linux: arch/x86/kvm/kvm_emulate.h).
 * Lab 07 writes the emulator (emulate.c: the decoder and the opcode table);
 * it reaches the vCPU only through the callbacks of struct x86_emulate_ops,
 * which x86.c implements over the MMU, the memslots and the kvm_run exits,
 * so the emulator itself knows nothing of VMX or of minikvm's structures.
 */
#ifndef KVMLABS_KVM_KVM_EMULATE_H
#define KVMLABS_KVM_KVM_EMULATE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

/* A fault to deliver to the guest (Linux: struct x86_exception). */
struct x86_exception {
	uint8_t vector;
	bool error_code_valid;
	uint16_t error_code;
	uint64_t address;         /* CR2 for a #PF */
};

/* What a callback returns (Linux: X86EMUL_*). */
#define X86EMUL_CONTINUE        0  /* done: go on */
#define X86EMUL_UNHANDLEABLE    1  /* cannot be emulated: an emulation failure */
#define X86EMUL_PROPAGATE_FAULT 2  /* *fault is filled: inject it */
#define X86EMUL_RETRY_INSTR     3  /* let the guest run the instruction again */
#define X86EMUL_IO_NEEDED       5  /* userspace must do the access first (KVM_EXIT_MMIO / _IO) */

/* The guest's execution mode, for decoding (Linux: enum x86emul_mode). */
enum x86emul_mode {
	X86EMUL_MODE_REAL,
	X86EMUL_MODE_VM86,
	X86EMUL_MODE_PROT16,
	X86EMUL_MODE_PROT32,
	X86EMUL_MODE_PROT64,
};

struct x86_emulate_ctxt;

/* Everything the emulator may do to the vCPU. Addresses are guest-linear
 * (segmentation already applied by the emulator) unless named gpa. */
struct x86_emulate_ops {
	uint64_t (*read_gpr)(struct x86_emulate_ctxt *ctxt, unsigned int reg);
	void (*write_gpr)(struct x86_emulate_ctxt *ctxt, unsigned int reg, uint64_t val);
	/* Ordinary memory through the guest's page tables: instruction fetch,
	 * stack, descriptor tables. system = access as CPL 0. */
	int (*read_std)(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
			struct x86_exception *fault, bool system);
	int (*write_std)(struct x86_emulate_ctxt *ctxt, uint64_t addr, const void *val, unsigned int bytes,
			 struct x86_exception *fault, bool system);
	int (*fetch)(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
		     struct x86_exception *fault);
	/* The operand access that caused the exit: RAM, or MMIO that becomes a
	 * KVM_EXIT_MMIO and finishes on the next KVM_RUN. */
	int (*read_emulated)(struct x86_emulate_ctxt *ctxt, uint64_t addr, void *val, unsigned int bytes,
			     struct x86_exception *fault);
	int (*write_emulated)(struct x86_emulate_ctxt *ctxt, uint64_t addr, const void *val, unsigned int bytes,
			      struct x86_exception *fault);
	/* INS/OUTS: count elements of size bytes through KVM_EXIT_IO. */
	int (*pio_in_emulated)(struct x86_emulate_ctxt *ctxt, int size, uint16_t port, void *val, unsigned int count);
	int (*pio_out_emulated)(struct x86_emulate_ctxt *ctxt, int size, uint16_t port, const void *val,
				unsigned int count);
	void (*get_segment)(struct x86_emulate_ctxt *ctxt, struct kvm_segment *seg, int sreg);
	uint64_t (*get_cr)(struct x86_emulate_ctxt *ctxt, int cr);
	int (*set_cr)(struct x86_emulate_ctxt *ctxt, int cr, uint64_t val);
	int (*cpl)(struct x86_emulate_ctxt *ctxt);
	int (*get_msr)(struct x86_emulate_ctxt *ctxt, uint32_t index, uint64_t *data);
	int (*set_msr)(struct x86_emulate_ctxt *ctxt, uint32_t index, uint64_t data);
	void (*halt)(struct x86_emulate_ctxt *ctxt);
};

/* An operand of the decoded instruction (Linux: struct operand). */
enum x86_operand_type { OP_NONE, OP_REG, OP_MEM, OP_IMM };

struct x86_operand {
	enum x86_operand_type type;
	unsigned int bytes;       /* 1, 2, 4 or 8 */
	union {
		struct {
			unsigned int reg;  /* VCPU_REGS_* number (the SDM's register encoding) */
			bool high_byte;    /* AH, CH, DH or BH: bits 15:8 of reg */
		};
		struct {
			uint64_t ea;       /* effective address (offset in seg) */
			int seg;           /* X86_SREG_* */
		} mem;
	} addr;
	uint64_t val;             /* value read (zero-extended), then the result */
	uint64_t orig_val;        /* value read, kept for CMPXCHG and reports */
};

/* The MMIO reads an instruction has done so far (Linux: struct read_cache
 * mem_read). An instruction that needs one leaves for the VMM and runs
 * again from the start when the data is back; the reads it did before come
 * from here, in the order it makes them, so it sees each value once. */
struct x86_read_cache {
	uint8_t data[64];
	unsigned int pos, end;
};

/* Segment registers in the SDM's Sreg encoding (Vol. 2 3.1.1.3), the order
 * of kvm_host.h's VCPU_SREG_* and of the argument of ops->get_segment. */
#define X86_SREG_ES 0
#define X86_SREG_CS 1
#define X86_SREG_SS 2
#define X86_SREG_DS 3
#define X86_SREG_FS 4
#define X86_SREG_GS 5

#define X86_MAX_INSN_LEN 15       /* SDM Vol. 2 2.3.11, Vol. 3 6.15 "Interrupt 13" */

/* One emulation (Linux: struct x86_emulate_ctxt). The caller fills the
 * first block; x86_decode_insn() fills the decode state; x86_emulate_insn()
 * runs it, leaving the next RIP in eip and the new flags in eflags. */
struct x86_emulate_ctxt {
	const struct x86_emulate_ops *ops;
	void *vcpu;               /* opaque to the emulator: the callbacks' own */
	uint64_t eflags;
	uint64_t eip;
	enum x86emul_mode mode;
	int emulation_type;       /* EMULTYPE_* (x86.h) */
	struct x86_exception exception;

	/* Why it failed: an exception to inject (have_exception, the fault in
	 * exception) or, if not, a reason for the failure report. */
	bool have_exception;
	const char *failure;

	/* ---- decode state (Linux: the fields after "decode cache") ---- */
	uint64_t insn_eip;        /* RIP of the instruction's first byte */
	uint8_t insn[X86_MAX_INSN_LEN];
	unsigned int insn_len;    /* bytes fetched = the instruction's length once decoded */
	uint8_t op_bytes;         /* operand size: 2, 4 or 8 (1 for byte ops, in src/dst) */
	uint8_t ad_bytes;         /* address size: 2, 4 or 8 */
	uint8_t rex_prefix;       /* 0 or 0x40-0x4F (64-bit mode, just before the opcode) */
	uint8_t rep_prefix;       /* 0, 0xF2 or 0xF3 */
	bool lock_prefix;
	bool opsize_prefix;       /* 66 seen */
	bool adsize_prefix;       /* 67 seen */
	int seg_override;         /* X86_SREG_* or -1 */
	uint8_t b;                /* opcode byte (the second for 0F xx) */
	bool twobyte;             /* 0F xx */
	uint8_t modrm, modrm_mod, modrm_reg, modrm_rm;  /* reg and rm with REX.R/REX.B */
	bool has_sib;
	uint8_t sib, sib_scale, sib_index, sib_base;     /* index/base with REX.X/REX.B */
	int32_t disp;             /* displacement, sign-extended */
	unsigned int disp_bytes;  /* 0, 1, 2 or 4 */
	bool rip_relative;
	uint64_t d;               /* the opcode table's flags of this instruction */
	int (*execute)(struct x86_emulate_ctxt *ctxt);
	struct x86_operand src, dst;
	bool src_writeback;       /* XCHG, failed CMPXCHG: src is written too */
	/* The operands as decoded: each run of x86_emulate_insn starts from
	 * these, so an instruction can run again (after an MMIO exit, or for
	 * the next element of a REP string instruction). */
	struct x86_operand decoded_src, decoded_dst;

	/* ---- execution state (Linux: _regs, regs_valid, regs_dirty, mem_read) ---- */
	/* General registers as the instruction sees them: read once through
	 * ops->read_gpr, written here, and handed to ops->write_gpr only when
	 * the instruction completes, so a fault or an exit changes none. */
	uint64_t regs[16];
	uint16_t regs_valid, regs_dirty;
	struct x86_read_cache mem_read;
	/* A REP string instruction with elements left: eip is the instruction
	 * again, and the caller may run it again at once (no decode). */
	bool restart;
};

/* Results of the emulator's two steps (Linux: EMULATION_*). */
#define EMULATION_OK     0
#define EMULATION_FAILED (-1)
/* A read_emulated/write_emulated callback returned X86EMUL_IO_NEEDED: the
 * access went out to the VMM, and the instruction is re-entered when it
 * completes (Linux: EMULATION_RESTART after complete_emulated_mmio). */
#define EMULATION_IO_NEEDED 2

/* emulate.c (lab 07): decode the instruction at ctxt->eip, then run it.
 * x86_emulate_insn may be called again on the same decode after it
 * returned EMULATION_IO_NEEDED (the access has been done since) or set
 * ctxt->restart (the next element of a string instruction); eip and
 * eflags carry over from one run to the next. */
int x86_decode_insn(struct x86_emulate_ctxt *ctxt, int emulation_type);
int x86_emulate_insn(struct x86_emulate_ctxt *ctxt);
/* After a decode: may the instruction write a guest page table? */
bool x86_page_table_writing_insn(struct x86_emulate_ctxt *ctxt);

#endif
