/* SPDX-License-Identifier: MIT */
/*
 * An 8250/16450 UART on COM1, enough for polled and interrupt-driven
 * consoles: THR/RBR, IER, IIR, LCR (with DLAB), MCR, LSR, MSR, SCR. The
 * register set is the National Semiconductor PC16550D data sheet's; as in
 * kvmtool's 8250 model, transmission is instant, so THR is always empty.
 */
#include <errno.h>
#include <stdlib.h>

#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "devices.h"

enum { UART_RBR_THR, UART_IER, UART_IIR_FCR, UART_LCR, UART_MCR, UART_LSR, UART_MSR, UART_SCR };

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IIR_NONE  0x01
#define IIR_THRE  0x02
#define IIR_RDA   0x04
#define LCR_DLAB  0x80
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MCR_LOOP  0x10
#define RX_FIFO   16

struct uart {
	struct bus_device dev;
	struct vm *vm;
	int gsi;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool thre_pending;          /* THRE interrupt armed, cleared by reading IIR or writing THR */
	bool irq_level;
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
};

static void uart_rx_push(struct uart *u, uint8_t byte)
{
	if (u->rx_count < RX_FIFO)
		u->rx[(u->rx_head + u->rx_count++) % RX_FIFO] = byte;
}

static void uart_poll_input(struct uart *u)
{
	int c;
	while (u->rx_count < RX_FIFO && (c = host_console_getc()) >= 0)
		uart_rx_push(u, (uint8_t)c);
}

/* The interrupt identification the guest reads, by priority (PC16550D table 4). */
static uint8_t uart_iir(const struct uart *u)
{
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return IIR_RDA;
	if ((u->ier & IER_ETBEI) && u->thre_pending)
		return IIR_THRE;
	return IIR_NONE;
}

/* Raise the line on its rising edge only: the PIC takes it edge-triggered. */
static void uart_update_irq(struct uart *u)
{
	bool level = uart_iir(u) != IIR_NONE;
	if (level && !u->irq_level)
		irq_raise(u->vm, u->gsi);
	u->irq_level = level;
}

static uint64_t uart_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu, (void)size;
	struct uart *u = opaque;
	uint8_t value = 0;
	switch (offset) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			value = u->dll;
		} else if (u->rx_count) {
			value = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % RX_FIFO;
			u->rx_count--;
		}
		break;
	case UART_IER:
		value = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR_FCR:
		value = uart_iir(u);
		if (value == IIR_THRE)
			u->thre_pending = false;
		break;
	case UART_LCR: value = u->lcr; break;
	case UART_MCR: value = u->mcr; break;
	case UART_LSR:
		uart_poll_input(u);
		value = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);
		break;
	case UART_MSR:
		/* Loopback wires OUT2/OUT1/RTS/DTR to DCD/RI/CTS/DSR; otherwise the
		 * modem lines read as connected (DCD, DSR, CTS). */
		value = (u->mcr & MCR_LOOP) ? (uint8_t)(((u->mcr & 0x0c) << 4) | ((u->mcr & 0x01) << 5) |
							 ((u->mcr & 0x02) << 3)) : 0xb0;
		break;
	case UART_SCR: value = u->scr; break;
	}
	uart_update_irq(u);
	return value;
}

static void uart_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu, (void)size;
	struct uart *u = opaque;
	uint8_t byte = (uint8_t)value;
	switch (offset) {
	case UART_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = byte;
			break;
		}
		if (u->mcr & MCR_LOOP) {
			uart_rx_push(u, byte);
		} else {
			char c = (char)byte;
			vmm_output(u->vm, &c, 1);
		}
		u->thre_pending = true; /* sent at once: THR is empty again */
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = byte;
		} else {
			/* Enabling ETBEI while THR is empty raises THRE at once. */
			if ((byte & IER_ETBEI) && !(u->ier & IER_ETBEI))
				u->thre_pending = true;
			u->ier = byte & 0x0f;
		}
		break;
	case UART_IIR_FCR: break; /* FIFO control: no FIFOs in a 16450 */
	case UART_LCR: u->lcr = byte; break;
	case UART_MCR: u->mcr = byte & 0x1f; break;
	case UART_SCR: u->scr = byte; break;
	}
	uart_update_irq(u);
}

static void uart_release(struct bus_device *dev)
{
	free(dev->opaque);
}

int uart8250_init(struct vm *vm)
{
	int gsi = irq_request(vm, ABI_COM1_IRQ, "uart8250");
	if (gsi < 0)
		return gsi;
	struct uart *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->vm = vm;
	u->gsi = gsi;
	u->lcr = 0x03; /* 8N1 */
	u->dll = 12;   /* 9600 baud */
	u->dev = (struct bus_device){
		.name = "uart8250", .base = ABI_COM1_PORT, .len = 8, .opaque = u,
		.read = uart_read, .write = uart_write, .release = uart_release,
	};
	int r = bus_register(&vm->pio_bus, &u->dev);
	if (r < 0)
		free(u);
	return r;
}
