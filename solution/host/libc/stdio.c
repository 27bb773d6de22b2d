// SPDX-License-Identifier: MIT
/*
 * kvmlabs bare-metal libc: the printf family and the console streams.
 * One formatter (libc_format) writes through a sink: the console for
 * printf/fprintf, a bounded buffer for snprintf.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../console.h"

struct libc_file {
	int fd;
};

static struct libc_file console_files[3] = { { 0 }, { 1 }, { 2 } };
FILE *stdin = &console_files[0];
FILE *stdout = &console_files[1];
FILE *stderr = &console_files[2];

struct sink {
	char *buf;       /* NULL: the console */
	size_t cap;      /* bytes buf holds, including the terminating NUL */
	size_t len;      /* bytes produced so far (may exceed cap) */
};

static void sink_put(struct sink *s, char c)
{
	if (!s->buf)
		console_putc(c);
	else if (s->len + 1 < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void sink_repeat(struct sink *s, char c, int n)
{
	while (n-- > 0)
		sink_put(s, c);
}

static void sink_puts(struct sink *s, const char *str, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sink_put(s, str[i]);
}

enum {
	FLAG_LEFT = 1,
	FLAG_PLUS = 2,
	FLAG_SPACE = 4,
	FLAG_ALT = 8,
	FLAG_ZERO = 16,
	FLAG_POINTER = 32,   /* %p: always a 0x prefix, also for NULL */
};

enum length { LEN_INT, LEN_CHAR, LEN_SHORT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_INTMAX, LEN_PTRDIFF };

/* Emit one converted integer: [sign|0x][zero padding][digits], padded to width. */
static void format_integer(struct sink *s, uint64_t value, bool negative, unsigned int base,
			   bool upper, int flags, int width, int precision)
{
	const char *digit_chars = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char digits[24];
	int ndigits = 0;
	char prefix[2];
	int nprefix = 0;

	if (!(precision == 0 && value == 0)) {
		do {
			digits[ndigits++] = digit_chars[value % base];
			value /= base;
		} while (value);
	}
	if (negative)
		prefix[nprefix++] = '-';
	else if (flags & FLAG_PLUS)
		prefix[nprefix++] = '+';
	else if (flags & FLAG_SPACE)
		prefix[nprefix++] = ' ';
	if (((flags & FLAG_ALT) && base == 16 && ndigits && !(ndigits == 1 && digits[0] == '0')) ||
	    (flags & FLAG_POINTER)) {
		prefix[nprefix++] = '0';
		prefix[nprefix++] = upper ? 'X' : 'x';
	}
	if ((flags & FLAG_ALT) && base == 8 && (ndigits == 0 || digits[ndigits - 1] != '0') &&
	    precision <= ndigits)
		precision = ndigits + 1;

	int zeros = precision > ndigits ? precision - ndigits : 0;
	int total = nprefix + zeros + ndigits;
	if ((flags & FLAG_ZERO) && !(flags & FLAG_LEFT) && precision < 0 && width > total) {
		zeros += width - total;
		total = width;
	}
	if (!(flags & FLAG_LEFT))
		sink_repeat(s, ' ', width - total);
	sink_puts(s, prefix, (size_t)nprefix);
	sink_repeat(s, '0', zeros);
	while (ndigits)
		sink_put(s, digits[--ndigits]);
	if (flags & FLAG_LEFT)
		sink_repeat(s, ' ', width - total);
}

static int parse_number(const char **p)
{
	int n = 0;
	while (**p >= '0' && **p <= '9') {
		if (n < INT_MAX / 10)
			n = n * 10 + (**p - '0');
		(*p)++;
	}
	return n;
}

static int libc_format(struct sink *s, const char *fmt, va_list ap)
{
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			sink_put(s, *p);
			continue;
		}
		const char *spec = p++;
		int flags = 0;
		for (;; p++) {
			if (*p == '-') flags |= FLAG_LEFT;
			else if (*p == '+') flags |= FLAG_PLUS;
			else if (*p == ' ') flags |= FLAG_SPACE;
			else if (*p == '#') flags |= FLAG_ALT;
			else if (*p == '0') flags |= FLAG_ZERO;
			else break;
		}
		int width = 0;
		if (*p == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= FLAG_LEFT;
				width = width == INT_MIN ? INT_MAX : -width;
			}
			p++;
		} else {
			width = parse_number(&p);
		}
		int precision = -1;
		if (*p == '.') {
			p++;
			if (*p == '*') {
				precision = va_arg(ap, int);
				if (precision < 0)
					precision = -1;
				p++;
			} else {
				precision = parse_number(&p);
			}
		}
		enum length len = LEN_INT;
		switch (*p) {
		case 'h':
			len = p[1] == 'h' ? (p++, LEN_CHAR) : LEN_SHORT;
			p++;
			break;
		case 'l':
			len = p[1] == 'l' ? (p++, LEN_LLONG) : LEN_LONG;
			p++;
			break;
		case 'z': len = LEN_SIZE; p++; break;
		case 'j': len = LEN_INTMAX; p++; break;
		case 't': len = LEN_PTRDIFF; p++; break;
		default: break;
		}

		switch (*p) {
		case 'd':
		case 'i': {
			int64_t v;
			switch (len) {
			case LEN_CHAR: v = (signed char)va_arg(ap, int); break;
			case LEN_SHORT: v = (short)va_arg(ap, int); break;
			case LEN_LONG: v = va_arg(ap, long); break;
			case LEN_LLONG: v = va_arg(ap, long long); break;
			case LEN_SIZE: v = va_arg(ap, long); break;     /* ssize_t */
			case LEN_INTMAX: v = va_arg(ap, intmax_t); break;
			case LEN_PTRDIFF: v = va_arg(ap, ptrdiff_t); break;
			default: v = va_arg(ap, int); break;
			}
			uint64_t magnitude = v < 0 ? -(uint64_t)v : (uint64_t)v;
			format_integer(s, magnitude, v < 0, 10, false, flags, width, precision);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			uint64_t v;
			switch (len) {
			case LEN_CHAR: v = (unsigned char)va_arg(ap, unsigned int); break;
			case LEN_SHORT: v = (unsigned short)va_arg(ap, unsigned int); break;
			case LEN_LONG: v = va_arg(ap, unsigned long); break;
			case LEN_LLONG: v = va_arg(ap, unsigned long long); break;
			case LEN_SIZE: v = va_arg(ap, size_t); break;
			case LEN_INTMAX: v = va_arg(ap, uintmax_t); break;
			case LEN_PTRDIFF: v = (uint64_t)va_arg(ap, ptrdiff_t); break;
			default: v = va_arg(ap, unsigned int); break;
			}
			unsigned int base = *p == 'u' ? 10 : *p == 'o' ? 8 : 16;
			format_integer(s, v, false, base, *p == 'X', flags & ~(FLAG_PLUS | FLAG_SPACE),
				       width, precision);
			break;
		}
		case 'p':
			format_integer(s, (uintptr_t)va_arg(ap, void *), false, 16, false,
				       (flags & ~(FLAG_PLUS | FLAG_SPACE | FLAG_ALT)) | FLAG_POINTER, width, precision);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			if (!(flags & FLAG_LEFT))
				sink_repeat(s, ' ', width - 1);
			sink_put(s, c);
			if (flags & FLAG_LEFT)
				sink_repeat(s, ' ', width - 1);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			size_t n = precision >= 0 ? strnlen(str, (size_t)precision) : strlen(str);
			int pad = width > (int)n ? width - (int)n : 0;
			if (!(flags & FLAG_LEFT))
				sink_repeat(s, ' ', pad);
			sink_puts(s, str, n);
			if (flags & FLAG_LEFT)
				sink_repeat(s, ' ', pad);
			break;
		}
		case '%':
			sink_put(s, '%');
			break;
		default:
			/* Unknown conversion: print it as written, so the mistake shows. */
			sink_puts(s, spec, (size_t)(p - spec) + (*p ? 1 : 0));
			if (!*p)
				p--;
			break;
		}
	}
	return s->len > INT_MAX ? INT_MAX : (int)s->len;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	char dummy;
	struct sink s = { .buf = size ? buf : &dummy, .cap = size, .len = 0 };
	int n = libc_format(&s, fmt, ap);
	if (size)
		buf[s.len < size ? s.len : size - 1] = '\0';
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

