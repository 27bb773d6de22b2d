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

/* One emulation (Linux: struct x86_emulate_ctxt). Lab 07 adds the decode
 * state: prefixes, opcode, ModRM, operands. */
struct x86_emulate_ctxt {
	const struct x86_emulate_ops *ops;
	void *vcpu;               /* opaque to the emulator: the callbacks' own */
	uint64_t eflags;
	uint64_t eip;
	enum x86emul_mode mode;
	int emulation_type;       /* EMULTYPE_* (x86.h) */
	struct x86_exception exception;
};

/* Results of the emulator's two steps (Linux: EMULATION_*). */
#define EMULATION_OK     0
#define EMULATION_FAILED (-1)

/* emulate.c (lab 07): decode the instruction at ctxt->eip, then run it. */
int x86_decode_insn(struct x86_emulate_ctxt *ctxt, int emulation_type);
int x86_emulate_insn(struct x86_emulate_ctxt *ctxt);

#endif
