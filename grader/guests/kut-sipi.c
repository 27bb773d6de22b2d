/* SPDX-License-Identifier: MIT */
/*
 * kut-sipi: a multiboot kernel that starts its application processors as
 * the kvm-unit-tests do (lib/x86/smp.c, x86/trampolines.S), run with
 * --cpus 2..4: fw_cfg says how many CPUs there are; the BSP copies a
 * real-mode trampoline to a page below 1 MiB, enables its local APIC and
 * sends INIT then a start-up IPI to all but itself (SDM Vol. 3A 9.4.4.1,
 * "Typical BSP Initialization Sequence"; 11.6.1, the ICR). Each AP wakes in
 * real mode at CS:IP = vector << 8 : 0, records its CS, switches to
 * protected mode on the BSP's GDT, takes its own stack and checks in with
 * its APIC ID. The APs must not run before the SIPI: a VMM that starts
 * them at the image entry fails here.
 */
#include "kut.h"
#include <x86/apicdef.h>

#define TRAMPOLINE_GPA 0x8000       /* SIPI vector 0x08: a free page below 1 MiB (guest_abi.h map) */
#define SIPI_VECTOR    (TRAMPOLINE_GPA >> 12)
#define MAX_APS        7
#define AP_STACK       4096
#define WAIT_ROUNDS    500000       /* each round is a port read: >= 0.5 s on any host */
#define EARLY_ROUNDS   5000         /* >= 5 ms: an AP started with the BSP has run its first lines */

static volatile uint32_t entries, aps_up, apic_ids;
static uint8_t ap_stacks[MAX_APS][AP_STACK] __attribute__((aligned(16)));
volatile uint32_t kut_ap_stack_next;

/* The trampoline, assembled here, run from its copy at TRAMPOLINE_GPA, where
 * DS = CS makes its data fields addressable by their offsets. */
extern const char kut_trampoline[], kut_trampoline_end[], kut_tramp_cs[], kut_tramp_gdtr[];
__asm__(
	".pushsection .rodata\n"
	".code16\n"
	"kut_trampoline:\n"
	"	cli\n"
	"	mov %cs, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, kut_tramp_cs - kut_trampoline\n"
	"	lgdtl kut_tramp_gdtr - kut_trampoline\n"
	"	mov %cr0, %eax\n"
	"	or $1, %eax\n"
	"	mov %eax, %cr0\n"
	"	ljmpl $" "0x08" ", $kut_ap_start32\n"
	"	.balign 2\n"
	"kut_tramp_cs: .word 0\n"
	"kut_tramp_gdtr: .word 0\n .long 0\n"
	"kut_trampoline_end:\n"
	".code32\n"
	".popsection\n"
	".text\n"
	"kut_ap_start32:\n"
	"	mov $0x10, %ax\n"
	"	mov %ax, %ds\n"
	"	mov %ax, %es\n"
	"	mov %ax, %ss\n"
	"	mov %ax, %fs\n"
	"	mov %ax, %gs\n"
	"	mov $-" "4096" ", %esp\n"
	"	lock xaddl %esp, kut_ap_stack_next\n"
	"	call kut_ap_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");
_Static_assert(ABI_SEL_CODE32 == 0x08 && ABI_SEL_DATA == 0x10 && AP_STACK == 4096, "the trampoline's constants");

static uint32_t apic_read(uint32_t reg) { return mmio_read32(APIC_DEFAULT_PHYS_BASE + reg); }
static void apic_write(uint32_t reg, uint32_t v) { mmio_write32(APIC_DEFAULT_PHYS_BASE + reg, v); }

void kut_ap_main(void);
void kut_ap_main(void)
{
	uint32_t id = apic_read(APIC_ID) >> 24;
	if (id < 32)
		__asm__ volatile("lock orl %1, %0" : "+m"(apic_ids) : "r"(1u << id) : "memory");
	atomic_inc(&aps_up);
}

static void send_ipi(uint32_t icr)
{
	apic_write(APIC_ICR2, 0);
	apic_write(APIC_ICR, icr);
	for (unsigned i = 0; i < WAIT_ROUNDS && (apic_read(APIC_ICR) & APIC_ICR_BUSY); i++)
		pause();
}

static void wait_for(uint32_t want, unsigned rounds)
{
	for (unsigned i = 0; i < rounds && aps_up < want && entries < 2; i++)
		(void)inl(ABI_TESTDEV_PORT + ABI_TESTDEV_ID);
}

void guest_main(uint32_t magic, uint32_t mbi_gpa);
void guest_main(uint32_t magic, uint32_t mbi_gpa)
{
	(void)mbi_gpa;
	atomic_inc(&entries);
	begin(GUEST_NAME);
	report_eq("eax-magic", magic, ABI_MULTIBOOT_MAGIC);
	uint32_t ncpus = (uint32_t)fw_cfg_read(ABI_FW_CFG_NB_CPUS, 2);
	report(ncpus >= 2 && ncpus <= MAX_APS + 1, "fw-cfg-nb-cpus", "NB_CPUS %u, want 2..%u (run with --cpus 2..4)",
	       ncpus, MAX_APS + 1);
	if (ncpus < 2 || ncpus > MAX_APS + 1)
		end();

	/* Before any INIT-SIPI, no AP may run: give one that was wrongly
	 * started time to show itself. */
	wait_for(1, EARLY_ROUNDS);
	report(aps_up == 0 && entries == 1, "aps-wait-for-sipi",
	       "%u AP(s) checked in and %u vCPU(s) ran the entry before the BSP sent INIT-SIPI", aps_up, entries);

	uint32_t tsize = (uint32_t)(kut_trampoline_end - kut_trampoline);
	memcpy((void *)TRAMPOLINE_GPA, kut_trampoline, tsize);
	sgdt((struct dt_reg *)(TRAMPOLINE_GPA + (kut_tramp_gdtr - kut_trampoline)));
	kut_ap_stack_next = (uint32_t)(uintptr_t)ap_stacks + sizeof(ap_stacks);

	uint64_t base = rdmsr(MSR_IA32_APICBASE);
	report(base & MSR_IA32_APICBASE_ENABLE, "apic-enabled", "IA32_APIC_BASE 0x%llx: the local APIC is off",
	       (unsigned long long)base);
	apic_write(APIC_SPIV, apic_read(APIC_SPIV) | APIC_SPIV_APIC_ENABLED | 0xff);
	send_ipi(APIC_DEST_ALLBUT | APIC_DM_INIT | APIC_INT_ASSERT);
	send_ipi(APIC_DEST_ALLBUT | APIC_DM_STARTUP | SIPI_VECTOR);
	wait_for(ncpus - 1, WAIT_ROUNDS);

	report(aps_up == ncpus - 1, "aps-up", "%u of %u APs checked in after INIT-SIPI", aps_up, ncpus - 1);
	uint32_t want = ((1u << ncpus) - 1) & ~1u;
	report(apic_ids == want, "ap-apic-ids", "APIC IDs seen 0x%x, want 0x%x", apic_ids, want);
	uint16_t cs = *(volatile uint16_t *)(TRAMPOLINE_GPA + (kut_tramp_cs - kut_trampoline));
	report_eq("ap-start-cs", cs, SIPI_VECTOR << 8);
	report_eq("entered-once", entries, 1);
	end();
}
