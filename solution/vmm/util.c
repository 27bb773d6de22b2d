/* SPDX-License-Identifier: MIT */
/*
 * What every part of the VMM calls: how a VM ends (vm_stop, vm_stopping,
 * with --timeout), what the guest prints (vmm_output, with --max-output), and
 * the VMM's own messages (vmm_error, vmm_strerror, lab_todo).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <x86/processor-flags.h>

#include "vmm.h"

void vmm_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("vmm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\n", stderr);
	va_end(ap);
}

/* strerror() for the -errno values of the seams; the bare-metal libc has none. */
const char *vmm_strerror(long err)
{
	static const struct { int err; const char *text; } names[] = {
		{ EPERM, "Operation not permitted" }, { ENOENT, "No such file or directory" },
		{ EINTR, "Interrupted" }, { EIO, "I/O error" }, { E2BIG, "Argument list too long" },
		{ EBADF, "Bad file descriptor" }, { EAGAIN, "Try again" }, { ENOMEM, "Out of memory" },
		{ EACCES, "Permission denied" }, { EFAULT, "Bad address" }, { EBUSY, "Device busy" },
		{ EEXIST, "Already exists" }, { ENODEV, "No such device" }, { EINVAL, "Invalid argument" },
		{ ENOSPC, "No space left" }, { ENOTTY, "Inappropriate ioctl" }, { ENOSYS, "Not implemented" },
		{ ENXIO, "No such device or address" }, { EOPNOTSUPP, "Not supported" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].err == -err)
			return names[i].text;
	return "error";
}

/* A vCPU asleep for good: halted with RFLAGS.IF clear, or an AP still
 * waiting for INIT/SIPI. With IF clear only an NMI, INIT or SMI wakes a
 * halted CPU (SDM Vol. 2A, HLT; kvm_arch_vcpu_runnable() in KVM); no device
 * of this VMM sends those, so when every vCPU is asleep so, none will ever
 * run again. Asked in the vCPU's own thread: a vCPU ioctl from another
 * thread waits for KVM_RUN to end. */
static bool vcpu_asleep(struct vcpu *vcpu)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	if (kvm_ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp) < 0)
		return false;
	if (mp.mp_state == KVM_MP_STATE_UNINITIALIZED || mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		return true;
	return mp.mp_state == KVM_MP_STATE_HALTED && kvm_ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0 &&
	       !(regs.rflags & X86_EFLAGS_IF);
}

/* The vCPU whose thread calls, or NULL (the supervisor, the I/O thread, a
 * vCPU run inline). By address alone: nr_vcpus is the main thread's. */
static struct vcpu *calling_vcpu(struct vm *vm)
{
	struct vcpu *self = host_thread_arg();
	for (int i = 0; i < VMM_MAX_VCPUS; i++)
		if (self == &vm->vcpus[i])
			return self;
	return NULL;
}

/* Called by the run loop before every KVM_RUN and by the supervisor, so the
 * deadline holds with or without a supervisor thread (a vCPU run inline):
 * KVM_RUN returns now and then (-EINTR) even when the guest never exits.
 * A vCPU thread also answers the supervisor's sleep probe here (smp.c). */
bool vm_stopping(struct vm *vm)
{
	uint64_t deadline = atomic_load(&vm->deadline_ns);
	if (deadline && host_now_ns() >= deadline)
		vm_stop(vm, VMM_EXIT_TIMEOUT, "timeout: the guest ran for %llu s without ending",
			(unsigned long long)vm->opt->timeout_s);
	unsigned probe = atomic_load(&vm->sleep_probe);
	struct vcpu *self = probe ? calling_vcpu(vm) : NULL;
	if (self && atomic_load(&self->sleep_answer) != probe && atomic_load(&self->sleep_asked) != probe) {
		atomic_store(&self->sleep_asked, probe);
		atomic_store(&self->sleep_answer, vcpu_asleep(self) ? probe : 0);
	}
	return atomic_load(&vm->stopping) != 0;
}

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
		return; /* the first reason to stop is the one reported */
	vm->exit_status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->stop_message, sizeof(vm->stop_message), fmt, ap);
	va_end(ap);
	if (vm->stop_event >= 0)
		host_event_signal(vm->stop_event);
}

/* Everything the VM prints on stdout — the guest's console and the dirty
 * reports — counts against --max-output, and none of it waits for a reader
 * past the --timeout deadline: a pipe nobody reads cannot keep the VMM
 * alive (host_console_write()). */
void vmm_output(struct vm *vm, const char *buf, size_t n)
{
	uint64_t before = atomic_fetch_add(&vm->output_bytes, n);
	if (before + n > vm->opt->max_output) {
		vm_stop(vm, VMM_EXIT_OUTPUT_FLOOD, "the guest printed more than %llu bytes (--max-output)",
			(unsigned long long)vm->opt->max_output);
		return;
	}
	if (host_console_write(buf, n, atomic_load(&vm->deadline_ns)) < n && !atomic_exchange(&vm->output_lost, true))
		vmm_error("guest output lost: stdout took no more of it before the --timeout deadline "
			  "(a pipe nobody reads?)");
}

_Noreturn void lab_todo(int lab, const char *name)
{
	fflush(stdout);
	fprintf(stderr, "vmm: lab %02d: %s() not implemented (exit status %d)\n", lab, name, VMM_EXIT_NOT_IMPLEMENTED);
	host_exit(VMM_EXIT_NOT_IMPLEMENTED);
}
