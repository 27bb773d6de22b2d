/* SPDX-License-Identifier: MIT */
/*
 * The guest runtime: polled 8250 output on COM1, a small printf, and the
 * result protocol the grader parses (README.md, "Output protocol"):
 *
 *   kvmlabs: begin <guest>
 *   ok <check>
 *   not ok <check>: <observed vs expected>
 *   skip <check>: <reason>
 *   kvmlabs: end passed=<n> failed=<n> skipped=<n> mac=<hex>
 *
 * then the guest leaves through the debug-exit port with 0 (all passed) or 1.
 * mac is HMAC-SHA256 over the report lines under the key the grader put into
 * this run's image (mac.h); only begin(), report() and friends print report
 * lines, so a printf of one would break it. Only vCPU 0 reports; other vCPUs
 * may print under a lock (spin_lock()).
 */
#ifndef RT_RT_H
#define RT_RT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <kvmlabs/guest_abi.h>

#include "x86.h"

/* Register offsets of the 8250 UART (PC16550D datasheet, table 2). */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_RBR 0 /* receive buffer (read, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_LCR 3 /* line control; bit 7 = DLAB */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define UART_SCR 7 /* scratch */
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_LCR_8N1  0x03
#define UART_LCR_DLAB 0x80

void uart_init(void);
/* Send every character the runtime prints (report lines, the end line and
 * its MAC, printf, putchar) to `out` instead of COM1; NULL: COM1 again. The
 * sink gets them one at a time and may hold them back up to a newline:
 * every line the runtime prints ends with one, the end line included, so a
 * line-buffering sink has sent everything before the guest exits. A guest
 * whose report travels over a device it drives (prot-virtio-console) uses
 * this; what the sink loses or garbles breaks the report's MAC. */
void rt_set_output(void (*out)(char c));
void putchar(int c);
void puts(const char *s); /* no newline added */
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintf(const char *fmt, va_list ap);

void begin(const char *guest);
/* A guest that runs on vCPU 0 alone: every other vCPU (the kit's ABI starts them all at
 * the entry) halts for good, vCPU 0 begins the report. */
void begin_alone(uint32_t cpu, const char *guest);
void report(int cond, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void skip(const char *check, const char *reason);
/* An "ok" that needs no comparison: reaching this point is the check. */
void pass(const char *check);
/* report(got == want) with "got 0x.. want 0x.." on failure. */
void report_eq(const char *check, unsigned long long got, unsigned long long want);

/* The 12-character string a CPUID leaf returns in EBX:EDX:ECX (leaf 0's vendor)
 * or EBX:ECX:EDX (hypervisor leaves), NUL-terminated. Returns EAX. */
enum cpuid_order { CPUID_BDC, CPUID_BCD };
uint32_t cpuid_string(uint32_t leaf, enum cpuid_order order, char out[13]);
/* Reports cpuid-hv-max-leaf and cpuid-hv-signature: the VMM's leaves 0x40000000+. */
void report_hypervisor_leaves(void);
_Noreturn void end(void);                  /* end line, then exit 0 or 1 */
unsigned end_report(void);                 /* only the end line; returns failed */
_Noreturn void guest_exit(uint32_t value); /* debug-exit port, then halt forever */
_Noreturn void halt_forever(void);         /* cli; hlt loop */

extern unsigned rt_passed, rt_failed, rt_skipped;

/* The test device (guest_abi.h): run a command, return DATA. */
static inline uint32_t testdev_cmd(uint32_t cmd, uint32_t data)
{
	outl(ABI_TESTDEV_PORT + ABI_TESTDEV_DATA, data);
	outl(ABI_TESTDEV_PORT + ABI_TESTDEV_CMD, cmd);
	return inl(ABI_TESTDEV_PORT + ABI_TESTDEV_DATA);
}

/* A test-and-set spinlock (SDM Vol. 3, locked atomic operations:
 * XCHG with a memory operand is always locked). */
typedef volatile uint32_t spinlock_t;
static inline void spin_lock(spinlock_t *l)
{
	uint32_t v = 1;
	for (;;) {
		__asm__ volatile("xchgl %0, %1" : "+r"(v), "+m"(*l) : : "memory");
		if (v == 0)
			return;
		while (*l)
			pause();
	}
}
static inline void spin_unlock(spinlock_t *l)
{
	__asm__ volatile("" : : : "memory");
	*l = 0;
}

static inline uint32_t atomic_inc(volatile uint32_t *p)
{
	uint32_t v = 1;
	__asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory");
	return v + 1;
}

/* gcc may emit calls to these for struct copies and clears. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
