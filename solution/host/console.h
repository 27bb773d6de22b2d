/* SPDX-License-Identifier: MIT */
/* The host console: every byte goes to COM1 and to the 0xe9 debug port. */
#ifndef KVMLABS_HOST_CONSOLE_H
#define KVMLABS_HOST_CONSOLE_H

#include <stddef.h>

#define COM1_PORT 0x3f8

void console_init(void);
void console_putc(char c);
void console_write(const char *s, size_t n);
/* Wait until COM1 has sent everything, so nothing is lost at power-off. */
void console_drain(void);
/* One received byte, or -1. */
int console_getc(void);

#endif
