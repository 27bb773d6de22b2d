/* SPDX-License-Identifier: MIT */
/* The host's cooperative threads (thread.c), as the rest of the host sees them. */
#ifndef KVMLABS_HOST_THREAD_H
#define KVMLABS_HOST_THREAD_H

#include <stdbool.h>

/* Are there threads besides the calling one? */
bool host_thread_others(void);
/* Let the other threads run once, then come back. */
void host_thread_wait(void);

#endif
