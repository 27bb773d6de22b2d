// SPDX-License-Identifier: MIT
/*
 * Self-tests of the host kernel's libc and allocators, run inside the kernel
 * (grader/baremetal/run --host-selftest). Each check compares against a value
 * written out by hand, so a broken formatter or allocator fails it.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/host.h>
#include <kvmlabs/host_kernel.h>
#include <x86/insns.h>
#include <x86/pgtable.h>
#include "console.h"
#include "memory.h"
#include "panic.h"
#include "selftest.h"

static int checks, failures;

static void check(int ok, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("kvmlabs-host: selftest FAIL: %s\n", what);
	}
}

static void check_format(const char *expected, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check_format(const char *expected, const char *fmt, ...)
{
	char buf[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	checks++;
	if (strcmp(buf, expected) || n != (int)strlen(expected)) {
		failures++;
		printf("kvmlabs-host: selftest FAIL: format \"%s\" gave \"%s\" (%d), expected \"%s\"\n",
		       fmt, buf, n, expected);
	}
}

static void test_printf(void)
{
	check_format("42 -7 +5 ' 3'", "%d %i %+d '%2d'", 42, -7, 5, 3);
	check_format("00042|42   |   42", "%05d|%-5d|%5d", 42, 42, 42);
	check_format("ff FF 0xff 0XFF 377 0377", "%x %X %#x %#X %o %#o", 255, 255, 255, 255, 255, 255);
	check_format("18446744073709551615 -9223372036854775808", "%llu %lld", ULLONG_MAX, LLONG_MIN);
	check_format("ffffffffffffffff 123456789abc", "%lx %zx", ~0ul, (size_t)0x123456789abcull);
	check_format("0x1000 0x0", "%p %p", (void *)0x1000, (void *)0);
	const char *volatile null_string = NULL;
	check_format("[abc] [  abc] [abc  ] [ab] (null)", "[%s] [%5s] [%-5s] [%.2s] %s", "abc", "abc", "abc",
		     "abc", null_string);
	check_format("x% c", "%c%% %c", 'x', 'c');
	check_format("-0042 0x002a", "%05d %#06x", -42, 42);
	check_format("     7|7     |007", "%*d|%-*d|%.*d", 6, 7, 6, 7, 3, 7);
	check_format("200 -1 65535 ff", "%hhu %hhd %hu %hhx", 200, 255, 65535, 0x1ff);
	check_format("4294967295 -2147483648", "%u %d", UINT_MAX, INT_MIN);

	char small[8];
	int n = snprintf(small, sizeof(small), "%s", "truncated text");
	check(n == 14 && !strcmp(small, "truncat"), "snprintf truncates and returns the full length");
	check(snprintf(NULL, 0, "%d", 12345) == 5, "snprintf(NULL, 0) counts");
}

static int compare_ints(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void test_stdlib(void)
{
	char *end;
	check(strtoull("0x1f", &end, 0) == 31 && *end == '\0', "strtoull base 0 hex");
	check(strtoull("0755", NULL, 0) == 0755, "strtoull base 0 octal");
	check(strtoull("  123abc", &end, 10) == 123 && !strcmp(end, "abc"), "strtoull stops at junk");
	errno = 0;
	check(strtoull("99999999999999999999", NULL, 10) == ULLONG_MAX && errno == ERANGE, "strtoull overflow");
	check(strtol("-42", NULL, 10) == -42, "strtol negative");
	errno = 0;
	check(strtol("9223372036854775808", NULL, 10) == LONG_MAX && errno == ERANGE, "strtol overflow");
	check(strtoul("zz", &end, 10) == 0 && !strcmp(end, "zz"), "strtoul without digits");
	check(strtoull("64M", &end, 0) == 64 && *end == 'M', "strtoull leaves the suffix");

	int v[] = { 5, -3, 9, 0, 5, 2, -8, 7, 1, 3 };
	const int sorted[] = { -8, -3, 0, 1, 2, 3, 5, 5, 7, 9 };
	qsort(v, 10, sizeof(int), compare_ints);
	check(!memcmp(v, sorted, sizeof(v)), "qsort");

	char buf[16] = "abcdefgh";
	memmove(buf + 2, buf, 6);
	check(!memcmp(buf, "ababcdef", 8), "memmove overlapping forwards");
	memmove(buf, buf + 2, 6);
	check(!memcmp(buf, "abcdefef", 8), "memmove overlapping backwards");
	check(!strcmp(strrchr("a/b/c", '/'), "/c") && !strchr("abc", 'x'), "strchr/strrchr");
	check(strspn("aab=c", "ab") == 3 && strspn("x", "ab") == 0 && strcspn("opt=1", "=") == 3 &&
	      strcspn("opt", "=") == 3 && strcspn("", "=") == 0, "strspn/strcspn");
	check(strncmp("abcd", "abce", 3) == 0 && strcmp("a", "b") < 0, "strcmp/strncmp");
	check(!strcmp(strerror(ENOSYS), "Function not implemented"), "strerror");
}

static void test_heap(void)
{
	uint64_t free_before = memory_free_pages();
	void *small[64];
	for (int i = 0; i < 64; i++) {
		small[i] = malloc((size_t)(i * 37 + 1));
		check(small[i] && !((uintptr_t)small[i] & 15), "malloc returns 16-byte aligned memory");
		memset(small[i], i, (size_t)(i * 37 + 1));
	}
	for (int i = 0; i < 64; i++) {
		const unsigned char *p = small[i];
		check(p[0] == i && p[i * 37] == i, "heap blocks do not overlap");
	}
	for (int i = 0; i < 64; i += 2)
		free(small[i]);
	char *grown = realloc(small[1], 100000);
	check(grown && grown[0] == 1 && grown[37] == 1, "realloc keeps the contents");
	small[1] = grown;
	for (int i = 1; i < 64; i += 2)
		free(small[i]);
	unsigned char *zeroed = calloc(1000, 8);
	int all_zero = zeroed != NULL;
	for (int i = 0; zeroed && i < 8000; i++)
		all_zero &= zeroed[i] == 0;
	check(all_zero, "calloc zeroes");
	free(zeroed);
	void *big = malloc(3 << 20);
	check(big != NULL, "malloc of 3 MiB");
	free(big);

	void *ram = host_alloc_guest_ram(64 << 20);
	check(ram && !((uintptr_t)ram & (LARGE_PAGE_SIZE - 1)), "guest RAM is 2 MiB aligned");
	const uint8_t *bytes = ram;
	check(ram && bytes[0] == 0 && bytes[(64 << 20) - 1] == 0, "guest RAM is zeroed");
	host_free_guest_ram(ram, 64 << 20);
	void *again = host_alloc_guest_ram(64 << 20);
	check(again == ram, "freed guest RAM is reused");
	host_free_guest_ram(again, 64 << 20);
	void *run = host_pages_alloc(3, 0x10000);
	check(run && !((uintptr_t)run & 0xffff), "host_pages_alloc honours alignment");
	host_pages_free(run, 3);
	/* The heap keeps the pages of its small blocks (a few dozen here); the
	 * large blocks and guest RAM (thousands of pages) must be back. */
	check(memory_free_pages() + 64 >= free_before, "pages come back to the allocator");
}

