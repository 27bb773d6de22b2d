/* SPDX-License-Identifier: MIT */
/*
 * long-emu-force: the instruction emulator against the CPU, from inside a
 * guest, through forced emulation (rt/fep.h: the prefix ud2; "kvm" before an
 * instruction has the hypervisor emulate it). Each form of a table runs
 * twice from the same registers, flags, memory and stack: once as it is
 * (the CPU; under Bochs, Bochs' CPU) and once behind the prefix (the
 * emulator). Everything must agree:
 *
 *   - all 16 general registers (RSP too) and the six arithmetic flags and DF,
 *     but for the flags the SDM leaves undefined after the instruction (AF
 *     after AND/OR/XOR/TEST; OF, SF, AF and PF after the BT family; Vol. 2,
 *     each instruction's "Flags Affected");
 *   - 512 bytes of RAM around the memory operands, across a 4 KiB boundary
 *     (an emulator splits accesses there: Linux's emulator_read_write), and
 *     the stack around its top;
 *   - the exception, when there is one: vector, error code, CR2 for #PF, and
 *     RIP at the instruction (after the prefix in the emulated run).
 *
 * The forms are what an emulator needs for MMIO and page-table writes (the
 * lab 07 subset): MOV (r/m,r; r,r/m; r/m,imm; the moffs forms with 64- and
 * 32-bit offsets), MOVZX/MOVSX, the eight ALU ops in each encoding (r/m,r;
 * r,r/m; AL/eAX,imm; 80, 81, 83), TEST, INC/DEC/NOT/NEG, XCHG, CMPXCHG
 * (operands chosen so it succeeds about half the time), BT/BTS/BTR/BTC with
 * register offsets that reach before and after the operand and immediate
 * ones, CMPXCHG8B, PUSH/POP (registers, memory, immediates, RSP as a
 * base), MOVS/STOS/LODS/CMPS/SCAS with and without REP/REPE/REPNE (counts
 * 0-8, DF both ways, 32-bit addressing), at 8, 16, 32 and 64 bits, with
 * ModRM/SIB/disp8/disp32, RIP-relative and absolute addresses, the 67
 * (address size) and 66 (operand size, also beside REX.W) prefixes, LOCK,
 * AH-BH and SPL-DIL, a GS override (GS.base set), and some faults: #GP(0)
 * and #SS(0) on non-canonical addresses, #PF on unmapped ones.
 *
 * Operands come from a fixed-seed PRNG (xorshift64*), many per form, with
 * the byte values that move flags (00 01 7f 80 ff ...) made likely. Nothing
 * the hypervisor says is trusted: a difference prints the instruction, its
 * inputs, both results and both flag sets. A #UD at the prefix itself means
 * the host has no forced emulation (Linux KVM without
 * kvm.force_emulation_prefix=1): one skip line, not a failure.
 */
#include "rt.h"
#include "trap64.h"
#include "fep.h"
#include <x86/trapnr.h>

#define CASES_PER_FORM 8

/* ---- the machine state a form runs from and leaves -------------------------- */

/* General registers by their number (SDM Vol. 2 Table 3-1: RAX RCX RDX RBX
 * RSP RBP RSI RDI R8-R15), then RFLAGS. */
#define NREGS 16
#define RFL   16

/* The form's stack: RSP starts at fep_stack + STACK_TOP; the bytes either
 * side of it are compared (an exception frame lands below, in the rest). */
#define STACK_TOP 4096
#define STACK_CMP 64

/* The memory operands: WIN_SIZE bytes with a 4 KiB boundary in the middle.
 * RSI points into [WIN + 192, WIN + 256), RDI into [WIN + 64, WIN + 128). */
#define WIN_SIZE 512
#define WIN (fep_page + 4096 - 256)
/* GS.base for the forms with a GS override: %gs:-64(%rsi) is RSI. */
#define GS_BASE 64

/* Groups: one report line each. */
#define G_MOV      0
#define G_MOVX     1
#define G_ADD      2 /* G_ADD + n: the ALU op with ModRM.reg n in 80/81/83 */
#define G_OR       3
#define G_ADC      4
#define G_SBB      5
#define G_AND      6
#define G_SUB      7
#define G_XOR      8
#define G_CMP      9
#define G_TEST     10
#define G_UNARY    11
#define G_XCHG     12
#define G_CMPXCHG  13
#define G_BT       14
#define G_CX8      15
#define G_STACK    16
#define G_STRING   17
#define G_FAULT    18
#define G_COUNT    19

struct outcome {
	uint64_t regs[NREGS + 1];
	int faulted;
	uint64_t vector, error, rip, cr2;
	uint8_t win[WIN_SIZE], stack[2 * STACK_CMP];
};

/* What the harness writes for each case, on pages of its own (a host may
 * track writes to the pages of the guest's IDT and GDT, and a page shared
 * with them would make each store an exit). The first fields are the
 * asm's: fep_st+0 in, +136 out, +272 target, +280 host RSP, +288 scratch. */
struct fep_state {
	uint64_t in[NREGS + 1], out[NREGS + 1];
	uint64_t target, host_rsp;
	uint64_t scratch[8];
	uint64_t regs_init[NREGS + 1];
	uint8_t win_init[WIN_SIZE], stack_init[2 * STACK_CMP];
	struct outcome native, emulated;
	uint64_t rng;
	unsigned printed, group_cases[G_COUNT], group_bad[G_COUNT], group_forms[G_COUNT];
} __attribute__((aligned(4096)));
_Static_assert(offsetof(struct fep_state, out) == 136 && offsetof(struct fep_state, target) == 272 &&
	       offsetof(struct fep_state, host_rsp) == 280 && offsetof(struct fep_state, scratch) == 288,
	       "fep_exec's offsets");
struct fep_state fep_st;
uint8_t fep_stack[2 * 4096] __attribute__((aligned(4096)));
uint8_t fep_page[2 * 4096] __attribute__((aligned(4096)));


