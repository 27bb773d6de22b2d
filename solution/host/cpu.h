/* SPDX-License-Identifier: MIT */
/* Descriptor tables and control registers of the host CPU. */
#ifndef KVMLABS_HOST_CPU_H
#define KVMLABS_HOST_CPU_H

#include <x86/trapnr.h>

/* Kernel GDT selectors. VMX host state needs non-null CS and TR with
 * RPL 0 and TI 0 (SDM Vol. 3 26.2.3). */
#define KERNEL_CS   0x08
#define KERNEL_DS   0x10
#define KERNEL_TSS  0x18

/* The 8259s are remapped to the first vectors above the exceptions
 * (0x20-0x2f) and stay masked; the console unmasks COM1's line only while it
 * sleeps (console.c). */
#define PIC1_CMD        0x20
#define PIC1_DATA       0x21
#define PIC2_CMD        0xa0
#define PIC2_DATA       0xa1
#define PIC_VECTOR_BASE FIRST_EXTERNAL_VECTOR
#define PIC_EOI         0x20
#define COM1_IRQ        4

/* GDT with a 64-bit TSS, IDT for all 256 vectors, CR0/CR4 setup, PIC masked. */
void cpu_init(void);

#endif
