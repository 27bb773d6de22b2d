/* SPDX-License-Identifier: MIT */
/*
 * The privileged instructions 64-bit kvmlabs kernel code executes (the
 * bare-metal host and minikvm), one inline function each. Linux:
 * asm/special_insns.h, asm/msr.h, asm/io.h. Guests have their own, built for
 * 16-, 32- and 64-bit code (grader/guests/rt/x86.h).
 */
#ifndef KVMLABS_X86_INSNS_H
#define KVMLABS_X86_INSNS_H

#include <stdint.h>

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

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* CPUID leaf/subleaf into r[0..3] = EAX, EBX, ECX, EDX. */
static inline void cpuid_count(uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(subleaf));
}

#define X86_DEFINE_CR_ACCESS(n)                                                              \
	static inline uint64_t read_cr##n(void)                                              \
	{                                                                                    \
		uint64_t v;                                                                  \
		__asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                            \
		return v;                                                                    \
	}                                                                                    \
	static inline void write_cr##n(uint64_t v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
X86_DEFINE_CR_ACCESS(0)
X86_DEFINE_CR_ACCESS(2)
X86_DEFINE_CR_ACCESS(3)
X86_DEFINE_CR_ACCESS(4)
#undef X86_DEFINE_CR_ACCESS

#define X86_DEFINE_SEG_READ(s)                                                               \
	static inline uint16_t read_##s(void)                                                \
	{                                                                                    \
		uint16_t v;                                                                  \
		__asm__ volatile("mov %%" #s ", %0" : "=rm"(v));                             \
		return v;                                                                    \
	}
X86_DEFINE_SEG_READ(cs)
X86_DEFINE_SEG_READ(ss)
X86_DEFINE_SEG_READ(ds)
X86_DEFINE_SEG_READ(es)
X86_DEFINE_SEG_READ(fs)
X86_DEFINE_SEG_READ(gs)
#undef X86_DEFINE_SEG_READ

/* A descriptor-table register image for LGDT/LIDT/SGDT/SIDT (SDM Vol. 3 2.4). */
struct __attribute__((packed)) desc_ptr {
	uint16_t limit;
	uint64_t base;
};
_Static_assert(sizeof(struct desc_ptr) == 10, "a 64-bit GDTR/IDTR image is 10 bytes");

static inline void store_gdt(struct desc_ptr *d) { __asm__ volatile("sgdt %0" : "=m"(*d)); }
static inline void store_idt(struct desc_ptr *d) { __asm__ volatile("sidt %0" : "=m"(*d)); }
static inline void load_gdt(const struct desc_ptr *d) { __asm__ volatile("lgdt %0" : : "m"(*d)); }
static inline void load_idt(const struct desc_ptr *d) { __asm__ volatile("lidt %0" : : "m"(*d)); }
static inline uint16_t store_tr(void) { uint16_t v; __asm__ volatile("str %0" : "=rm"(v)); return v; }

static inline void invlpg(const void *va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

#endif
