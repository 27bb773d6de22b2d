/* SPDX-License-Identifier: MIT */
/* Host services on Linux: mmap'd RAM, files, pthreads, eventfds, signals, timers. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kvmlabs/host.h>

#include "../vmm.h"

/* The signal that kicks a vCPU thread out of KVM_RUN (KVM_RUN returns -EINTR). */
#define KICK_SIGNAL SIGUSR1
/* The kick timer's: SA_RESTART, so it never cuts a write to stdout short.
 * KVM_RUN still returns -EINTR, which no signal flag restarts. */
#define TICK_SIGNAL SIGUSR2
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid /* glibc before 2.35 */
#endif

struct host_thread {
	pthread_t tid;
};

void *host_alloc_guest_ram(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void host_free_guest_ram(void *mem, size_t bytes)
{
	munmap(mem, bytes);
}

void *host_load_file(const char *path, size_t max_size, size_t *size, char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer
	 * (fifo(7)); the file is refused below unless it is regular, and
	 * O_NONBLOCK changes nothing for a regular file's reads. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	struct stat st;
	void *buf = NULL;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file (a %s)", S_ISDIR(st.st_mode) ? "directory"
			 : S_ISFIFO(st.st_mode) ? "FIFO" : S_ISCHR(st.st_mode) ? "character device"
			 : S_ISBLK(st.st_mode) ? "block device" : S_ISSOCK(st.st_mode) ? "socket" : "special file");
	} else if ((uint64_t)st.st_size > max_size) {
		snprintf(err, errlen, "image is %lld bytes, larger than guest RAM (%zu bytes)",
			 (long long)st.st_size, max_size);
	} else if (!(buf = malloc(st.st_size ? (size_t)st.st_size : 1))) {
		snprintf(err, errlen, "out of memory");
	} else {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, (char *)buf + got, (size_t)st.st_size - got);
			if (n <= 0) {
				snprintf(err, errlen, "read failed: %s", n < 0 ? strerror(errno) : "file shrank");
				free(buf);
				buf = NULL;
				break;
			}
			got += (size_t)n;
		}
		*size = got;
	}
	close(fd);
	return buf;
}

struct host_disk {
	int fd;
	uint64_t size;
};

struct host_disk *host_disk_open(const char *path, uint64_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open for reading and writing: %s", strerror(errno));
		return NULL;
	}
	struct stat st;
	struct host_disk *disk = NULL;
	if (fstat(fd, &st) < 0)
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "not a regular file");
	else if (st.st_size == 0 || st.st_size % 512)
		snprintf(err, errlen, "%lld bytes: a disk is a non-zero whole number of 512-byte sectors",
			 (long long)st.st_size);
	else if (!(disk = malloc(sizeof(*disk))))
		snprintf(err, errlen, "out of memory");
	if (!disk) {
		close(fd);
		return NULL;
	}
	*disk = (struct host_disk){ .fd = fd, .size = (uint64_t)st.st_size };
	*size = disk->size;
	return disk;
}

