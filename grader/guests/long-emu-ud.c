/* SPDX-License-Identifier: MIT */
/*
 * long-emu-ud: what an instruction emulator must never do — carry out an
 * instruction that does not exist, or give a wrong value for one it does
 * not know.
 *
 *   - undefined opcodes at CPL 3 raise #UD with RIP at the instruction's
 *     first byte; more than 15 bytes raise #GP(0) (rt/emu-ud.h has the cases
 *     and their SDM references; long-emu-ud0 runs them at CPL 0); 15 bytes
 *     at CPL 0 run;
 *   - at CPL 3, loads of the test window by instructions a small emulator
 *     does not know (MOVBE where CPUID has it, BSF, IMUL with an immediate,
 *     CMOVZ; MOVDQU, 16 bytes, within the window and across its end)
 *     either complete with the value the same instruction gives on
 *     RAM, or are #UD at the instruction (Linux's handle_emulation_failure
 *     outside ring 0): never another value. Which of the two happened is
 *     counted, not reported, so every host reports the same lines.
 */
#include "emu64.h"
#include "user64.h"
#include "emu-ud.h"

/* ---- CPL-3 loads of MMIO by instructions a small emulator may not know ---- */

static struct {
	uint64_t va, rax, out, out_hi;
} args;

/* pre: what sets up the flags the instruction reads, before its label. */
#define LD_STUB_PRE(name, pre, insn)                                                     \
	".globl " #name "\n" #name ": movq (%rdi), %rcx\n\tmovq 8(%rdi), %rax\n\t" pre "\n" \
	".globl " #name "_at\n" #name "_at: " insn "\n\tmovq %rax, 16(%rdi)\n"                \
	".globl " #name "_done\n" #name "_done: ud2\n"
#define LD_STUB(name, insn) LD_STUB_PRE(name, "", insn)
__asm__(".text\n"
	LD_STUB(ld_movbe, "movbeq (%rcx), %rax")
	LD_STUB(ld_bsf, "bsfq (%rcx), %rax")
	LD_STUB(ld_imul, "imulq $-7, (%rcx), %rax")
	LD_STUB_PRE(ld_cmovz, "xorl %edx, %edx", "cmovzq (%rcx), %rax")
	/* 16 bytes: the low half in RAX (as the others), the high half too */
	LD_STUB(ld_movdqu, "movdqu (%rcx), %xmm0\n\tmovq %xmm0, %rax\n\tpsrldq $8, %xmm0\n\tmovq %xmm0, 24(%rdi)"));

#define LDECL(n) extern char n[], n##_at[], n##_done[];
LDECL(ld_movbe) LDECL(ld_bsf) LDECL(ld_imul) LDECL(ld_cmovz) LDECL(ld_movdqu)

struct ld_case {
	const char *name;
	char *entry, *at, *done;
	unsigned cpuid_ecx_bit; /* CPUID.1:ECX bit it needs, 0: none */
};

#define LD(n, bit) { #n, ld_##n, ld_##n##_at, ld_##n##_done, bit }
static const struct ld_case ld_cases[] = {
	LD(movbe, 22), LD(bsf, 0), LD(imul, 0), LD(cmovz, 0),
};

/* out: RAX after the instruction; for MOVDQU the high half in out[1]. */
static enum user_end ld_run(const struct ld_case *c, uint64_t va, uint64_t *out)
{
	args.va = va, args.rax = 0x5151515151515151ull, args.out = ~0ull, args.out_hi = ~0ull;
	trap64_run_user((uint64_t)(uintptr_t)c->entry, (uint64_t)(uintptr_t)(ud_user_stack + sizeof(ud_user_stack)),
			(uint64_t)(uintptr_t)&args);
	if (trap64_last.vector != UD_VECTOR || trap64_last.cpl != 3)
		return USER_FAULT;
	out[0] = args.out;
	if (c->entry == ld_movdqu)
		out[1] = args.out_hi;
	if (trap64_last.rip == (uint64_t)(uintptr_t)c->done)
		return USER_DONE;
	return trap64_last.rip == (uint64_t)(uintptr_t)c->at ? USER_UD : USER_FAULT;
}

#define WIN_OFF   0x300
#define WIN_VALUE 0x8000f00d12345600ull

/* A RAM copy of the window's qwords at WIN_OFF and WIN_OFF + 8 (never
 * written: the window starts zeroed), and of the window's last qword with
 * RAM B's first after it. */
static uint64_t ram_copy[2], ram_cross[2];

