/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel irqchip as a whole (Linux: arch/x86/kvm/irq.c, irq_comm.c and
 * the x86.c ioctls): creating it, routing a GSI to its controllers, MSIs,
 * and the question the run loop asks before each entry: which interrupt does
 * this vCPU take next?
 *
 * Routing is KVM's default table (irq_comm.c, kvm_setup_default_irq_routing),
 * the only one minikvm has (no KVM_SET_GSI_ROUTING): GSI n drives PIC pin n
 * for n < 16 and IOAPIC pin n for n < 24, both at once, so a guest may use
 * either controller. GSI 2 is the PIC's cascade and the IOAPIC's pin 2 alike.
 *
 * A vCPU's interrupts come from two places (SDM Vol. 3A 11.1, figure 11-1):
 * the 8259's INTR line, which reaches the processor as an ExtINT through
 * LINT0 of its LAPIC, and the LAPIC's own IRR. As in KVM the PIC comes first
 * (kvm_cpu_get_interrupt); it is a 1980s line with no priority against the
 * APIC, and a guest uses one or the other.
 *
 * x86.c calls these only behind LAB_ENABLED(8).
 */
#include <errno.h>

#include <x86/apicdef.h>
#include "kvmlabs/lab.h"
#include "ioapic.h"
#include "irq.h"
#include "lapic.h"

bool kvm_irqchip_supported(void)
{
	return LAB_ENABLED(8);
}

/* KVM_CREATE_IRQCHIP (Linux: kvm_arch_vm_ioctl): the PIC pair and the IOAPIC
 * now; each vCPU gets its LAPIC when it is created. Once per VM, and before
 * any vCPU, since a vCPU made without a LAPIC cannot get one later. */
int kvm_irqchip_create(struct kvm *kvm)
{
	if (irqchip_in_kernel(kvm))
		return -EEXIST;
	if (kvm->nr_vcpus)
		return -EINVAL;

	kvm->arch.vpic = kvm_create_pic(kvm);
	if (!kvm->arch.vpic)
		return -ENOMEM;
	int r = kvm_ioapic_init(kvm);
	if (r < 0) {
		kvm_destroy_pic(kvm->arch.vpic);
		kvm->arch.vpic = NULL;
		return r;
	}
	kvm->arch.irqchip_mode = KVM_IRQCHIP_KERNEL;
	return 0;
}

/* Linux's kvm_set_irq: each controller on the GSI's route gets the level;
 * the result is the sum of the LAPICs reached, or -1 if none (what
 * KVM_IRQ_LINE_STATUS would report; a masked pin is -1). */
int kvm_set_irq(struct kvm *kvm, int gsi, int level)
{
	int ret = -1;
	int r;

	if (gsi < 0)
		return -1;
	if (gsi < PIC_NUM_PINS && kvm->arch.vpic) {
		r = kvm_pic_set_irq(kvm->arch.vpic, gsi, level);
		if (r >= 0)
			ret = r + (ret < 0 ? 0 : ret);
	}
	if (gsi < IOAPIC_NUM_PINS && kvm->arch.vioapic) {
		r = kvm_ioapic_set_irq(kvm->arch.vioapic, gsi, level);
		if (r >= 0)
			ret = r + (ret < 0 ? 0 : ret);
	}
	return ret;
}

/* KVM_IRQ_LINE (Linux: kvm_vm_ioctl_irq_line). The status is
 * KVM_IRQ_LINE_STATUS's to report; KVM_IRQ_LINE leaves the caller's struct
 * as it was, where irq and status share their 32 bits (a VMM that reuses it
 * for the falling edge must still find the GSI there). */
int kvm_vm_ioctl_irq_line(struct kvm *kvm, struct kvm_irq_level *irq)
{
	if (!irqchip_in_kernel(kvm))
		return -ENXIO;
	/* A GSI with no route (here: past the IOAPIC's pins) reaches no
	 * controller, as in KVM. */
	if (irq->irq < IOAPIC_NUM_PINS)
		kvm_set_irq(kvm, (int)irq->irq, irq->level ? 1 : 0);
	return 0;
}

/* The message-signalled interrupt format, SDM Vol. 3A 11.11.1 (address) and
 * 11.11.2 (data). */
#define MSI_ADDR_BASE           0xfee00000u
#define MSI_ADDR_BASE_MASK      0xfff00000u   /* bits 31:20 must be 0xfee */
#define MSI_ADDR_DEST_ID_SHIFT  12            /* destination ID, bits 19:12 */
#define MSI_ADDR_REDIR_HINT     (1u << 3)     /* RH */
#define MSI_ADDR_DEST_LOGICAL   (1u << 2)     /* DM */
#define MSI_DATA_VECTOR_MASK    0xffu         /* bits 7:0 */
#define MSI_DATA_DM_MASK        0x700u        /* delivery mode, bits 10:8: APIC_DM_* as they are */
#define MSI_DATA_LEVEL_ASSERT   (1u << 14)
#define MSI_DATA_TRIGGER_LEVEL  (1u << 15)