void selftest_run(void)
{
	uint64_t t0 = host_now_ns();
	test_printf();
	test_stdlib();
	test_heap();
	uint64_t t1 = host_now_ns();
	check(t1 > t0, "host_now_ns advances");
	printf("kvmlabs-host: selftest: %d checks, %d failed\n", checks, failures);
	if (failures)
		host_panic("host self-test failed");
}

_Noreturn void selftest_fault(void)
{
	printf("kvmlabs-host: selftest: writing to address 0x8\n");
	volatile uintptr_t address = 8;
	*(volatile uint64_t *)address = 1;
	host_panic("the write to page 0 did not fault");
}

static volatile int recursion_limit = 1 << 30;

static int recurse(int depth)
{
	volatile char frame[512];
	frame[0] = (char)depth;
	if (depth >= recursion_limit)
		return 0;
	return recurse(depth + 1) + frame[0];
}

_Noreturn void selftest_stack_overflow(void)
{
	printf("kvmlabs-host: selftest: recursing until the stack overflows\n");
	recurse(0);
	host_panic("unbounded recursion returned");
}

_Noreturn void selftest_hang(void)
{
	printf("kvmlabs-host: selftest: hanging with interrupts off\n");
	for (;;)
		__asm__ volatile("pause");
}

_Noreturn void selftest_triple_fault(void)
{
	static const struct desc_ptr empty_idt = { 0, 0 };

	printf("kvmlabs-host: selftest: triple fault\n");
	console_drain();   /* the UART would lose what it has not sent yet */
	load_idt(&empty_idt);
	__asm__ volatile("ud2");
	__builtin_unreachable();
}
