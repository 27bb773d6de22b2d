/* SPDX-License-Identifier: MIT */
/*
 * real-arith: 16-bit integer instructions in real mode, each run in inline
 * assembly so the compiler cannot fold it away, each checked against the
 * value (and flags) the SDM defines: add/adc/sub with carry and overflow,
 * mul/imul/div/idiv, shifts and rotates, rep movsb/stosb, push/pop,
 * near call/ret, segment:offset addressing, far jump and far call.
 * On a KVM without unrestricted guest every one of these is emulated, so
 * this guest is also a small test of the instruction emulator.
 */
#include "rt.h"

/* The flags these checks compare (SDM Vol. 1 3.4.3.1). */
#define ARITH_FLAGS (X86_EFLAGS_CF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)

static void check_alu(const char *name, uint16_t got, uint16_t flags, uint16_t want, uint16_t want_flags)
{
	flags &= ARITH_FLAGS;
	report(got == want && flags == want_flags, name, "got 0x%x flags 0x%x want 0x%x flags 0x%x",
	       got, flags, want, want_flags);
}

#define ALU2(insn, a, b, res, fl)                                                  \
	__asm__ volatile(insn " %w3, %w0\n\tpushfw\n\tpopw %w1"                    \
			 : "=r"(res), "=r"(fl) : "0"((uint16_t)(a)), "r"((uint16_t)(b)))

static void test_add_sub(void)
{
	uint16_t r, f;

	ALU2("addw", 0xffff, 1, r, f);
	check_alu("add16-carry", r, f, 0x0000, X86_EFLAGS_CF | X86_EFLAGS_ZF);
	ALU2("addw", 0x7fff, 1, r, f);
	check_alu("add16-overflow", r, f, 0x8000, X86_EFLAGS_SF | X86_EFLAGS_OF);
	ALU2("subw", 0, 1, r, f);
	check_alu("sub16-borrow", r, f, 0xffff, X86_EFLAGS_CF | X86_EFLAGS_SF);
	ALU2("subw", 0x8000, 1, r, f);
	check_alu("sub16-overflow", r, f, 0x7fff, X86_EFLAGS_OF);

	/* 0x0001ffff + 0x00000001 in 16-bit halves: the carry crosses. */
	uint16_t lo = 0xffff, hi = 0x0001;
	__asm__ volatile("addw $1, %w0\n\tadcw $0, %w1" : "+r"(lo), "+r"(hi));
	report(lo == 0 && hi == 2, "adc16-chain", "got 0x%x:%x want 0x2:0", hi, lo);

	/* 0x00020000 - 1 with sbb. */
	lo = 0x0000;
	hi = 0x0002;
	__asm__ volatile("subw $1, %w0\n\tsbbw $0, %w1" : "+r"(lo), "+r"(hi));
	report(lo == 0xffff && hi == 1, "sbb16-chain", "got 0x%x:%x want 0x1:ffff", hi, lo);
}

static void test_mul_div(void)
{
	uint16_t ax, dx;

	__asm__ volatile("mulw %w2" : "=a"(ax), "=d"(dx) : "r"((uint16_t)0x0100), "a"((uint16_t)0x1234));
	report(dx == 0x0012 && ax == 0x3400, "mul16", "dx:ax 0x%x:%x want 0x12:3400", dx, ax);

	__asm__ volatile("imulw %w2" : "=a"(ax), "=d"(dx) : "r"((uint16_t)7), "a"((uint16_t)-3));
	report(dx == 0xffff && ax == 0xffeb, "imul16", "dx:ax 0x%x:%x want 0xffff:ffeb (-21)", dx, ax);

	/* 100000 = 0x0001:86a0; / 7 = 14285 rem 5 */
	__asm__ volatile("divw %w2" : "=a"(ax), "=d"(dx) : "r"((uint16_t)7), "a"((uint16_t)0x86a0), "d"((uint16_t)1));
	report(ax == 14285 && dx == 5, "div16", "quotient %u remainder %u want 14285 rem 5", ax, dx);

	/* -1000 = 0xffff:fc18; / 7 = -142 rem -6 (idiv truncates toward zero) */
	__asm__ volatile("idivw %w2" : "=a"(ax), "=d"(dx) : "r"((uint16_t)7), "a"((uint16_t)0xfc18), "d"((uint16_t)0xffff));
	report(ax == 0xff72 && dx == 0xfffa, "idiv16", "quotient 0x%x remainder 0x%x want 0xff72 (-142) rem 0xfffa (-6)", ax, dx);
}

#define SHIFT(insn, a, res, fl)                                                    \
	__asm__ volatile(insn ", %w0\n\tpushfw\n\tpopw %w1" : "=r"(res), "=r"(fl) : "0"((uint16_t)(a)))

static void test_shifts(void)
{
	uint16_t r, f;

	SHIFT("shlw $1", 0x8001, r, f);
	report(r == 0x0002 && (f & X86_EFLAGS_CF), "shl16", "got 0x%x CF %u want 0x2 CF 1", r, (unsigned)(f & X86_EFLAGS_CF));
	SHIFT("shrw $1", 0x8001, r, f);
	report(r == 0x4000 && (f & X86_EFLAGS_CF), "shr16", "got 0x%x CF %u want 0x4000 CF 1", r, (unsigned)(f & X86_EFLAGS_CF));
	SHIFT("sarw $1", 0x8001, r, f);
	report(r == 0xc000 && (f & X86_EFLAGS_CF), "sar16", "got 0x%x CF %u want 0xc000 CF 1", r, (unsigned)(f & X86_EFLAGS_CF));
	SHIFT("rolw $4", 0x8001, r, f);
	check_alu("rol16", r, f & X86_EFLAGS_CF, 0x0018, 0);
	SHIFT("rorw $4", 0x8001, r, f);
	check_alu("ror16", r, f & X86_EFLAGS_CF, 0x1800, 0);
}

