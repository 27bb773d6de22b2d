/* SPDX-License-Identifier: MIT */
/* Descriptor tables and control registers of the host CPU. */
#ifndef KVMLABS_HOST_CPU_H
#define KVMLABS_HOST_CPU_H

/* Kernel GDT selectors. VMX host state needs non-null CS and TR with
 * RPL 0 and TI 0 (SDM Vol. 3 26.2.3). */
#define KERNEL_CS   0x08
#define KERNEL_DS   0x10
#define KERNEL_TSS  0x18

/* GDT with a 64-bit TSS, IDT for all 256 vectors, CR0/CR4 setup, PIC masked. */
void cpu_init(void);

#endif
