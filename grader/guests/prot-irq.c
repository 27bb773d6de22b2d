/* SPDX-License-Identifier: MIT */
/*
 * prot-irq: interrupts through the in-kernel irqchip. The guest programs both
 * 8259s (ICW1-4, 8259A datasheet) to vectors 0x20-0x2f, unmasks IRQ 4 (COM1)
 * and IRQ 5 (doorbell), and waits for each with sti; hlt, which blocks in KVM
 * until the interrupt comes:
 *  - enabling the UART's THRE interrupt (IER bit 1) with THR empty makes the
 *    VMM raise IRQ 4 (irq_raise(): the line's irqfd, or KVM_IRQ_LINE where
 *    KVM has none); the handler sees IIR = 0x02 (THRE), which
 *    the read also clears, turns IER off and EOIs;
 *  - a 4-byte write to the doorbell port (KVM_IOEVENTFD) makes the VMM's I/O
 *    thread raise IRQ 5 (KVM_IRQFD); ABI_CMD_DOORBELLS counts it.
 */
#include "rt.h"
#include "trap.h"

#define HLT_ROUNDS 16

static volatile uint32_t uart_iir_seen = ~0u;

static void pic_init(uint8_t mask1, uint8_t mask2)
{
	outb(PIC1_CMD, 0x11);   /* ICW1: edge, cascade, ICW4 follows */
	outb(PIC1_DATA, TRAP_IRQ_BASE);
	outb(PIC1_DATA, 0x04);  /* ICW3: slave on IRQ 2 */
	outb(PIC1_DATA, 0x01);  /* ICW4: 8086 mode, normal EOI */
	outb(PIC2_CMD, 0x11);
	outb(PIC2_DATA, TRAP_IRQ_BASE + 8);
	outb(PIC2_DATA, 0x02);  /* ICW3: cascade identity 2 */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, mask1);
	outb(PIC2_DATA, mask2);
}

static void uart_irq(struct trap_frame *f)
{
	(void)f;
	uart_iir_seen = inb(ABI_COM1_PORT + UART_IIR);
	outb(ABI_COM1_PORT + UART_IER, 0);
	outb(PIC1_CMD, PIC_EOI);
}

static void doorbell_irq(struct trap_frame *f)
{
	(void)f;
	outb(PIC1_CMD, PIC_EOI);
}

/* sti; hlt: STI delays interrupts by one instruction (SDM Vol. 2 STI), so
 * none can slip in between and leave HLT waiting for nothing. */
static unsigned wait_irq(unsigned irq)
{
	unsigned rounds = 0;
	while (!trap_irq_count[irq] && rounds < HLT_ROUNDS) {
		__asm__ volatile("sti; hlt; cli" : : : "memory");
		rounds++;
	}
	return trap_irq_count[irq];
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);
	idt_init();
	trap_irq_handler[ABI_COM1_IRQ] = uart_irq;
	trap_irq_handler[ABI_DOORBELL_IRQ] = doorbell_irq;

	uint8_t mask1 = (uint8_t)~((1u << 2) | (1u << ABI_COM1_IRQ) | (1u << ABI_DOORBELL_IRQ));
	pic_init(mask1, 0xff);
	uint8_t imr1 = inb(PIC1_DATA), imr2 = inb(PIC2_DATA);
	report(imr1 == mask1 && imr2 == 0xff, "pic-imr-read-back", "IMR 0x%x 0x%x, want 0x%x 0xff",
	       imr1, imr2, mask1);

	/* MCR.OUT2 gates the UART's interrupt line on a PC; set it as drivers do. */
	outb(ABI_COM1_PORT + UART_MCR, 0x08);
	outb(ABI_COM1_PORT + UART_IER, 0x02);
	unsigned n4 = wait_irq(ABI_COM1_IRQ);
	report(n4 == 1, "uart-thre-irq", "IRQ 4 arrived %u times after IER=0x02, want 1", n4);
	report(uart_iir_seen == 0x02, "uart-iir-thre", "IIR in the handler 0x%x, want 0x02", uart_iir_seen);
	uint8_t iir = inb(ABI_COM1_PORT + UART_IIR);
	report(iir == 0x01, "uart-iir-after", "IIR 0x%x after the handler, want 0x01", iir);

	uint32_t before = testdev_cmd(ABI_CMD_DOORBELLS, 0);
	outl(ABI_DOORBELL_PORT, 1);
	unsigned n5 = wait_irq(ABI_DOORBELL_IRQ);
	report(n5 == 1, "doorbell-irq", "IRQ 5 arrived %u times after one doorbell, want 1", n5);
	uint32_t after = testdev_cmd(ABI_CMD_DOORBELLS, 0);
	report(after != ~0u && after - before >= 1, "doorbell-count", "DOORBELLS went %u -> %u, want +1",
	       before, after);

	outb(PIC1_CMD, PIC_READ_ISR);
	uint8_t isr = inb(PIC1_CMD);
	report(isr == 0, "pic-isr-clear", "master ISR 0x%x after EOIs, want 0", isr);

	unsigned others = 0;
	for (unsigned i = 0; i < 16; i++)
		if (i != ABI_COM1_IRQ && i != ABI_DOORBELL_IRQ)
			others += trap_irq_count[i];
	report(others == 0, "no-masked-irqs", "%u interrupts on masked lines", others);
	end();
}
