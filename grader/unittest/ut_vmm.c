/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ut_vmm.h"

static struct vm ut_the_vm;
static struct vmm_options ut_opt;
static char ut_out[1 << 16];
static FILE *ut_out_file;
static int ut_saved_stdout = -1;

void ut_setup(void)
{
	fake_kvm_reset();
	fake_host_reset();
	fake_host_capture_stderr();
}

/* The buses of the last ut_vm() and what is left on them. */
static void ut_vm_release(struct vm *vm)
{
	bus_exit(&vm->pio_bus);
	bus_exit(&vm->mmio_bus);
	free(vm->ram);
	vm->ram = NULL;
}

void ut_teardown(void)
{
	ut_vm_release(&ut_the_vm);
	fake_kvm_reset();
	fake_host_reset();
	fake_host_release_stderr();
}

struct vmm_options *ut_options(void)
{
	return &ut_opt;
}

struct vm *ut_vm(uint64_t ram_size)
{
	struct vm *vm = &ut_the_vm;
	ut_vm_release(vm);
	ut_opt = (struct vmm_options){
		.mem_size = ram_size, .cpus = 1, .mode = MODE_AUTO, .load_addr = ~0ull, .entry = ~0ull,
		.irqchip = true, .ioeventfd = true, .event_idx = true, .max_output = 1 << 20,
	};
	vm_init_state(vm, &ut_opt);
	ck_assert_int_eq(bus_init(&vm->pio_bus, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm->mmio_bus, "mmio"), 0);
	vm->kvm_fd = kvm_seam_open();
	vm->vm_fd = fake_kvm_make_vm();
	vm->run_size = 3 * 4096;
	if (ram_size) {
		vm->ram = host_alloc_guest_ram(ram_size);
		ck_assert_ptr_nonnull(vm->ram);
	}
	return vm;
}

struct vcpu *ut_vcpu(struct vm *vm, int id)
{
	ck_assert_int_lt(id, VMM_MAX_VCPUS);
	struct vcpu *vcpu = &vm->vcpus[id];
	*vcpu = (struct vcpu){ .vm = vm, .id = id };
	size_t size;
	vcpu->fd = fake_kvm_make_vcpu(vm->vm_fd, &vcpu->run, &size);
	vm->run_size = size;
	if (vm->nr_vcpus <= id)
		vm->nr_vcpus = id + 1;
	atomic_store(&vm->running_vcpus, vm->nr_vcpus);
	return vcpu;
}

static uint64_t ut_device_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu;
	struct ut_device *d = opaque;
	uint64_t value = d->next_read++;
	if (d->n < (int)ARRAY_SIZE(d->log))
		d->log[d->n++] = (struct ut_access){ .write = false, .offset = offset, .size = size, .value = value };
	return value;
}

static void ut_device_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	struct ut_device *d = opaque;
	if (d->n < (int)ARRAY_SIZE(d->log))
		d->log[d->n++] = (struct ut_access){ .write = true, .offset = offset, .size = size, .value = value };
}

struct bus_device *ut_device_at(const char *name, uint64_t base, uint64_t len, struct ut_device *dev)
{
	dev->bus_dev = (struct bus_device){
		.name = name, .base = base, .len = len, .opaque = dev, .read = ut_device_read, .write = ut_device_write,
	};
	return &dev->bus_dev;
}

void ut_bus_insert(struct bus *bus, struct bus_device *dev)
{
	ck_assert_int_lt(bus->nr_devices, BUS_MAX_DEVICES);
	/* What bus_register() sets up, without bus_insert(). */
	dev->lock = host_mutex_create();
	atomic_store(&dev->refs, 1);
	int pos = bus->nr_devices;
	while (pos > 0 && bus->devices[pos - 1]->base > dev->base) {
		bus->devices[pos] = bus->devices[pos - 1];
		pos--;
	}
	bus->devices[pos] = dev;
	bus->nr_devices++;
}

void ut_stdout_begin(void)
{
	fflush(stdout);
	ut_out_file = tmpfile();
	ck_assert_ptr_nonnull(ut_out_file);
	ut_saved_stdout = dup(STDOUT_FILENO);
	dup2(fileno(ut_out_file), STDOUT_FILENO);
}

const char *ut_stdout_end(void)
{
	fflush(stdout);
	dup2(ut_saved_stdout, STDOUT_FILENO);
	close(ut_saved_stdout);
	rewind(ut_out_file);
	size_t n = fread(ut_out, 1, sizeof(ut_out) - 1, ut_out_file);
	ut_out[n] = 0;
	fclose(ut_out_file);
	return ut_out;
}

TCase *ut_tcase(const char *name, double timeout)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
	tcase_set_timeout(tc, timeout);
	return tc;
}

int ut_run(Suite **suites, int n)
{
	SRunner *sr = srunner_create(suites[0]);
	for (int i = 1; i < n; i++)
		srunner_add_suite(sr, suites[i]);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

const struct fake_call *ut_call(unsigned long request, int n)
{
	const struct fake_call *c = fake_kvm_find(request, n);
	ck_assert_msg(c, "expected %s to be called at least %d time(s), it was called %d time(s)",
		      fake_kvm_request_name(request), n + 1, fake_kvm_count(request));
	return c;
}
