/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: interrupts and doorbells through the in-kernel irqchip.
 *
 * KVM_CREATE_IRQCHIP puts the PIC, IOAPIC and LAPICs inside KVM (api.rst 4.24).
 * A device then raises its line without a system call of its own: the VMM
 * writes an eventfd that KVM_IRQFD bound to a GSI (api.rst 4.75). The other
 * way, KVM_IOEVENTFD turns a guest write to a port into an eventfd signal
 * inside KVM, with no exit to the VMM at all (api.rst 4.59). virtio uses both.
 *
 * Each device asks for its line (irq_request): an ISA device for the one the
 * PC fixed (COM1: 4), a virtio-mmio device for any free one, as kvmtool's
 * irq__alloc_line() hands them out.
 */
#include <errno.h>
#include <stdio.h>

#include <kvmlabs/guest_abi.h>

#include "vmm.h"

// @lab 03 irq_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* Lines handed out to IRQ_ANY: above the ISA lines a PC board uses (0-8),
 * so the 8259s still see 9-15; 16-23 reach the IOAPIC only. */
#define IRQ_FIRST_DYNAMIC 9

static int irqfd_attach(struct vm *vm, int gsi)
{
	int event = host_event_create();
	if (event < 0)
		return event;
	// @lab 03 irqfd_attach: Bind `event` to interrupt line `gsi` with KVM_IRQFD.
	lab_todo(3, "irqfd_attach");
	// @end
}

/* The "irqchip" subsystem: the in-kernel PIC, IOAPIC and LAPICs, if the
 * kernel has them and --no-irqchip did not say otherwise. */
int irq_init(struct vm *vm)
{
	if (!vm->opt->irqchip || !vm_has_cap(vm, KVM_CAP_IRQCHIP))
		return 0;
	long r = kvm_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (r < 0) {
		vmm_error("KVM_CREATE_IRQCHIP: %s", vmm_strerror(r));
		return (int)r;
	}
	vm->has_irqchip = true;
	vm->has_irqfd = vm_has_cap(vm, KVM_CAP_IRQFD);
	/* The 8254 PIT on ports 0x40-0x43 and 0x61, channel 0 on GSI 0, inside
	 * KVM as the PC's timer (api.rst 4.59 KVM_CREATE_PIT2; QEMU and
	 * Firecracker make it too). Without it a guest that programs the PIT
	 * reaches nobody; the run goes on. */
	if (vm_has_cap(vm, KVM_CAP_PIT2)) {
		/* SPEAKER_DUMMY: port 0x61 too (channel 2's gate and output), which
		 * a guest uses to time the PIT, as Firecracker asks. */
		struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
		r = kvm_ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit);
		if (r < 0)
			vmm_error("KVM_CREATE_PIT2: %s (no PIT)", vmm_strerror(r));
		else
			vm->has_pit = true;
	}
	return 0;
}

static void irq_release(struct vm *vm, int gsi)
{
	struct irq_line *line = &vm->irq_lines[gsi];
	if (line->irqfd >= 0) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)line->irqfd, .gsi = (uint32_t)gsi,
					   .flags = KVM_IRQFD_FLAG_DEASSIGN };
		kvm_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);
		host_event_close(line->irqfd);
	}
	*line = (struct irq_line){ .irqfd = -1 };
}

/* The irqchip itself goes with the VM handle; the lines' eventfds go here. */
void irq_exit(struct vm *vm)
{
	for (int gsi = 0; gsi < VMM_IRQ_LINES; gsi++)
		irq_release(vm, gsi);
	vm->has_irqchip = vm->has_irqfd = false;
}

/* Give `owner` interrupt line gsi, or with IRQ_ANY the lowest free line
 * from IRQ_FIRST_DYNAMIC. Returns the GSI, -EBUSY if another device has it,
 * -ENOSPC if none is left. With irqfd the line gets its eventfd; without, or
 * if KVM refuses it, irq_raise() pulses it with KVM_IRQ_LINE. */
