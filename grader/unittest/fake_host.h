/* SPDX-License-Identifier: MIT */
/*
 * host.h for unit tests: guest RAM from the C heap, guest images from disk or
 * from a table the test fills, console input from a string, real threads and
 * small event counters. host_exit() fails the running Check test, so a lab
 * stub (lab_todo -> host_exit) fails it at once with the stub's message.
 */
#ifndef KVMLABS_FAKE_HOST_H
#define KVMLABS_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include <kvmlabs/host.h>

void fake_host_reset(void);
/* host_load_file(path) returns a copy of data instead of reading the disk. */
void fake_host_add_file(const char *path, const void *data, size_t size);
/* A file of the table as it is now (host_disk_write() changes it), or NULL;
 * how many times host_disk_flush() was called. */
const void *fake_host_file_data(const char *path);
int fake_host_disk_flushes(void);
/* Bytes host_console_getc() hands out, one per call. */
void fake_host_set_console_input(const char *bytes);
/* What host_max_threads() answers (default 16). */
void fake_host_set_max_threads(int n);
/* Events: how many are open, whether one is, and its count not yet consumed. */
int fake_host_events_open(void);
bool fake_host_event_is_open(int event);
long fake_host_event_pending(int event);
/* Threads started and joined so far; kicks sent. */
int fake_host_threads_started(void);
int fake_host_threads_joined(void);
int fake_host_kicks(void);
/* Locks created and not destroyed yet (host_mutex_*). */
int fake_host_mutexes_open(void);
/* The period host_kick_timer() was last given (0: off). */
unsigned fake_host_kick_timer(void);
/* For the fake KVM: true (once) if the calling thread was kicked since it last asked. */
bool fake_host_take_kick(void);
/* host_exit(status) was called: fail the test (the default), or just _exit(status). */
void fake_host_exit_fails_test(bool fail);

/* Keep the VMM's stderr in a file while a test runs (KVMLABS_TEST_VERBOSE=1:
 * do not); the last line it printed, for failure messages. */
void fake_host_capture_stderr(void);
const char *fake_host_stderr_tail(void);
/* Give stderr back (so what the sanitizers print at exit is seen). */
void fake_host_release_stderr(void);

#endif