/* fep_exec(): RFLAGS and the registers from fep_st.in, RSP at the stack top,
 * jump to fep_st.target; each form ends with "jmp fep_back", which keeps its
 * registers, RSP and RFLAGS in fep_st.out before it touches a stack (a form
 * whose emulation moved RSP wrongly cannot take the harness with it). */
__asm__(".pushsection .text\n"
	".set fep_win, fep_page + 4096 - 256\n"
	".globl fep_exec\n"
	"fep_exec:\n"
	"	pushq %rbx; pushq %rbp; pushq %r12; pushq %r13; pushq %r14; pushq %r15\n"
	"	movq %rsp, fep_st+280(%rip)\n"
	"	leaq fep_st+352(%rip), %rsp\n"
	"	pushq fep_st+128(%rip)\n"
	"	popfq\n"
	"	leaq fep_stack+4096(%rip), %rsp\n"
	"	movq fep_st+0(%rip), %rax\n"
	"	movq fep_st+8(%rip), %rcx\n"
	"	movq fep_st+16(%rip), %rdx\n"
	"	movq fep_st+24(%rip), %rbx\n"
	"	movq fep_st+40(%rip), %rbp\n"
	"	movq fep_st+48(%rip), %rsi\n"
	"	movq fep_st+56(%rip), %rdi\n"
	"	movq fep_st+64(%rip), %r8\n"
	"	movq fep_st+72(%rip), %r9\n"
	"	movq fep_st+80(%rip), %r10\n"
	"	movq fep_st+88(%rip), %r11\n"
	"	movq fep_st+96(%rip), %r12\n"
	"	movq fep_st+104(%rip), %r13\n"
	"	movq fep_st+112(%rip), %r14\n"
	"	movq fep_st+120(%rip), %r15\n"
	"	jmp *fep_st+272(%rip)\n"
	"fep_back:\n"
	"	movq %rsp, fep_st+168(%rip)\n"
	"	leaq fep_st+352(%rip), %rsp\n"
	"	pushfq\n"
	"	popq fep_st+264(%rip)\n"
	"	cld\n"
	"	movq %rax, fep_st+136(%rip)\n"
	"	movq %rcx, fep_st+144(%rip)\n"
	"	movq %rdx, fep_st+152(%rip)\n"
	"	movq %rbx, fep_st+160(%rip)\n"
	"	movq %rbp, fep_st+176(%rip)\n"
	"	movq %rsi, fep_st+184(%rip)\n"
	"	movq %rdi, fep_st+192(%rip)\n"
	"	movq %r8, fep_st+200(%rip)\n"
	"	movq %r9, fep_st+208(%rip)\n"
	"	movq %r10, fep_st+216(%rip)\n"
	"	movq %r11, fep_st+224(%rip)\n"
	"	movq %r12, fep_st+232(%rip)\n"
	"	movq %r13, fep_st+240(%rip)\n"
	"	movq %r14, fep_st+248(%rip)\n"
	"	movq %r15, fep_st+256(%rip)\n"
	"	movq fep_st+280(%rip), %rsp\n"
	"	popq %r15; popq %r14; popq %r13; popq %r12; popq %rbp; popq %rbx\n"
	"	ret\n"
	".popsection\n");
void fep_exec(uint64_t unused);

/* ---- the forms ------------------------------------------------------------------ */


static const char *const group_names[G_COUNT] = {
	"mov", "movzx-movsx", "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test",
	"inc-dec-not-neg", "xchg", "cmpxchg", "bt-bts-btr-btc", "cmpxchg8b", "push-pop",
	"string", "faults",
};

/* Flags left undefined (not compared): none; AF (logic ops, Vol. 2 "AND",
 * "TEST"); OF SF AF PF (Vol. 2 "BT"). */
#define U0 0
#define UA 0x10
#define UB 0x894

/* How a case's operands are made (make_case()). */
#define S_GEN     0  /* random registers; RSI, RDI pointers; R10 an index 0-7 */
#define S_CMPXM   1  /* and RAX = the qword at RSI half the time */
#define S_CMPXR   2  /* and RAX = RCX half the time */
#define S_CX8     3  /* and EDX:EAX = the qword at RSI half the time */
#define S_BTQ     4  /* RBX a bit offset in [-1024, 1024) */
#define S_BTL     5  /* EBX that offset, bits 63:32 random */
#define S_BTW     6  /* BX that offset, bits 63:16 random */
#define S_STR     7  /* RCX 0-8, DF random, memory of few byte values */
#define S_STR32   8  /* S_STR with bits 63:32 of RCX, RSI, RDI random */
#define S_WILD    9  /* RBX, RBP non-canonical */
#define S_PF      10 /* RBX canonical, not mapped (4 GiB and up) */

#define STR_(x) #x
#define XSTR(x) STR_(x)

/* One form: the native copy (1:, the instruction at 3:) and the emulated
 * copy (2:, the prefix, the instruction at 4:), each "pre; insn; post;
 * jmp fep_back", and its descriptor (struct form) in .data.fep_forms. */
#define FORM(g, u, s, name, pre, insn, post)                                                     \
	".pushsection .text.fep, \"ax\"\n"                                                        \
	"1:\n\t" pre "\n3:\n\t" insn "\n\t" post "\n\tjmp fep_back\n"                             \
	"2:\n\t" pre "\n\t" FEP_BYTES "\n4:\n\t" insn "\n\t" post "\n\tjmp fep_back\n"            \
	".popsection\n"                                                                           \
	".pushsection .rodata.fep_names, \"a\"\n5: .asciz \"" name "\"\n.popsection\n"           \
	".pushsection .data.fep_forms, \"aw\"\n\t.balign 8\n\t.quad 1b, 2b, 3b, 4b, 5b\n"         \
	"\t.long " XSTR(g) ", " XSTR(u) ", " XSTR(s) ", 0\n.popsection\n"
#define F(g, u, s, insn)              FORM(g, u, s, insn, "", insn, "")
#define FN(g, u, s, name, insn)       FORM(g, u, s, name, "", insn, "")
#define FP(g, u, s, pre, insn, post)  FORM(g, u, s, "{" pre "} " insn " {" post "}", pre, insn, post)

