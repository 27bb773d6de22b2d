/* SPDX-License-Identifier: MIT */
/*
 * Lab 01: the KVM API objects. /dev/kvm gives a system handle, KVM_CREATE_VM a
 * VM handle, KVM_CREATE_VCPU a vCPU handle whose shared kvm_run area is mapped
 * into the VMM (Documentation/virt/kvm/api.rst, sections 4.1-4.8, 4.35, 5).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>
#include <x86/processor-flags.h>

#include "vmm.h"

// @lab 01 vm_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* KVM_GET_API_VERSION has returned 12 since Linux 2.6.22; anything else is
 * an ABI this VMM does not speak (api.rst 4.1). */
#define KVM_EXPECTED_API_VERSION 12

int vmm_open_kvm(void)
{
	// @lab 01 vmm_open_kvm: Open the KVM device and check KVM_GET_API_VERSION is 12.
	lab_todo(1, "vmm_open_kvm");
	// @end
}

int vm_create(struct vm *vm)
{
	// @lab 01 vm_create: Create the VM and learn the size of a vCPU's kvm_run area.
	lab_todo(1, "vm_create");
	// @end
}

int vm_set_memslot(struct vm *vm, const struct mem_region *region)
{
	// @lab 01 vm_set_memslot: Tell KVM that guest-physical region->gpa is backed by region->hva.
	lab_todo(1, "vm_set_memslot");
	// @end
}

int vcpu_create(struct vm *vm, struct vcpu *vcpu, int id)
{
	// @lab 01 vcpu_create: Create vCPU `id` and map its kvm_run area.
	lab_todo(1, "vcpu_create");
	// @end
}

int vcpu_setup_real(struct vcpu *vcpu, uint64_t entry)
{
	// @lab 01 vcpu_setup_real: Start the vCPU in real mode at physical address `entry`.
	lab_todo(1, "vcpu_setup_real");
	// @end
}

/* KVM_CHECK_EXTENSION (api.rst 4.4): > 0 means the kernel has the capability. */
bool vm_has_cap(const struct vm *vm, long cap)
{
	return kvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)cap) > 0;
}

/* The "vm" subsystem: the handles, the two buses and the supervisor's event. */
int vm_open(struct vm *vm)
{
	vm->kvm_fd = vmm_open_kvm();
	if (vm->kvm_fd < 0)
		return vm->kvm_fd;
	int r = vm_create(vm);
	if (r == 0)
		r = bus_init(&vm->pio_bus, "pio");
	if (r == 0)
		r = bus_init(&vm->mmio_bus, "mmio");
	if (r < 0) {
		vm_close(vm);
		return r;
	}
	int ev = host_event_create();
	vm->stop_event = ev < 0 ? -1 : ev; /* without one the supervisor polls */
	return 0;
}

void vm_close(struct vm *vm)
{
	bus_exit(&vm->mmio_bus);
	bus_exit(&vm->pio_bus);
	if (vm->stop_event >= 0)
		host_event_close(vm->stop_event);
	vm->stop_event = -1;
	if (vm->vm_fd >= 0)
		kvm_seam_close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		kvm_seam_close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}

/* An application processor of a standard guest: in the wait-for-SIPI
 * state, which the in-kernel local APIC leaves on INIT then SIPI, entering
 * real mode at CS = vector << 8, IP = 0 (SDM Vol. 3A 9.4.4.1 and 10.6.1,
 * "INIT" and "Start-Up" delivery modes). KVM gives an AP of an in-kernel
 * irqchip this state when it is created; it is set here all the same, as
 * QEMU does on reset (kvm_arch_reset_vcpu), so that nothing before —
 * another VMM default, a kernel that differs — decides it (api.rst 4.38,
 * KVM_SET_MP_STATE). The registers are INIT's to set, not the VMM's. */
static int vcpu_wait_for_sipi(struct vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_UNINITIALIZED };
	long r = kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
	if (r < 0)
		vmm_error("KVM_SET_MP_STATE (wait for SIPI) for vCPU %d: %s", vcpu->id, vmm_strerror(r));
	return (int)r;
}

/* One vCPU at the entry the loader found, in its mode (guest_abi.h). */
static int vcpu_init(struct vm *vm, struct vcpu *vcpu, int id)
{
	const struct boot_info *boot = &vm->boot;
	int r = vcpu_create(vm, vcpu, id);
	if (r == 0)
		r = vcpu_setup_cpu_model(vcpu);
	if (r < 0)
		return r;
	if (id > 0 && boot->ap_start == AP_START_SIPI)
		return vcpu_wait_for_sipi(vcpu);
	switch (boot->mode) {
	case MODE_REAL: r = vcpu_setup_real(vcpu, boot->entry); break;
	case MODE_LONG: r = vcpu_setup_long(vcpu, boot->entry); break;
	default:        r = vcpu_setup_protected(vcpu, boot->entry); break;
	}
	if (r < 0) {
		vmm_error("setting up vCPU %d registers: %s", id, vmm_strerror(r));
		return r;
	}
	vcpu_check_entry_state(vcpu);
	if (boot->multiboot || boot->linux) {
		struct kvm_regs regs;
		if (kvm_ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
			return -EIO;
		if (boot->multiboot) {
			regs.rax = ABI_MULTIBOOT_MAGIC;
			regs.rbx = ABI_MBI_GPA;
		} else {
			regs.rsi = ABI_BOOT_PARAMS_GPA; /* boot.rst, "64-bit BOOT PROTOCOL" */
			regs.rdi = 0;
		}
		if (kvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
			return -EIO;
	}
	if (id > 0 && vm->has_irqchip) {
		/* With an in-kernel LAPIC, APs wait for INIT-SIPI; the ABI starts
		 * every vCPU at the entry, so make them runnable (api.rst 4.39,
		 * KVM_SET_MP_STATE). */
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
		r = (int)kvm_ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp);
		if (r < 0)
			vmm_error("KVM_SET_MP_STATE for vCPU %d: %s", id, vmm_strerror(r));
	}
	return r;
}

/* The "vcpus" subsystem: every vCPU, created after the irqchip and the image. */
int vcpus_init(struct vm *vm)
{
	if ((int)vm->opt->cpus > host_max_threads()) {
		vm_stop(vm, VMM_EXIT_USAGE, "this host runs %d vCPU(s); --cpus %llu needs a threaded host",
			host_max_threads(), (unsigned long long)vm->opt->cpus);
		return -EINVAL;
	}
	if (vm->opt->cpus > 1 && vm->boot.ap_start == AP_START_SIPI && !vm->has_irqchip) {
		/* Nothing but a local APIC can deliver INIT and SIPI. */
		vm_stop(vm, VMM_EXIT_USAGE, "%s: its vCPUs 1..%llu would wait for INIT-SIPI, which needs the in-kernel "
			"irqchip (local APICs)%s; or start them at the entry with --ap-start=entry", vm->opt->image,
			(unsigned long long)vm->opt->cpus - 1,
			vm->opt->irqchip ? ", which this kernel does not provide" : ": drop --no-irqchip");
		return -EINVAL;
	}
	vm->nr_vcpus = (int)vm->opt->cpus;
	for (int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		if (vcpu_init(vm, &vm->vcpus[i], i) < 0) {
			vcpus_exit(vm);
			return -EINVAL;
		}
	}
	return 0;
}

void vcpus_exit(struct vm *vm)
{
	for (int i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].fd >= 0)
			kvm_seam_close(vm->vcpus[i].fd);
	vm->nr_vcpus = 0;
}
