/* SPDX-License-Identifier: MIT */
/* Lab 03, exercises 1-3: the device bus (bus.c), MMIO exits, memslots (memory.c). */
#include <errno.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>

#include "lab03.h"
#include "ut_vmm.h"

static struct ut_device devs[2 * BUS_MAX_DEVICES];

/* bus_insert() of a fresh device: the bus keeps the pointer, so each is its own. */
static int add(struct bus *bus, uint64_t base, uint64_t len)
{
	static size_t next;
	return bus_insert(bus, ut_device_at("dev", base, len, &devs[next++ % ARRAY_SIZE(devs)]));
}

/* ---- Exercise 1: bus_insert, bus_find ------------------------------------------- */

START_TEST(ex1_register_keeps_devices_sorted)
{
	static struct bus bus;
	static const uint64_t bases[] = { 0x700, 0x3f8, 0xe9, 0xf4, 0x1000, 0x80 };
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++)
		ck_assert_msg(add(&bus, bases[i], 4) == 0, "registering [0x%llx, +4) failed", (unsigned long long)bases[i]);
	ck_assert_int_eq(bus.nr_devices, 6);
	for (int i = 1; i < bus.nr_devices; i++)
		ck_assert_msg(bus.devices[i - 1]->base < bus.devices[i]->base,
			      "devices[] must stay sorted by base: 0x%llx before 0x%llx",
			      (unsigned long long)bus.devices[i - 1]->base, (unsigned long long)bus.devices[i]->base);
}
END_TEST

