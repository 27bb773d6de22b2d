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
		vcpu_set_immediate_exit(&vm->vcpus[i], true);
		if (vm->vcpus[i].thread)
			host_thread_kick(vm->vcpus[i].thread);
	}
}

/* How often the supervisor asks whether every vCPU is asleep for good, and
 * in how many probes in a row they must all say so. Two: a vCPU woken
 * between its answer and another's (an NMI IPI) answers differently next. */
#define SLEEP_PROBE_MS     500
#define SLEEP_PROBE_ROUNDS 2

/* A guest whose vCPUs all halted with interrupts disabled never runs again,
 * and with the in-kernel irqchip KVM keeps such a HLT to itself (no
 * KVM_EXIT_HLT). Ask the vCPUs, each in its own thread (vm_stopping()), by
 * kicking them out of KVM_RUN: true once all said asleep to this probe. */
static bool vm_all_asleep(struct vm *vm, unsigned probe)
{
	for (int i = 0; i < vm->nr_vcpus; i++)
		if (atomic_load(&vm->vcpus[i].sleep_answer) != probe)
			return false;
	return true;
}

static void vm_sleep_probe(struct vm *vm, unsigned *probe, unsigned *rounds)
{
	if (*probe && vm_all_asleep(vm, *probe)) {
		if (++*rounds >= SLEEP_PROBE_ROUNDS) {
			vm_stop(vm, VMM_EXIT_HALTED, "all vCPUs halted with interrupts disabled or wait for "
				"INIT/SIPI: nothing can wake them, so the VM ends here");
			return;
		}
	} else {
		*rounds = 0;
	}
	*probe = *probe + 1 ? *probe + 1 : 1; /* 0 means no probe */
	atomic_store(&vm->sleep_probe, *probe);
	for (int i = 0; i < vm->nr_vcpus; i++)
		host_thread_kick(vm->vcpus[i].thread);
}

/* The supervisor: wait for vm_stop() (vm_stopping() also enforces --timeout). */
static void vm_supervise(struct vm *vm)
{
	uint64_t next_report = vm->opt->dirty_report_ms ? host_now_ns() + vm->opt->dirty_report_ms * 1000000ull : 0;
	/* Without the irqchip a HLT exits to the VMM, which ends the vCPU. */
	uint64_t next_probe = vm->has_irqchip ? host_now_ns() + SLEEP_PROBE_MS * 1000000ull : 0;
	unsigned probe = 0, rounds = 0;
	while (!vm_stopping(vm)) {
		host_event_wait(vm->stop_event, 20);
		uint64_t now = host_now_ns();
		if (next_report && now >= next_report && !vm_stopping(vm)) {
			dirty_sync(vm, true);
			next_report = now + vm->opt->dirty_report_ms * 1000000ull;
		}
		if (next_probe && now >= next_probe) {
			vm_sleep_probe(vm, &probe, &rounds);
			next_probe = now + SLEEP_PROBE_MS * 1000000ull;
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
	if (vm->nr_vcpus == 1 && (host_max_threads() == 1 || host_threads_cooperative() || !LAB_ENABLED(3))) {
		/* A host whose threads share one CPU (bare metal), or a VMM
		 * before lab 03, runs a single vCPU inline. */
		vm_run_inline(vm);
		return 0;
	}
	// @lab 03 vm_run_vcpus: Start one thread per vCPU, supervise, then stop and join them all.
	lab_todo(3, "vm_run_vcpus");
	// @end
}
