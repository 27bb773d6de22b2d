/* SPDX-License-Identifier: MIT */
/*
 * The four Check assertions grader/unittest/fake_mmu_host.c uses, for the
 * fuzz target that links that fake without Check: a failed assertion is a
 * finding, so it prints its message and aborts, which libFuzzer reports
 * with the input. (Check's own _ck_assert_failed needs a running test.)
 */
#ifndef KVMLABS_FUZZ_CHECK_H
#define KVMLABS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define ck_abort_msg(...) \
	(fprintf(stderr, "fuzz: %s:%d: ", __FILE__, __LINE__), fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), abort())
#define ck_assert_msg(expr, ...) ((expr) ? (void)0 : ck_abort_msg(__VA_ARGS__))
#define ck_assert(expr)          ck_assert_msg(expr, "assertion '%s' failed", #expr)
#define ck_assert_int_eq(x, y) \
	do { \
		long long _x = (x), _y = (y); \
		ck_assert_msg(_x == _y, "assertion '%s == %s' failed: %lld != %lld", #x, #y, _x, _y); \
	} while (0)

#endif