/* KVM_SIGNAL_MSI (Linux: kvm_send_userspace_msi -> kvm_set_msi_irq): the
 * write a device would make to 0xfeeXXXXX, decoded into the message LAPICs
 * take. */
int kvm_set_msi(struct kvm *kvm, const struct kvm_msi *msi)
{
	if (!irqchip_in_kernel(kvm) || msi->flags)
		return -EINVAL;
	/* Anything else is a memory write, not an interrupt; without x2APIC
	 * there is no use for address_hi (Linux's extended destination ID). */
	if ((msi->address_lo & MSI_ADDR_BASE_MASK) != MSI_ADDR_BASE || msi->address_hi)
		return -EINVAL;

	struct kvm_lapic_irq irq = {
		.vector = msi->data & MSI_DATA_VECTOR_MASK,
		.delivery_mode = msi->data & MSI_DATA_DM_MASK,
		.dest_mode = (msi->address_lo & MSI_ADDR_DEST_LOGICAL) ? APIC_DEST_LOGICAL : APIC_DEST_PHYSICAL,
		.trig_mode = (msi->data & MSI_DATA_TRIGGER_LEVEL) ? APIC_LEVEL_TRIG : APIC_EDGE_TRIG,
		.shorthand = APIC_DEST_NOSHORT,
		.dest_id = (msi->address_lo >> MSI_ADDR_DEST_ID_SHIFT) & 0xff,
	};
	/* The level bit means something only for a level-triggered message
	 * (11.11.2: "ignored for edge"); an edge is always an assertion. */
	irq.level = irq.trig_mode ? (msi->data & MSI_DATA_LEVEL_ASSERT) != 0 : true;
	/* RH = 1: the message goes to the processor of lowest priority among
	 * the destinations (11.11.1); struct kvm_lapic_irq says that with its
	 * delivery mode (Linux keeps a separate msi_redir_hint to the same
	 * effect). */
	if ((msi->address_lo & MSI_ADDR_REDIR_HINT) && irq.delivery_mode == APIC_DM_FIXED)
		irq.delivery_mode = APIC_DM_LOWEST;
	return kvm_irq_delivery_to_apic(kvm, NULL, &irq);
}

/* ---- the next interrupt of a vCPU (Linux: irq.c) ------------------------- */

/* Is the PIC's INTR line up for this vCPU? Only a vCPU whose LAPIC passes
 * the PIC's output on (LVT0 in ExtINT mode, or the APIC off: 11.4.3) sees it,
 * which after reset is the BSP (Linux: kvm_cpu_has_extint). */
static bool kvm_cpu_has_extint(struct kvm_vcpu *vcpu)
{
	struct kvm_pic *pic = vcpu->kvm->arch.vpic;
	if (!pic || !kvm_apic_accept_pic_intr(vcpu))
		return false;
	return pic->output != 0;
}

bool kvm_cpu_has_interrupt(struct kvm_vcpu *vcpu)
{
	if (!lapic_in_kernel(vcpu))
		return false;
	if (kvm_cpu_has_extint(vcpu))
		return true;
	return kvm_apic_has_interrupt(vcpu) != -1;
}

/* The INTA cycle: the PIC's vector if its line is up (its IRR -> ISR), else
 * the LAPIC's highest deliverable vector (its IRR -> ISR), or -1. */
int kvm_cpu_get_interrupt(struct kvm_vcpu *vcpu)
{
	if (!lapic_in_kernel(vcpu))
		return -1;
	if (kvm_cpu_has_extint(vcpu))
		return kvm_pic_read_irq(vcpu->kvm);
	return kvm_get_apic_interrupt(vcpu);
}

/*
 * The injection decision (Linux: kvm_check_and_inject_events). An NMI comes
 * before an interrupt. It goes in unless blocked by an earlier NMI whose
 * handler has not yet run IRET, or by STI or MOV SS (a VM entry that injects
 * an NMI then fails: SDM Vol. 3 27.3.1.5); when blocked, the NMI window
 * exits as soon as it may go in. An interrupt needs RFLAGS.IF = 1 and no
 * STI or MOV SS blocking (SDM Vol. 3 6.8.3, 27.3.1.4, 27.3.1.5); otherwise the
 * interrupt window. One event per entry: an interrupt waits for its window
 * while an NMI goes in.
 */
unsigned int kvm_event_decide(const struct kvm_event_state *s)
{
	// @lab 08 kvm_event_decide: NMI first unless NMI/STI/MOV SS blocking (then its window); an interrupt with IF=1 and no shadow, else its window.
	(void)s;
	lab_todo(8, "kvm_event_decide");
	// @end
}
