// SPDX-License-Identifier: MIT
/*
 * Console output on the 16550 UART at COM1 and the Bochs/QEMU debug console
 * port 0xe9. The runners take the transcript from COM1; port 0xe9 shows in
 * Bochs' own output and in QEMU's -debugcon file.
 */
#include <stdbool.h>
#include <stdint.h>

#include <x86/insns.h>
#include "console.h"
#include "cpu.h"

#define DEBUGCON_PORT 0xe9

/* 8250 registers (offsets from the base port) and bits. */
#define UART_DATA   0
#define UART_IER    1
#define UART_IER_THRI   0x02
#define UART_FCR    2
#define UART_LCR    3
#define UART_MCR    4
#define UART_LSR    5
#define UART_LCR_DLAB   0x80
#define UART_LCR_8N1    0x03
#define UART_FCR_ENABLE_CLEAR 0x07
#define UART_MCR_DTR_RTS_OUT2 0x0b  /* OUT2 gates the UART interrupt onto IRQ 4 */
#define UART_LSR_DR     0x01
#define UART_LSR_THRE   0x20
#define UART_LSR_TEMT   0x40
#define UART_FIFO_DEPTH 16
#define UART_POLL_LIMIT 10000000u
#define UART_SPINS_BEFORE_SLEEP 64

static bool com1_present;
static unsigned int com1_fifo_room;

void console_init(void)
{
	outb(COM1_PORT + UART_IER, 0);
	outb(COM1_PORT + UART_LCR, UART_LCR_DLAB);
	outb(COM1_PORT + UART_DATA, 1);          /* divisor 1: 115200 baud */
	outb(COM1_PORT + UART_IER, 0);
	outb(COM1_PORT + UART_LCR, UART_LCR_8N1);
	outb(COM1_PORT + UART_FCR, UART_FCR_ENABLE_CLEAR);
	outb(COM1_PORT + UART_MCR, UART_MCR_DTR_RTS_OUT2);
	/* A missing UART floats the bus: every register reads 0xff. */
	com1_present = inb(COM1_PORT + UART_LSR) != 0xff;
	com1_fifo_room = 0;
}

// @region console_wait
/*
 * Wait until the transmitter can take more bytes. An emulated UART sends at
 * the emulated baud rate (115200: 87 us a byte), and under Bochs emulated
 * time only passes as instructions run, so polling burns thousands of
 * instructions per byte. Instead, after a short spin, sleep until the UART's
 * "transmitter empty" interrupt: HLT lets Bochs skip straight to that moment.
 * COM1's IRQ is unmasked only for the STI;HLT window (STI delays interrupts
 * by one instruction, so the wake-up cannot be lost between them), so no
 * interrupt is ever pending when minikvm enters a guest.
 */
static bool com1_wait_thre(void)
{
	for (unsigned int spins = 0; spins < UART_POLL_LIMIT; spins++) {
		if (inb(COM1_PORT + UART_LSR) & UART_LSR_THRE)
			return true;
		if (spins < UART_SPINS_BEFORE_SLEEP)
			continue;
		/* Enable the interrupt first, then look again: a transmitter that
		 * emptied before this point is seen now, one that empties later
		 * raises the interrupt. */
		outb(COM1_PORT + UART_IER, UART_IER_THRI);
		if (inb(COM1_PORT + UART_LSR) & UART_LSR_THRE) {
			outb(COM1_PORT + UART_IER, 0);
			return true;
		}
		outb(PIC1_DATA, (uint8_t)~(1u << COM1_IRQ));
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		outb(PIC1_DATA, 0xff);
		outb(COM1_PORT + UART_IER, 0);
	}
	return false;
}

/* With the FIFO on, THRE means the whole transmit FIFO is empty, so after
 * seeing it we may write UART_FIFO_DEPTH bytes without waiting again. */
static void com1_putc(char c)
{
	if (!com1_present)
		return;
	if (com1_fifo_room == 0) {
		if (!com1_wait_thre()) {
			com1_present = false;   /* a stuck UART must not hang the host */
			return;
		}
		com1_fifo_room = UART_FIFO_DEPTH;
	}
	outb(COM1_PORT + UART_DATA, (uint8_t)c);
	com1_fifo_room--;
}
// @end

void console_putc(char c)
{
	outb(DEBUGCON_PORT, (uint8_t)c);
	com1_putc(c);
}

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		console_putc(s[i]);
}

void console_drain(void)
{
	if (!com1_present)
		return;
	for (unsigned int spins = 0; spins < UART_POLL_LIMIT; spins++)
		if (inb(COM1_PORT + UART_LSR) & UART_LSR_TEMT)
			return;
}

int console_getc(void)
{
	if (!com1_present || !(inb(COM1_PORT + UART_LSR) & UART_LSR_DR))
		return -1;
	return inb(COM1_PORT + UART_DATA);
}
