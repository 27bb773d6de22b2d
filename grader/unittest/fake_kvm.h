/* SPDX-License-Identifier: MIT */
/*
 * A scriptable fake of kvm_seam.h for the labs' unit tests.
 *
 * It behaves like a small, strict KVM: handles have a kind (system, VM, vCPU)
 * and a request issued on a kind that does not take it fails (-ENOTTY); vCPUs
 * keep their REGS and SREGS (a fresh vCPU is in the reset state, SDM Vol. 3
 * 10.1.1); KVM_RUN plays a per-vCPU script of exits. Every call is recorded
 * with a copy of its argument, so a test can check what the VMM asked for.
 * Anything the test did not expect (a KVM_RUN past the script, KVM_RUN on an
 * unmapped vCPU, a kvm_run area mapped with the wrong size) fails the test
 * with a message saying so; the fake never hangs.
 */
#ifndef KVMLABS_FAKE_KVM_H
#define KVMLABS_FAKE_KVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmlabs/kvm_seam.h>

enum fake_handle_kind { FAKE_NONE, FAKE_SYSTEM, FAKE_VM, FAKE_VCPU };

/* One recorded kvm_ioctl(). For a pointer argument, arg holds a copy of what
 * it pointed to when the call returned (for KVM_SET_CPUID2 and KVM_SET_MSRS
 * including the entries); for a value argument (KVM_CREATE_VCPU,
 * KVM_CHECK_EXTENSION, ...) value holds it. */
struct fake_call {
	int fd;
	enum fake_handle_kind kind;
	unsigned long request;
	uintptr_t value;
	void *arg;
	size_t arg_size;
	long result;
	pthread_t thread;
};

/* Clear all state (handles, calls, scripts, programmed results). */
void fake_kvm_reset(void);

/* ---- programming results ----------------------------------------------- */
/* kvm_seam_open() returns this (-errno) instead of a system handle. */
void fake_kvm_fail_open(long err);
/* Every later call of request returns result (no other effect). */
void fake_kvm_set_result(unsigned long request, long result);
/* The next call of request returns result; queued results come first. */
void fake_kvm_push_result(unsigned long request, long result);
/* KVM_CHECK_EXTENSION(cap) returns value (default 0 for every capability). */
void fake_kvm_set_cap(long cap, long value);
/* KVM_GET_VCPU_MMAP_SIZE (default 3 pages, as on x86). */
void fake_kvm_set_mmap_size(long size);
/* The table KVM_GET_SUPPORTED_CPUID returns (a default one is built in). */
void fake_kvm_set_supported_cpuid(const struct kvm_cpuid_entry2 *entries, unsigned n);
/* The bitmap KVM_GET_DIRTY_LOG returns for a slot (then cleared, as KVM does). */
void fake_kvm_set_dirty_bitmap(unsigned slot, const uint64_t *words, size_t nwords);
/* Replace the behaviour of one request entirely. */
typedef long (*fake_ioctl_fn)(int fd, unsigned long request, void *arg, void *ctx);
void fake_kvm_set_handler(unsigned long request, fake_ioctl_fn fn, void *ctx);

/* ---- KVM_RUN scripts ----------------------------------------------------- */
/* Fills the kvm_run area for one exit; called inside KVM_RUN. */
typedef void (*fake_exit_fn)(struct kvm_run *run, void *ctx);
/* Append a step to the script of vCPU fd: KVM_RUN returns result; if it is 0,
 * exit_reason = reason and fill (may be NULL) sets the rest. */
void fake_kvm_queue_run(int vcpu_fd, long result, uint32_t reason, fake_exit_fn fill, void *ctx);
void fake_kvm_queue_exit(int vcpu_fd, uint32_t reason);
/* A port I/O exit; for OUT, data holds count * size bytes. */
void fake_kvm_queue_io(int vcpu_fd, uint8_t direction, uint16_t port, uint8_t size, uint32_t count,
		       const void *data);
/* An MMIO exit; for a write, data holds len bytes. */
void fake_kvm_queue_mmio(int vcpu_fd, bool is_write, uint64_t gpa, uint32_t len, const void *data);
/* What KVM_RUN does when a vCPU's script is used up: fail the test at once
 * (default), or block like a halted vCPU until the thread is kicked
 * (host_thread_kick) and then return -EINTR. */
void fake_kvm_set_idle_blocks(bool block);
/* Bytes the guest received: at every KVM_RUN after an IN or MMIO-read exit the
 * fake copies the VMM's answer here, as KVM completes the instruction. */
size_t fake_kvm_guest_received(int vcpu_fd, uint8_t *buf, size_t len);

/* ---- handles, vCPUs ---------------------------------------------------- */
enum fake_handle_kind fake_kvm_kind(int fd);
bool fake_kvm_closed(int fd);
/* A VM handle and a vCPU with its kvm_run area, made without the VMM's help,
 * for tests of code that needs them but is not what is tested. */
int fake_kvm_make_vm(void);
int fake_kvm_make_vcpu(int vm_fd, struct kvm_run **run, size_t *run_size);
/* The registers a vCPU holds now (after the VMM's SET_REGS/SET_SREGS). */
struct kvm_regs *fake_kvm_regs(int vcpu_fd);
struct kvm_sregs *fake_kvm_sregs(int vcpu_fd);
/* The area kvm_seam_map_run() returned for fd, its size and how often it was mapped. */
struct kvm_run *fake_kvm_run_area(int vcpu_fd, size_t *size, int *maps);

/* ---- inspecting calls ---------------------------------------------------- */
int fake_kvm_ncalls(void);
const struct fake_call *fake_kvm_call(int i);
/* Number of calls of request; the n-th (0-based) of them, or NULL. */
int fake_kvm_count(unsigned long request);
const struct fake_call *fake_kvm_find(unsigned long request, int n);
/* Index of the n-th call of request in the call list, or -1. */
int fake_kvm_index(unsigned long request, int n);
/* "KVM_CREATE_VM", ... for messages. */
const char *fake_kvm_request_name(unsigned long request);

#endif