struct form {
	uint64_t native_entry, emulated_entry; /* each copy */
	uint64_t native_insn, emulated_insn; /* the instruction in each */
	const char *name;
	uint32_t group, undef, setup, pad;
};

/* The eight ALU ops in every encoding (Vol. 2 Appendix A, Table A-2: 00-3D;
 * Table A-6: 80, 81, 83 /0-7). gas picks 04/05 (AL/eAX, imm) for an
 * accumulator with an immediate that does not fit in 8 bits, 83 for one
 * that does, 80/81 otherwise. */
#define ALU(op, g, u)                                     \
	F(g, u, S_GEN, op "b %bl, (%rsi)")                \
	F(g, u, S_GEN, op "w %bx, 7(%rsi)")               \
	F(g, u, S_GEN, op "l %r9d, -0x10(%rsi,%r10,4)")   \
	F(g, u, S_GEN, op "q %rbp, fep_win+0x101(%rip)")  \
	F(g, u, S_GEN, op "b 3(%rsi), %ah")               \
	F(g, u, S_GEN, op "w (%rsi,%r10,2), %r11w")       \
	F(g, u, S_GEN, op "l (%esi), %ecx")               \
	F(g, u, S_GEN, op "q 0x1f(%rsi), %r15")           \
	F(g, u, S_GEN, op "b $0x5a, %al")                 \
	F(g, u, S_GEN, op "w $0x1234, %ax")               \
	F(g, u, S_GEN, op "l $0x89abcdef, %eax")          \
	F(g, u, S_GEN, op "q $-0x789abcd, %rax")          \
	F(g, u, S_GEN, op "b $0xa5, -1(%rsi)")            \
	F(g, u, S_GEN, op "b $0x81, %r13b")               \
	F(g, u, S_GEN, op "w $0x8001, (%rsi)")            \
	F(g, u, S_GEN, op "l $0x7fffffff, %gs:-59(%rsi)") \
	F(g, u, S_GEN, op "q $-0x80000000, %r12")         \
	F(g, u, S_GEN, op "w $-1, 2(%rsi)")               \
	F(g, u, S_GEN, op "l $0x7f, %ecx")                \
	F(g, u, S_GEN, op "q $-0x80, (%rsi)")             \
	F(g, u, S_GEN, op "l %ebx, %ecx")                 \
	F(g, u, S_GEN, op "b %dh, %ch")

/* BT r/m, r (0F A3 AB B3 BB) and BT r/m, imm8 (0F BA /4-7). */
#define BTOP(op)                                       \
	F(G_BT, UB, S_BTW, op "w %bx, (%rsi)")          \
	F(G_BT, UB, S_BTL, op "l %ebx, 3(%rsi)")        \
	F(G_BT, UB, S_BTQ, op "q %rbx, (%rsi)")         \
	F(G_BT, UB, S_GEN, op "w $13, 1(%rsi)")         \
	F(G_BT, UB, S_GEN, op "l $33, (%rsi)")          \
	F(G_BT, UB, S_GEN, op "q $0x47, -2(%rsi)")      \
	F(G_BT, UB, S_GEN, op "q %rbx, %rcx")           \
	F(G_BT, UB, S_GEN, op "l $5, %ecx")