/* MOVDQU: 16 bytes, more than one KVM_EXIT_MMIO carries (8, api.rst), so
 * two exits (Linux's mmio_fragments); Linux emulates it, a small emulator
 * need not. Here once within the window and once across its end into
 * RAM B (8 bytes each side). */
static void movdqu_loads(unsigned *done, unsigned *ud)
{
	static const struct ld_case c = LD(movdqu, 0);
	write_cr4(read_cr4() | X86_CR4_OSFXSR); /* SSE instructions #UD without it (SDM Vol. 3 2.5) */
	*(volatile uint64_t *)EMU_RAM_B = 0x0b0b0b0b5eed5eedull;
	ram_cross[0] = 0, ram_cross[1] = 0x0b0b0b0b5eed5eedull;
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "mmio-movdqu-cross" : "mmio-movdqu";
		uint64_t want[2] = { 0, 0 }, got[2] = { 0, 0 };
		if (ld_run(&c, (uint64_t)(uintptr_t)(k ? ram_cross : ram_copy), want) != USER_DONE) {
			skip(name, "the instruction does not run on RAM here");
			continue;
		}
		enum user_end e = ld_run(&c, k ? EMU_RAM_B - 8 : EMU_WIN + WIN_OFF, got);
		*done += e == USER_DONE, *ud += e == USER_UD;
		report((e == USER_DONE && got[0] == want[0] && got[1] == want[1]) || e == USER_UD, name,
		       "on MMIO it %s with 0x%llx:%llx; on RAM 0x%llx:%llx: want that value or #UD, never another",
		       user_end_name(e), (unsigned long long)got[1], (unsigned long long)got[0],
		       (unsigned long long)want[1], (unsigned long long)want[0]);
	}
}

static void unknown_loads(void)
{
	uint32_t a, b, ecx, d;
	cpuid(1, 0, &a, &b, &ecx, &d);

	/* The window's qword: what a plain MOV stored, if the host could. */
	enum user_end st = user_store(EMU_WIN + WIN_OFF, 8, WIN_VALUE);
	uint64_t v = 0;
	enum user_end ld = user_load(EMU_WIN + WIN_OFF, 8, &v);
	uint64_t in_window = ld == USER_DONE ? v : st == USER_DONE ? WIN_VALUE : 0; /* the window starts zeroed */
	report((st == USER_DONE || st == USER_UD) && (ld == USER_DONE || ld == USER_UD) &&
		       (ld != USER_DONE || st != USER_DONE || v == WIN_VALUE),
	       "mov-window", "a CPL-3 store then load of the window: %s, %s, read 0x%llx", user_end_name(st),
	       user_end_name(ld), (unsigned long long)v);
	ram_copy[0] = in_window;

	unsigned done = 0, ud = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(ld_cases); i++) {
		const struct ld_case *c = &ld_cases[i];
		char name[32] = "mmio-";
		for (unsigned j = 0; c->name[j]; j++)
			name[5 + j] = c->name[j];
		uint64_t want[2] = { 0, 0 }, got[2] = { 0, 0 };
		if (c->cpuid_ecx_bit && !(ecx & (1u << c->cpuid_ecx_bit))) {
			skip(name, "CPUID.1:ECX does not have it");
			continue;
		}
		enum user_end r = ld_run(c, (uint64_t)(uintptr_t)ram_copy, want);
		if (r != USER_DONE) {
			skip(name, "the instruction does not run on RAM here");
			continue;
		}
		enum user_end e = ld_run(c, EMU_WIN + WIN_OFF, got);
		done += e == USER_DONE, ud += e == USER_UD;
		report((e == USER_DONE && got[0] == want[0]) || e == USER_UD, name,
		       "on MMIO it %s with RAX 0x%llx; on RAM 0x%llx: want that value or #UD, never another",
		       user_end_name(e), (unsigned long long)got[0], (unsigned long long)want[0]);
	}
	movdqu_loads(&done, &ud);
	printf("  unknown loads: %u completed, %u #UD\n", done, ud);
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	emu_map_window();

	for (unsigned i = 0; i < ARRAY_SIZE(ud_cases); i++)
		ud_one(&ud_cases[i], 3);
	/* 15 bytes is the limit, not past it. */
	int ran = trap64_run((void (*)(uint64_t))(uintptr_t)ok_15_bytes, 0);
	report(ran, "15-bytes-cpl0", "15 bytes (14 prefixes and a NOP) raised vector %llu at 0x%llx",
	       (unsigned long long)trap64_last.vector, (unsigned long long)trap64_last.rip);

	unknown_loads();
	end();
}
