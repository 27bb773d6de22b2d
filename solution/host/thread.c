// SPDX-License-Identifier: MIT
/*
 * Threads for the bare-metal host (kvmlabs/host.h): several vCPU threads and
 * the VMM's supervisor on the one CPU, switched cooperatively. The host runs
 * with interrupts disabled (README.md), so a thread gives up the CPU only
 * where it would wait on Linux: in minikvm's KVM_RUN once its time slice is
 * used (host_thread_preempt), while a vCPU blocks in HLT (host_wait_until),
 * in host_event_wait() and host_thread_join(). Nothing else switches, so the
 * VMM's device locks are never held across a switch.
 *
 * Each thread has its own stack; a switch saves the callee-saved registers
 * on the old stack and its stack pointer in the thread, and restores the
 * new one's (the System V ABI says the rest is the caller's to save). VMX is
 * unaffected: minikvm loads a vCPU's VMCS before every entry
 * (vmx_vcpu_load) and writes HOST_RSP at each one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/host.h>
#include <kvmlabs/host_kernel.h>
#include "thread.h"

#define THREAD_STACK_PAGES 16           /* 64 KiB: the VMM's vCPU loop and minikvm's KVM_RUN */
#define THREAD_MAX         16
#define THREAD_SLICE_NS    5000000ull   /* a vCPU thread runs at most 5 ms before the others get a turn */

struct host_thread {
	uint64_t rsp;                   /* saved at a switch */
	void *(*fn)(void *);
	void *arg;
	void *stack;
	bool finished;
	bool kicked;                    /* host_thread_kick(): KVM_RUN should return */
	uint64_t slice_start;
	struct host_thread *next;       /* the ring of live threads */
};

static struct host_thread main_thread = { .next = &main_thread };
static struct host_thread *current = &main_thread;
static int live_threads = 1;

/* void host_switch(uint64_t *save_rsp, uint64_t new_rsp) */
void host_switch(uint64_t *save_rsp, uint64_t new_rsp);
__asm__(".text\n"
	".globl host_switch\n"
	"host_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n");

/* Give the CPU to the next thread of the ring that has not finished. */
static void thread_yield(void)
{
	struct host_thread *next = current->next;
	while (next != current && next->finished)
		next = next->next;
	if (next == current)
		return;
	struct host_thread *prev = current;
	current = next;
	next->slice_start = host_now_ns();
	host_switch(&prev->rsp, next->rsp);
}

static _Noreturn void thread_entry(void)
{
	current->fn(current->arg);
	current->finished = true;
	live_threads--;
	for (;;)
		thread_yield();
}

int host_thread_start(struct host_thread **thread, void *(*fn)(void *), void *arg)
{
	if (live_threads >= THREAD_MAX)
		return -EAGAIN;
	struct host_thread *t = calloc(1, sizeof(*t));
	void *stack = host_pages_alloc(THREAD_STACK_PAGES, 4096);
	if (!t || !stack) {
		free(t);
		if (stack)
			host_pages_free(stack, THREAD_STACK_PAGES);
		return -ENOMEM;
	}
	t->fn = fn;
	t->arg = arg;
	t->stack = stack;
	/* The first switch to it pops six zeros into the callee-saved registers
	 * and returns into thread_entry with the stack as a call leaves it
	 * (RSP + 8 a multiple of 16). */
	uint64_t *top = (uint64_t *)((uint8_t *)stack + THREAD_STACK_PAGES * 4096);
	*--top = 0;                                /* thread_entry's return address: never used */
	*--top = (uint64_t)(uintptr_t)thread_entry;
	for (int i = 0; i < 6; i++)
		*--top = 0;
	t->rsp = (uint64_t)(uintptr_t)top;
	t->next = current->next;
	current->next = t;
	live_threads++;
	*thread = t;
	return 0;
}

void host_thread_join(struct host_thread *thread)
{
	if (!thread)
		return;
	while (!thread->finished)
		thread_yield();
	/* Off the ring, and freed: it runs no more. */
	struct host_thread *p = current;
	while (p->next != thread)
		p = p->next;
	p->next = thread->next;
	host_pages_free(thread->stack, THREAD_STACK_PAGES);
	free(thread);
}

void host_thread_kick(struct host_thread *thread)
{
	if (thread)
		thread->kicked = true;
}

void *host_thread_arg(void)
{
	return current->arg;
}

int host_max_threads(void)
{
	return THREAD_MAX;
}

bool host_threads_cooperative(void)
{
	return true;
}

/* minikvm's KVM_RUN asks between two entries (kvmlabs/host_kernel.h). */
bool host_thread_preempt(void)
{
	if (live_threads > 1 && host_now_ns() - current->slice_start >= THREAD_SLICE_NS)
		thread_yield();
	if (current->kicked) {
		current->kicked = false;
		return true;
	}
	return false;
}

/* Another thread has work now (a vCPU kicked another): end this thread's
 * slice, so the next host_thread_preempt() switches. */
void host_thread_yield_soon(void)
{
	current->slice_start = 0;
}

void host_thread_wait(void)
{
	thread_yield();
}

bool host_thread_others(void)
{
	return live_threads > 1;
}

/* ---- events (eventfd's counter, for the VMM's stop event) ------------------ */

#define HOST_EVENTS 16
static struct {
	bool used;
	uint64_t count;
} events[HOST_EVENTS];

int host_event_create(void)
{
	for (int i = 0; i < HOST_EVENTS; i++) {
		if (!events[i].used) {
			events[i].used = true;
			events[i].count = 0;
			return i;
		}
	}
	return -EMFILE;
}

int host_event_signal(int event)
{
	if (event < 0 || event >= HOST_EVENTS || !events[event].used)
		return -EBADF;
	events[event].count++;
	return 0;
}

long host_event_wait(int event, int timeout_ms)
{
	if (event < 0 || event >= HOST_EVENTS || !events[event].used)
		return -EBADF;
	uint64_t deadline = host_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (!events[event].count) {
		if (host_now_ns() >= deadline)
			return 0;
		if (live_threads > 1)
			thread_yield();
		else
			__builtin_ia32_pause();
	}
	long n = (long)events[event].count;
	events[event].count = 0;
	return n;
}

void host_event_close(int event)
{
	if (event >= 0 && event < HOST_EVENTS)
		events[event].used = false;
}
