/* SPDX-License-Identifier: MIT */
/*
 * Decoding of VM-exit information and the segment access-rights format:
 * pure functions, compiled hosted for the unit tests.
 */
#ifndef KVMLABS_KVM_VMX_DECODE_H
#define KVMLABS_KVM_VMX_DECODE_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Exit qualification of an I/O instruction (SDM Vol. 3 28.2.1, Table 28-5). */
struct vmx_io_qual {
	uint16_t port;
	uint8_t size;   /* 1, 2 or 4 bytes */
	bool in;        /* IN/INS (else OUT/OUTS) */
	bool string;    /* INS/OUTS */
	bool rep;       /* REP prefixed */
	bool imm;       /* port given as an immediate operand (else in DX) */
};
int vmx_decode_io_qual(uint64_t qual, struct vmx_io_qual *io);

/* Exit qualification of a control-register access (SDM Vol. 3 28.2.1, Table 28-3). */
enum vmx_cr_access_type { CR_ACCESS_MOV_TO_CR = 0, CR_ACCESS_MOV_FROM_CR = 1, CR_ACCESS_CLTS = 2, CR_ACCESS_LMSW = 3 };
struct vmx_cr_qual {
	uint8_t cr;          /* 0, 3, 4 or 8 */
	uint8_t type;        /* enum vmx_cr_access_type */
	uint8_t gpr;         /* for MOV: 0 = RAX ... 15 = R15, in kvm_regs order of the ISA (RAX RCX RDX RBX RSP RBP RSI RDI R8..) */
	bool lmsw_memory;    /* LMSW with a memory operand */
	uint16_t lmsw_data;  /* LMSW source data */
};
int vmx_decode_cr_qual(uint64_t qual, struct vmx_cr_qual *cr);

/* The page-fault error code (PFERR_*) of an EPT violation from its exit
 * qualification (SDM Vol. 3 28.2.1, Table 28-7): WRITE, FETCH, PRESENT when
 * the entry allowed some access, and GUEST_FINAL or GUEST_PAGE. */
uint64_t vmx_ept_violation_error_code(uint64_t qual);

/* kvm_segment <-> VMCS access rights (SDM Vol. 3 25.4.1, Table 25-2). */
uint32_t vmx_segment_access_rights(const struct kvm_segment *seg);
void vmx_segment_from_access_rights(uint32_t ar, struct kvm_segment *seg);

#endif
