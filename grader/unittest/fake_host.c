/* SPDX-License-Identifier: MIT */
/* host.h for unit tests (fake_host.h says what each part does). */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kvmlabs/vmm_status.h>
#include <x86/const.h>

#include "fake_host.h"

#define MAX_FILES  8
#define MAX_EVENTS 32
#define EVENT_BASE 200 /* event handles do not look like KVM handles */

struct host_thread {
	pthread_t tid;
	void *(*fn)(void *);
	void *arg;
	bool kicked;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct { char *path; void *data; size_t size; } files[MAX_FILES];
	int nfiles;
	const char *console;
	int max_threads;
	struct { bool open; long count; } events[MAX_EVENTS];
	int threads_started, threads_joined, kicks;
	int mutexes_open;
	unsigned kick_timer_ms;
	bool exit_passes;
	int disk_flushes;
} fh = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .max_threads = 16 };

static _Thread_local struct host_thread *current_thread;

void fake_host_reset(void)
{
	for (int i = 0; i < fh.nfiles; i++) {
		free(fh.files[i].path);
		free(fh.files[i].data);
	}
	pthread_mutex_t lock = fh.lock;
	pthread_cond_t cond = fh.cond;
	memset(&fh, 0, sizeof(fh));
	fh.lock = lock;
	fh.cond = cond;
	fh.max_threads = 16;
}

void fake_host_add_file(const char *path, const void *data, size_t size)
{
	ck_assert_msg(fh.nfiles < MAX_FILES, "fake_host: too many files");
	fh.files[fh.nfiles].path = strdup(path);
	fh.files[fh.nfiles].data = malloc(size ? size : 1);
	memcpy(fh.files[fh.nfiles].data, data, size);
	fh.files[fh.nfiles].size = size;
	fh.nfiles++;
}

void fake_host_set_console_input(const char *bytes)
{
	fh.console = bytes;
}

void fake_host_set_max_threads(int n)
{
	fh.max_threads = n;
}

void fake_host_exit_fails_test(bool fail)
{
	fh.exit_passes = !fail;
}

/* ---- memory, files, clock, console ---------------------------------------- */

void *host_alloc_guest_ram(size_t bytes)
{
	void *p = aligned_alloc(4096, (bytes + 4095) & ~(size_t)4095);
	if (p)
		memset(p, 0, bytes);
	return p;
}

void host_free_guest_ram(void *mem, size_t bytes)
{
	(void)bytes;
	free(mem);
}

