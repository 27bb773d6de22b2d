/* SPDX-License-Identifier: MIT */
/*
 * Guest runtime: COM1 output, printf, the result protocol (rt.h). Built three
 * times: -m16 for real-mode images, -m32 for protected-mode and multiboot
 * images, -m64 for long-mode images. Every character costs two port exits
 * (LSR poll, THR write), so output is kept short.
 */
#include "mac.h"
#include "rt.h"

unsigned rt_passed, rt_failed, rt_skipped;

void uart_init(void)
{
	outb(ABI_COM1_PORT + UART_IER, 0);
	outb(ABI_COM1_PORT + UART_LCR, UART_LCR_DLAB);
	outb(ABI_COM1_PORT + UART_DLL, 1); /* 115200 baud */
	outb(ABI_COM1_PORT + UART_DLM, 0);
	outb(ABI_COM1_PORT + UART_LCR, UART_LCR_8N1);
}

/* Bounded wait: a UART that never reports THRE must not hang the guest. */
static void uart_putc(char c)
{
	for (unsigned i = 0; i < 100000; i++)
		if (inb(ABI_COM1_PORT + UART_LSR) & UART_LSR_THRE)
			break;
	outb(ABI_COM1_PORT + UART_THR, (uint8_t)c);
}

/* Where every character goes: the UART, or the sink a guest installed
 * (rt_set_output(): a guest whose report travels over a device of its own). */
static void (*rt_output)(char c);

void rt_set_output(void (*out)(char c))
{
	rt_output = out;
}

static void out_char(char c)
{
	if (rt_output)
		rt_output(c);
	else
		uart_putc(c);
}

/* Report lines go out and into the MAC (mac.h); everything else only out.
 * A flag passed down, not a global mode: another vCPU printing at the same
 * time must not feed its characters into the reporter's MAC. */
static void emit(char c, int mac)
{
	out_char(c);
	if (mac)
		mac_byte((uint8_t)c);
}

static void emits(const char *s, int mac)
{
	while (*s)
		emit(*s++, mac);
}

void putchar(int c)
{
	out_char((char)c);
}

void puts(const char *s)
{
	emits(s, 0);
}

/* Decimal digits of a 64-bit value without 64-bit division, which -m16/-m32
 * would need from libgcc: divide the high and low halves by 10 in turn with
 * the hardware's 64-by-32 divide (remainder < 10 keeps the quotient in range). */
static unsigned udiv64_10(unsigned long long *v)
{
#ifdef __x86_64__
	unsigned r = (unsigned)(*v % 10);
	*v /= 10;
	return r;
#else
	uint32_t hi = (uint32_t)(*v >> 32), lo = (uint32_t)*v, qhi, qlo, r;
	qhi = hi / 10;
	r = hi % 10;
	__asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(10u));
	*v = ((unsigned long long)qhi << 32) | qlo;
	return r;
#endif
}

static void print_num(unsigned long long v, unsigned base, int neg, int width, char pad, int mac)
{
	char buf[24];
	int n = 0;

	do {
		unsigned d;
		if (base == 16) {
			d = (unsigned)(v & 0xf);
			v >>= 4;
		} else {
			d = udiv64_10(&v);
		}
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (n < width && n < (int)sizeof(buf))
		buf[n++] = pad;
	while (n)
		emit(buf[--n], mac);
}

static void format(int mac, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			emit(*fmt, mac);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, longs = 0;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		unsigned long long u;
		switch (*fmt) {
		case 'd': {
			long long s = longs >= 2 ? va_arg(ap, long long) : longs ? va_arg(ap, long) : va_arg(ap, int);
			print_num(s < 0 ? 0ull - (unsigned long long)s : (unsigned long long)s, 10, s < 0, width, pad, mac);
			break;
		}
		case 'u':
		case 'x':
			u = longs >= 2 ? va_arg(ap, unsigned long long)
			    : longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
			print_num(u, *fmt == 'x' ? 16 : 10, 0, width, pad, mac);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			emits(s ? s : "(null)", mac);
			break;
		}
		case 'c':
			emit((char)va_arg(ap, int), mac);
			break;
		case '%':
			emit('%', mac);
			break;
		case '\0':
			return;
		default:
			emit('%', mac);
			emit(*fmt, mac);
			break;
		}
	}
}

void vprintf(const char *fmt, va_list ap)
{
	format(0, fmt, ap);
}

void printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* A report line: printed and fed to the MAC, newline included (the MAC covers
 * the report lines joined by newlines, the end line up to its " mac="). */
static void report_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	format(1, fmt, ap);
	va_end(ap);
}

void begin(const char *guest)
{
	uart_init();
	mac_begin();
	report_line("kvmlabs: begin %s\n", guest);
}

void begin_alone(uint32_t cpu, const char *guest)
{
	if (cpu != 0)
		halt_forever();
	begin(guest);
}

void report(int cond, const char *check, const char *fmt, ...)
{
	if (cond) {
		rt_passed++;
		report_line("ok %s\n", check);
		return;
	}
	rt_failed++;
	report_line("not ok %s: ", check);
	va_list ap;
	va_start(ap, fmt);
	format(1, fmt, ap);
	va_end(ap);
	emit('\n', 1);
}

void pass(const char *check)
{
	report(1, check, "%s", "");
}

void report_eq(const char *check, unsigned long long got, unsigned long long want)
{
	report(got == want, check, "got 0x%llx want 0x%llx", got, want);
}

void skip(const char *check, const char *reason)
{
	rt_skipped++;
	report_line("skip %s: %s\n", check, reason);
}

_Noreturn void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

_Noreturn void guest_exit(uint32_t value)
{
	outl(ABI_DEBUG_EXIT_PORT, value);
	halt_forever();
}

unsigned end_report(void)
{
	uint8_t mac[MAC_BYTES];
	report_line("kvmlabs: end passed=%u failed=%u skipped=%u", rt_passed, rt_failed, rt_skipped);
	mac_finish(mac);
	puts(" mac=");
	for (unsigned i = 0; i < MAC_BYTES; i++) {
		out_char("0123456789abcdef"[mac[i] >> 4]);
		out_char("0123456789abcdef"[mac[i] & 15]);
	}
	out_char('\n');
	return rt_failed;
}

_Noreturn void end(void)
{
	guest_exit(end_report() ? 1 : 0);
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

uint32_t cpuid_string(uint32_t leaf, enum cpuid_order order, char out[13])
{
	uint32_t a, b, c, d;
	cpuid(leaf, 0, &a, &b, &c, &d);
	memcpy(out, &b, 4);
	memcpy(out + 4, order == CPUID_BDC ? &d : &c, 4);
	memcpy(out + 8, order == CPUID_BDC ? &c : &d, 4);
	out[12] = 0;
	return a;
}

void report_hypervisor_leaves(void)
{
	char sig[13];
	uint32_t max = cpuid_string(ABI_CPUID_HV_LEAF, CPUID_BCD, sig);
	report(max >= ABI_CPUID_HV_FEATURES, "cpuid-hv-max-leaf", "0x40000000 EAX 0x%x, want >= 0x40000001", max);
	report(memcmp(sig, ABI_CPUID_HV_SIGNATURE, 12) == 0, "cpuid-hv-signature",
	       "EBX:ECX:EDX read \"%s\", want \"kvmlabs-vmm\"", sig);
}