__asm__(".pushsection .data.fep_forms, \"aw\"\n\t.balign 8\n.globl fep_forms\nfep_forms:\n.popsection\n"
	/* MOV: 88 89 8A 8B, C6 C7 /0, A0-A3 (Vol. 2 "MOV") */
	F(G_MOV, U0, S_GEN, "movb %bl, (%rsi)")
	F(G_MOV, U0, S_GEN, "movb %ah, 5(%rsi)")
	F(G_MOV, U0, S_GEN, "movb %bpl, fep_win+0x111(%rip)")
	F(G_MOV, U0, S_GEN, "movw %r9w, -2(%rsi)")
	F(G_MOV, U0, S_GEN, "movl %ebx, (%rsi,%r10,8)")
	F(G_MOV, U0, S_GEN, "movq %r14, 0x13(%rsi)")
	F(G_MOV, U0, S_GEN, "movq %rcx, %gs:-64(%rsi)")
	F(G_MOV, U0, S_GEN, "movl %edx, (%esi)")
	F(G_MOV, U0, S_GEN, "movb 1(%rsi), %dh")
	F(G_MOV, U0, S_GEN, "movb (%rsi), %r11b")
	F(G_MOV, U0, S_GEN, "movw 3(%rsi), %cx")
	F(G_MOV, U0, S_GEN, "movl (%esi), %r8d")
	F(G_MOV, U0, S_GEN, "movq -8(%rsi), %rbx")
	F(G_MOV, U0, S_GEN, "movq fep_win+0x120, %rdx")
	F(G_MOV, U0, S_GEN, "movl %gs:-60(%rsi), %ecx")
	F(G_MOV, U0, S_GEN, "movb $0x99, 4(%rsi)")
	FN(G_MOV, U0, S_GEN, "movb $7, %ch (c6 /0)", ".byte 0xc6, 0xc5, 0x07")
	F(G_MOV, U0, S_GEN, "movw $0x8765, 6(%rsi)")
	F(G_MOV, U0, S_GEN, "movl $0xdeadbeef, (%rsi)")
	F(G_MOV, U0, S_GEN, "movq $-0x21524111, (%rsi)")
	F(G_MOV, U0, S_GEN, "movq $0x7fffffff, %rcx")
	F(G_MOV, U0, S_GEN, "movq %rbx, %rcx")
	F(G_MOV, U0, S_GEN, "movl %r8d, %r9d")
	F(G_MOV, U0, S_GEN, "movb %bh, %cl")
	F(G_MOV, U0, S_GEN, "movw %bx, %r12w")
	F(G_MOV, U0, S_GEN, "movabsb fep_win+0x130, %al")
	F(G_MOV, U0, S_GEN, "movabsw fep_win+0x131, %ax")
	F(G_MOV, U0, S_GEN, "movabsl fep_win+0xfe, %eax")
	F(G_MOV, U0, S_GEN, "movabsq fep_win+0xfb, %rax")
	F(G_MOV, U0, S_GEN, "movabsb %al, fep_win+0x140")
	F(G_MOV, U0, S_GEN, "movabsw %ax, fep_win+0xff")
	F(G_MOV, U0, S_GEN, "movabsl %eax, fep_win+0x143")
	F(G_MOV, U0, S_GEN, "movabsq %rax, fep_win+0xfc")
	FN(G_MOV, U0, S_GEN, "addr32 movl fep_win+0x150, %eax (67 a1)", ".byte 0x67, 0xa1; .long fep_win+0x150")
	FN(G_MOV, U0, S_GEN, "addr32 movq %rax, fep_win+0xf9 (67 48 a3)", ".byte 0x67, 0x48, 0xa3; .long fep_win+0xf9")
	/* MOVZX 0F B6/B7, MOVSX 0F BE/BF (Vol. 2 "MOVZX", "MOVSX") */
	F(G_MOVX, U0, S_GEN, "movzbl (%rsi), %ecx")
	F(G_MOVX, U0, S_GEN, "movzbw 1(%rsi), %cx")
	F(G_MOVX, U0, S_GEN, "movzbq -1(%rsi), %r11")
	F(G_MOVX, U0, S_GEN, "movzwl 2(%rsi), %ebx")
	F(G_MOVX, U0, S_GEN, "movzwq (%rsi,%r10,2), %rbp")
	F(G_MOVX, U0, S_GEN, "movzbl %bh, %edx")
	F(G_MOVX, U0, S_GEN, "movzbq %r9b, %rcx")
	F(G_MOVX, U0, S_GEN, "movzwl %r13w, %r13d")
	F(G_MOVX, U0, S_GEN, "movsbl 3(%rsi), %ecx")
	F(G_MOVX, U0, S_GEN, "movsbw (%rsi), %dx")
	F(G_MOVX, U0, S_GEN, "movsbq fep_win+0x100(%rip), %r12")
	F(G_MOVX, U0, S_GEN, "movswl -3(%rsi), %ebx")
	F(G_MOVX, U0, S_GEN, "movswq 0xff(%rsi), %rcx")
	F(G_MOVX, U0, S_GEN, "movsbl %ch, %edx")
	F(G_MOVX, U0, S_GEN, "movsbq %r14b, %rbx")
	F(G_MOVX, U0, S_GEN, "movswq %bx, %rcx")
	/* the eight ALU ops */
	ALU("add", G_ADD, U0) ALU("or", G_OR, UA) ALU("adc", G_ADC, U0) ALU("sbb", G_SBB, U0)
	ALU("and", G_AND, UA) ALU("sub", G_SUB, U0) ALU("xor", G_XOR, UA) ALU("cmp", G_CMP, U0)
	F(G_ADD, U0, S_GEN, "lock addq %rbx, 1(%rsi)")
	F(G_OR, UA, S_GEN, "lock orb $0x11, (%rsi)")
	F(G_SUB, U0, S_GEN, "lock subw %cx, 3(%rsi)")
	F(G_XOR, UA, S_GEN, "lock xorl $-2, (%rsi)")
	FN(G_ADD, U0, S_GEN, "addq %rbx, (%rsi) with 66 before REX.W (66 48 01 1e)", ".byte 0x66, 0x48, 0x01, 0x1e")
	/* TEST 84 85, F6/F7 /0 (Vol. 2 "TEST") */
	F(G_TEST, UA, S_GEN, "testb %bl, (%rsi)")
	F(G_TEST, UA, S_GEN, "testw %cx, 3(%rsi)")
	F(G_TEST, UA, S_GEN, "testl %r9d, (%rsi)")
	F(G_TEST, UA, S_GEN, "testq %rbp, -5(%rsi)")
	F(G_TEST, UA, S_GEN, "testb $0x81, 2(%rsi)")
	F(G_TEST, UA, S_GEN, "testw $0x8000, (%rsi)")
	F(G_TEST, UA, S_GEN, "testl $0x7fff0001, 1(%rsi)")
	F(G_TEST, UA, S_GEN, "testq $-2, (%rsi)")
	F(G_TEST, UA, S_GEN, "testl %ebx, %ecx")
	F(G_TEST, UA, S_GEN, "testb $0x44, %dh")
	F(G_TEST, UA, S_GEN, "testq $0x40000000, %rcx")
	/* INC DEC FE/FF /0 /1, NOT NEG F6/F7 /2 /3 */
	F(G_UNARY, U0, S_GEN, "incb (%rsi)")
	F(G_UNARY, U0, S_GEN, "incw 1(%rsi)")
	F(G_UNARY, U0, S_GEN, "incl (%rsi,%r10,4)")
	F(G_UNARY, U0, S_GEN, "incq -3(%rsi)")
	F(G_UNARY, U0, S_GEN, "incl %ecx")
	F(G_UNARY, U0, S_GEN, "incb %ah")
	F(G_UNARY, U0, S_GEN, "decb 2(%rsi)")
	F(G_UNARY, U0, S_GEN, "decw (%rsi)")
	F(G_UNARY, U0, S_GEN, "decl 5(%rsi)")
	F(G_UNARY, U0, S_GEN, "decq (%rsi)")
	F(G_UNARY, U0, S_GEN, "decq %rbx")
	F(G_UNARY, U0, S_GEN, "decb %r12b")
	F(G_UNARY, U0, S_GEN, "notb (%rsi)")
	F(G_UNARY, U0, S_GEN, "notw 1(%rsi)")
	F(G_UNARY, U0, S_GEN, "notl 2(%rsi)")
	F(G_UNARY, U0, S_GEN, "notq 3(%rsi)")
	F(G_UNARY, U0, S_GEN, "notl %ecx")
	F(G_UNARY, U0, S_GEN, "negb (%rsi)")
	F(G_UNARY, U0, S_GEN, "negw 6(%rsi)")
	F(G_UNARY, U0, S_GEN, "negl (%rsi)")
	F(G_UNARY, U0, S_GEN, "negq -1(%rsi)")
	F(G_UNARY, U0, S_GEN, "negb %bh")
	F(G_UNARY, U0, S_GEN, "negq %rdx")
	F(G_UNARY, U0, S_GEN, "lock incl (%rsi)")
	F(G_UNARY, U0, S_GEN, "lock negq 1(%rsi)")
	F(G_UNARY, U0, S_GEN, "lock notw (%rsi)")
	/* XCHG 86 87 (Vol. 2 "XCHG": a memory operand is locked anyway) */
	F(G_XCHG, U0, S_GEN, "xchgb %bl, (%rsi)")
	F(G_XCHG, U0, S_GEN, "xchgw %cx, 1(%rsi)")
	F(G_XCHG, U0, S_GEN, "xchgl %r9d, (%rsi,%r10,4)")
	F(G_XCHG, U0, S_GEN, "xchgq %rbp, -7(%rsi)")
	F(G_XCHG, U0, S_GEN, "xchgq %rbx, %rcx")
	F(G_XCHG, U0, S_GEN, "xchgb %ah, %dh")
	F(G_XCHG, U0, S_GEN, "lock xchgl %ebx, (%rsi)")
	/* CMPXCHG 0F B0 B1 (Vol. 2 "CMPXCHG") */
	F(G_CMPXCHG, U0, S_CMPXM, "cmpxchgb %bl, (%rsi)")
	F(G_CMPXCHG, U0, S_CMPXM, "cmpxchgw %cx, (%rsi)")
	F(G_CMPXCHG, U0, S_CMPXM, "cmpxchgl %r9d, (%rsi)")
	F(G_CMPXCHG, U0, S_CMPXM, "cmpxchgq %rbp, (%rsi)")
	F(G_CMPXCHG, U0, S_CMPXM, "lock cmpxchgq %rbx, (%rsi)")
	F(G_CMPXCHG, U0, S_CMPXM, "lock cmpxchgl %ebx, (%rsi)")
	F(G_CMPXCHG, U0, S_CMPXR, "cmpxchgb %bh, %cl")
	F(G_CMPXCHG, U0, S_CMPXR, "cmpxchgw %bx, %cx")
	F(G_CMPXCHG, U0, S_CMPXR, "cmpxchgl %ebx, %ecx")
	F(G_CMPXCHG, U0, S_CMPXR, "cmpxchgq %rbx, %rcx")
	/* BT BTS BTR BTC (Vol. 2 "BT": bit base addressing with a register offset) */
	BTOP("bt") BTOP("bts") BTOP("btr") BTOP("btc")
	F(G_BT, UB, S_BTQ, "lock btsq %rbx, (%rsi)")
	F(G_BT, UB, S_BTL, "lock btrl %ebx, (%rsi)")
	F(G_BT, UB, S_GEN, "lock btcw $3, (%rsi)")
	/* CMPXCHG8B 0F C7 /1 (Vol. 2 "CMPXCHG8B/CMPXCHG16B"; CMPXCHG16B, REX.W, is
	 * outside the emulated subset) */
	F(G_CX8, U0, S_CX8, "cmpxchg8b (%rsi)")
	F(G_CX8, U0, S_CX8, "cmpxchg8b 3(%rsi)")
	F(G_CX8, U0, S_CX8, "lock cmpxchg8b (%rsi)")
	/* PUSH 50+r FF/6 6A 68, POP 58+r 8F/0 (Vol. 2 "PUSH", "POP"), the
	 * other half done natively to see what the fep_st.emulated one did */
	FP(G_STACK, U0, S_GEN, "", "pushq %rbx", "popq %rcx")
	FP(G_STACK, U0, S_GEN, "", "pushq %r12", "popq %rcx")
	FP(G_STACK, U0, S_GEN, "", "pushw %bx", "popw %cx")
	FP(G_STACK, U0, S_GEN, "", "pushq (%rsi)", "popq %rcx")
	FP(G_STACK, U0, S_GEN, "", "pushw 1(%rsi)", "popw %cx")
	FP(G_STACK, U0, S_GEN, "", "pushq $-5", "popq %rcx")
	FP(G_STACK, U0, S_GEN, "", "pushq $0x12345678", "popq %rcx")
	FP(G_STACK, U0, S_GEN, "", "pushw $0x1234", "popw %cx")
	FP(G_STACK, U0, S_GEN, "", "pushq %rsp", "popq %rcx")
	FP(G_STACK, U0, S_GEN, "pushq %rbx; pushq %rdx", "pushq 8(%rsp)", "popq %r15; leaq 16(%rsp), %rsp")
	FP(G_STACK, U0, S_GEN, "pushq %rbx", "popq %rcx", "")
	FP(G_STACK, U0, S_GEN, "pushq %rbx", "popq %r13", "")
	FP(G_STACK, U0, S_GEN, "pushw %bx", "popw %cx", "")
	FP(G_STACK, U0, S_GEN, "pushq %rbx", "popq (%rsi)", "")
	FP(G_STACK, U0, S_GEN, "pushq %rbx", "popq 3(%rsi,%r10,2)", "")
	FP(G_STACK, U0, S_GEN, "pushw %bx", "popw -1(%rsi)", "")
	FP(G_STACK, U0, S_GEN, "pushq %rbx; pushq %rdx", "popq (%rsp)", "popq %r15")
	FP(G_STACK, U0, S_GEN, "pushq %rbx; pushq %rdx", "popq 8(%rsp)", "popq %r15")
	FP(G_STACK, U0, S_GEN, "pushq %rbx", "popq %rsp", "")
	/* MOVS STOS LODS CMPS SCAS, REP/REPE/REPNE (Vol. 2 "REP/REPE/REPZ/REPNE/REPNZ") */
	F(G_STRING, U0, S_STR, "movsb") F(G_STRING, U0, S_STR, "movsw")
	F(G_STRING, U0, S_STR, "movsl") F(G_STRING, U0, S_STR, "movsq")
	F(G_STRING, U0, S_STR, "rep movsb") F(G_STRING, U0, S_STR, "rep movsw")
	F(G_STRING, U0, S_STR, "rep movsl") F(G_STRING, U0, S_STR, "rep movsq")
	F(G_STRING, U0, S_STR, "stosb") F(G_STRING, U0, S_STR, "stosw")
	F(G_STRING, U0, S_STR, "stosl") F(G_STRING, U0, S_STR, "stosq")
	F(G_STRING, U0, S_STR, "rep stosb") F(G_STRING, U0, S_STR, "rep stosw")
	F(G_STRING, U0, S_STR, "rep stosl") F(G_STRING, U0, S_STR, "rep stosq")
	F(G_STRING, U0, S_STR, "lodsb") F(G_STRING, U0, S_STR, "lodsw")
	F(G_STRING, U0, S_STR, "lodsl") F(G_STRING, U0, S_STR, "lodsq")
	F(G_STRING, U0, S_STR, "rep lodsb") F(G_STRING, U0, S_STR, "rep lodsq")
	F(G_STRING, U0, S_STR, "cmpsb") F(G_STRING, U0, S_STR, "cmpsw")
	F(G_STRING, U0, S_STR, "cmpsl") F(G_STRING, U0, S_STR, "cmpsq")
	F(G_STRING, U0, S_STR, "repe cmpsb") F(G_STRING, U0, S_STR, "repe cmpsw")
	F(G_STRING, U0, S_STR, "repe cmpsl") F(G_STRING, U0, S_STR, "repe cmpsq")
	F(G_STRING, U0, S_STR, "repne cmpsb") F(G_STRING, U0, S_STR, "repne cmpsq")
	F(G_STRING, U0, S_STR, "scasb") F(G_STRING, U0, S_STR, "scasw")
	F(G_STRING, U0, S_STR, "scasl") F(G_STRING, U0, S_STR, "scasq")
	F(G_STRING, U0, S_STR, "repe scasb") F(G_STRING, U0, S_STR, "repe scasl")
	F(G_STRING, U0, S_STR, "repne scasb") F(G_STRING, U0, S_STR, "repne scasw")
	F(G_STRING, U0, S_STR, "repne scasq")
	F(G_STRING, U0, S_STR, "rep movsq %gs:(%rsi), %es:(%rdi)")
	F(G_STRING, U0, S_STR, "lodsw %gs:(%rsi)")
	F(G_STRING, U0, S_STR32, "addr32 rep movsb")
	F(G_STRING, U0, S_STR32, "addr32 rep stosl")
	F(G_STRING, U0, S_STR32, "addr32 repe cmpsw")
	F(G_STRING, U0, S_STR32, "addr32 lodsq")
	/* faults: #GP(0) for a non-canonical address, #SS(0) when it is
	 * SS-relative (RSP or RBP base), #PF (Vol. 3 6.15) */
	F(G_FAULT, U0, S_WILD, "movl (%rbx), %ecx")
	F(G_FAULT, U0, S_WILD, "addq %rcx, 8(%rbx)")
	F(G_FAULT, U0, S_WILD, "movq (%rbp), %rcx")
	F(G_FAULT, U0, S_WILD, "movb %cl, (%rsp,%rbx,1)")
	F(G_FAULT, U0, S_PF, "movq (%rbx), %rcx")
	F(G_FAULT, U0, S_PF, "movl %ecx, 4(%rbx)")
	F(G_FAULT, U0, S_PF, "addw %cx, (%rbx)")
	".pushsection .data.fep_forms, \"aw\"\n.globl fep_forms_end\nfep_forms_end:\n.popsection\n");

