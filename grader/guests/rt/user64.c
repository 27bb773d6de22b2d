/* SPDX-License-Identifier: MIT */
#include "rt.h"
#include "trap64.h"
#include "user64.h"
#include <x86/trapnr.h>

/* What a probe reads (RDI points here, in the image, so ring 3 reaches it). */
static struct {
	uint64_t va, value;
} user64_args;
static uint8_t user64_stack[4096] __attribute__((aligned(16)));

/* Each probe: the address into RCX, one access, then ud2. The label on the
 * access (_at) and on the ud2 (_done) tell the two endings apart. */
#define USER64_LOAD(name, insn)                                                    \
	#name ": movq (%rdi), %rcx\n"                         \
	#name "_at: " insn "\n\tmovq %rax, 8(%rdi)\n" #name "_done: ud2\n"
#define USER64_STORE(name, insn)                                                   \
	#name ": movq (%rdi), %rcx\n\tmovq 8(%rdi), %rax\n"   \
	#name "_at: " insn "\n" #name "_done: ud2\n"
__asm__(".text\n"
	USER64_LOAD(user64_ld1, "movzbl (%rcx), %eax")
	USER64_LOAD(user64_ld2, "movzwl (%rcx), %eax")
	USER64_LOAD(user64_ld4, "movl (%rcx), %eax")
	USER64_LOAD(user64_ld8, "movq (%rcx), %rax")
	USER64_STORE(user64_st1, "movb %al, (%rcx)")
	USER64_STORE(user64_st2, "movw %ax, (%rcx)")
	USER64_STORE(user64_st4, "movl %eax, (%rcx)")
	USER64_STORE(user64_st8, "movq %rax, (%rcx)"));

#define USER64_PROBE(name)                                 \
	extern const char name[], name##_at[], name##_done[]; \
	static const struct user64_probe name##_probe = { name, name##_at, name##_done }

struct user64_probe {
	const char *entry, *at, *done;
};
USER64_PROBE(user64_ld1);
USER64_PROBE(user64_ld2);
USER64_PROBE(user64_ld4);
USER64_PROBE(user64_ld8);
USER64_PROBE(user64_st1);
USER64_PROBE(user64_st2);
USER64_PROBE(user64_st4);
USER64_PROBE(user64_st8);

static const struct user64_probe *const loads[9] = {
	[1] = &user64_ld1_probe, [2] = &user64_ld2_probe, [4] = &user64_ld4_probe, [8] = &user64_ld8_probe,
};
static const struct user64_probe *const stores[9] = {
	[1] = &user64_st1_probe, [2] = &user64_st2_probe, [4] = &user64_st4_probe, [8] = &user64_st8_probe,
};

static enum user_end user64_run(const struct user64_probe *p, uint64_t va, uint64_t value)
{
	if (!p)
		return USER_FAULT;
	user64_args.va = va;
	user64_args.value = value;
	trap64_run_user((uint64_t)(uintptr_t)p->entry, (uint64_t)(uintptr_t)(user64_stack + sizeof(user64_stack)),
			(uint64_t)(uintptr_t)&user64_args);
	if (trap64_last.vector != UD_VECTOR || trap64_last.cpl != 3)
		return USER_FAULT;
	if (trap64_last.rip == (uint64_t)(uintptr_t)p->done)
		return USER_DONE;
	return trap64_last.rip == (uint64_t)(uintptr_t)p->at ? USER_UD : USER_FAULT;
}

enum user_end user_load(uint64_t va, unsigned size, uint64_t *value)
{
	enum user_end e = user64_run(size < ARRAY_SIZE(loads) ? loads[size] : NULL, va, 0);
	if (e == USER_DONE)
		*value = user64_args.value;
	return e;
}

enum user_end user_store(uint64_t va, unsigned size, uint64_t value)
{
	return user64_run(size < ARRAY_SIZE(stores) ? stores[size] : NULL, va, value);
}