START_TEST(ex1_register_refuses_overlaps)
{
	static struct bus bus;
	ck_assert_int_eq(add(&bus, 0x100, 0x10), 0);
	static const struct { uint64_t base, len; } clash[] = {
		{ 0x100, 0x10 }, { 0x108, 0x10 }, { 0xf8, 0x9 }, { 0x80, 0x200 }, { 0x104, 1 }, { 0x10f, 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(clash); i++) {
		int r = add(&bus, clash[i].base, clash[i].len);
		ck_assert_msg(r == -EEXIST, "[0x%llx, +0x%llx) overlaps [0x100, 0x110): want -EEXIST, got %d",
			      (unsigned long long)clash[i].base, (unsigned long long)clash[i].len, r);
	}
	ck_assert_msg(bus.nr_devices == 1, "a refused device must not be added (%d devices)", bus.nr_devices);
	ck_assert_msg(add(&bus, 0x110, 0x10) == 0, "[0x110, 0x120) only touches [0x100, 0x110): allowed");
	ck_assert_msg(add(&bus, 0xf0, 0x10) == 0, "[0xf0, 0x100) only touches [0x100, 0x110): allowed");
	ck_assert_int_eq(bus.nr_devices, 3);
}
END_TEST

START_TEST(ex1_register_refuses_bad_ranges)
{
	static struct bus bus;
	ck_assert_msg(add(&bus, 0x100, 0) == -EINVAL, "an empty range must be refused with -EINVAL");
	ck_assert_msg(add(&bus, ~0ull - 7, 16) == -EINVAL, "a range that wraps past 2^64 must be refused with -EINVAL");
	ck_assert_int_eq(bus.nr_devices, 0);
	for (int i = 0; i < BUS_MAX_DEVICES; i++)
		ck_assert_int_eq(add(&bus, 0x1000 + 0x10 * (uint64_t)(BUS_MAX_DEVICES - i), 0x10), 0);
	ck_assert_msg(add(&bus, 0x10, 0x10) == -ENOSPC, "the %d+1st device must be refused with -ENOSPC",
		      BUS_MAX_DEVICES);
	for (int i = 1; i < bus.nr_devices; i++)
		ck_assert(bus.devices[i - 1]->base < bus.devices[i]->base);
}
END_TEST

START_TEST(ex1_find_boundaries)
{
	static struct bus bus;
	ck_assert_ptr_null(bus_find(&bus, 0x3f8, 1));
	ck_assert_int_eq(add(&bus, 0xe9, 1), 0);
	ck_assert_int_eq(add(&bus, 0x3f8, 8), 0);
	ck_assert_int_eq(add(&bus, 0x700, 16), 0);
	static const struct { uint64_t addr; unsigned size; int64_t base; } cases[] = {
		{ 0x3f8, 1, 0x3f8 }, { 0x3ff, 1, 0x3f8 }, { 0x3fc, 4, 0x3f8 }, { 0x3f8, 8, 0x3f8 },
		{ 0x400, 1, -1 },    { 0x3f7, 1, -1 },    { 0x3fe, 4, -1 },    { 0x3f7, 2, -1 },
		{ 0xe9, 1, 0xe9 },   { 0xe9, 2, -1 },     { 0xe8, 1, -1 },     { 0xea, 1, -1 },
		{ 0x70c, 4, 0x700 }, { 0x70d, 4, -1 },    { 0x710, 1, -1 },    { 0, 1, -1 },
		{ ~0ull, 1, -1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bus_device *d = bus_find(&bus, cases[i].addr, cases[i].size);
		if (cases[i].base < 0)
			ck_assert_msg(!d, "an access of %u at 0x%llx is not inside one device, but found [0x%llx, +%llu)",
				      cases[i].size, (unsigned long long)cases[i].addr,
				      (unsigned long long)(d ? d->base : 0), (unsigned long long)(d ? d->len : 0));
		else
			ck_assert_msg(d && d->base == (uint64_t)cases[i].base,
				      "an access of %u at 0x%llx belongs to the device at 0x%llx", cases[i].size,
				      (unsigned long long)cases[i].addr, (unsigned long long)cases[i].base);
	}
}
END_TEST

START_TEST(ex1_find_among_many)
{
	static struct bus bus;
	for (int i = 0; i < BUS_MAX_DEVICES; i++)
		ck_assert_int_eq(add(&bus, 0x10000 + 0x100 * (uint64_t)((i * 7) % BUS_MAX_DEVICES), 0x80), 0);
	for (int i = 0; i < BUS_MAX_DEVICES; i++) {
		uint64_t base = 0x10000 + 0x100 * (uint64_t)i;
		const struct bus_device *d = bus_find(&bus, base + 0x7c, 4);
		ut_require(d && d->base == base, "0x%llx belongs to the device at 0x%llx",
			   (unsigned long long)(base + 0x7c), (unsigned long long)base);
		ut_require(!bus_find(&bus, base + 0x80, 1), "0x%llx is in the gap after a device",
			   (unsigned long long)(base + 0x80));
	}
}
END_TEST

START_TEST(ex1_register_keeps_the_device_itself)
{
	static struct bus bus;
	static struct ut_device a, b;
	struct bus_device *da = ut_device_at("a", 0x100, 0x10, &a), *db = ut_device_at("b", 0x80, 0x10, &b);
	ck_assert_int_eq(bus_insert(&bus, da), 0);
	ck_assert_int_eq(bus_insert(&bus, db), 0);
	ck_assert_msg(bus_find(&bus, 0x104, 4) == da && bus_find(&bus, 0x88, 1) == db,
		      "bus_find() returns the registered device itself, not a copy: its lock and "
		      "reference count live there");
}
END_TEST

START_TEST(ex1_bus_access_and_unassigned_reads)
{
	struct vm *vm = ut_vm(0);
	struct vcpu *vcpu = ut_vcpu(vm, 0);
	static struct ut_device uart;
	ck_assert_int_eq(bus_register(&vm->pio_bus, ut_device_at("uart", ABI_COM1_PORT, 8, &uart)), 0);
	bus_write(&vm->pio_bus, vcpu, ABI_COM1_PORT + 3, 1, 0x83);
	ck_assert_msg(uart.n == 1 && uart.log[0].offset == 3 && uart.log[0].value == 0x83,
		      "a write to 0x3fb reaches the device at offset 3");
	static const struct { unsigned size; uint64_t want; } ones[] = {
		{ 1, 0xff }, { 2, 0xffff }, { 4, 0xffffffff }, { 8, ~0ull },
	};
	for (int i = 0; i < 4; i++) {
		uint64_t v = bus_read(&vm->mmio_bus, vcpu, 0xe0000000, ones[i].size);
		ck_assert_msg(v == ones[i].want, "an unassigned %u-byte read gives 0x%llx, want 0x%llx", ones[i].size,
			      (unsigned long long)v, (unsigned long long)ones[i].want);
	}
}
END_TEST

/* A device that, on a write, reads its neighbour through the same bus (which
 * deadlocks if the bus lock is held across a callback) and then takes itself
 * off the bus (a device that removes itself, like a virtio device being reset
 * away). */
static struct {
	struct bus *bus;
	struct bus_device self, *neighbour_dev;
	uint64_t neighbour_read;
	int in_callback, released, released_in_callback;
} selfrm;

static void selfrm_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)opaque, (void)offset, (void)size, (void)value;
	selfrm.in_callback = 1;
	selfrm.neighbour_read = bus_read(selfrm.bus, vcpu, selfrm.neighbour_dev->base, 1);
	ck_assert_int_eq(bus_unregister(selfrm.bus, &selfrm.self), 0);
	selfrm.in_callback = 0;
}

