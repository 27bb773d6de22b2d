// SPDX-License-Identifier: MIT
/* kvmlabs bare-metal libc: number parsing, qsort and the rest of <stdlib.h>. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <kvmlabs/host.h>
#include "../panic.h"

int errno;

static int digit_value(int c)
{
	if (isdigit(c))
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* The common part of the strto* family (C11 7.22.1.4): magnitude in *value,
 * sign in *negative; returns false on overflow of unsigned long long. */
static bool parse_unsigned(const char *s, char **end, int base, unsigned long long *value,
			   bool *negative)
{
	const char *p = s;
	bool overflow = false;
	*value = 0;
	*negative = false;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '+' || *p == '-')
		*negative = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
	    digit_value((unsigned char)p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}
	if (base < 2 || base > 36) {
		errno = EINVAL;
		if (end)
			*end = (char *)s;
		return true;
	}
	const char *digits = p;
	for (int d; (d = digit_value((unsigned char)*p)) < base; p++) {
		if (*value > (ULLONG_MAX - (unsigned int)d) / (unsigned int)base)
			overflow = true;
		else
			*value = *value * (unsigned int)base + (unsigned int)d;
	}
	if (end)
		*end = (char *)(p == digits ? s : p);
	return !overflow;
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
	unsigned long long v;
	bool negative;
	if (!parse_unsigned(s, end, base, &v, &negative)) {
		errno = ERANGE;
		return ULLONG_MAX;
	}
	return negative ? -v : v;
}

unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
	return strtoull(s, end, base);
}

long long strtoll(const char *restrict s, char **restrict end, int base)
{
	unsigned long long v;
	bool negative;
	bool ok = parse_unsigned(s, end, base, &v, &negative);
	if (negative) {
		if (!ok || v > (unsigned long long)LLONG_MAX + 1) {
			errno = ERANGE;
			return LLONG_MIN;
		}
		return (long long)-v;
	}
	if (!ok || v > LLONG_MAX) {
		errno = ERANGE;
		return LLONG_MAX;
	}
	return (long long)v;
}

long strtol(const char *restrict s, char **restrict end, int base)
{
	return strtoll(s, end, base);
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

int abs(int v) { return v < 0 ? -v : v; }
long labs(long v) { return v < 0 ? -v : v; }
long long llabs(long long v) { return v < 0 ? -v : v; }

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
	while (size--) {
		unsigned char t = *a;
		*a++ = *b;
		*b++ = t;
	}
}

static void sift_down(unsigned char *base, size_t root, size_t count, size_t size,
		      int (*compare)(const void *, const void *))
{
	for (;;) {
		size_t child = 2 * root + 1;
		if (child >= count)
			return;
		if (child + 1 < count && compare(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (compare(base + root * size, base + child * size) >= 0)
			return;
		swap_bytes(base + root * size, base + child * size, size);
		root = child;
	}
}

/* Heapsort: O(n log n) worst case, constant stack. */
void qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *))
{
	unsigned char *b = base;
	if (count < 2 || size == 0)
		return;
	for (size_t i = count / 2; i-- > 0;)
		sift_down(b, i, count, size, compare);
	for (size_t end = count - 1; end > 0; end--) {
		swap_bytes(b, b + end * size, size);
		sift_down(b, 0, end, size, compare);
	}
}

char *getenv(const char *name)
{
	(void)name;
	return NULL;
}

_Noreturn void exit(int status)
{
	host_exit(status);
}

_Noreturn void abort(void)
{
	host_panic("abort() called");
}

_Noreturn void libc_assert_fail(const char *expr, const char *file, int line, const char *func)
{
	host_panic("%s:%d: %s: assertion '%s' failed", file, line, func, expr);
}
