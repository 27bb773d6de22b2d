/* SPDX-License-Identifier: MIT */
/*
 * The x86 instruction emulator (Linux: arch/x86/kvm/emulate.c): lab 07 writes
 * the decoder and the opcode table here, over the callbacks of
 * kvm_emulate.h. Until it does, it decodes nothing, and every instruction
 * minikvm is asked to emulate ends in an emulation failure that names lab 07
 * (x86.c, handle_emulation_failure()).
 */
#include "kvm_emulate.h"

int x86_decode_insn(struct x86_emulate_ctxt *ctxt, int emulation_type)
{
	(void)ctxt;
	(void)emulation_type;
	return EMULATION_FAILED;
}

int x86_emulate_insn(struct x86_emulate_ctxt *ctxt)
{
	(void)ctxt;
	return EMULATION_FAILED;
}
