/* SPDX-License-Identifier: MIT */
/* Fatal host errors: report and end the run with VMM_EXIT_HOST_FAULT. */
#ifndef KVMLABS_HOST_PANIC_H
#define KVMLABS_HOST_PANIC_H

_Noreturn void host_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