int irq_request(struct vm *vm, int gsi, const char *owner)
{
	if (gsi == IRQ_ANY) {
		for (gsi = IRQ_FIRST_DYNAMIC; gsi < VMM_IRQ_LINES && vm->irq_lines[gsi].owner; gsi++)
			;
		if (gsi == VMM_IRQ_LINES)
			return -ENOSPC;
	} else if (gsi < 0 || gsi >= VMM_IRQ_LINES) {
		return -EINVAL;
	} else if (vm->irq_lines[gsi].owner) {
		return -EBUSY;
	}
	vm->irq_lines[gsi] = (struct irq_line){ .owner = owner, .irqfd = -1 };
	if (vm->has_irqfd && irqfd_attach(vm, gsi) < 0)
		vmm_error("KVM_IRQFD for GSI %d (%s) refused: KVM_IRQ_LINE instead", gsi, owner);
	return gsi;
}

/* Pulse a line: edge-triggered for the 8259 in its default mode. */
void irq_raise(struct vm *vm, int gsi)
{
	if (!vm->has_irqchip || gsi < 0 || gsi >= VMM_IRQ_LINES)
		return; /* no interrupt controller: the line goes nowhere, like a masked IRQ */
	if (vm->irq_lines[gsi].irqfd >= 0) {
		host_event_signal(vm->irq_lines[gsi].irqfd);
		return;
	}
	struct kvm_irq_level level = { .irq = (uint32_t)gsi, .level = 1 };
	kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &level);
	level.level = 0;
	kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &level);
}

static void doorbell_serve(struct vm *vm, unsigned count)
{
	atomic_fetch_add(&vm->doorbells, count);
	irq_raise(vm, ABI_DOORBELL_IRQ);
}

/* The doorbell's I/O thread: what a virtio backend thread looks like. */
static void *doorbell_thread(void *arg)
{
	struct vm *vm = arg;
	while (!vm_stopping(vm)) {
		long n = host_event_wait(vm->doorbell_event, 20);
		if (n > 0)
			doorbell_serve(vm, (unsigned)n);
	}
	return NULL;
}

/* Without ioeventfd (e.g. minikvm) the doorbell is an ordinary port, served
 * in the vCPU thread on the I/O exit: the fallback kvmtool uses too. */
static void doorbell_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)opaque, (void)offset, (void)size, (void)value;
	doorbell_serve(vcpu->vm, 1);
}

/* The "doorbell" subsystem: port ABI_DOORBELL_PORT, answered on line
 * ABI_DOORBELL_IRQ. */
int doorbell_init(struct vm *vm)
{
	vm->doorbell_event = -1;
	int r = irq_request(vm, ABI_DOORBELL_IRQ, "doorbell");
	if (r < 0)
		return r;
	if (vm->opt->ioeventfd && vm_has_cap(vm, KVM_CAP_IOEVENTFD) && host_max_threads() > 1) {
		int event = host_event_create();
		if (event >= 0) {
			// @lab 03 doorbell_ioeventfd: Have KVM signal `event` on 4-byte writes to ABI_DOORBELL_PORT.
			lab_todo(3, "doorbell_ioeventfd");
			// @end
			/* The thread reads doorbell_event: set it before the thread
			 * starts, which publishes it (pthread_create() synchronizes). */
			vm->doorbell_event = event;
			if (r == 0 && host_thread_start(&vm->doorbell_thread, doorbell_thread, vm) == 0) {
				vm->has_ioeventfd = true;
				return 0;
			}
			vm->doorbell_event = -1;
			host_event_close(event);
		}
	}
	vm->doorbell_port = (struct bus_device){
		.name = "doorbell", .base = ABI_DOORBELL_PORT, .len = 4, .write = doorbell_write,
	};
	return bus_register(&vm->pio_bus, &vm->doorbell_port);
}

/* The I/O thread ends once the VM is stopping, which it is by now. */
void doorbell_exit(struct vm *vm)
{
	if (vm->doorbell_thread)
		host_thread_join(vm->doorbell_thread);
	vm->doorbell_thread = NULL;
	if (vm->has_ioeventfd) {
		struct kvm_ioeventfd io = {
			.addr = ABI_DOORBELL_PORT, .len = 4, .fd = vm->doorbell_event,
			.flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DEASSIGN,
		};
		kvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, &io);
		host_event_close(vm->doorbell_event);
	} else {
		bus_unregister(&vm->pio_bus, &vm->doorbell_port);
	}
	vm->doorbell_event = -1;
	vm->has_ioeventfd = false;
}
