/* SPDX-License-Identifier: MIT */
/*
 * The in-kernel interrupt controllers as the rest of minikvm sees them
 * (Linux: arch/x86/kvm/irq.h). Lab 08 implements them (i8259.c, ioapic.c,
 * lapic.c) behind these functions; until then a VM never has an in-kernel
 * irqchip, and every caller takes the path of a KVM without one.
 */
#ifndef KVMLABS_KVM_IRQ_H
#define KVMLABS_KVM_IRQ_H

#include "kvm_host.h"
#include "iodev.h"

/* ---- the 8259 PIC pair (i8259.c; Linux: irq.h's struct kvm_pic) ---------- */

#define PIC_NUM_PINS 16

/* One 8259A (Intel 8259A datasheet; Linux: struct kvm_kpic_state). The
 * fields up to elcr_mask are KVM_GET_IRQCHIP's struct kvm_pic_state. */
struct kvm_kpic_state {
	uint8_t last_irr;         /* edge detection */
	uint8_t irr;              /* interrupt request register */
	uint8_t imr;              /* interrupt mask register */
	uint8_t isr;              /* interrupt service register */
	uint8_t priority_add;     /* highest irq priority (rotation) */
	uint8_t irq_base;         /* ICW2: vector of IR0 */
	uint8_t read_reg_select;  /* OCW3: read ISR (1) or IRR (0) */
	uint8_t poll;             /* OCW3 poll command */
	uint8_t special_mask;     /* OCW3 special mask mode */
	uint8_t init_state;       /* 0: running; 1-3: expecting ICW2-ICW4 */
	uint8_t auto_eoi;         /* ICW4 AEOI */
	uint8_t rotate_on_auto_eoi;
	uint8_t special_fully_nested_mode;
	uint8_t init4;            /* ICW1: an ICW4 follows */
	uint8_t elcr;             /* PIIX edge/level control register (ports 0x4d0/0x4d1) */
	uint8_t elcr_mask;
	uint8_t isr_ack;          /* interrupts acknowledged since the last output change */
	struct kvm_pic *pics_state;
};

struct kvm_pic {
	struct kvm *kvm;
	struct kvm_kpic_state pics[2];  /* 0: master (0x20), 1: slave (0xa0) on the master's IR2 */
	int output;               /* the master's INTR line to the BSP's LAPIC (LINT0) */
	bool wakeup_needed;
	uint8_t irq_states[PIC_NUM_PINS];
	struct kvm_io_device dev_master, dev_slave, dev_elcr;
};

struct kvm_pic *kvm_create_pic(struct kvm *kvm);
void kvm_destroy_pic(struct kvm_pic *pic);
/* A pin's level (0-15; edge pins latch a rising edge, ELCR level pins follow
 * it) (Linux: kvm_pic_set_irq). Re-evaluates INTR and kicks the BSP. */
int kvm_pic_set_irq(struct kvm_pic *pic, int irq, int level);
/* INTA cycle: the vector of the highest-priority request, acknowledged
 * (IRR -> ISR, or AEOI), the spurious IRQ7/IRQ15 vector if none (Linux:
 * kvm_pic_read_irq). */
int kvm_pic_read_irq(struct kvm *kvm);
/* KVM_GET_IRQCHIP / KVM_SET_IRQCHIP (KVM_IRQCHIP_PIC_MASTER, _SLAVE). */
void kvm_pic_get_state(struct kvm_pic *pic, int chip, struct kvm_pic_state *state);
void kvm_pic_set_state(struct kvm_pic *pic, int chip, const struct kvm_pic_state *state);

/* ---- routing (irq.c; Linux: irq_comm.c's default routing) ------------------ */

/* GSI level from a device or KVM_IRQ_LINE: GSI n goes to PIC pin n (n < 16)
 * and IOAPIC pin n (n < 24), as KVM's default routing. */
int kvm_set_irq(struct kvm *kvm, int gsi, int level);
/* KVM_SIGNAL_MSI: address 0xfeeXXXXX and data decoded into a kvm_lapic_irq
 * (SDM Vol. 3A 11.11) and delivered; < 0 if no LAPIC took it. */
int kvm_set_msi(struct kvm *kvm, const struct kvm_msi *msi);
/* A vCPU has work (an interrupt, a timer, INIT/SIPI): wake it if it blocks
 * (Linux: kvm_vcpu_kick). */
void kvm_vcpu_kick(struct kvm_vcpu *vcpu);

/* ---- what the next VM entry carries (irq.c) ------------------------------- */

/* The guest's state as far as event delivery goes (SDM Vol. 3 25.4.2,
 * "Interruptibility state"; 6.8.3 STI and MOV SS; 6.7.1 NMI blocking). */
struct kvm_event_state {
	bool if_flag;             /* RFLAGS.IF */
	bool sti_blocking;        /* the instruction after STI */
	bool mov_ss_blocking;     /* the instruction after MOV SS / POP SS */
	bool nmi_blocking;        /* an NMI's handler has not yet run IRET */
	bool nmi_pending;
	bool irq_pending;         /* the irqchip has an interrupt for this vCPU */
};

/* What to do, as bits: at most one of the INJECT bits; windows may come
 * with it (an NMI waiting for its window while an interrupt goes in). */
#define KVM_EVENT_INJECT_NMI (1u << 0)
#define KVM_EVENT_INJECT_IRQ (1u << 1)
#define KVM_EVENT_NMI_WINDOW (1u << 2)
#define KVM_EVENT_IRQ_WINDOW (1u << 3)

/* The injection decision (Linux: kvm_check_and_inject_events with
 * vmx_nmi_allowed and vmx_interrupt_allowed). */
unsigned int kvm_event_decide(const struct kvm_event_state *s);

static inline bool irqchip_in_kernel(struct kvm *kvm)
{
	return kvm->arch.irqchip_mode == KVM_IRQCHIP_KERNEL;
}

/* With the in-kernel irqchip every vCPU has a LAPIC (Linux: lapic_in_kernel). */
static inline bool lapic_in_kernel(struct kvm_vcpu *vcpu)
{
	return irqchip_in_kernel(vcpu->kvm);
}

/* Can minikvm offer KVM_CAP_IRQCHIP at all (the code of lab 08 is there)? */
bool kvm_irqchip_supported(void);
/* KVM_CREATE_IRQCHIP: the PIC pair and the IOAPIC (a LAPIC comes with each vCPU created after). */
int kvm_irqchip_create(struct kvm *kvm);
/* KVM_IRQ_LINE: a GSI's level from userspace. */
int kvm_vm_ioctl_irq_line(struct kvm *kvm, struct kvm_irq_level *irq);
/* Does the vCPU's LAPIC have an interrupt to deliver; which one (acknowledging it). */
bool kvm_cpu_has_interrupt(struct kvm_vcpu *vcpu);
int kvm_cpu_get_interrupt(struct kvm_vcpu *vcpu);

#endif
