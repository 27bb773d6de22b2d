/* SPDX-License-Identifier: MIT */
/*
 * The life of a VM: its subsystems set up in one order, then the vCPUs run,
 * then each subsystem is taken down in the reverse order — kvmtool's
 * init_list (core_init, base_init, dev_init, ... with their exits,
 * util/init.c), as one table.
 *
 * The order is KVM's: the VM before anything in it; the irqchip before any
 * vCPU (a vCPU gets a local APIC only if the irqchip exists when it is
 * created, api.rst 4.24); memory and devices before the image that uses them;
 * the vCPUs last, each with CPUID before the registers KVM checks against it
 * (CR4 and EFER bits, kvm_is_valid_sregs()).
 *
 * Each subsystem names the lab that provides it. A build for an earlier stage
 * skips it — the way KVM's module parameters switch subsystems off — so a
 * stage's guests never reach the code of a later lab.
 */
#include <stdio.h>

#include "vmm.h"

// @region subsystems
/* init returns 0 or -errno; a failing init undoes its own work and may say
 * why with vm_stop(); the exits of the subsystems before it then run. */
struct vm_subsystem {
	const char *name;
	int lab;                            /* the lab that provides it */
	int (*init)(struct vm *vm);
	void (*exit)(struct vm *vm);        /* NULL: nothing to undo */
};

static const struct vm_subsystem subsystems[] = {
	{ "image",     1, guest_image_init,  guest_image_exit },  /* read the file (loader.c) */
	{ "vm",        1, vm_open,           vm_close },          /* /dev/kvm, KVM_CREATE_VM, buses (vm.c) */
	{ "irqchip",   3, irq_init,          irq_exit },          /* KVM_CREATE_IRQCHIP, lines (irq.c) */
	{ "memory",    1, guest_memory_init, guest_memory_exit }, /* guest RAM, its memslot (memory.c) */
	{ "devices",   1, devices_init,      devices_exit },      /* the board (devices/devices.c) */
	{ "doorbell",  3, doorbell_init,     doorbell_exit },     /* ioeventfd, I/O thread (irq.c) */
	{ "virtio",    9, virtio_init,       virtio_exit },       /* virtio-mmio console and disk (virtio/mmio.c) */
	{ "dirty-log", 3, dirty_log_init,    dirty_log_exit },    /* KVM_MEM_LOG_DIRTY_PAGES (dirty.c) */
	{ "boot",      1, guest_boot_init,   NULL },              /* image into RAM, GDT, page tables (loader.c) */
	{ "vcpus",     1, vcpus_init,        vcpus_exit },        /* vCPUs, CPUID, registers (vm.c) */
};
// @end

static struct vm the_vm; /* static: reachable for the leak checker until exit */

void vm_init_state(struct vm *vm, const struct vmm_options *opt)
{
	*vm = (struct vm){ .opt = opt, .kvm_fd = -1, .vm_fd = -1, .stop_event = -1, .doorbell_event = -1 };
	for (int i = 0; i < VMM_IRQ_LINES; i++)
		vm->irq_lines[i].irqfd = -1;
}

int vmm_run(const struct vmm_options *opt)
{
	struct vm *vm = &the_vm;
	vm_init_state(vm, opt);

	size_t up = 0;
	for (; up < ARRAY_SIZE(subsystems); up++) {
		const struct vm_subsystem *s = &subsystems[up];
		if (!LAB_ENABLED(s->lab))
			continue;
		int r = s->init(vm);
		if (r < 0) {
			/* The first reason stands: an init that said why keeps its own. */
			vm_stop(vm, VMM_EXIT_KVM_SETUP, "setting up the %s failed: %s", s->name, vmm_strerror(r));
			break;
		}
	}
	if (up == ARRAY_SIZE(subsystems)) {
		if (opt->trace)
			fprintf(stderr, "vmm: %s image %s, entry 0x%llx, %d vCPU(s), %s on %s (stage %02d)\n",
				vm->boot.kind, opt->image, (unsigned long long)vm->boot.entry, vm->nr_vcpus,
				vm->has_irqchip ? "irqchip" : "no irqchip", kvm_seam_name(), KVMLABS_STAGE);
		vm->start_ns = host_now_ns();
		if (opt->timeout_s) /* read by the doorbell thread already running */
			atomic_store(&vm->deadline_ns, vm->start_ns + opt->timeout_s * 1000000000ull);
		if (vm_run_vcpus(vm) < 0)
			vm_stop(vm, VMM_EXIT_KVM_SETUP, "running the vCPUs failed");
	}
	/* Whatever ended the VM said so; this only covers a path that did not. */
	vm_stop(vm, VMM_EXIT_HALTED, "the vCPUs ended");
	while (up-- > 0) {
		const struct vm_subsystem *s = &subsystems[up];
		if (LAB_ENABLED(s->lab) && s->exit)
			s->exit(vm);
	}
	fflush(stdout);
	fprintf(stderr, "vmm: %s (exit status %d)\n", vm->stop_message, vm->exit_status);
	return vm->exit_status;
}
