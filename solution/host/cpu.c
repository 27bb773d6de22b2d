// SPDX-License-Identifier: MIT
/*
 * The host CPU's own state: GDT with a 64-bit TSS (VMX needs a usable host TR,
 * SDM Vol. 3 26.2.3), an IDT whose every vector reports and ends the run, and
 * the control-register bits the kernel and VMX want.
 *
 * The host runs with interrupts disabled: any vector that arrives is a bug (an
 * exception in the host, or an interrupt nobody asked for), so every handler
 * prints the machine state and ends the run with VMM_EXIT_HOST_FAULT rather
 * than let the machine reset silently.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kvmlabs/host.h>
#include <kvmlabs/vmm_status.h>
#include <x86/const.h>
#include <x86/insns.h>
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include <x86/trapnr.h>
#include "console.h"
#include "cpu.h"
#include "memory.h"
#include "panic.h"
#include "trap.h"

#define IST_FATAL 1   /* #DF, NMI and #MC run on their own stack */

/* SDM Vol. 3 8.7: the 64-bit TSS. */
struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS is 104 bytes");

/* SDM Vol. 3 6.14.1: 64-bit IDT gate descriptor. */
struct idt_gate {
	uint16_t offset_low;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_high;
	uint32_t reserved;
} __attribute__((packed));

#define GDT_ENTRIES 5     /* null, code, data, TSS (two slots) */
static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[NR_VECTORS] __attribute__((aligned(16)));

static const char *const exception_names[FIRST_EXTERNAL_VECTOR] = {
	[DE_VECTOR] = "#DE divide error",         [DB_VECTOR] = "#DB debug",
	[NMI_VECTOR] = "NMI",                     [BP_VECTOR] = "#BP breakpoint",
	[OF_VECTOR] = "#OF overflow",             [BR_VECTOR] = "#BR bound range exceeded",
	[UD_VECTOR] = "#UD invalid opcode",       [NM_VECTOR] = "#NM device not available",
	[DF_VECTOR] = "#DF double fault",         [OLD_MF_VECTOR] = "coprocessor segment overrun",
	[TS_VECTOR] = "#TS invalid TSS",          [NP_VECTOR] = "#NP segment not present",
	[SS_VECTOR] = "#SS stack-segment fault",  [GP_VECTOR] = "#GP general protection",
	[PF_VECTOR] = "#PF page fault",           [MF_VECTOR] = "#MF x87 floating-point error",
	[AC_VECTOR] = "#AC alignment check",      [MC_VECTOR] = "#MC machine check",
	[XM_VECTOR] = "#XM SIMD floating-point",  [VE_VECTOR] = "#VE virtualization exception",
	[CP_VECTOR] = "#CP control protection",   [VC_VECTOR] = "#VC VMM communication",
	[SX_VECTOR] = "#SX security exception",
};

