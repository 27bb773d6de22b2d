/* SPDX-License-Identifier: MIT */
/* Time on the bare-metal host: the TSC, calibrated against the PIT. */
#ifndef KVMLABS_HOST_CLOCK_H
#define KVMLABS_HOST_CLOCK_H

#include <stdint.h>

void clock_init(void);
uint64_t clock_tsc_hz(void);

#endif
