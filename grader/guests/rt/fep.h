/* SPDX-License-Identifier: MIT */
/*
 * Forced emulation (KVM's force_emulation_prefix; Linux: handle_ud() in
 * arch/x86/kvm/x86.c, __KVM_EMULATE_PREFIX in arch/x86/include/asm/emulate_prefix.h):
 * the five bytes
 *
 *   0f 0b 6b 76 6d      ud2; .ascii "kvm"
 *
 * before an instruction make a hypervisor that intercepts #UD and knows the
 * signature skip them and run the instruction through its instruction
 * emulator instead of the CPU. What a guest sees:
 *
 *   - no forced emulation (Linux KVM without kvm.force_emulation_prefix=1, a
 *     hypervisor that does not intercept #UD): #UD with RIP at the prefix's
 *     UD2, as for any UD2 (SDM Vol. 2, UD; Vol. 3 6.15 "Interrupt 6");
 *   - forced emulation of an instruction the emulator does not know: #UD
 *     with RIP at the instruction after the prefix (Linux moves RIP past the
 *     signature before it decodes, EMULTYPE_TRAP_UD_FORCED);
 *   - otherwise the instruction's own effect, its faults at the instruction
 *     after the prefix, and RIP after that instruction.
 */
#ifndef RT_FEP_H
#define RT_FEP_H

#define FEP_LEN   5
/* For asm text: the prefix as data, so the assembler does not decode it. */
#define FEP_BYTES ".byte 0x0f, 0x0b, 0x6b, 0x76, 0x6d"

#endif