static void gdt_init(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&tss;
	uint64_t limit = sizeof(tss) - 1;

	gdt[0] = 0;
	gdt[KERNEL_CS / 8] = 0x00af9a000000ffffull;    /* 64-bit code, DPL 0 */
	gdt[KERNEL_DS / 8] = 0x00cf92000000ffffull;    /* data, flat */
	/* SDM Vol. 3 8.2.3: 16-byte TSS descriptor, type 9 (available 64-bit TSS). */
	gdt[KERNEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
			      (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[KERNEL_TSS / 8 + 1] = base >> 32;

	tss.ist[IST_FATAL - 1] = (uint64_t)(uintptr_t)ist_stack_top;
	tss.rsp[0] = (uint64_t)(uintptr_t)kernel_stack_top;
	tss.iomap_base = sizeof(tss);   /* no I/O permission bitmap */

	struct desc_ptr gdtr = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };
	load_gdt(&gdtr);
	/* Reload CS with a far return, then the data segments and TR. */
	__asm__ volatile(
		"pushq %0\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movl %1, %%eax\n\t"
		"movl %%eax, %%ds\n\t"
		"movl %%eax, %%es\n\t"
		"movl %%eax, %%ss\n\t"
		"xorl %%eax, %%eax\n\t"
		"movl %%eax, %%fs\n\t"
		"movl %%eax, %%gs\n\t"
		"movw %2, %%ax\n\t"
		"ltr %%ax"
		: : "i"(KERNEL_CS), "i"(KERNEL_DS), "i"(KERNEL_TSS) : "rax", "memory");
	wrmsr(MSR_FS_BASE, 0);
	wrmsr(MSR_GS_BASE, 0);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

static void idt_init(void)
{
	for (unsigned int v = 0; v < ARRAY_SIZE(idt); v++) {
		uint64_t handler = (uint64_t)(uintptr_t)(isr_stubs + v * ISR_STUB_SIZE);
		idt[v] = (struct idt_gate){
			.offset_low = handler & 0xffff,
			.selector = KERNEL_CS,
			.ist = (v == NMI_VECTOR || v == DF_VECTOR || v == MC_VECTOR) ? IST_FATAL : 0,
			.type_attr = 0x8e,     /* present, DPL 0, 64-bit interrupt gate */
			.offset_mid = (handler >> 16) & 0xffff,
			.offset_high = handler >> 32,
		};
	}
	struct desc_ptr idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	load_idt(&idtr);
}

/* Move the 8259s off the exception vectors and mask every line: a stray IRQ
 * then cannot be mistaken for a fault (it would report as vector 0x20+). */
static void pic_init(void)
{
	outb(PIC1_CMD, 0x11);                 /* ICW1: edge, cascade, ICW4 */
	outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, PIC_VECTOR_BASE);     /* ICW2: vector base */
	outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
	outb(PIC1_DATA, 4);                   /* ICW3: slave on IRQ2 */
	outb(PIC2_DATA, 2);
	outb(PIC1_DATA, 1);                   /* ICW4: 8086 mode */
	outb(PIC2_DATA, 1);
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
}

void cpu_init(void)
{
	/* CR0.NE is required by VMXON (IA32_VMX_CR0_FIXED0, SDM Vol. 3 A.7);
	 * MP/!EM and OSFXSR/OSXMMEXCPT make the FPU and SSE state usable. */
	write_cr0((read_cr0() | X86_CR0_NE | X86_CR0_MP | X86_CR0_WP) & ~X86_CR0_EM);
	write_cr4(read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT);
	gdt_init();
	idt_init();
	pic_init();
}

/* ---- Reporting ------------------------------------------------------------ */

static bool address_in_stack(uint64_t a)
{
	return (a >= (uint64_t)(uintptr_t)kernel_stack_guard && a < (uint64_t)(uintptr_t)ist_stack_top);
}

/* Follow the frame-pointer chain (the kernel is built with
 * -fno-omit-frame-pointer); stop at anything outside the kernel stacks. */
static void print_backtrace(uint64_t rip, uint64_t rbp)
{
	uint64_t previous = rip;
	unsigned int repeats = 0;

	fprintf(stderr, "  backtrace (addr2line -f -e kvmlabs.elf):");
	if (rip)
		fprintf(stderr, " %#lx", rip);
	for (int depth = 0; depth < 64 && address_in_stack(rbp) && address_in_stack(rbp + 15) &&
			    !(rbp & 7); depth++) {
		const uint64_t *frame = (const uint64_t *)(uintptr_t)rbp;
		if (!frame[1])
			break;
		uint64_t call = frame[1] - 1;  /* inside the call instruction */
		if (call == previous) {
			repeats++;
		} else {
			if (repeats)
				fprintf(stderr, " (x%u)", repeats + 1);
			repeats = 0;
			fprintf(stderr, " %#lx", call);
			previous = call;
		}
		if (frame[0] <= rbp)
			break;
		rbp = frame[0];
	}
	if (repeats)
		fprintf(stderr, " (x%u...)", repeats + 1);
	fprintf(stderr, "\n");
}

static void explain_page_fault(uint64_t error, uint64_t cr2)
{
	uint64_t guard = (uint64_t)(uintptr_t)kernel_stack_guard;
	fprintf(stderr, "  page fault: %s %s at %#lx%s\n",
		(error & PFERR_PRESENT_MASK) ? "protection violation on" : "not-present page on",
		(error & PFERR_FETCH_MASK) ? "instruction fetch" : (error & PFERR_WRITE_MASK) ? "write" : "read", cr2,
		(error & PFERR_RSVD_MASK) ? " (reserved bit set in a paging entry)" : "");
	if (cr2 < PAGE_SIZE)
		fprintf(stderr, "  (a NULL pointer dereference: page 0 is unmapped)\n");
	else if (cr2 >= guard && cr2 < guard + PAGE_SIZE)
		fprintf(stderr, "  (kernel stack overflow: the stack is %d KiB)\n", KERNEL_STACK_SIZE / 1024);
}

static bool reporting;

void host_trap(struct trap_frame *f)
{
	/* The only interrupt the host takes on purpose: COM1 woke a console
	 * that was waiting for its transmitter. IRQ 7 and 15 may arrive
	 * spuriously when a request line drops early (8259A datasheet). */
	if (f->vector == PIC_VECTOR_BASE + COM1_IRQ) {
		outb(PIC1_CMD, PIC_EOI);
		return;
	}
	if (f->vector == PIC_VECTOR_BASE + 7)
		return;
	if (f->vector == PIC_VECTOR_BASE + 15) {
		outb(PIC1_CMD, PIC_EOI);
		return;
	}

	uint64_t cr2 = read_cr2();
	if (reporting) {
		/* A fault while reporting a fault: say so with as little as possible. */
		fputs("kvmlabs-host: fault while reporting a fault\n", stderr);
		host_exit(VMM_EXIT_HOST_FAULT);
	}
	reporting = true;

	const char *name = f->vector < ARRAY_SIZE(exception_names) ? exception_names[f->vector] : NULL;
	if (f->vector < FIRST_EXTERNAL_VECTOR)
		fprintf(stderr, "kvmlabs-host: EXCEPTION %s (vector %lu) in the host kernel\n",
			name ? name : "reserved", f->vector);
	else
		fprintf(stderr, "kvmlabs-host: unexpected interrupt, vector %lu (the host runs with interrupts off)\n",
			f->vector);
	fprintf(stderr, "  error code %#lx  rip %#lx  cs %#lx  rflags %#lx  rsp %#lx  ss %#lx\n",
		f->error_code, f->rip, f->cs, f->rflags, f->rsp, f->ss);
	fprintf(stderr, "  cr0 %#lx  cr2 %#lx  cr3 %#lx  cr4 %#lx  efer %#lx\n", read_cr0(), cr2,
		read_cr3(), read_cr4(), rdmsr(MSR_EFER));
	fprintf(stderr, "  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
	fprintf(stderr, "  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
	fprintf(stderr, "  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", f->r9, f->r10, f->r11, f->r12);
	fprintf(stderr, "  r13 %016lx  r14 %016lx  r15 %016lx\n", f->r13, f->r14, f->r15);
	if (f->rip >= (uint64_t)(uintptr_t)kernel_start && f->rip + 16 <= (uint64_t)(uintptr_t)kernel_end) {
		const uint8_t *code = (const uint8_t *)(uintptr_t)f->rip;
		fprintf(stderr, "  code at rip:");
		for (int i = 0; i < 16; i++)
			fprintf(stderr, " %02x", code[i]);
		fprintf(stderr, "\n");
	}
	if (f->vector == PF_VECTOR)
		explain_page_fault(f->error_code, cr2);
	uint64_t guard = (uint64_t)(uintptr_t)kernel_stack_guard;
	if (f->rsp >= guard && f->rsp < guard + PAGE_SIZE + 64)
		fprintf(stderr, "  (kernel stack overflow: rsp is in the guard page below the %d KiB stack)\n",
			KERNEL_STACK_SIZE / 1024);
	print_backtrace(f->rip, f->rbp);
	host_exit(VMM_EXIT_HOST_FAULT);
}

_Noreturn void host_panic(const char *fmt, ...)
{
	va_list ap;
	if (!reporting) {
		reporting = true;
		fputs("kvmlabs-host: panic: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputs("\n", stderr);
		print_backtrace(0, (uint64_t)(uintptr_t)__builtin_frame_address(0));
	}
	host_exit(VMM_EXIT_HOST_FAULT);
}