extern const struct form fep_forms[], fep_forms_end[];

/* ---- operands ------------------------------------------------------------------ */

#define RNG_SEED 0x6b766d2d66657031ull /* fixed: the same cases every run */

static uint64_t rnd(void)
{
	/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
	 * xorshift generators, scrambled", 2016) */
	uint64_t x = fep_st.rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fep_st.rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Half plain random, half built from the byte values where flags change
 * (carry and overflow out of each size, zero, sign), and now and then the
 * signed limits of one operand size. */
static uint64_t operand(void)
{
	static const uint8_t edge[8] = { 0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x0f, 0x10 };
	uint64_t r = rnd();
	switch (r & 7) {
	case 0: case 1: case 2: case 3:
		return rnd();
	case 4: {
		unsigned bits = 8u << ((r >> 3) & 3);
		uint64_t v = rnd() & ~((bits == 64 ? 0 : ~0ull << bits));
		v &= ~(1ull << (bits - 1));
		v |= ((r >> 5) & 1) ? (bits == 64 ? ~0ull >> 1 : (1ull << (bits - 1)) - 1) : 1ull << (bits - 1);
		return v ^ (rnd() & (bits == 64 ? 0 : ~0ull << bits));
	}
	default: {
		uint64_t v = 0, s = rnd(), t = rnd();
		for (unsigned i = 0; i < 8; i++) {
			uint64_t b = ((s >> (4 * i)) & 8) ? (t >> (8 * i)) & 0xff : edge[(s >> (4 * i)) & 7];
			v |= b << (8 * i);
		}
		return v;
	}
	}
}

#define FLAGS6 (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)


static void make_case(unsigned setup)
{
	for (unsigned i = 0; i < NREGS; i++)
		fep_st.regs_init[i] = operand();
	fep_st.regs_init[4] = 0; /* RSP: the harness's */
	fep_st.regs_init[RFL] = X86_EFLAGS_FIXED | (rnd() & FLAGS6);
	fep_st.regs_init[6] = (uint64_t)(uintptr_t)WIN + 192 + (rnd() & 63); /* RSI */
	fep_st.regs_init[7] = (uint64_t)(uintptr_t)WIN + 64 + (rnd() & 63);  /* RDI */
	fep_st.regs_init[10] = rnd() & 7;                                      /* R10: an index */
	for (unsigned i = 0; i < WIN_SIZE; i += 8) {
		uint64_t v = operand();
		memcpy(fep_st.win_init + i, &v, 8);
	}
	for (unsigned i = 0; i < sizeof(fep_st.stack_init); i += 8) {
		uint64_t v = rnd();
		memcpy(fep_st.stack_init + i, &v, 8);
	}
	uint8_t *rsi = (uint8_t *)(uintptr_t)fep_st.regs_init[6];
	uint64_t half = rnd() & 1;
	switch (setup) {
	case S_CMPXM:
		if (half)
			memcpy(&fep_st.regs_init[0], fep_st.win_init + (rsi - WIN), 8);
		break;
	case S_CMPXR:
		if (half)
			fep_st.regs_init[0] = fep_st.regs_init[1];
		break;
	case S_CX8:
		if (half) {
			uint32_t lo, hi;
			memcpy(&lo, fep_st.win_init + (rsi - WIN), 4);
			memcpy(&hi, fep_st.win_init + (rsi - WIN) + 4, 4);
			fep_st.regs_init[0] = (fep_st.regs_init[0] & ~0xffffffffull) | lo;
			fep_st.regs_init[2] = (fep_st.regs_init[2] & ~0xffffffffull) | hi;
		}
		break;
	case S_BTQ:
	case S_BTL:
	case S_BTW: {
		/* A signed offset within 128 bytes of RSI either way: the bit base
		 * addressing reaches that far before or after the operand. */
		uint64_t off = (uint64_t)((int64_t)(rnd() & 2047) - 1024);
		uint64_t keep = setup == S_BTQ ? 0 : setup == S_BTL ? 0xffffffffull : 0xffffull;
		fep_st.regs_init[3] = setup == S_BTQ ? off : (fep_st.regs_init[3] & ~keep) | (off & keep);
		break;
	}
	case S_STR:
	case S_STR32:
		fep_st.regs_init[1] = rnd() % 9;
		if (rnd() & 1)
			fep_st.regs_init[RFL] |= X86_EFLAGS_DF;
		if (half) {
			/* Few distinct bytes, so that CMPS and SCAS find equal elements. */
			for (unsigned i = 0; i < WIN_SIZE; i++)
				fep_st.win_init[i] = (rnd() & 3) ? 0x5a : 0xa5;
			fep_st.regs_init[0] = 0x5a5a5a5a5a5a5a5aull;
		}
		/* RCX, RSI, RDI: with a 67 prefix only ECX, ESI, EDI count, and
		 * each element written back zero-extends them (Vol. 1 3.4.1.1).
		 * Not with a count of 0: what a REP with ECX = 0 leaves in bits
		 * 63:32 is the CPU's own (Linux: string_registers_quirk). */
		if (setup == S_STR32 && fep_st.regs_init[1]) {
			fep_st.regs_init[1] |= rnd() << 32;
			fep_st.regs_init[6] |= rnd() << 32;
			fep_st.regs_init[7] |= rnd() << 32;
		}
		break;
	case S_WILD:
		/* Bits 63:47 not all equal: non-canonical (Vol. 1 3.3.7.1). */
		fep_st.regs_init[3] = (rnd() & ~(1ull << 63)) | (1ull << 62);
		fep_st.regs_init[5] = (rnd() & ~(1ull << 63)) | (1ull << 62);
		break;
	case S_PF:
		/* The VMM maps only the first 4 GiB (guest_abi.h). */
		fep_st.regs_init[3] = (5ull << 32) + (rnd() & 0x3ffffff000ull) + (rnd() & 0xff0);
		break;
	default:
		break;
	}
}

/* ---- running a form twice and comparing ----------------------------------------- */

static void run(uint64_t entry, struct outcome *o)
{
	memcpy(fep_st.in, fep_st.regs_init, sizeof(fep_st.in));
	memcpy(WIN, fep_st.win_init, WIN_SIZE);
	memcpy(fep_stack + STACK_TOP - STACK_CMP, fep_st.stack_init, sizeof(fep_st.stack_init));
	memset(fep_st.out, 0, sizeof(fep_st.out));
	fep_st.target = entry;
	o->faulted = !trap64_run(fep_exec, 0);
	memcpy(o->regs, fep_st.out, sizeof(fep_st.out));
	o->vector = o->faulted ? trap64_last.vector : 0;
	o->error = o->faulted ? trap64_last.error : 0;
	o->rip = o->faulted ? trap64_last.rip : 0;
	o->cr2 = o->faulted && trap64_last.vector == PF_VECTOR ? trap64_last.cr2 : 0;
	memcpy(o->win, WIN, WIN_SIZE);
	memcpy(o->stack, fep_stack + STACK_TOP - STACK_CMP, sizeof(o->stack));
}

static const char *const reg_names[NREGS] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
};