static int disk_io(struct host_disk *disk, void *buf, size_t len, uint64_t offset, bool write)
{
	if (offset > disk->size || len > disk->size - offset)
		return -EIO;
	while (len) {
		ssize_t n = write ? pwrite(disk->fd, buf, len, (off_t)offset) : pread(disk->fd, buf, len, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO; /* 0: the file shrank under us */
		buf = (char *)buf + n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

int host_disk_read(struct host_disk *disk, void *buf, size_t len, uint64_t offset)
{
	return disk_io(disk, buf, len, offset, false);
}

int host_disk_write(struct host_disk *disk, const void *buf, size_t len, uint64_t offset)
{
	return disk_io(disk, (void *)buf, len, offset, true);
}

int host_disk_flush(struct host_disk *disk)
{
	return fdatasync(disk->fd) < 0 ? -errno : 0;
}

void host_disk_close(struct host_disk *disk)
{
	if (disk) {
		close(disk->fd);
		free(disk);
	}
}

uint64_t host_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The UART (vCPU thread) and virtio-console (its device thread) both ask:
 * poll(2) and read(2) under one lock, or the byte one saw could be read by
 * the other and the read would wait for the next key. */
int host_console_getc(void)
{
	static pthread_mutex_t input = PTHREAD_MUTEX_INITIALIZER;
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	unsigned char c;
	int r = -1;
	pthread_mutex_lock(&input);
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) && read(STDIN_FILENO, &c, 1) == 1)
		r = c;
	pthread_mutex_unlock(&input);
	return r;
}

/* Guest output: poll(2) for room with the deadline, then write at most
 * PIPE_BUF bytes, which a pipe with room takes without blocking (pipe(7)).
 * One writer at a time, so the room poll(2) saw is still there. */
size_t host_console_write(const char *buf, size_t n, uint64_t deadline_ns)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	size_t done = 0;
	pthread_mutex_lock(&lock);
	while (done < n) {
		int wait_ms = -1;
		if (deadline_ns) {
			uint64_t now = host_now_ns();
			if (now >= deadline_ns)
				break;
			uint64_t ms = (deadline_ns - now + 999999) / 1000000;
			wait_ms = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
		int r = poll(&p, 1, wait_ms);
		if (r < 0 && errno == EINTR)
			continue; /* a kick: look at the deadline again */
		if (r <= 0 || (p.revents & (POLLERR | POLLNVAL)))
			break;
		ssize_t w = write(STDOUT_FILENO, buf + done, n - done < PIPE_BUF ? n - done : PIPE_BUF);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	pthread_mutex_unlock(&lock);
	return done;
}

static __thread void *thread_arg;

struct thread_start {
	void *(*fn)(void *);
	void *arg;
};

static void *thread_trampoline(void *p)
{
	struct thread_start start = *(struct thread_start *)p;
	free(p);
	thread_arg = start.arg;
	return start.fn(start.arg);
}

void *host_thread_arg(void)
{
	return thread_arg;
}

int host_thread_start(struct host_thread **thread, void *(*fn)(void *), void *arg)
{
	struct host_thread *t = calloc(1, sizeof(*t));
	struct thread_start *start = malloc(sizeof(*start));
	if (!t || !start) {
		free(t);
		free(start);
		return -ENOMEM;
	}
	*start = (struct thread_start){ fn, arg };
	int r = pthread_create(&t->tid, NULL, thread_trampoline, start);
	if (r) {
		free(start);
		free(t);
		return -r;
	}
	*thread = t;
	return 0;
}

void host_thread_join(struct host_thread *thread)
{
	pthread_join(thread->tid, NULL);
	free(thread);
}

void host_thread_kick(struct host_thread *thread)
{
	pthread_kill(thread->tid, KICK_SIGNAL);
}

int host_max_threads(void)
{
	return VMM_MAX_VCPUS + 2;
}

/* Linux preempts its threads: a single vCPU may as well have its own. */
bool host_threads_cooperative(void)
{
	return false;
}

void host_kick_timer(unsigned period_ms)
{
	static timer_t timer;
	static bool armed;
	if (!armed && period_ms) {
		struct sigevent ev = {
			.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = TICK_SIGNAL, .sigev_notify_thread_id = gettid(),
		};
		if (timer_create(CLOCK_MONOTONIC, &ev, &timer) < 0)
			return;
		armed = true;
	}
	if (!armed)
		return;
	struct timespec period = { .tv_sec = period_ms / 1000, .tv_nsec = (long)(period_ms % 1000) * 1000000 };
	struct itimerspec its = { .it_interval = period, .it_value = period };
	timer_settime(timer, 0, &its, NULL);
}

struct host_mutex {
	pthread_mutex_t m;
};

struct host_mutex *host_mutex_create(void)
{
	struct host_mutex *mutex = malloc(sizeof(*mutex));
	if (mutex)
		pthread_mutex_init(&mutex->m, NULL);
	return mutex;
}

void host_mutex_destroy(struct host_mutex *mutex)
{
	if (!mutex)
		return;
	pthread_mutex_destroy(&mutex->m);
	free(mutex);
}

void host_mutex_lock(struct host_mutex *mutex)
{
	pthread_mutex_lock(&mutex->m);
}

void host_mutex_unlock(struct host_mutex *mutex)
{
	pthread_mutex_unlock(&mutex->m);
}

int host_event_create(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int host_event_signal(int event)
{
	uint64_t one = 1;
	return write(event, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

long host_event_wait(int event, int timeout_ms)
{
	struct pollfd p = { .fd = event, .events = POLLIN };
	uint64_t count;
	if (poll(&p, 1, timeout_ms) == 1 && read(event, &count, sizeof(count)) == sizeof(count))
		return (long)count;
	return 0;
}

void host_event_close(int event)
{
	close(event);
}

_Noreturn void host_exit(int status)
{
	fflush(stdout);
	exit(status);
}

static void kick_handler(int sig)
{
	(void)sig; /* its only job is to interrupt KVM_RUN */
}

/* fds 0-2 open before anything else is: started with one closed
 * (`vmm run g >&-`), the next open() — the image, then /dev/kvm — would
 * get its number, and guest output would be written into /dev/kvm. As
 * POSIX has the C runtime of a set-user-ID program do, /dev/null fills the
 * gap. */
static void std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (null != fd) /* open() takes the lowest free number: fd itself */
			_exit(VMM_EXIT_KVM_SETUP);
	}
}

int main(int argc, char **argv)
{
	std_fds_open();
	/* No SA_RESTART: a kicked KVM_RUN must return -EINTR, not restart. */
	struct sigaction sa = { .sa_handler = kick_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sigaction(TICK_SIGNAL, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return vmm_main(argc, argv);
}
