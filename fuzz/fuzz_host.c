/* SPDX-License-Identifier: MIT */
/*
 * host.h and kvm_seam.h for the fuzz targets: no /dev/kvm, no threads, no
 * output. Files come from an in-memory table the target fills for each input
 * (so the VMM's "image" step reads its image the way it reads a file), guest
 * RAM is mmap'd, and KVM accepts memory slots and nothing else. What a loader
 * must never reach (a vCPU, a thread, an event) aborts, so the fuzzer reports
 * it as a crash with its stack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <kvmlabs/host.h>
#include <kvmlabs/kvm_seam.h>

#include "fuzz_host.h"

#define MAX_FILES 4

static struct fuzz_file {
	const char *path;
	const void *data;
	size_t size, padded_size;
} files[MAX_FILES];
static int nfiles;

void fuzz_files_reset(void)
{
	nfiles = 0;
}

void fuzz_file_add(const char *path, const void *data, size_t size, size_t padded_size)
{
	if (nfiles == MAX_FILES)
		fuzz_unreachable("fuzz_file_add: more than MAX_FILES files");
	files[nfiles++] = (struct fuzz_file){ path, data, size, padded_size > size ? padded_size : size };
}

_Noreturn void fuzz_unreachable(const char *what)
{
	fprintf(stderr, "fuzz: the code under test reached %s\n", what);
	abort();
}

void *host_alloc_guest_ram(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void host_free_guest_ram(void *mem, size_t bytes)
{
	munmap(mem, bytes);
}

/* As host_linux.c: a buffer of exactly the file's size (one byte for an empty
 * file), so AddressSanitizer sees any read past the end. */
void *host_load_file(const char *path, size_t max_size, size_t *size, char *err, size_t errlen)
{
	for (int i = 0; i < nfiles; i++) {
		if (strcmp(files[i].path, path))
			continue;
		const struct fuzz_file *f = &files[i];
		if (f->padded_size > max_size) {
			snprintf(err, errlen, "image is %zu bytes, larger than guest RAM (%zu bytes)", f->padded_size,
				 max_size);
			return NULL;
		}
		uint8_t *copy = malloc(f->padded_size ? f->padded_size : 1);
		if (!copy) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		memcpy(copy, f->data, f->size);
		memset(copy + f->size, 0, f->padded_size - f->size);
		*size = f->padded_size;
		return copy;
	}
	snprintf(err, errlen, "cannot open: %s", strerror(ENOENT));
	return NULL;
}

uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int host_console_getc(void)
{
	return -1;
}

/* Guest output is the run loop's, which the loader never reaches: discard it. */
size_t host_console_write(const char *buf, size_t n, uint64_t deadline_ns)
{
	(void)buf, (void)deadline_ns;
	return n;
}

/* The loader runs in the thread that would have called vmm_main(). */
void *host_thread_arg(void)
{
	return NULL;
}

int host_thread_start(struct host_thread **thread, void *(*fn)(void *), void *arg)
{
	(void)thread, (void)fn, (void)arg;
	fuzz_unreachable("host_thread_start");
}

void host_thread_join(struct host_thread *thread)
{
	(void)thread;
	fuzz_unreachable("host_thread_join");
}

void host_thread_kick(struct host_thread *thread)
{
	(void)thread;
	fuzz_unreachable("host_thread_kick");
}

int host_max_threads(void)
{
	return 1;
}

bool host_threads_cooperative(void)
{
	return false;
}

void host_kick_timer(unsigned period_ms)
{
	(void)period_ms;
}

struct host_mutex *host_mutex_create(void)
{
	fuzz_unreachable("host_mutex_create");
}

void host_mutex_destroy(struct host_mutex *mutex)
{
	(void)mutex;
	fuzz_unreachable("host_mutex_destroy");
}

void host_mutex_lock(struct host_mutex *mutex)
{
	(void)mutex;
	fuzz_unreachable("host_mutex_lock");
}

void host_mutex_unlock(struct host_mutex *mutex)
{
	(void)mutex;
	fuzz_unreachable("host_mutex_unlock");
}

int host_event_create(void)
{
	return -ENOSYS;
}

int host_event_signal(int event)
{
	(void)event;
	fuzz_unreachable("host_event_signal");
}

long host_event_wait(int event, int timeout_ms)
{
	(void)event, (void)timeout_ms;
	fuzz_unreachable("host_event_wait");
}

void host_event_close(int event)
{
	(void)event;
}

_Noreturn void host_exit(int status)
{
	fprintf(stderr, "fuzz: host_exit(%d)\n", status);
	abort();
}

/* The seam: memory slots are all the loader's VM needs (api.rst 4.35). */
int kvm_seam_open(void)
{
	return -ENODEV;
}

long kvm_ioctl(int fd, unsigned long request, void *arg)
{
	(void)fd, (void)arg;
	if (request == KVM_SET_USER_MEMORY_REGION)
		return 0;
	fprintf(stderr, "fuzz: KVM ioctl 0x%lx reached\n", request);
	abort();
}

struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size)
{
	(void)vcpu_fd, (void)size;
	fuzz_unreachable("kvm_seam_map_run");
}

void kvm_seam_close(int fd)
{
	(void)fd;
}

const char *kvm_seam_name(void)
{
	return "fuzz (no KVM)";
}
