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

/* Called by the run loop before every KVM_RUN and by the supervisor, so the
 * deadline holds with or without a supervisor thread (a vCPU run inline):
 * KVM_RUN returns now and then (-EINTR) even when the guest never exits. */
bool vm_stopping(struct vm *vm)
{
	if (vm->deadline_ns && host_now_ns() >= vm->deadline_ns)
		vm_stop(vm, VMM_EXIT_TIMEOUT, "timeout: the guest ran for %llu s without ending",
			(unsigned long long)vm->opt->timeout_s);
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

void vmm_output(struct vm *vm, const char *buf, size_t n)
{
	uint64_t before = atomic_fetch_add(&vm->output_bytes, n);
	if (before + n > vm->opt->max_output) {
		vm_stop(vm, VMM_EXIT_OUTPUT_FLOOD, "the guest printed more than %llu bytes (--max-output)",
			(unsigned long long)vm->opt->max_output);
		return;
	}
	fwrite(buf, 1, n, stdout);
	if (memchr(buf, '\n', n))
		fflush(stdout);
}

_Noreturn void lab_todo(int lab, const char *name)
{
	fflush(stdout);
	fprintf(stderr, "vmm: lab %02d: %s() not implemented (exit status %d)\n", lab, name, VMM_EXIT_NOT_IMPLEMENTED);
	host_exit(VMM_EXIT_NOT_IMPLEMENTED);
}
