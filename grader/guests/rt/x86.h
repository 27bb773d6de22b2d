/* SPDX-License-Identifier: MIT */
/*
 * One-instruction helpers for guests: port I/O, MMIO, control registers, MSRs,
 * CPUID. Each is exactly one access, so a guest can count the exits it causes.
 * Builds for -m16 (real mode, .code16gcc), -m32 and -m64, which is why these
 * are not solution/include/x86/insns.h (64-bit kernel code only). The
 * architectural constants are the shared ones: CR0/CR4/EFLAGS bits and MSRs
 * here, <x86/cpuid.h>, <x86/pgtable.h> and <x86/trapnr.h> where a guest needs them.
 */
#ifndef RT_X86_H
#define RT_X86_H

#include <stdint.h>
#include <x86/msr-index.h>
#include <x86/processor-flags.h>

static inline void outb(uint16_t port, uint8_t v)  { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* MMIO: the "memory" clobber keeps the compiler from caching or merging accesses. */
static inline void mmio_write8(uintptr_t a, uint8_t v)   { __asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(a) : "memory"); }
static inline void mmio_write16(uintptr_t a, uint16_t v) { __asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(a) : "memory"); }
static inline void mmio_write32(uintptr_t a, uint32_t v) { __asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(a) : "memory"); }

static inline uint8_t mmio_read8(uintptr_t a)
{
	uint8_t v;
	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_read16(uintptr_t a)
{
	uint16_t v;
	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_read32(uintptr_t a)
{
	uint32_t v;
	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

#ifdef __x86_64__
static inline void mmio_write64(uintptr_t a, uint64_t v) { __asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(a) : "memory"); }
static inline uint64_t mmio_read64(uintptr_t a)
{
	uint64_t v;
	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}
#endif

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Control registers are native width: 32 bits in real and protected mode, 64 in long mode. */
#define DEFINE_CR(n)                                                              \
	static inline unsigned long read_cr##n(void)                              \
	{                                                                         \
		unsigned long v;                                                  \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                 \
		return v;                                                         \
	}                                                                         \
	static inline void write_cr##n(unsigned long v)                           \
	{                                                                         \
		__asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");        \
	}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline unsigned long read_flags(void)
{
	unsigned long f;
#ifdef __x86_64__
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
#else
	__asm__ volatile("pushfl; popl %0" : "=r"(f));
#endif
	return f;
}

#define DEFINE_SEG_READ(s)                                                        \
	static inline uint16_t read_##s(void)                                     \
	{                                                                         \
		uint16_t v;                                                       \
		__asm__ volatile("mov %%" #s ", %0" : "=r"(v));                   \
		return v;                                                         \
	}
DEFINE_SEG_READ(cs)
DEFINE_SEG_READ(ds)
DEFINE_SEG_READ(es)
DEFINE_SEG_READ(ss)
DEFINE_SEG_READ(fs)
DEFINE_SEG_READ(gs)
#undef DEFINE_SEG_READ

static inline void invlpg(uintptr_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void cli(void) { __asm__ volatile("cli" : : : "memory"); }
static inline void pause(void) { __asm__ volatile("pause" : : : "memory"); }

/* A descriptor-table register image for lgdt/lidt/sgdt/sidt. */
struct __attribute__((packed)) dt_reg {
	uint16_t limit;
	unsigned long base;
};

static inline void sgdt(struct dt_reg *d) { __asm__ volatile("sgdt %0" : "=m"(*d)); }
static inline void sidt(struct dt_reg *d) { __asm__ volatile("sidt %0" : "=m"(*d)); }
static inline void lidt(const struct dt_reg *d) { __asm__ volatile("lidt %0" : : "m"(*d)); }

#endif
