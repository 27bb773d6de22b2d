/* SPDX-License-Identifier: MIT */
/*
 * Interrupts for the lab 08 guests (prot-irq-*.elf): an IDT of all 256
 * vectors, the guest's own clock (the TSC, calibrated against the 8254's
 * channel 2 polled through port 0x61, as Linux's pit_calibrate_tsc() does),
 * and the registers of the 8259A pair, the 8254, the local APIC and the
 * 82093AA IOAPIC.
 *
 * Vectors 0-47 without a handler of the guest's go to the runtime's rt_trap()
 * (trap.h: fault_expect(), the PIC lines' default EOI); any other vector
 * without one ends the guest with "not ok unexpected-interrupt". Handlers
 * return as trap-stubs.S does, with POPF; RET $8 rather than IRET.
 *
 * Every check is timed by the TSC and counted by the guest: the hypervisor's
 * devices are what is measured, never the ruler.
 */
#ifndef RT_IRQ_H
#define RT_IRQ_H

#include <x86/apicdef.h>
#include <x86/cpuid.h>
#include <x86/msr-index.h>

#include "rt.h"
#include "trap.h"

#define IRQ_VECTORS 256

/* The handler of a vector (NULL: the default above), and how many times
 * each vector was taken, counted before the handler runs. */
extern irq_handler_t irq_handler[IRQ_VECTORS];
extern volatile uint32_t irq_count[IRQ_VECTORS];

/* Load the 256-gate IDT on this CPU (every CPU shares the one table). */
void irq_idt_init(void);

/* ---- the TSC, the guest's own clock -------------------------------------- */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	/* RDTSC, not RDTSCP: a host KVM that emulates CPL0 code cannot run RDTSCP. */
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* TSC ticks per millisecond, measured by irq_tsc_calibrate(). */
extern uint32_t irq_tsc_per_ms;
/* Times 10 ms of the 8254's channel 0 counts (latched reads) by the TSC,
 * twice, and keeps the smaller figure; leaves channel 0 stopped. Returns
 * irq_tsc_per_ms (0: the count never moved). Call with IRQ0 masked. */
uint32_t irq_tsc_calibrate(void);
/* irq_tsc_calibrate(), or the guest ends there with the check that says
 * why: every timed check needs the TSC's rate. */
void irq_tsc_require(void);
/* No libgcc: 64-bit division by shifts. */
uint64_t udiv64(uint64_t n, uint64_t d);
static inline uint64_t tsc_us(uint64_t us) { return udiv64(us * irq_tsc_per_ms, 1000); }
static inline uint32_t tsc_to_us(uint64_t ticks)
{
	return irq_tsc_per_ms ? (uint32_t)udiv64(ticks * 1000, irq_tsc_per_ms) : 0;
}

/* Spin until *flag >= want or `us` microseconds of TSC time pass; returns
 * whether it got there. Interrupts are taken meanwhile if IF is set. */
int irq_wait_count(volatile uint32_t *flag, uint32_t want, uint32_t us);
/* Spin for `us` microseconds of TSC time. */
void irq_delay_us(uint32_t us);
/* Wait in `sti; hlt` until *flag >= want or `us` microseconds of TSC time
 * pass; returns whether it got there, with IF clear. The flag is tested with
 * IF clear and the HLT follows STI inside its shadow, so an interrupt that
 * sets it in between still wakes the HLT (SDM Vol. 2B STI). The deadline is
 * only looked at when the vCPU wakes: the caller keeps something that wakes
 * it (a guard timer) unless the flag is certain to move. */
int irq_halt_until(volatile uint32_t *flag, uint32_t want, uint32_t us);

static inline void sti(void) { __asm__ volatile("sti" : : : "memory"); }
static inline void sti_nop(void) { __asm__ volatile("sti; nop" : : : "memory"); }

/* ---- 8259A pair (8259A datasheet: ICW1-4, OCW1-3) ------------------------ */

#define PIC_READ_IRR 0x0a /* OCW3 */
#define PIC_ELCR1    0x4d0 /* edge/level control (PIIX/ICH): bit n = IRQ n level */
#define PIC_ELCR2    0x4d1

/* Both 8259s to vectors base..base+15, cascade on IRQ 2, 8086 mode, normal
 * EOI, then the masks (OCW1). */
void pic_init(uint8_t base, uint8_t mask1, uint8_t mask2);
static inline uint8_t pic_read_isr(uint16_t cmd) { outb(cmd, PIC_READ_ISR); return inb(cmd); }
static inline uint8_t pic_read_irr(uint16_t cmd) { outb(cmd, PIC_READ_IRR); return inb(cmd); }
static inline void pic_eoi(unsigned irq)
{
	if (irq >= 8)
		outb(PIC2_CMD, PIC_EOI);
	outb(PIC1_CMD, PIC_EOI);
}