static void selfrm_release(struct bus_device *dev)
{
	ck_assert_ptr_eq(dev, &selfrm.self);
	selfrm.released++;
	selfrm.released_in_callback += selfrm.in_callback;
}

START_TEST(ex1_unregister_while_in_use)
{
	struct vm *vm = ut_vm(0);
	struct vcpu *vcpu = ut_vcpu(vm, 0);
	static struct ut_device neighbour;
	selfrm.bus = &vm->mmio_bus;
	selfrm.self = (struct bus_device){ .name = "self", .base = 0xe0001000, .len = 0x1000, .write = selfrm_write,
					   .release = selfrm_release };
	selfrm.neighbour_dev = ut_device_at("neighbour", 0xe0000000, 0x1000, &neighbour);
	neighbour.next_read = 0x5a;
	ck_assert_int_eq(bus_register(&vm->mmio_bus, selfrm.neighbour_dev), 0);
	ck_assert_int_eq(bus_register(&vm->mmio_bus, &selfrm.self), 0);
	bus_write(&vm->mmio_bus, vcpu, 0xe0001000, 4, 1);
	ck_assert_msg(selfrm.neighbour_read == 0x5a, "a device callback could not use the bus it sits on");
	ck_assert_msg(selfrm.released == 1 && selfrm.released_in_callback == 0,
		      "a device unregistered during its own access is released once, after the access "
		      "(released %d times, %d of them inside it)", selfrm.released, selfrm.released_in_callback);
	ck_assert_msg(bus_read(&vm->mmio_bus, vcpu, 0xe0001000, 4) == 0xffffffffu,
		      "an unregistered device's range reads as unassigned");
	ck_assert_int_eq(bus_unregister(&vm->mmio_bus, &selfrm.self), -ENOENT);
	ck_assert_int_eq(vm->mmio_bus.nr_devices, 1);
	bus_exit(&vm->mmio_bus);
	bus_exit(&vm->pio_bus);
	ck_assert_msg(fake_host_mutexes_open() == 0, "%d lock(s) left after every device and bus went",
		      fake_host_mutexes_open());
}
END_TEST

/* ---- Exercise 2: handle_mmio ------------------------------------------------------ */

static struct ut_device window;

static struct vcpu *mmio_setup(void)
{
	struct vm *vm = ut_vm(1 << 20);
	memset(&window, 0, sizeof(window));
	ut_bus_insert(&vm->mmio_bus, ut_device_at("window", ABI_TESTMMIO_GPA, ABI_TESTMMIO_SIZE, &window));
	return ut_vcpu(vm, 0);
}

