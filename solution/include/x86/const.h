/* SPDX-License-Identifier: MIT */
/*
 * One spelling of a bit for C and for the assembler, as Linux's _AC()/_BITULL
 * (include/uapi/linux/const.h): C gets a 64-bit unsigned constant, gas a plain
 * number. Every header under include/x86/ builds its constants with these.
 */
#ifndef KVMLABS_X86_CONST_H
#define KVMLABS_X86_CONST_H

#ifdef __ASSEMBLER__
#define X86_AC(x, suffix) x
#else
#define X86_AC(x, suffix) x##suffix
#endif

#define X86_BIT(n) (X86_AC(1, ull) << (n))

/* Elements of an array (never of a pointer: the second term fails to build then). */
#ifndef __ASSEMBLER__
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]) + 0 * sizeof(struct { \
	_Static_assert(!__builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0])), \
		       "ARRAY_SIZE of a pointer"); int dummy; }))
#endif

#endif