static void print_fault(const char *who, const struct outcome *o, uint64_t insn)
{
	if (o->faulted)
		printf("    %s: vector %llu error 0x%llx at the instruction + %lld, cr2 0x%llx\n", who,
		       (unsigned long long)o->vector, (unsigned long long)o->error,
		       (long long)(o->rip - insn), (unsigned long long)o->cr2);
	else
		printf("    %s: no exception\n", who);
}

/* Everything about one difference: the instruction, its inputs, then each
 * output that differs, fep_st.native first. */
static void print_mismatch(const struct form *f, unsigned k, uint64_t fmask)
{
	const uint64_t *in = fep_st.regs_init;
	/* RSI's bits 63:32 may be noise (the 67-prefixed forms use ESI). */
	uint64_t off = (uint32_t)in[6] - (uint64_t)(uintptr_t)WIN, m0 = 0, m1 = 0;
	if (off <= WIN_SIZE - 16) {
		memcpy(&m0, fep_st.win_init + off, 8);
		memcpy(&m1, fep_st.win_init + off + 8, 8);
	}
	printf("  %s \"%s\" case %u:\n    in: rax 0x%llx rbx 0x%llx rcx 0x%llx rdx 0x%llx rbp 0x%llx "
	       "r9 0x%llx r10 0x%llx\n        rsi 0x%llx rdi 0x%llx (window 0x%llx) flags 0x%llx; "
	       "qwords at esi 0x%llx 0x%llx\n", group_names[f->group], f->name, k,
	       (unsigned long long)in[0], (unsigned long long)in[3], (unsigned long long)in[1],
	       (unsigned long long)in[2], (unsigned long long)in[5], (unsigned long long)in[9],
	       (unsigned long long)in[10], (unsigned long long)in[6], (unsigned long long)in[7],
	       (unsigned long long)(uintptr_t)WIN, (unsigned long long)in[RFL], (unsigned long long)m0,
	       (unsigned long long)m1);
	if (fep_st.native.faulted || fep_st.emulated.faulted) {
		print_fault("native", &fep_st.native, f->native_insn);
		print_fault("emulated", &fep_st.emulated, f->emulated_insn);
		return;
	}
	for (unsigned r = 0; r < NREGS; r++)
		if (fep_st.native.regs[r] != fep_st.emulated.regs[r])
			printf("    %s: native 0x%llx emulated 0x%llx\n", reg_names[r],
			       (unsigned long long)fep_st.native.regs[r], (unsigned long long)fep_st.emulated.regs[r]);
	printf("    flags (compared 0x%llx): native 0x%llx emulated 0x%llx\n", (unsigned long long)fmask,
	       (unsigned long long)(fep_st.native.regs[RFL] & fmask), (unsigned long long)(fep_st.emulated.regs[RFL] & fmask));
	for (unsigned i = 0; i < WIN_SIZE; i += 8)
		if (memcmp(fep_st.native.win + i, fep_st.emulated.win + i, 8)) {
			uint64_t a, b;
			memcpy(&a, fep_st.native.win + i, 8);
			memcpy(&b, fep_st.emulated.win + i, 8);
			printf("    memory win+0x%x: native 0x%llx emulated 0x%llx\n", i, (unsigned long long)a,
			       (unsigned long long)b);
		}
	for (unsigned i = 0; i < sizeof(fep_st.native.stack); i += 8)
		if (memcmp(fep_st.native.stack + i, fep_st.emulated.stack + i, 8)) {
			uint64_t a, b;
			memcpy(&a, fep_st.native.stack + i, 8);
			memcpy(&b, fep_st.emulated.stack + i, 8);
			printf("    stack top%s%d: native 0x%llx emulated 0x%llx\n", i < STACK_CMP ? "-" : "+",
			       i < STACK_CMP ? STACK_CMP - (int)i : (int)i - STACK_CMP, (unsigned long long)a,
			       (unsigned long long)b);
		}
}