START_TEST(ex2_mmio_write_reaches_device)
{
	struct vcpu *vcpu = mmio_setup();
	uint32_t v4 = 0x11223344;
	uint64_t v8 = 0x0102030405060708ull;
	uint8_t v1 = 0x5a;
	fake_kvm_queue_mmio(vcpu->fd, true, ABI_TESTMMIO_GPA + 0x10, 4, &v4);
	fake_kvm_queue_mmio(vcpu->fd, true, ABI_TESTMMIO_GPA + 0xff8, 8, &v8);
	fake_kvm_queue_mmio(vcpu->fd, true, ABI_TESTMMIO_GPA + 3, 1, &v1);
	fake_kvm_queue_exit(vcpu->fd, KVM_EXIT_HLT);
	vcpu_run_loop(vcpu);
	ck_assert_msg(window.n == 3, "3 MMIO writes must make 3 device accesses, got %d", window.n);
	static const struct { uint64_t offset; unsigned size; uint64_t value; } want[] = {
		{ 0x10, 4, 0x11223344 }, { 0xff8, 8, 0x0102030405060708ull }, { 3, 1, 0x5a },
	};
	for (int i = 0; i < 3; i++)
		ck_assert_msg(window.log[i].write && window.log[i].offset == want[i].offset &&
				      window.log[i].size == want[i].size && window.log[i].value == want[i].value,
			      "write %d: device saw offset 0x%llx size %u value 0x%llx, want 0x%llx %u 0x%llx", i,
			      (unsigned long long)window.log[i].offset, window.log[i].size,
			      (unsigned long long)window.log[i].value, (unsigned long long)want[i].offset, want[i].size,
			      (unsigned long long)want[i].value);
}
END_TEST

START_TEST(ex2_mmio_read_fills_data)
{
	struct vcpu *vcpu = mmio_setup();
	window.next_read = 0x8877665544332211ull;
	fake_kvm_queue_mmio(vcpu->fd, false, ABI_TESTMMIO_GPA + 0x20, 2, NULL);
	fake_kvm_queue_mmio(vcpu->fd, false, ABI_TESTMMIO_GPA + 0x28, 8, NULL);
	fake_kvm_queue_mmio(vcpu->fd, false, 0xe0000000, 4, NULL);
	fake_kvm_queue_exit(vcpu->fd, KVM_EXIT_HLT);
	vcpu_run_loop(vcpu);
	uint8_t got[14];
	ck_assert_uint_eq(fake_kvm_guest_received(vcpu->fd, got, sizeof(got)), 14);
	const uint8_t want[14] = { 0x11, 0x22, 0x12, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0xff, 0xff, 0xff, 0xff };
	for (int i = 0; i < 14; i++)
		ck_assert_msg(got[i] == want[i],
			      "byte %d the guest read is 0x%02x, want 0x%02x (reads 2 and 8 bytes from the device, "
			      "then 4 unassigned bytes: all ones)", i, got[i], want[i]);
}
END_TEST

START_TEST(ex2_mmio_split_lengths_are_served)
{
	/* A page-crossing access comes split at the page boundary: 3 bytes at
	 * 0xffd are 1 at 0xffd then 2 at 0xffe; a 3-byte read at 0x10 is 2 then 1. */
	struct vcpu *vcpu = mmio_setup();
	const uint8_t v3[3] = { 0x11, 0x22, 0x33 };
	window.next_read = 0x8877665544332211ull;
	fake_kvm_queue_mmio(vcpu->fd, true, ABI_TESTMMIO_GPA + 0xffd, 3, v3);
	fake_kvm_queue_mmio(vcpu->fd, false, ABI_TESTMMIO_GPA + 0x10, 3, NULL);
	fake_kvm_queue_exit(vcpu->fd, KVM_EXIT_HLT);
	vcpu_run_loop(vcpu);
	ck_assert_msg(vcpu->vm->exit_status == VMM_EXIT_HALTED, "a 3-byte MMIO exit must be served, status %d",
		      vcpu->vm->exit_status);
	static const struct { bool write; uint64_t offset; unsigned size; } want[] = {
		{ true, 0xffd, 1 }, { true, 0xffe, 2 }, { false, 0x10, 2 }, { false, 0x12, 1 },
	};
	ck_assert_msg(window.n == 4, "two 3-byte accesses must make 4 aligned device accesses, got %d", window.n);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(window.log[i].write == want[i].write && window.log[i].offset == want[i].offset &&
				      window.log[i].size == want[i].size,
			      "access %d: device saw %s offset 0x%llx size %u, want %s 0x%llx %u", i,
			      window.log[i].write ? "write" : "read", (unsigned long long)window.log[i].offset,
			      window.log[i].size, want[i].write ? "write" : "read",
			      (unsigned long long)want[i].offset, want[i].size);
	ck_assert_uint_eq(window.log[0].value, 0x11);
	ck_assert_uint_eq(window.log[1].value, 0x3322);
	uint8_t got[3];
	ck_assert_uint_eq(fake_kvm_guest_received(vcpu->fd, got, sizeof(got)), 3);
	ck_assert_msg(got[0] == 0x11 && got[1] == 0x22 && got[2] == 0x12,
		      "the guest read 0x%02x 0x%02x 0x%02x, want 0x11 0x22 (first piece) 0x12 (second)", got[0], got[1],
		      got[2]);
}
END_TEST

