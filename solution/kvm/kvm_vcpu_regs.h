/* SPDX-License-Identifier: MIT */
/*
 * Guest GPR numbers, for C and for the world switch (Linux:
 * arch/x86/include/asm/kvm_vcpu_regs.h). They are the ISA's register numbers,
 * as the CR-access exit qualification and ModRM encode them, so a decoded
 * register number indexes vcpu->arch.regs[] directly.
 */
#ifndef KVMLABS_KVM_KVM_VCPU_REGS_H
#define KVMLABS_KVM_KVM_VCPU_REGS_H

#define __VCPU_REGS_RAX  0
#define __VCPU_REGS_RCX  1
#define __VCPU_REGS_RDX  2
#define __VCPU_REGS_RBX  3
#define __VCPU_REGS_RSP  4
#define __VCPU_REGS_RBP  5
#define __VCPU_REGS_RSI  6
#define __VCPU_REGS_RDI  7
#define __VCPU_REGS_R8   8
#define __VCPU_REGS_R9   9
#define __VCPU_REGS_R10 10
#define __VCPU_REGS_R11 11
#define __VCPU_REGS_R12 12
#define __VCPU_REGS_R13 13
#define __VCPU_REGS_R14 14
#define __VCPU_REGS_R15 15
/* The slots after the GPRs: RIP, then the count. */
#define __VCPU_REGS_RIP 16
#define __NR_VCPU_REGS  17

#ifndef __ASSEMBLER__
/* Register numbers (Linux: enum kvm_reg): the GPRs in ISA order, then RIP. */
enum kvm_reg {
	VCPU_REGS_RAX = __VCPU_REGS_RAX, VCPU_REGS_RCX = __VCPU_REGS_RCX,
	VCPU_REGS_RDX = __VCPU_REGS_RDX, VCPU_REGS_RBX = __VCPU_REGS_RBX,
	VCPU_REGS_RSP = __VCPU_REGS_RSP, VCPU_REGS_RBP = __VCPU_REGS_RBP,
	VCPU_REGS_RSI = __VCPU_REGS_RSI, VCPU_REGS_RDI = __VCPU_REGS_RDI,
	VCPU_REGS_R8 = __VCPU_REGS_R8, VCPU_REGS_R9 = __VCPU_REGS_R9,
	VCPU_REGS_R10 = __VCPU_REGS_R10, VCPU_REGS_R11 = __VCPU_REGS_R11,
	VCPU_REGS_R12 = __VCPU_REGS_R12, VCPU_REGS_R13 = __VCPU_REGS_R13,
	VCPU_REGS_R14 = __VCPU_REGS_R14, VCPU_REGS_R15 = __VCPU_REGS_R15,
	VCPU_REGS_RIP = __VCPU_REGS_RIP,
	NR_VCPU_REGS = __NR_VCPU_REGS
};
#endif

#endif