void *host_load_file(const char *path, size_t max_size, size_t *size, char *err, size_t errlen)
{
	for (int i = 0; i < fh.nfiles; i++) {
		if (strcmp(fh.files[i].path, path))
			continue;
		if (fh.files[i].size > max_size) {
			snprintf(err, errlen, "image is %zu bytes, larger than guest RAM (%zu bytes)",
				 fh.files[i].size, max_size);
			return NULL;
		}
		void *copy = malloc(fh.files[i].size ? fh.files[i].size : 1);
		memcpy(copy, fh.files[i].data, fh.files[i].size);
		*size = fh.files[i].size;
		return copy;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *buf = malloc(max_size + 1);
	size_t n = buf ? fread(buf, 1, max_size + 1, f) : 0;
	fclose(f);
	if (!buf || n > max_size) {
		snprintf(err, errlen, buf ? "image larger than guest RAM (%zu bytes)" : "out of memory", max_size);
		free(buf);
		return NULL;
	}
	*size = n;
	return buf;
}

/* A disk is a file of the table (fake_host_add_file), read and written in place. */
struct host_disk {
	int file;
};

struct host_disk *host_disk_open(const char *path, uint64_t *size, char *err, size_t errlen)
{
	for (int i = 0; i < fh.nfiles; i++) {
		if (strcmp(fh.files[i].path, path))
			continue;
		if (fh.files[i].size == 0 || fh.files[i].size % 512) {
			snprintf(err, errlen, "%zu bytes: a disk is a non-zero whole number of 512-byte sectors",
				 fh.files[i].size);
			return NULL;
		}
		struct host_disk *disk = malloc(sizeof(*disk));
		disk->file = i;
		*size = fh.files[i].size;
		return disk;
	}
	snprintf(err, errlen, "cannot open for reading and writing: %s", strerror(ENOENT));
	return NULL;
}

static int disk_range(struct host_disk *disk, size_t len, uint64_t offset)
{
	size_t size = fh.files[disk->file].size;
	return offset > size || len > size - offset ? -EIO : 0;
}

int host_disk_read(struct host_disk *disk, void *buf, size_t len, uint64_t offset)
{
	if (disk_range(disk, len, offset))
		return -EIO;
	memcpy(buf, (char *)fh.files[disk->file].data + offset, len);
	return 0;
}

int host_disk_write(struct host_disk *disk, const void *buf, size_t len, uint64_t offset)
{
	if (disk_range(disk, len, offset))
		return -EIO;
	memcpy((char *)fh.files[disk->file].data + offset, buf, len);
	return 0;
}

int host_disk_flush(struct host_disk *disk)
{
	(void)disk;
	fh.disk_flushes++;
	return 0;
}

void host_disk_close(struct host_disk *disk)
{
	free(disk);
}

const void *fake_host_file_data(const char *path)
{
	for (int i = 0; i < fh.nfiles; i++)
		if (!strcmp(fh.files[i].path, path))
			return fh.files[i].data;
	return NULL;
}

int fake_host_disk_flushes(void)
{
	return fh.disk_flushes;
}

uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int host_console_getc(void)
{
	if (!fh.console || !*fh.console)
		return -1;
	return (unsigned char)*fh.console++;
}

size_t host_console_write(const char *buf, size_t n, uint64_t deadline_ns)
{
	(void)deadline_ns;
	return fwrite(buf, 1, n, stdout);
}

/* ---- threads ---------------------------------------------------------------- */

static void *thread_main(void *arg)
{
	struct host_thread *t = arg;
	current_thread = t;
	return t->fn(t->arg);
}

int host_thread_start(struct host_thread **thread, void *(*fn)(void *), void *arg)
{
	struct host_thread *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->arg = arg;
	*thread = t; /* before the thread runs: a kick may come at once */
	int r = pthread_create(&t->tid, NULL, thread_main, t);
	if (r) {
		free(t);
		return -r;
	}
	pthread_mutex_lock(&fh.lock);
	fh.threads_started++;
	pthread_mutex_unlock(&fh.lock);
	return 0;
}

void host_thread_join(struct host_thread *thread)
{
	pthread_join(thread->tid, NULL);
	free(thread);
	pthread_mutex_lock(&fh.lock);
	fh.threads_joined++;
	pthread_mutex_unlock(&fh.lock);
}

void *host_thread_arg(void)
{
	return current_thread ? current_thread->arg : NULL;
}

void host_thread_kick(struct host_thread *thread)
{
	pthread_mutex_lock(&fh.lock);
	thread->kicked = true;
	fh.kicks++;
	pthread_mutex_unlock(&fh.lock);
}

bool fake_host_take_kick(void)
{
	struct host_thread *t = current_thread;
	if (!t)
		return false;
	pthread_mutex_lock(&fh.lock);
	bool kicked = t->kicked;
	t->kicked = false;
	pthread_mutex_unlock(&fh.lock);
	return kicked;
}

int host_max_threads(void)
{
	return fh.max_threads;
}

bool host_threads_cooperative(void)
{
	return false;
}

int fake_host_threads_started(void)
{
	return fh.threads_started;
}

int fake_host_threads_joined(void)
{
	return fh.threads_joined;
}

int fake_host_kicks(void)
{
	return fh.kicks;
}

/* ---- events ----------------------------------------------------------------- */

static int event_index(int event)
{
	int i = event - EVENT_BASE;
	return i >= 0 && i < MAX_EVENTS && fh.events[i].open ? i : -1;
}

int host_event_create(void)
{
	pthread_mutex_lock(&fh.lock);
	int r = -EMFILE;
	for (int i = 0; i < MAX_EVENTS; i++)
		if (!fh.events[i].open) {
			fh.events[i].open = true;
			fh.events[i].count = 0;
			r = EVENT_BASE + i;
			break;
		}
	pthread_mutex_unlock(&fh.lock);
	return r;
}

int host_event_signal(int event)
{
	pthread_mutex_lock(&fh.lock);
	int i = event_index(event);
	if (i >= 0) {
		fh.events[i].count++;
		pthread_cond_broadcast(&fh.cond);
	}
	pthread_mutex_unlock(&fh.lock);
	return i >= 0 ? 0 : -EBADF;
}

long host_event_wait(int event, int timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&fh.lock);
	long n = 0;
	for (;;) {
		int i = event_index(event);
		if (i < 0)
			break;
		if (fh.events[i].count) {
			n = fh.events[i].count;
			fh.events[i].count = 0;
			break;
		}
		if (pthread_cond_timedwait(&fh.cond, &fh.lock, &deadline))
			break;
	}
	pthread_mutex_unlock(&fh.lock);
	return n;
}

