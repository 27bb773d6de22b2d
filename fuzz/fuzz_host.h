/* SPDX-License-Identifier: MIT */
/* The fuzz targets' host: files and a disk served from memory, one thread (fuzz_host.c). */
#ifndef KVMLABS_FUZZ_HOST_H
#define KVMLABS_FUZZ_HOST_H

#include <stddef.h>
#include <stdint.h>

/* Forget the files of the previous input. */
void fuzz_files_reset(void);
/* host_load_file(path) returns a copy of data, zero-padded to padded_size
 * bytes if that is larger (a file too large for RAM without a large input),
 * until the next reset. */
void fuzz_file_add(const char *path, const void *data, size_t size, size_t padded_size);
/* The disk host_disk_open(path) finds: size bytes at data, the target's,
 * read and written in place. A size that is not a non-zero multiple of 512
 * is refused, as both hosts refuse it. */
void fuzz_disk_set(const char *path, void *data, size_t size);

/* From now on every read, write and flush of the disk fails with err (0:
 * none fails), as a disk whose file went bad does. */
void fuzz_disk_fail(int err);

/* What the disk is asked, before the host serves it (a range past the end
 * then fails with -EIO, as the host seam says): watch() sees each request
 * and may check it against what the device may do at that moment. */
enum fuzz_disk_op { FUZZ_DISK_READ, FUZZ_DISK_WRITE, FUZZ_DISK_FLUSH };
void fuzz_disk_watch(void (*watch)(enum fuzz_disk_op op, const void *buf, size_t len, uint64_t offset));

/* KVM_IRQ_LINE: how many times the VMM has pulsed line gsi (up, then down). */
unsigned long fuzz_irq_pulses(int gsi);

/* The code under test did what it must not: abort, so the fuzzer keeps the input. */
_Noreturn void fuzz_unreachable(const char *what);

#endif
