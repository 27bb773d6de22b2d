/* SPDX-License-Identifier: MIT */
/*
 * Host services: the second seam of the VMM.
 *
 * Everything the VMM needs from its host besides KVM itself: guest RAM, files
 * (guest images), a clock, console input, vCPU threads, locks and event
 * counters; and the one function the host calls in the VMM, vmm_main().
 * Hosted on Linux: vmm/linux/host_linux.c. Bare metal: host/host_services.c.
 *
 * Beyond this header the VMM uses only this freestanding-friendly subset of the
 * C library, which the bare-metal host also provides:
 *   <string.h>  memcpy memmove memset memcmp strlen strcmp strncmp strchr strrchr
 *   <stdio.h>   printf fprintf(stdout|stderr) snprintf vsnprintf vfprintf fputs putchar fflush
 *   <stdlib.h>  malloc calloc realloc free strtoull strtoul strtol abs qsort
 *   <stdatomic.h>, <stdint.h>, <stdbool.h>, <stddef.h>, <errno.h> (constants only)
 */
#ifndef KVMLABS_HOST_H
#define KVMLABS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Zeroed, page-aligned memory to back guest RAM. NULL on failure. */
void *host_alloc_guest_ram(size_t bytes);
void host_free_guest_ram(void *mem, size_t bytes);

/* Read a whole guest image: a file on Linux, an archive entry on bare metal.
 * Returns a malloc'd buffer (caller frees) and its size, or NULL with a
 * one-line reason in err. At most max_size bytes are accepted. */
void *host_load_file(const char *path, size_t max_size, size_t *size, char *err, size_t errlen);

/* A disk for virtio-blk (--disk): a file on Linux, read and written in place
 * and flushed with fdatasync(2); on bare metal a copy of an archive entry in
 * host memory (the runner packs it; what the guest writes lasts as long as
 * the run). Its size is a whole number of 512-byte sectors or it is refused.
 * Reads and writes are whole: 0, or -errno (-EIO past the end). */
struct host_disk;
struct host_disk *host_disk_open(const char *path, uint64_t *size, char *err, size_t errlen);
int host_disk_read(struct host_disk *disk, void *buf, size_t len, uint64_t offset);
int host_disk_write(struct host_disk *disk, const void *buf, size_t len, uint64_t offset);
int host_disk_flush(struct host_disk *disk);
void host_disk_close(struct host_disk *disk);

/* Monotonic time in nanoseconds. */
uint64_t host_now_ns(void);

/* One byte of console input if one is waiting, else -1. Never blocks. */
int host_console_getc(void);

/* Guest output on the console (stdout on Linux), unbuffered. Waits for a
 * slow reader at most until deadline_ns (host_now_ns() time; 0: as long as
 * it takes). Returns the bytes written: fewer when the deadline passed or
 * nobody reads any more. */
size_t host_console_write(const char *buf, size_t n, uint64_t deadline_ns);

/* vCPU threads. host_thread_kick() makes a KVM_RUN in that thread return
 * (-EINTR) soon; the VMM pairs it with kvm_run->immediate_exit. */
struct host_thread;
int host_thread_start(struct host_thread **thread, void *(*fn)(void *), void *arg);
void host_thread_join(struct host_thread *thread);
void host_thread_kick(struct host_thread *thread);
/* The arg of host_thread_start() that started the calling thread; NULL in
 * the thread that called vmm_main(). */
void *host_thread_arg(void);
/* How many threads this host can run at once. */
int host_max_threads(void);
/* True when threads share one CPU and switch only where they wait (the
 * bare-metal host): a single vCPU is better run inline there. */
bool host_threads_cooperative(void);

/* A vCPU run inline, in the VMM's only thread, has no supervisor thread to
 * kick it when the VM ends (--timeout): have a KVM_RUN in the calling thread
 * return (-EINTR) at least every period_ms milliseconds; 0 turns that off.
 * Linux: a timer signal for the thread. Bare metal: minikvm already ends
 * KVM_RUN after a time slice of its own. */
void host_kick_timer(unsigned period_ms);

/* A lock between threads, for the device bus and the device models: a
 * pthread mutex on Linux; on the bare-metal host, which runs one thread on
 * one CPU, a flag that catches a thread taking a lock it already holds.
 * host_mutex_create() returns NULL when out of memory. Not recursive. */
struct host_mutex;
struct host_mutex *host_mutex_create(void);
void host_mutex_destroy(struct host_mutex *mutex);
void host_mutex_lock(struct host_mutex *mutex);
void host_mutex_unlock(struct host_mutex *mutex);

/* Event counters for KVM_IRQFD / KVM_IOEVENTFD (eventfd(2) on Linux).
 * Return -ENOSYS where the host has none. */
int host_event_create(void);
int host_event_signal(int event);
/* Wait up to timeout_ms for the event; returns the count consumed, 0 on timeout. */
long host_event_wait(int event, int timeout_ms);
void host_event_close(int event);

/* End the VMM process with this status. */
_Noreturn void host_exit(int status);

/* The VMM's entry point (vmm/main.c), called by the host with the command
 * line ("vmm run [options] IMAGE"); returns the exit status of the run. */
int vmm_main(int argc, char **argv);

#endif