START_TEST(ex2_mmio_bad_length_stops_vm)
{
	static const uint32_t lens[] = { 0, 9, 16 };
	for (int i = 0; i < 3; i++) {
		fake_kvm_reset();
		struct vcpu *vcpu = mmio_setup();
		uint8_t data[8] = { 0 };
		fake_kvm_queue_mmio(vcpu->fd, i & 1, ABI_TESTMMIO_GPA, lens[i], data);
		vcpu_run_loop(vcpu);
		ck_assert_msg(vm_stopping(vcpu->vm) && vcpu->vm->exit_status == VMM_EXIT_INTERNAL_ERROR,
			      "an MMIO exit of length %u must stop the VM with VMM_EXIT_INTERNAL_ERROR", lens[i]);
		ck_assert_int_eq(window.n, 0);
	}
}
END_TEST

/* ---- Exercise 3: vm_add_region, gpa_to_region, gpa_to_hva ------------------------- */

START_TEST(ex3_add_region_numbers_slots)
{
	struct vm *vm = ut_vm(1 << 20);
	static uint8_t rom[0x10000] __attribute__((aligned(4096)));
	static uint8_t extra[0x2000] __attribute__((aligned(4096)));
	ck_assert_int_eq(vm_add_region(vm, "ram", 0, 1 << 20, vm->ram, KVM_MEM_LOG_DIRTY_PAGES), 0);
	ck_assert_int_eq(vm_add_region(vm, "rom", ABI_ROM_GPA, sizeof(rom), rom, KVM_MEM_READONLY), 0);
	ck_assert_int_eq(vm_add_region(vm, "extra", 0x200000, sizeof(extra), extra, 0), 0);
	ck_assert_int_eq(vm->nr_regions, 3);
	const struct { uint64_t gpa, size; void *hva; uint32_t flags; } want[] = {
		{ 0, 1 << 20, vm->ram, KVM_MEM_LOG_DIRTY_PAGES },
		{ ABI_ROM_GPA, sizeof(rom), rom, KVM_MEM_READONLY },
		{ 0x200000, sizeof(extra), extra, 0 },
	};
	for (int i = 0; i < 3; i++) {
		const struct fake_call *c = ut_call(KVM_SET_USER_MEMORY_REGION, i);
		const struct kvm_userspace_memory_region *mr = c->arg;
		ck_assert_msg(c->fd == vm->vm_fd && mr->slot == (uint32_t)i && mr->guest_phys_addr == want[i].gpa &&
				      mr->memory_size == want[i].size &&
				      mr->userspace_addr == (uint64_t)(uintptr_t)want[i].hva && mr->flags == want[i].flags,
			      "region %d: KVM got slot %u gpa 0x%llx size 0x%llx flags 0x%x; want slot %d, its own "
			      "gpa/size/hva/flags", i, mr->slot, (unsigned long long)mr->guest_phys_addr,
			      (unsigned long long)mr->memory_size, mr->flags, i);
		const struct mem_region *r = &vm->regions[i];
		ck_assert_msg(r->gpa == want[i].gpa && r->size == want[i].size && r->hva == want[i].hva &&
				      r->flags == want[i].flags && r->slot == (uint32_t)i,
			      "vm->regions[%d] does not record the region", i);
	}
}
END_TEST

