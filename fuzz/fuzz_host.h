/* SPDX-License-Identifier: MIT */
/* The fuzz targets' host: files served from memory (fuzz_host.c). */
#ifndef KVMLABS_FUZZ_HOST_H
#define KVMLABS_FUZZ_HOST_H

#include <stddef.h>

/* Forget the files of the previous input. */
void fuzz_files_reset(void);
/* host_load_file(path) returns a copy of data, zero-padded to padded_size
 * bytes if that is larger (a file too large for RAM without a large input),
 * until the next reset. */
void fuzz_file_add(const char *path, const void *data, size_t size, size_t padded_size);
/* The code under test did what it must not: abort, so the fuzzer keeps the input. */
_Noreturn void fuzz_unreachable(const char *what);

#endif
