/* SPDX-License-Identifier: MIT */
/* kvmlabs bare-metal libc: <stdlib.h>. The heap lives on the host's page allocator. */
#ifndef KVMLABS_LIBC_STDLIB_H
#define KVMLABS_LIBC_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

void *malloc(size_t size);
void *calloc(size_t count, size_t size);
void *realloc(void *ptr, size_t size);
void free(void *ptr);

unsigned long long strtoull(const char *restrict s, char **restrict end, int base);
long long strtoll(const char *restrict s, char **restrict end, int base);
unsigned long strtoul(const char *restrict s, char **restrict end, int base);
long strtol(const char *restrict s, char **restrict end, int base);
int atoi(const char *s);
int abs(int v);
long labs(long v);
long long llabs(long long v);
void qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *));
/* No environment on bare metal: always NULL. */
char *getenv(const char *name);
/* exit() ends the whole machine through host_exit(). */
_Noreturn void exit(int status);
_Noreturn void abort(void);

#endif