int vsprintf(char *buf, const char *fmt, va_list ap)
{
	return vsnprintf(buf, SIZE_MAX, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsprintf(buf, fmt, ap);
	va_end(ap);
	return n;
}

int vfprintf(FILE *stream, const char *fmt, va_list ap)
{
	(void)stream;
	struct sink s = { .buf = NULL, .cap = 0, .len = 0 };
	return libc_format(&s, fmt, ap);
}

int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int fprintf(FILE *stream, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(stream, fmt, ap);
	va_end(ap);
	return n;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return n;
}

int fputs(const char *str, FILE *stream)
{
	(void)stream;
	console_write(str, strlen(str));
	return 0;
}

int puts(const char *str)
{
	fputs(str, stdout);
	console_putc('\n');
	return 0;
}

int fputc(int c, FILE *stream)
{
	(void)stream;
	console_putc((char)c);
	return (unsigned char)c;
}

int putc(int c, FILE *stream)
{
	return fputc(c, stream);
}

int putchar(int c)
{
	return fputc(c, stdout);
}

size_t fwrite(const void *buf, size_t size, size_t count, FILE *stream)
{
	(void)stream;
	if (size && count > SIZE_MAX / size)
		return 0;
	console_write(buf, size * count);
	return count;
}

int fflush(FILE *stream)
{
	(void)stream;
	return 0;
}
