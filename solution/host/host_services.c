// SPDX-License-Identifier: MIT
/*
 * host.h for the bare-metal host: what the VMM gets instead of Linux.
 * One CPU, cooperative threads (thread.c), files come from the guest
 * archive.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/host.h>
#include <kvmlabs/host_kernel.h>
#include <x86/insns.h>
#include <x86/pgtable.h>
#include "archive.h"
#include "clock.h"
#include "console.h"
#include "panic.h"

#define BOCHS_SHUTDOWN_PORT 0x8900
#define QEMU_DEBUG_EXIT_PORT 0xf4
/* 2 MiB alignment lets minikvm's EPT use large pages for guest RAM. */
#define GUEST_RAM_ALIGN  LARGE_PAGE_SIZE

void *host_alloc_guest_ram(size_t bytes)
{
	if (bytes == 0)
		return NULL;
	size_t pages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t t0 = host_now_ns();
	void *p = host_pages_alloc(pages, bytes >= GUEST_RAM_ALIGN ? GUEST_RAM_ALIGN : PAGE_SIZE);
	if (!p && bytes >= GUEST_RAM_ALIGN)
		p = host_pages_alloc(pages, PAGE_SIZE);
	if (archive_flags() & ARCHIVE_FLAG_VERBOSE)
		printf("kvmlabs-host: guest RAM: %zu KiB at %p, allocated and zeroed in %lu us\n", bytes >> 10, p,
		       (host_now_ns() - t0) / 1000);
	return p;
}

bool host_kvm_intel_ept(void)
{
	return !(archive_flags() & ARCHIVE_FLAG_NO_EPT);
}

void host_free_guest_ram(void *mem, size_t bytes)
{
	if (mem)
		host_pages_free(mem, (bytes + PAGE_SIZE - 1) / PAGE_SIZE);
}

void *host_load_file(const char *path, size_t max_size, size_t *size, char *err, size_t errlen)
{
	const struct archive_entry *e = archive_find(path);
	if (!e) {
		snprintf(err, errlen, "%s: not in the guest archive (the runner packs the files named on "
			 "the command line that exist in its --guest-dir)", path);
		return NULL;
	}
	if (e->size > max_size) {
		snprintf(err, errlen, "%s: %lu bytes, more than the %zu allowed", path, e->size, max_size);
		return NULL;
	}
	void *buf = malloc(e->size ? e->size : 1);
	if (!buf) {
		snprintf(err, errlen, "%s: no memory for %lu bytes", path, e->size);
		return NULL;
	}
	memcpy(buf, archive_data(e), e->size);
	*size = e->size;
	return buf;
}

/* A disk is a copy of its archive entry: the archive is the runner's and
 * stays as it was packed. */
struct host_disk {
	uint8_t *data;
	uint64_t size;
};

struct host_disk *host_disk_open(const char *path, uint64_t *size, char *err, size_t errlen)
{
	const struct archive_entry *e = archive_find(path);
	if (!e) {
		snprintf(err, errlen, "%s: not in the guest archive (the runner packs the files named on "
			 "the command line)", path);
		return NULL;
	}
	if (e->size == 0 || e->size % 512) {
		snprintf(err, errlen, "%s: %lu bytes: a disk is a non-zero whole number of 512-byte sectors",
			 path, e->size);
		return NULL;
	}
	struct host_disk *disk = malloc(sizeof(*disk));
	uint8_t *data = malloc(e->size);
	if (!disk || !data) {
		free(disk);
		free(data);
		snprintf(err, errlen, "%s: no memory for %lu bytes", path, e->size);
		return NULL;
	}
	memcpy(data, archive_data(e), e->size);
	*disk = (struct host_disk){ .data = data, .size = e->size };
	*size = disk->size;
	return disk;
}

int host_disk_read(struct host_disk *disk, void *buf, size_t len, uint64_t offset)
{
	if (offset > disk->size || len > disk->size - offset)
		return -EIO;
	memcpy(buf, disk->data + offset, len);
	return 0;
}

int host_disk_write(struct host_disk *disk, const void *buf, size_t len, uint64_t offset)
{
	if (offset > disk->size || len > disk->size - offset)
		return -EIO;
	memcpy(disk->data + offset, buf, len);
	return 0;
}

/* Memory is as durable as this disk gets. */
int host_disk_flush(struct host_disk *disk)
{
	(void)disk;
	return 0;
}

void host_disk_close(struct host_disk *disk)
{
	if (disk) {
		free(disk->data);
		free(disk);
	}
}

int host_console_getc(void)
{
	return console_getc();
}

/* The serial console never holds output back. */
size_t host_console_write(const char *buf, size_t n, uint64_t deadline_ns)
{
	(void)deadline_ns;
	fwrite(buf, 1, n, stdout);
	return n;
}


/* minikvm ends KVM_RUN after a time slice of its own: no timer needed. */
void host_kick_timer(unsigned period_ms)
{
	(void)period_ms;
}

/* One thread on one CPU: a lock is never contended, only ever taken twice by
 * the same thread, which would deadlock on Linux. Say so instead. */
struct host_mutex {
	bool held;
};

struct host_mutex *host_mutex_create(void)
{
	return calloc(1, sizeof(struct host_mutex));
}

void host_mutex_destroy(struct host_mutex *mutex)
{
	free(mutex);
}

void host_mutex_lock(struct host_mutex *mutex)
{
	if (mutex->held)
		host_panic("host_mutex_lock: the lock is already held (a recursive lock)");
	mutex->held = true;
}

void host_mutex_unlock(struct host_mutex *mutex)
{
	mutex->held = false;
}

// @region host_exit
/* Print the line the runners wait for, then switch the emulator off: Bochs
 * through its shutdown port (the string "Shutdown"), QEMU through
 * isa-debug-exit (exit code (status << 1) | 1). The host runs in VMX root
 * operation, so these OUTs reach the emulator's devices, not the VMM's. */
_Noreturn void host_exit(int status)
{
	static const char shutdown[] = "Shutdown";

	if (archive_flags() & ARCHIVE_FLAG_VERBOSE)
		printf("kvmlabs-host: %lu ms (emulated) after power-on\n", rdtsc() / (clock_tsc_hz() / 1000));
	printf("kvmlabs-host: exit status %d\n", status);
	console_drain();
	for (const char *p = shutdown; *p; p++)
		outb(BOCHS_SHUTDOWN_PORT, (uint8_t)*p);
	outb(QEMU_DEBUG_EXIT_PORT, (uint8_t)status);
	for (;;)
		__asm__ volatile("cli; hlt");
}
// @end