/* 1: the two runs agree. */
static int same(const struct form *f, uint64_t fmask)
{
	if (fep_st.native.faulted || fep_st.emulated.faulted) {
		/* The emulated copy's instruction is FEP_LEN bytes further into its copy. */
		return fep_st.native.faulted && fep_st.emulated.faulted && fep_st.native.vector == fep_st.emulated.vector &&
		       fep_st.native.error == fep_st.emulated.error && fep_st.native.cr2 == fep_st.emulated.cr2 &&
		       fep_st.native.rip - f->native_insn == fep_st.emulated.rip - f->emulated_insn;
	}
	for (unsigned r = 0; r < NREGS; r++)
		if (fep_st.native.regs[r] != fep_st.emulated.regs[r])
			return 0;
	return (fep_st.native.regs[RFL] & fmask) == (fep_st.emulated.regs[RFL] & fmask) &&
	       !memcmp(fep_st.native.win, fep_st.emulated.win, WIN_SIZE) && !memcmp(fep_st.native.stack, fep_st.emulated.stack, sizeof(fep_st.native.stack));
}

/* Runs one form natively and fep_st.emulated; 0 when the host refused the prefix. */
static int check_case(const struct form *f, unsigned k)
{
	uint64_t fmask = (FLAGS6 | X86_EFLAGS_DF) & ~(uint64_t)f->undef;
	run(f->native_entry, &fep_st.native);
	run(f->emulated_entry, &fep_st.emulated);
	if (fep_st.emulated.faulted && fep_st.emulated.vector == UD_VECTOR && fep_st.emulated.rip == f->emulated_insn - FEP_LEN)
		return 0;
	fep_st.group_cases[f->group]++;
	if (!same(f, fmask)) {
		fep_st.group_bad[f->group]++;
		if (fep_st.printed++ < 24)
			print_mismatch(f, k, fmask);
	}
	return 1;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	trap64_init();
	wrmsr(MSR_GS_BASE, GS_BASE);
	fep_st.rng = RNG_SEED;
	unsigned nforms = (unsigned)(fep_forms_end - fep_forms), refused = 0;

	for (unsigned i = 0; i < nforms && !refused; i++) {
		const struct form *f = &fep_forms[i];
		fep_st.group_forms[f->group]++;
		for (unsigned k = 0; k < CASES_PER_FORM; k++) {
			make_case(f->setup);
			if (!check_case(f, k)) {
				refused = i + 1;
				break;
			}
		}
	}
	if (refused == 1) {
		skip("force-emulation", "the host does not offer forced emulation (#UD at the prefix ud2; \"kvm\" "
		     "itself; Linux KVM needs kvm.force_emulation_prefix=1)");
		end();
	}
	if (refused)
		report(0, "fep-prefix", "#UD at the prefix itself for \"%s\" after %u forms were emulated",
		       fep_forms[refused - 1].name, refused - 1);
	for (unsigned g = 0; g < G_COUNT; g++) {
		char check[40] = "fep-";
		for (unsigned i = 0; group_names[g][i] && i < sizeof(check) - 5; i++)
			check[4 + i] = group_names[g][i];
		report(fep_st.group_bad[g] == 0, check, "%u of %u cases (%u forms) differ between the CPU and forced "
		       "emulation", fep_st.group_bad[g], fep_st.group_cases[g], fep_st.group_forms[g]);
	}
	end();
}
