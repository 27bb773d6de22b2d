/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: interrupts and doorbells through the in-kernel irqchip.
 *
 * KVM_CREATE_IRQCHIP puts the PIC, IOAPIC and LAPICs inside KVM (api.rst 4.24).
 * A device then raises its line without a system call of its own: the VMM
 * writes an eventfd that KVM_IRQFD bound to a GSI (api.rst 4.75). The other
 * way, KVM_IOEVENTFD turns a guest write to a port into an eventfd signal
 * inside KVM, with no exit to the VMM at all (api.rst 4.59). virtio uses both.
 */
#include <errno.h>
#include <stdio.h>

#include <kvmlabs/guest_abi.h>

#include "vmm.h"

static int irqfd_attach(struct vm *vm, int gsi)
{
	int event = host_event_create();
	if (event < 0)
		return event;
	// @lab 03 irqfd_attach: Bind `event` to interrupt line `gsi` with KVM_IRQFD.
	struct kvm_irqfd irqfd = { .fd = (uint32_t)event, .gsi = (uint32_t)gsi };
	long r = kvm_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd);
	if (r < 0) {
		host_event_close(event);
		return (int)r;
	}
	vm->irqfd_event[gsi] = event;
	return 0;
	// @stub lab_todo(3, "irqfd_attach");
	// @end
}

int irq_setup(struct vm *vm)
{
	for (size_t i = 0; i < sizeof(vm->irqfd_event) / sizeof(vm->irqfd_event[0]); i++)
		vm->irqfd_event[i] = -1;
	if (!vm->opt->irqchip || !vm_has_cap(vm, KVM_CAP_IRQCHIP))
		return 0;
	long r = kvm_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL);
	if (r < 0) {
		vmm_error("KVM_CREATE_IRQCHIP: %s", kvm_strerror(r));
		return (int)r;
	}
	vm->has_irqchip = true;
	vm->has_irqfd = vm_has_cap(vm, KVM_CAP_IRQFD);
	if (vm->has_irqfd) {
		static const int device_gsis[] = { ABI_COM1_IRQ, ABI_DOORBELL_IRQ };
		for (size_t i = 0; i < sizeof(device_gsis) / sizeof(device_gsis[0]); i++)
			if (irqfd_attach(vm, device_gsis[i]) < 0)
				vm->has_irqfd = false;
	}
	return 0;
}

/* Pulse a line: edge-triggered for the 8259 in its default mode. */
void irq_raise(struct vm *vm, int gsi)
{
	if (!vm->has_irqchip)
		return; /* no interrupt controller: the line goes nowhere, like a masked IRQ */
	if (vm->irqfd_event[gsi] >= 0) {
		host_event_signal(vm->irqfd_event[gsi]);
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

int doorbell_setup(struct vm *vm)
{
	vm->doorbell_event = -1;
	if (vm_has_cap(vm, KVM_CAP_IOEVENTFD) && host_max_threads() > 1) {
		int event = host_event_create();
		if (event >= 0) {
			long r;
			// @lab 03 doorbell_ioeventfd: Have KVM signal `event` on 4-byte writes to ABI_DOORBELL_PORT.
			struct kvm_ioeventfd io = {
				.addr = ABI_DOORBELL_PORT, .len = 4, .fd = event, .flags = KVM_IOEVENTFD_FLAG_PIO,
			};
			r = kvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, &io);
			// @stub lab_todo(3, "doorbell_ioeventfd");
			// @end
			if (r == 0 && host_thread_start(&vm->doorbell_thread, doorbell_thread, vm) == 0) {
				vm->doorbell_event = event;
				vm->has_ioeventfd = true;
				return 0;
			}
			host_event_close(event);
		}
	}
	struct bus_device dev = { .name = "doorbell", .base = ABI_DOORBELL_PORT, .len = 4, .write = doorbell_write };
	return bus_register(&vm->pio_bus, &dev);
}

void doorbell_teardown(struct vm *vm)
{
	if (vm->doorbell_thread)
		host_thread_join(vm->doorbell_thread);
}
