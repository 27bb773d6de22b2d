/* SPDX-License-Identifier: MIT */
/*
 * What the bare-metal host kernel (solution/host) offers minikvm (solution/kvm).
 * The host identity-maps all physical memory, so a kernel pointer is also the
 * physical address VMX structures (VMXON region, VMCS, page tables) need.
 */
#ifndef KVMLABS_HOST_KERNEL_H
#define KVMLABS_HOST_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One zeroed 4 KiB page, virt == phys. NULL when memory is exhausted. */
void *host_page_alloc(void);
void host_page_free(void *page);

/* n contiguous zeroed pages aligned to `align` bytes (a power of two >= 4096). */
void *host_pages_alloc(size_t n, size_t align);
void host_pages_free(void *pages, size_t n);

static inline uint64_t host_virt_to_phys(const void *p) { return (uint64_t)(uintptr_t)p; }
static inline void *host_phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)pa; }

/* Monotonic time in nanoseconds since boot: the clock KVM_RUN's time slice
 * and, from lab 08, the virtual LAPIC timer run on (host/wait.c). */
uint64_t host_clock_ns(void);

/* The TSC's rate in kHz (calibrated at boot against the PIT), for the guest
 * TSC and the LAPIC's TSC-deadline timer (lab 08; Linux: tsc_khz). */
uint64_t host_tsc_khz(void);

/* Idle the CPU until host_clock_ns() >= deadline_ns or a host interrupt
 * arrives, whichever comes first, so a halted vCPU can wait in minikvm
 * (Linux: kvm_vcpu_block sleeping in schedule()). Returns true once the
 * deadline has passed. It may return earlier without a reason: callers look
 * at their own wake-up conditions again and wait once more. */
bool host_wait_until(uint64_t deadline_ns);

/* Between two entries of KVM_RUN: give the CPU to the host's other threads
 * if this one's time slice is over (the bare-metal host switches threads
 * cooperatively; Linux would preempt), and say whether the thread was kicked
 * (host_thread_kick): then KVM_RUN returns -EINTR, as after a signal. */
bool host_thread_preempt(void);
/* Something became pending for another thread's vCPU (kvm_vcpu_kick): let it
 * run at this thread's next host_thread_preempt(), as another CPU would take
 * it at once. */
void host_thread_yield_soon(void);

/* kvm_intel's "ept" parameter as the host was booted (Linux: kvm_intel.ept=0
 * on the kernel command line): false keeps the shadow MMU at every stage. */
bool host_kvm_intel_ept(void);

#endif
