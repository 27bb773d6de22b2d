/* SPDX-License-Identifier: MIT */
/*
 * Lab 03: one host thread per vCPU, as in kvmtool and QEMU. KVM_RUN blocks
 * the calling thread while the guest runs, so N vCPUs need N threads; the main
 * thread supervises: timeout, periodic dirty reports, and the end of the VM.
 */
#include <errno.h>
#include <stdio.h>

#include "vmm.h"

// @lab 03 smp_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

/* How often a vCPU run inline leaves KVM_RUN to look at vm_stopping(). */
#define INLINE_SLICE_MS 20

static void *vcpu_thread(void *arg)
{
	vcpu_run_loop(arg);
	return NULL;
}

/* Make every vCPU leave KVM_RUN: immediate_exit covers a vCPU about to enter,
 * the kick (a signal on Linux) one already inside (api.rst 5, immediate_exit). */
static void vm_kick_all(struct vm *vm)
{
	for (int i = 0; i < vm->nr_vcpus; i++) {
		vm->vcpus[i].run->immediate_exit = 1;
		if (vm->vcpus[i].thread)
			host_thread_kick(vm->vcpus[i].thread);
	}
}

/* The supervisor: wait for vm_stop() (vm_stopping() also enforces --timeout). */
static void vm_supervise(struct vm *vm)
{
	uint64_t next_report = vm->opt->dirty_report_ms ? host_now_ns() + vm->opt->dirty_report_ms * 1000000ull : 0;
	while (!vm_stopping(vm)) {
		host_event_wait(vm->stop_event, 20);
		uint64_t now = host_now_ns();
		if (next_report && now >= next_report && !vm_stopping(vm)) {
			dirty_sync(vm, true);
			next_report = now + vm->opt->dirty_report_ms * 1000000ull;
		}
	}
}

/* One vCPU in the VMM's own thread, with nobody to kick it: the host's kick
 * timer brings it out of KVM_RUN now and then to see vm_stopping(). */
static void vm_run_inline(struct vm *vm)
{
	host_kick_timer(INLINE_SLICE_MS);
	vcpu_run_loop(&vm->vcpus[0]);
	host_kick_timer(0);
}

int vm_run_vcpus(struct vm *vm)
{
	atomic_store(&vm->running_vcpus, vm->nr_vcpus);
	if (vm->nr_vcpus == 1 && (host_max_threads() == 1 || !LAB_ENABLED(3))) {
		/* A host without threads (bare metal), or a VMM before lab 03,
		 * runs its single vCPU inline. */
		vm_run_inline(vm);
		return 0;
	}
	// @lab 03 vm_run_vcpus: Start one thread per vCPU, supervise, then stop and join them all.
	lab_todo(3, "vm_run_vcpus");
	// @end
}
