/* SPDX-License-Identifier: MIT */
/*
 * Helpers the labs' VMM unit tests share: a VM and vCPUs wired to the fake
 * KVM without going through the code under test, a device that records the
 * accesses the bus hands it, stdout capture, and the Check main().
 */
#ifndef KVMLABS_UT_VMM_H
#define KVMLABS_UT_VMM_H

#include <check.h>

#include "vmm/vmm.h"
#include "fake_host.h"
#include "fake_kvm.h"

/* ck_assert_msg without the checkpoint message Check sends on success: for
 * checks inside long loops. */
#define ut_require(cond, ...)                      \
	do {                                       \
		if (!(cond))                       \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

/* Reset both fakes; every test case uses it as its checked fixture. */
void ut_setup(void);
void ut_teardown(void);

/* A VM with a system and a VM handle of the fake KVM, default options, its
 * two buses (empty), and ram_size bytes of RAM at vm->ram (not registered as
 * a memslot). */
struct vm *ut_vm(uint64_t ram_size);
struct vmm_options *ut_options(void);
/* vCPU id of vm with its kvm_run area mapped; vm->nr_vcpus grows to hold it. */
struct vcpu *ut_vcpu(struct vm *vm, int id);

/* A device that logs each access and answers reads with next_read++. */
struct ut_access {
	bool write;
	uint64_t offset;
	unsigned size;
	uint64_t value;
};
struct ut_device {
	struct bus_device bus_dev;
	struct ut_access log[64];
	int n;
	uint64_t next_read;
};
/* dev's bus device at [base, base + len), ready for bus_register(). */
struct bus_device *ut_device_at(const char *name, uint64_t base, uint64_t len, struct ut_device *dev);
/* Put a device on a bus directly (kept sorted), without bus_register(). */
void ut_bus_insert(struct bus *bus, struct bus_device *dev);

/* Capture what the VMM prints on stdout between begin and end (NUL-terminated). */
void ut_stdout_begin(void);
const char *ut_stdout_end(void);

/* A test case with the fixture and a timeout in seconds. */
TCase *ut_tcase(const char *name, double timeout);
/* Run the suites in forked mode with Check's usual report; 0 if all passed. */
int ut_run(Suite **suites, int n);

/* The n-th call of request must exist; fails the test naming the request otherwise. */
const struct fake_call *ut_call(unsigned long request, int n);

#endif