START_TEST(ex3_add_region_refuses_unaligned)
{
	struct vm *vm = ut_vm(1 << 20);
	ck_assert_int_eq(vm_add_region(vm, "gpa", 0x1001, 0x1000, vm->ram, 0), -EINVAL);
	ck_assert_int_eq(vm_add_region(vm, "size", 0x1000, 0x1800, vm->ram, 0), -EINVAL);
	ck_assert_int_eq(vm_add_region(vm, "hva", 0x1000, 0x1000, vm->ram + 8, 0), -EINVAL);
	ck_assert_int_eq(vm_add_region(vm, "empty", 0x1000, 0, vm->ram, 0), -EINVAL);
	ck_assert_int_eq(vm->nr_regions, 0);
	ck_assert_msg(fake_kvm_count(KVM_SET_USER_MEMORY_REGION) == 0, "refuse bad regions before asking KVM");
}
END_TEST

START_TEST(ex3_add_region_refuses_overlap)
{
	struct vm *vm = ut_vm(4 << 20);
	ck_assert_int_eq(vm_add_region(vm, "a", 0x100000, 0x100000, vm->ram, 0), 0);
	static const struct { uint64_t gpa, size; } clash[] = {
		{ 0x100000, 0x100000 }, { 0x1ff000, 0x2000 }, { 0xff000, 0x2000 }, { 0, 0x400000 }, { 0x180000, 0x1000 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(clash); i++) {
		int r = vm_add_region(vm, "b", clash[i].gpa, clash[i].size, vm->ram + 0x200000, 0);
		ck_assert_msg(r == -EEXIST, "[0x%llx, +0x%llx) overlaps [0x100000, 0x200000): want -EEXIST, got %d",
			      (unsigned long long)clash[i].gpa, (unsigned long long)clash[i].size, r);
		ck_assert_msg(fake_kvm_count(KVM_SET_USER_MEMORY_REGION) == 1,
			      "[0x%llx, +0x%llx) overlaps a region: refuse it before asking KVM",
			      (unsigned long long)clash[i].gpa, (unsigned long long)clash[i].size);
	}
	ck_assert_int_eq(vm_add_region(vm, "after", 0x200000, 0x1000, vm->ram + 0x200000, 0), 0);
	ck_assert_int_eq(vm_add_region(vm, "before", 0xff000, 0x1000, vm->ram + 0x300000, 0), 0);
	ck_assert_int_eq(vm->nr_regions, 3);
}
END_TEST

START_TEST(ex3_add_region_limits_and_kvm_errors)
{
	struct vm *vm = ut_vm(1 << 20);
	fake_kvm_push_result(KVM_SET_USER_MEMORY_REGION, -ENOMEM);
	ck_assert_msg(vm_add_region(vm, "ram", 0, 0x1000, vm->ram, 0) < 0, "KVM refused the slot: fail");
	ck_assert_msg(vm->nr_regions == 0, "a region KVM refused must not be recorded");
	for (int i = 0; i < VMM_MAX_REGIONS; i++)
		ck_assert_int_eq(vm_add_region(vm, "r", 0x10000 * (uint64_t)i, 0x1000, vm->ram + 0x1000 * i, 0), 0);
	ck_assert_int_eq(vm_add_region(vm, "one-too-many", 0x100000, 0x1000, vm->ram, 0), -ENOSPC);
	for (int i = 0; i < VMM_MAX_REGIONS; i++)
		ck_assert_msg(vm->regions[i].slot == (uint32_t)i, "region %d has slot %u", i, vm->regions[i].slot);
}
END_TEST

static uint8_t edge_rom[0x10000] __attribute__((aligned(4096)));

static struct vm *two_regions(void)
{
	struct vm *vm = ut_vm(1 << 20);
	vm->regions[0] = (struct mem_region){ .gpa = 0, .size = 1 << 20, .hva = vm->ram, .slot = 0, .name = "ram" };
	vm->regions[1] = (struct mem_region){ .gpa = ABI_ROM_GPA, .size = sizeof(edge_rom), .hva = edge_rom, .slot = 1,
					      .flags = KVM_MEM_READONLY, .name = "rom" };
	vm->nr_regions = 2;
	return vm;
}

START_TEST(ex3_gpa_to_region_edges)
{
	struct vm *vm = two_regions();
	static const struct { uint64_t gpa; int region; } cases[] = {
		{ 0, 0 }, { 0xfffff, 0 }, { 0x100000, -1 }, { ABI_ROM_GPA - 1, -1 }, { ABI_ROM_GPA, 1 },
		{ 0xffffffff, 1 }, { 0x100000000ull, -1 }, { ~0ull, -1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct mem_region *r = gpa_to_region(vm, cases[i].gpa);
		const struct mem_region *want = cases[i].region < 0 ? NULL : &vm->regions[cases[i].region];
		ck_assert_msg(r == want, "gpa_to_region(0x%llx) gave %s, want %s", (unsigned long long)cases[i].gpa,
			      r ? r->name : "NULL", want ? want->name : "NULL");
	}
}
END_TEST

START_TEST(ex3_gpa_to_hva_edges)
{
	struct vm *vm = two_regions();
	static const struct { uint64_t gpa, len; int region; uint64_t offset; } cases[] = {
		{ 0, 1 << 20, 0, 0 },          { 0, (1 << 20) + 1, -1, 0 },        { 0xffffc, 4, 0, 0xffffc },
		{ 0xffffd, 4, -1, 0 },         { 0x100000, 1, -1, 0 },              { ABI_ROM_GPA + 0xfff0, 0x10, 1, 0xfff0 },
		{ ABI_ROM_GPA + 0xfff0, 0x11, -1, 0 }, { 0x1000, ~0ull, -1, 0 },    { 0x1000, ~0ull - 0x800, -1, 0 },
		{ ~0ull, 1, -1, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		void *p = gpa_to_hva(vm, cases[i].gpa, cases[i].len);
		void *want = cases[i].region < 0 ? NULL : (uint8_t *)vm->regions[cases[i].region].hva + cases[i].offset;
		ck_assert_msg(p == want, "gpa_to_hva(0x%llx, 0x%llx) = %p, want %p%s", (unsigned long long)cases[i].gpa,
			      (unsigned long long)cases[i].len, p, want,
			      want ? "" : " (the range is not inside one region)");
	}
}
END_TEST

Suite *lab03_bus_memory_suite(void)
{
	Suite *s = suite_create("lab03-bus-memory");
	TCase *tc = ut_tcase("bus", 10);
	tcase_add_test(tc, ex1_register_keeps_devices_sorted);
	tcase_add_test(tc, ex1_register_refuses_overlaps);
	tcase_add_test(tc, ex1_register_refuses_bad_ranges);
	tcase_add_test(tc, ex1_find_boundaries);
	tcase_add_test(tc, ex1_find_among_many);
	tcase_add_test(tc, ex1_register_keeps_the_device_itself);
	tcase_add_test(tc, ex1_bus_access_and_unassigned_reads);
	tcase_add_test(tc, ex1_unregister_while_in_use);
	suite_add_tcase(s, tc);
	tc = ut_tcase("mmio", 10);
	tcase_add_test(tc, ex2_mmio_write_reaches_device);
	tcase_add_test(tc, ex2_mmio_read_fills_data);
	tcase_add_test(tc, ex2_mmio_split_lengths_are_served);
	tcase_add_test(tc, ex2_mmio_bad_length_stops_vm);
	suite_add_tcase(s, tc);
	tc = ut_tcase("memslots", 10);
	tcase_add_test(tc, ex3_add_region_numbers_slots);
	tcase_add_test(tc, ex3_add_region_refuses_unaligned);
	tcase_add_test(tc, ex3_add_region_refuses_overlap);
	tcase_add_test(tc, ex3_add_region_limits_and_kvm_errors);
	tcase_add_test(tc, ex3_gpa_to_region_edges);
	tcase_add_test(tc, ex3_gpa_to_hva_edges);
	suite_add_tcase(s, tc);
	return s;
}
