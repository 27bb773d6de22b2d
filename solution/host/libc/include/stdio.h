/* SPDX-License-Identifier: MIT */
/*
 * kvmlabs bare-metal libc: <stdio.h>. stdout and stderr are both the host
 * console (COM1 and port 0xe9); there are no files. Conversions: d i u o x X
 * p s c %, flags - + space # 0, width and precision (also *), length
 * modifiers hh h l ll z j t.
 */
#ifndef KVMLABS_LIBC_STDIO_H
#define KVMLABS_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

typedef struct libc_file FILE;
extern FILE *stdin;
extern FILE *stdout;
extern FILE *stderr;

#define EOF (-1)

#define LIBC_PRINTF(f, a) __attribute__((format(printf, f, a)))

int printf(const char *fmt, ...) LIBC_PRINTF(1, 2);
int fprintf(FILE *stream, const char *fmt, ...) LIBC_PRINTF(2, 3);
int sprintf(char *buf, const char *fmt, ...) LIBC_PRINTF(2, 3);
int snprintf(char *buf, size_t size, const char *fmt, ...) LIBC_PRINTF(3, 4);
int vprintf(const char *fmt, va_list ap) LIBC_PRINTF(1, 0);
int vfprintf(FILE *stream, const char *fmt, va_list ap) LIBC_PRINTF(2, 0);
int vsprintf(char *buf, const char *fmt, va_list ap) LIBC_PRINTF(2, 0);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) LIBC_PRINTF(3, 0);
int fputs(const char *s, FILE *stream);
int puts(const char *s);
int fputc(int c, FILE *stream);
int putc(int c, FILE *stream);
int putchar(int c);
size_t fwrite(const void *buf, size_t size, size_t count, FILE *stream);
int fflush(FILE *stream);

#endif
