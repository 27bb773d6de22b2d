/* SPDX-License-Identifier: MIT */
/*
 * host.h and kvm_seam.h for the fuzz targets: no /dev/kvm, one thread, no
 * output. Files come from an in-memory table the target fills for each input
 * (so the VMM's "image" step reads its image the way it reads a file), the
 * disk is a buffer of the target's (fuzz_disk_set), guest RAM is mmap'd.
 * KVM accepts memory slots, answers that it has no optional capability (so
 * the VMM takes the fallbacks it takes on minikvm: no ioeventfd, no device
 * thread) and counts the interrupts it is asked to pulse. Locks are flags,
 * as on the bare-metal host: a lock taken twice is a deadlock. What no
 * target may reach (a vCPU, a thread, an event) aborts, so the fuzzer
 * reports it as a crash with its stack.
 */
#include <errno.h>
#include <stdbool.h>
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

static struct {
	const char *path;
	uint8_t *data;
	size_t size;
	int err;
	void (*watch)(enum fuzz_disk_op op, const void *buf, size_t len, uint64_t offset);
} disk;

void fuzz_disk_set(const char *path, void *data, size_t size)
{
	disk.path = path;
	disk.data = data;
	disk.size = size;
}

void fuzz_disk_fail(int err)
{
	disk.err = err;
}

void fuzz_disk_watch(void (*watch)(enum fuzz_disk_op op, const void *buf, size_t len, uint64_t offset))
{
	disk.watch = watch;
}

struct host_disk {
	uint8_t *data;
	uint64_t size;
};

/* The checks of host_linux.c and host_services.c, on the target's buffer. */
struct host_disk *host_disk_open(const char *path, uint64_t *size, char *err, size_t errlen)
{
	if (!disk.path || strcmp(path, disk.path)) {
		snprintf(err, errlen, "cannot open for reading and writing: %s", strerror(ENOENT));
		return NULL;
	}
	if (disk.size == 0 || disk.size % 512) {
		snprintf(err, errlen, "%zu bytes: a disk is a non-zero whole number of 512-byte sectors", disk.size);
		return NULL;
	}
	struct host_disk *d = malloc(sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*d = (struct host_disk){ .data = disk.data, .size = disk.size };
	*size = d->size;
	return d;
}

static int disk_io(struct host_disk *d, enum fuzz_disk_op op, void *buf, size_t len, uint64_t offset)
{
	if (disk.watch)
		disk.watch(op, buf, len, offset);
	if (offset > d->size || len > d->size - offset)
		return -EIO;
	if (disk.err)
		return -disk.err;
	if (op == FUZZ_DISK_WRITE)
		memcpy(d->data + offset, buf, len);
	else
		memcpy(buf, d->data + offset, len);
	return 0;
}

int host_disk_read(struct host_disk *d, void *buf, size_t len, uint64_t offset)
{
	return disk_io(d, FUZZ_DISK_READ, buf, len, offset);
}

int host_disk_write(struct host_disk *d, const void *buf, size_t len, uint64_t offset)
{
	return disk_io(d, FUZZ_DISK_WRITE, (void *)buf, len, offset);
}

int host_disk_flush(struct host_disk *d)
{
	(void)d;
	if (disk.watch)
		disk.watch(FUZZ_DISK_FLUSH, NULL, 0, 0);
	return -disk.err;
}

void host_disk_close(struct host_disk *d)
{
	free(d);
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

/* A target runs in the thread that would have called vmm_main(). */
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

/* One thread: a lock is a flag, and taking one already held can only
 * mean the VMM would deadlock (a device callback back into its own bus). */
struct host_mutex {
	bool held;
};

struct host_mutex *host_mutex_create(void)
{
	return calloc(1, sizeof(struct host_mutex));
}

void host_mutex_destroy(struct host_mutex *mutex)
{
	if (mutex && mutex->held)
		fuzz_unreachable("host_mutex_destroy of a lock still held");
	free(mutex);
}

void host_mutex_lock(struct host_mutex *mutex)
{
	if (mutex->held)
		fuzz_unreachable("host_mutex_lock of a lock already held (a deadlock)");
	mutex->held = true;
}

void host_mutex_unlock(struct host_mutex *mutex)
{
	if (!mutex->held)
		fuzz_unreachable("host_mutex_unlock of a lock not held");
	mutex->held = false;
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

/* The VMM's interrupt lines, as KVM_IRQ_LINE pulses them. */
static struct {
	unsigned long pulses;
	bool high;
} irq_lines[256];

unsigned long fuzz_irq_pulses(int gsi)
{
	return gsi >= 0 && gsi < (int)(sizeof(irq_lines) / sizeof(irq_lines[0])) ? irq_lines[gsi].pulses : 0;
}

static long irq_line(const struct kvm_irq_level *level)
{
	if (level->irq >= sizeof(irq_lines) / sizeof(irq_lines[0]))
		fuzz_unreachable("KVM_IRQ_LINE on a line the VMM does not have");
	bool high = level->level != 0;
	if (high == irq_lines[level->irq].high)
		fuzz_unreachable("KVM_IRQ_LINE: a line raised twice or lowered twice (irq_raise pulses it)");
	irq_lines[level->irq].high = high;
	irq_lines[level->irq].pulses += high;
	return 0;
}

/* The seam: memory slots (api.rst 4.35), no optional capability (4.4: 0 is
 * "not supported"), and interrupt lines (4.25, KVM_IRQ_LINE). */
int kvm_seam_open(void)
{
	return -ENODEV;
}

long kvm_ioctl(int fd, unsigned long request, void *arg)
{
	(void)fd;
	switch (request) {
	case KVM_SET_USER_MEMORY_REGION:
	case KVM_CHECK_EXTENSION:
		return 0;
	case KVM_IRQ_LINE:
		return irq_line(arg);
	}
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
