/* SPDX-License-Identifier: MIT */
#include "ap.h"

static uint8_t ap_stacks[AP_MAX][AP_STACK] __attribute__((aligned(16)));
volatile uint32_t rt_ap_stack_next;
static void (*volatile ap_entry)(void);
static struct dt_reg ap_idtr;

/* The trampoline, assembled here, run from its copy at AP_TRAMPOLINE_GPA,
 * where DS = CS makes its data fields addressable by their offsets. */
extern const char rt_ap_trampoline[], rt_ap_trampoline_end[], rt_ap_tramp_cs[], rt_ap_tramp_gdtr[];
__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"rt_ap_trampoline:\n"
	"	cli\n"
	"	mov %cs, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, rt_ap_tramp_cs - rt_ap_trampoline\n"
	"	lgdtl rt_ap_tramp_gdtr - rt_ap_trampoline\n"
	"	mov %cr0, %eax\n"
	"	or $1, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $" "0x08" ", $rt_ap_start32\n"
	"	.balign 2\n"
	"rt_ap_tramp_cs: .word 0\n"
	"rt_ap_tramp_gdtr: .word 0\n .long 0\n"
	"rt_ap_trampoline_end:\n"
	".code32\n"
	".popsection\n"
	".text\n"
	"rt_ap_start32:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov %ax, %fs\n"
	"	mov %ax, %gs\n"
	"	mov $-" "4096" ", %esp\n"
	"	lock xaddl %esp, rt_ap_stack_next\n"
	"	cld\n"
	"	call rt_ap_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");
_Static_assert(ABI_SEL_CODE32 == 0x08 && ABI_SEL_DATA == 0x10 && AP_STACK == 4096, "the trampoline's constants");

void rt_ap_main(void);
void rt_ap_main(void)
{
	lidt(&ap_idtr);
	ap_entry();
}

void apic_send_ipi(uint32_t dest_apic_id, uint32_t icr)
{
	apic_write(APIC_ICR2, dest_apic_id << 24);
	apic_write(APIC_ICR, icr);
	for (unsigned i = 0; i < AP_ICR_WAIT && (apic_read(APIC_ICR) & APIC_ICR_BUSY); i++)
		pause();
}

void apic_sw_enable(void)
{
	apic_write(APIC_SPIV, apic_read(APIC_SPIV) | APIC_SPIV_APIC_ENABLED | 0xff);
}

void ap_start_all(void (*entry)(void))
{
	ap_entry = entry;
	sidt(&ap_idtr);
	uint32_t tsize = (uint32_t)(rt_ap_trampoline_end - rt_ap_trampoline);
	memcpy((void *)AP_TRAMPOLINE_GPA, rt_ap_trampoline, tsize);
	sgdt((struct dt_reg *)(AP_TRAMPOLINE_GPA + (rt_ap_tramp_gdtr - rt_ap_trampoline)));
	rt_ap_stack_next = (uint32_t)(uintptr_t)ap_stacks + sizeof(ap_stacks);
	apic_sw_enable();
	apic_send_ipi(0, APIC_DEST_ALLBUT | APIC_DM_INIT | APIC_INT_ASSERT);
	apic_send_ipi(0, APIC_DEST_ALLBUT | APIC_DM_STARTUP | AP_SIPI_VECTOR);
}

uint16_t ap_trampoline_cs(void)
{
	return *(volatile uint16_t *)(AP_TRAMPOLINE_GPA + (rt_ap_tramp_cs - rt_ap_trampoline));
}