void host_event_close(int event)
{
	pthread_mutex_lock(&fh.lock);
	int i = event_index(event);
	if (i >= 0)
		fh.events[i].open = false;
	pthread_mutex_unlock(&fh.lock);
}

int fake_host_events_open(void)
{
	int n = 0;
	for (int i = 0; i < MAX_EVENTS; i++)
		n += fh.events[i].open;
	return n;
}

bool fake_host_event_is_open(int event)
{
	return event_index(event) >= 0;
}

long fake_host_event_pending(int event)
{
	int i = event_index(event);
	return i < 0 ? -1 : fh.events[i].count;
}

/* ---- kick timer, locks ---------------------------------------------------------- */

void host_kick_timer(unsigned period_ms)
{
	fh.kick_timer_ms = period_ms;
}

unsigned fake_host_kick_timer(void)
{
	return fh.kick_timer_ms;
}

/* An error-checking mutex: a thread that takes a lock it holds already, or
 * gives back one it does not hold, fails the test instead of hanging. */
struct host_mutex {
	pthread_mutex_t m;
};

struct host_mutex *host_mutex_create(void)
{
	struct host_mutex *mutex = malloc(sizeof(*mutex));
	if (!mutex)
		return NULL;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	pthread_mutex_init(&mutex->m, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_lock(&fh.lock);
	fh.mutexes_open++;
	pthread_mutex_unlock(&fh.lock);
	return mutex;
}

void host_mutex_destroy(struct host_mutex *mutex)
{
	if (!mutex)
		return;
	ck_assert_msg(pthread_mutex_destroy(&mutex->m) == 0, "host_mutex_destroy() of a lock that is held");
	free(mutex);
	pthread_mutex_lock(&fh.lock);
	fh.mutexes_open--;
	pthread_mutex_unlock(&fh.lock);
}

void host_mutex_lock(struct host_mutex *mutex)
{
	ck_assert_msg(mutex, "host_mutex_lock(NULL): a bus or device without its lock (bus_init, bus_register)");
	int r = pthread_mutex_lock(&mutex->m);
	ck_assert_msg(r == 0, "host_mutex_lock(): %s", r == EDEADLK ? "this thread holds the lock already" : strerror(r));
}

void host_mutex_unlock(struct host_mutex *mutex)
{
	int r = pthread_mutex_unlock(&mutex->m);
	ck_assert_msg(r == 0, "host_mutex_unlock() of a lock this thread does not hold");
}

int fake_host_mutexes_open(void)
{
	return fh.mutexes_open;
}

/* ---- the end ------------------------------------------------------------------ */

static const char *status_name(int status)
{
	static const char *const names[] = {
		[VMM_EXIT_HALTED] = "VMM_EXIT_HALTED", [VMM_EXIT_USAGE] = "VMM_EXIT_USAGE",
		[VMM_EXIT_BAD_IMAGE] = "VMM_EXIT_BAD_IMAGE", [VMM_EXIT_KVM_SETUP] = "VMM_EXIT_KVM_SETUP",
		[VMM_EXIT_TRIPLE_FAULT] = "VMM_EXIT_TRIPLE_FAULT", [VMM_EXIT_FAIL_ENTRY] = "VMM_EXIT_FAIL_ENTRY",
		[VMM_EXIT_INTERNAL_ERROR] = "VMM_EXIT_INTERNAL_ERROR", [VMM_EXIT_UNHANDLED] = "VMM_EXIT_UNHANDLED",
		[VMM_EXIT_TIMEOUT] = "VMM_EXIT_TIMEOUT", [VMM_EXIT_OUTPUT_FLOOD] = "VMM_EXIT_OUTPUT_FLOOD",
		[VMM_EXIT_NOT_IMPLEMENTED] = "VMM_EXIT_NOT_IMPLEMENTED",
		[VMM_EXIT_WILD_JUMP] = "VMM_EXIT_WILD_JUMP", [VMM_EXIT_SYSTEM_EVENT] = "VMM_EXIT_SYSTEM_EVENT",
		[VMM_EXIT_HOST_FAULT] = "VMM_EXIT_HOST_FAULT",
	};
	if (status >= 0 && status < (int)ARRAY_SIZE(names) && names[status])
		return names[status];
	return "not a VMM status";
}

/* The VMM's messages go to stderr. While a test runs they are kept in a
 * file, so a passing run stays quiet and a failing one can quote them;
 * KVMLABS_TEST_VERBOSE=1 leaves stderr alone. */
static FILE *stderr_file;
static int stderr_saved = -1;
static char stderr_tail[512];

void fake_host_capture_stderr(void)
{
	const char *verbose = getenv("KVMLABS_TEST_VERBOSE");
	if ((verbose && *verbose && strcmp(verbose, "0")) || stderr_file)
		return;
	fflush(stderr);
	stderr_file = tmpfile();
	if (stderr_file) {
		stderr_saved = dup(STDERR_FILENO);
		dup2(fileno(stderr_file), STDERR_FILENO);
	}
}

void fake_host_release_stderr(void)
{
	if (!stderr_file)
		return;
	fflush(stderr);
	dup2(stderr_saved, STDERR_FILENO);
	close(stderr_saved);
	fclose(stderr_file);
	stderr_file = NULL;
}

const char *fake_host_stderr_tail(void)
{
	stderr_tail[0] = 0;
	if (!stderr_file)
		return stderr_tail;
	fflush(stderr);
	long end = (long)lseek(fileno(stderr_file), 0, SEEK_END);
	long from = end > (long)sizeof(stderr_tail) - 1 ? end - (long)sizeof(stderr_tail) + 1 : 0;
	ssize_t n = pread(fileno(stderr_file), stderr_tail, sizeof(stderr_tail) - 1, from);
	stderr_tail[n > 0 ? n : 0] = 0;
	size_t len = strlen(stderr_tail);
	while (len && stderr_tail[len - 1] == '\n')
		stderr_tail[--len] = 0;
	char *last = strrchr(stderr_tail, '\n');
	return last ? last + 1 : stderr_tail;
}

_Noreturn void host_exit(int status)
{
	fflush(stdout);
	fflush(stderr);
	if (!fh.exit_passes)
		ck_abort_msg("the VMM ended the process with host_exit(%d) (%s): %s", status,
			     status_name(status), fake_host_stderr_tail());
	_exit(status);
}
