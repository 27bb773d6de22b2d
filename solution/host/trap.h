/* SPDX-License-Identifier: MIT */
/* Exception and interrupt entry: the frame entry.S builds for host_trap(). */
#ifndef KVMLABS_HOST_TRAP_H
#define KVMLABS_HOST_TRAP_H

#define ISR_STUB_SIZE       16
#define KERNEL_STACK_SIZE   (256 * 1024)
#define IST_STACK_SIZE      (16 * 1024)

/* struct trap_frame as entry.S builds it: 15 general registers, then the
 * stub's vector and error code, then the CPU's frame from RIP on. */
#define TRAP_FRAME_VECTOR_OFF (15 * 8)
#define TRAP_FRAME_RIP_OFF    (17 * 8)
#define TRAP_FRAME_SIZE       (22 * 8)

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

/* Pushed by isr_common (general registers), the stub (vector, error code)
 * and the CPU (SDM Vol. 3 6.14.2, 64-bit interrupt stack frame). */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(offsetof(struct trap_frame, vector) == TRAP_FRAME_VECTOR_OFF, "trap_frame layout (entry.S)");
_Static_assert(offsetof(struct trap_frame, rip) == TRAP_FRAME_RIP_OFF, "trap_frame layout (entry.S)");
_Static_assert(sizeof(struct trap_frame) == TRAP_FRAME_SIZE, "trap_frame layout (entry.S)");

extern const uint8_t isr_stubs[];
extern uint8_t kernel_stack_guard[], kernel_stack_top[], ist_stack_top[];

void host_trap(struct trap_frame *frame);
#endif

#endif
