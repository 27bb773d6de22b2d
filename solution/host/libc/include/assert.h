/* SPDX-License-Identifier: MIT */
/* kvmlabs bare-metal libc: <assert.h>. A failed assertion is a host fault. */
#ifndef KVMLABS_LIBC_ASSERT_H
#define KVMLABS_LIBC_ASSERT_H

_Noreturn void libc_assert_fail(const char *expr, const char *file, int line, const char *func);

#endif

#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : libc_assert_fail(#e, __FILE__, __LINE__, __func__))
#endif
#ifndef static_assert
#define static_assert _Static_assert
#endif
