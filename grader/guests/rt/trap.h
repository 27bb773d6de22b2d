/* SPDX-License-Identifier: MIT */
/*
 * Exceptions and interrupts for protected-mode guests: an IDT whose 48 gates
 * (exceptions 0-31, PIC vectors 0x20-0x2f) all lead to rt_trap(). A guest
 * expects one fault at a time (fault_expect()); any other exception is
 * reported as "not ok unexpected-exception" and ends the guest, so a broken
 * hypervisor shows up as a readable failure rather than a triple fault.
 */
#ifndef RT_TRAP_H
#define RT_TRAP_H

#include <x86/trapnr.h>

/* The guests program the 8259s to the first vectors above the exceptions. */
#define TRAP_IRQ_BASE FIRST_EXTERNAL_VECTOR
#define TRAP_GATES    (TRAP_IRQ_BASE + 16)

/* 8259A ports and commands (8259A datasheet). */
#define PIC1_CMD     0x20
#define PIC1_DATA    0x21
#define PIC2_CMD     0xa0
#define PIC2_DATA    0xa1
#define PIC_EOI      0x20 /* OCW2: non-specific EOI */
#define PIC_READ_ISR 0x0b /* OCW3 */

/* struct trap_frame as trap-stubs.S builds it. */
#define TRAP_FRAME_VECTOR_OFF 32
#define TRAP_FRAME_EIP_OFF    40
#define TRAP_FRAME_EFLAGS_OFF 48
#define TRAP_FRAME_SIZE       52

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* Stack layout after the stub's pushal (SDM Vol. 3 6.12.1: EIP, CS, EFLAGS
 * pushed by the CPU; the stub adds the error code or 0, and the vector). */
struct trap_frame {
	uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
	uint32_t vector, error;
	uint32_t eip, cs, eflags;
};
_Static_assert(offsetof(struct trap_frame, vector) == TRAP_FRAME_VECTOR_OFF, "trap_frame layout (trap-stubs.S)");
_Static_assert(offsetof(struct trap_frame, eip) == TRAP_FRAME_EIP_OFF, "trap_frame layout (trap-stubs.S)");
_Static_assert(offsetof(struct trap_frame, eflags) == TRAP_FRAME_EFLAGS_OFF, "trap_frame layout (trap-stubs.S)");
_Static_assert(sizeof(struct trap_frame) == TRAP_FRAME_SIZE, "trap_frame layout (trap-stubs.S)");

typedef void (*irq_handler_t)(struct trap_frame *f);
typedef void (*trap_handler_t)(struct trap_frame *f);

/* Per exception vector: a guest's own handler, called with the frame before
 * fault_expect()'s rules (it may change f->eip and f->eflags); NULL: none. */
extern trap_handler_t trap_exception_handler[FIRST_EXTERNAL_VECTOR];

/* Per PIC line (vector 0x20 + irq): the guest's handler, which must EOI,
 * and how many times the line was delivered. */
extern irq_handler_t trap_irq_handler[16];
extern volatile uint32_t trap_irq_count[16];

/* The fault a guest expects next: the handler records it and resumes at
 * `resume` (a label right after the faulting instruction). */
struct fault_record {
	volatile uint32_t vector;   /* expected vector */
	volatile uint32_t resume;   /* EIP to continue at; 0 = not armed */
	volatile uint32_t caught;   /* how many expected faults were taken */
	volatile uint32_t error;    /* error code of the last one */
	volatile uint32_t eip;      /* EIP of the faulting instruction */
};
extern struct fault_record trap_fault;
_Static_assert(offsetof(struct fault_record, resume) == 4, "FAULT_RESUME_AT_1F stores to trap_fault+4");

void idt_init(void);

static inline void fault_expect(uint32_t vector)
{
	trap_fault.vector = vector;
	trap_fault.caught = 0;
	trap_fault.eip = 0;
}

/* Inside an asm statement: arm the resume point "1f" before the instruction. */
#define FAULT_RESUME_AT_1F "movl $1f, trap_fault+4\n\t"
#endif

#endif