static void test_strings(void)
{
	static const char src[] = "real-mode-ok";
	static char dst[sizeof(src)];
	static uint8_t fill[16];
	uint16_t si = (uint16_t)(uintptr_t)src, di = (uint16_t)(uintptr_t)dst, cx = sizeof(src);

	__asm__ volatile("cld\n\trep movsb" : "+S"(si), "+D"(di), "+c"(cx) : : "memory");
	report(memcmp(dst, src, sizeof(src)) == 0 && cx == 0 &&
	       si == (uint16_t)(uintptr_t)src + sizeof(src) && di == (uint16_t)(uintptr_t)dst + sizeof(src),
	       "rep-movsb", "copied \"%s\" want \"%s\", cx %u", dst, src, cx);

	di = (uint16_t)(uintptr_t)fill;
	cx = sizeof(fill);
	__asm__ volatile("cld\n\trep stosb" : "+D"(di), "+c"(cx) : "a"((uint8_t)0xa5) : "memory");
	unsigned good = 0;
	for (unsigned i = 0; i < sizeof(fill); i++)
		good += fill[i] == 0xa5;
	report(good == sizeof(fill) && cx == 0, "rep-stosb", "%u of %u bytes 0xa5, cx %u",
	       good, (unsigned)sizeof(fill), cx);
}

static void test_stack(void)
{
	uint16_t a, b, c, sp0, sp1;

	__asm__ volatile("movw %%sp, %w3\n\t"
			 "pushw $0x1111\n\tpushw $0x2222\n\tpushw $0x3333\n\t"
			 "popw %w0\n\tpopw %w1\n\tpopw %w2\n\t"
			 "movw %%sp, %w4"
			 : "=&r"(a), "=&r"(b), "=&r"(c), "=&r"(sp0), "=&r"(sp1));
	report(a == 0x3333 && b == 0x2222 && c == 0x1111 && sp0 == sp1, "push-pop",
	       "popped 0x%x 0x%x 0x%x sp 0x%x->0x%x want 0x3333 0x2222 0x1111 sp unchanged",
	       a, b, c, sp0, sp1);

	uint16_t r;
	__asm__ volatile("movw %%sp, %w1\n\t"
			 "callw 1f\n\t"
			 "jmp 2f\n"
			 "1:\tmovw $0x4321, %w0\n\t"
			 "retw\n"
			 "2:\tmovw %%sp, %w2"
			 : "=&r"(r), "=&r"(sp0), "=&r"(sp1));
	report(r == 0x4321 && sp0 == sp1, "call-ret", "callee returned 0x%x sp 0x%x->0x%x want 0x4321 sp unchanged",
	       r, sp0, sp1);
}

static void test_segments(void)
{
	static volatile uint8_t cell[32];
	uint32_t linear = (uint32_t)(uintptr_t)&cell[5];
	uint16_t seg = (uint16_t)((linear >> 4) - 1), off = (uint16_t)((linear & 0xf) + 16);

	cell[5] = 0;
	/* Linear = segment * 16 + offset (SDM Vol. 3, 8086 emulation: real-address
	 * mode address translation). */
	__asm__ volatile("pushw %%es\n\tmovw %w0, %%es\n\tmovb $0x5e, %%es:(%w1)\n\tpopw %%es"
			 : : "r"(seg), "b"(off) : "memory");
	report(cell[5] == 0x5e, "segment-write", "es:0x%x:%x wrote 0x5e, linear 0x%x reads 0x%x",
	       seg, off, linear, cell[5]);

	uint8_t got;
	__asm__ volatile("pushw %%ds\n\tmovw %w1, %%ds\n\tmovb (%w2), %0\n\tpopw %%ds"
			 : "=q"(got) : "r"(seg), "b"(off) : "memory");
	report(got == 0x5e, "segment-read", "ds:0x%x:%x read 0x%x want 0x5e", seg, off, got);

	/* A far jump reloads CS: run a few instructions at CS=0x07c0 (same linear
	 * addresses, offsets 0x7c00 lower), then jump back to CS=0. */
	uint16_t cs_far, cs_back;
	__asm__ volatile("ljmpw $0x07c0, $(1f - 0x7c00)\n"
			 "1:\tmovw %%cs, %w0\n\t"
			 "ljmpw $0, $2f\n"
			 "2:\tmovw %%cs, %w1"
			 : "=r"(cs_far), "=r"(cs_back));
	report(cs_far == 0x07c0 && cs_back == 0, "far-jump", "cs 0x%x then 0x%x want 0x7c0 then 0",
	       cs_far, cs_back);

	/* A far call pushes CS:IP and lret pops both. */
	uint16_t cs_in, sp0, sp1;
	__asm__ volatile("movw %%sp, %w1\n\t"
			 "lcallw $0x07c0, $(1f - 0x7c00)\n\t"
			 "jmp 2f\n"
			 "1:\tmovw %%cs, %w0\n\t"
			 "lretw\n"
			 "2:\tmovw %%sp, %w2"
			 : "=&r"(cs_in), "=&r"(sp0), "=&r"(sp1));
	report(cs_in == 0x07c0 && read_cs() == 0 && sp0 == sp1, "far-call",
	       "callee cs 0x%x, after lret cs 0x%x sp 0x%x->0x%x want 0x7c0, 0, unchanged",
	       cs_in, read_cs(), sp0, sp1);
}

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);
	test_add_sub();
	test_mul_div();
	test_shifts();
	test_strings();
	test_stack();
	test_segments();
	end();
}