/* ---- 8254 PIT (Intel 8254 datasheet) ------------------------------------- */

#define PIT_FREQ_HZ   1193182u
#define PIT_CH0       0x40
#define PIT_CH2       0x42
#define PIT_MODE      0x43
#define PIT_PORT_B    0x61 /* bit 0 gate 2, bit 1 speaker data, bit 5 OUT2 */

/* Channel 0 in `mode` (0-5), binary, low then high byte of `count`. */
static inline void pit_ch0_start(unsigned mode, uint16_t count)
{
	outb(PIT_MODE, (uint8_t)(0x30 | (mode << 1)));
	outb(PIT_CH0, (uint8_t)count);
	outb(PIT_CH0, (uint8_t)(count >> 8));
}
/* Channel 0 stopped: mode 1 waits for a rising edge of its gate, which on a
 * PC is tied high (Intel 8254 datasheet, mode 1). */
static inline void pit_ch0_stop(void) { pit_ch0_start(1, 0xffff); }
/* Channel 0's current count through the counter-latch command. */
static inline uint16_t pit_ch0_read(void)
{
	outb(PIT_MODE, 0x00);
	uint8_t lo = inb(PIT_CH0);
	return (uint16_t)(lo | inb(PIT_CH0) << 8);
}

/* ---- local APIC (SDM Vol. 3A chapter 11), xAPIC at its default base ------ */


static inline uint32_t lapic_read(uint32_t reg) { return mmio_read32(APIC_DEFAULT_PHYS_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(APIC_DEFAULT_PHYS_BASE + reg, v); }
static inline void lapic_eoi(void) { lapic_write(APIC_EOI, 0); }
static inline uint32_t lapic_id(void) { return lapic_read(APIC_ID) >> 24; }
/* Bit `vector` of the 256-bit ISR, TMR or IRR (11.8.4: eight 32-bit registers, 16 bytes apart). */
static inline int lapic_bit(uint32_t base, unsigned vector)
{
	return (lapic_read(base + 0x10 * (vector / 32)) >> (vector % 32)) & 1;
}
/* Software-enable with spurious vector 0xff, TPR 0, LINT0/1 and the timer masked. */
void lapic_enable(void);
/* A fixed self-IPI through the destination shorthand (11.6.1). */
static inline void lapic_self_ipi(unsigned vector)
{
	lapic_write(APIC_ICR, APIC_DEST_SELF | APIC_INT_ASSERT | APIC_DM_FIXED | vector);
}
/* A fixed IPI to one physical APIC ID; waits (bounded) for delivery status idle. */
void lapic_ipi(uint32_t apic_id, uint32_t icr_low);
/* The timer's counts per millisecond at divide-by-1 (TMCCT over 10 ms of TSC). */
uint32_t lapic_timer_per_ms(void);

/* ---- 82093AA IOAPIC (datasheet 3.0), at its default base ------------------ */

#define IOAPIC_BASE      0xfec00000u
#define IOAPIC_REGSEL    0x00
#define IOAPIC_WIN       0x10
#define IOAPIC_REG_ID    0x00
#define IOAPIC_REG_VER   0x01
#define IOAPIC_REG_REDTBL(pin) (0x10 + 2 * (pin))
#define IOAPIC_RTE_MASKED       (1u << 16)
#define IOAPIC_RTE_LEVEL        (1u << 15)
#define IOAPIC_RTE_REMOTE_IRR   (1u << 14)
#define IOAPIC_RTE_ACTIVE_LOW   (1u << 13)
#define IOAPIC_RTE_DELIVS       (1u << 12)

static inline uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	return mmio_read32(IOAPIC_BASE + IOAPIC_WIN);
}
static inline void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_WIN, v);
}
/* Redirection entry of `pin`: low word as given, destination APIC ID (physical). */
static inline void ioapic_route(unsigned pin, uint32_t low, uint32_t dest)
{
	ioapic_write(IOAPIC_REG_REDTBL(pin) + 1, dest << 24);
	ioapic_write(IOAPIC_REG_REDTBL(pin), low);
}

/* ---- interrupt lines the VMM lets a guest drive ------------------------- */

/* pc-testdev: set GSI `gsi` (< 24) to level `v` (KVM_IRQ_LINE: the PIC and the IOAPIC pin). */
static inline void testdev_irq_line(unsigned gsi, int v)
{
	outb((uint16_t)(ABI_PC_TESTDEV_IRQ + gsi), v ? 1 : 0);
}

#endif
