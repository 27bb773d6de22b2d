/* SPDX-License-Identifier: MIT */
/*
 * prot-uart: the VMM's 8250 registers (PC16550D datasheet, section 8.x
 * register descriptions). LSR reports an idle transmitter (THRE and TEMT);
 * IER keeps only its four defined bits; LCR reads back; with DLAB set,
 * offsets 0 and 1 are the divisor latch, which keeps its value and hides
 * THR/IER; SCR keeps any byte; IIR says "no interrupt pending" (0x01) while
 * IER is 0; MCR keeps its five bits.
 */
#include "rt.h"

#define COM1 ABI_COM1_PORT

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	uint8_t lsr = inb(COM1 + UART_LSR);
	report((lsr & (UART_LSR_THRE | UART_LSR_TEMT)) == (UART_LSR_THRE | UART_LSR_TEMT), "lsr-idle",
	       "LSR 0x%x, want THRE|TEMT (0x60) set", lsr);

	/* No THRE interrupt bit (1): nothing here should raise IRQ 4. */
	outb(COM1 + UART_IER, 0xf5);
	uint8_t ier = inb(COM1 + UART_IER);
	outb(COM1 + UART_IER, 0);
	report(ier == 0x05, "ier-low-bits", "wrote 0xf5, read 0x%x, want 0x05", ier);
	report_eq("ier-cleared", inb(COM1 + UART_IER), 0);

	uint8_t iir = inb(COM1 + UART_IIR);
	report(iir == 0x01, "iir-no-interrupt", "IIR 0x%x with IER 0, want 0x01", iir);

	outb(COM1 + UART_LCR, 0x1b); /* 8 bits, even parity, 1 stop, DLAB 0 */
	uint8_t lcr = inb(COM1 + UART_LCR);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	report(lcr == 0x1b, "lcr-round-trip", "wrote 0x1b, read 0x%x", lcr);

	outb(COM1 + UART_LCR, UART_LCR_DLAB | UART_LCR_8N1);
	outb(COM1 + UART_DLL, 0x34);
	outb(COM1 + UART_DLM, 0x12);
	uint8_t dll = inb(COM1 + UART_DLL), dlm = inb(COM1 + UART_DLM);
	uint8_t lcr_dlab = inb(COM1 + UART_LCR);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	uint8_t dll1 = inb(COM1 + UART_DLL);
	outb(COM1 + UART_LCR, UART_LCR_8N1);
	/* With DLAB clear again, offset 1 is IER (still 0), not DLM. */
	uint8_t ier_after = inb(COM1 + UART_IER);
	report(dll == 0x34 && dlm == 0x12, "divisor-latch", "DLL 0x%x DLM 0x%x, want 0x34 0x12", dll, dlm);
	report(lcr_dlab == (UART_LCR_DLAB | UART_LCR_8N1), "lcr-dlab-read", "LCR 0x%x want 0x83", lcr_dlab);
	report(dll1 == 1 && ier_after == 0, "divisor-latch-restore",
	       "DLL 0x%x want 1; after DLAB off IER 0x%x want 0", dll1, ier_after);

	outb(COM1 + UART_SCR, 0xa5);
	uint8_t s1 = inb(COM1 + UART_SCR);
	outb(COM1 + UART_SCR, 0x5a);
	uint8_t s2 = inb(COM1 + UART_SCR);
	report(s1 == 0xa5 && s2 == 0x5a, "scratch-register", "SCR read 0x%x 0x%x, want 0xa5 0x5a", s1, s2);

	outb(COM1 + UART_MCR, 0x0b); /* DTR, RTS, OUT2; no loopback */
	uint8_t mcr = inb(COM1 + UART_MCR);
	outb(COM1 + UART_MCR, 0);
	report((mcr & 0x1f) == 0x0b, "mcr-round-trip", "wrote 0x0b, read 0x%x", mcr);

	lsr = inb(COM1 + UART_LSR);
	report(lsr & UART_LSR_THRE, "lsr-after-output", "LSR 0x%x after output, want THRE", lsr);
	printf("uart: this line went through the 8250 after the register checks\n");
	end();
}
