/* SPDX-License-Identifier: MIT */
/*
 * The test device (guest_abi.h): registers through which a guest observes
 * what the VMM and KVM did — values it wrote coming back, how many MMIO exits
 * and ROM writes the VMM saw, the dirty log, KVM_TRANSLATE — so that the
 * grader judges by what the guest saw, not by what the VMM claims. Also the
 * test MMIO window and the ROM slot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "devices.h"

struct testdev {
	struct vm *vm;
	uint32_t scratch, data;
	atomic_uint mmio_accesses, rom_writes;
	uint8_t window[ABI_TESTMMIO_SIZE];
	uint8_t *rom;
};

static struct testdev *testdev_state;

static uint32_t testdev_translate(struct vcpu *vcpu, uint32_t linear)
{
	struct kvm_translation tr = { .linear_address = linear };
	if (kvm_ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return ~0u;
	return (uint32_t)tr.physical_address;
}

/* One command on DATA, the result back in DATA (guest_abi.h, abi_testdev_cmd). */
static void testdev_command(struct vcpu *vcpu, struct testdev *t, uint32_t cmd)
{
	long n;
	switch (cmd) {
	case ABI_CMD_DIRTY_SYNC:
		n = dirty_sync(t->vm, true);
		t->data = n < 0 ? ~0u : (uint32_t)n;
		break;
	case ABI_CMD_TRANSLATE:     t->data = testdev_translate(vcpu, t->data); break;
	case ABI_CMD_ROM_WRITES:    t->data = atomic_load(&t->rom_writes); break;
	case ABI_CMD_DOORBELLS:     t->data = atomic_load(&t->vm->doorbells); break;
	case ABI_CMD_MMIO_ACCESSES: t->data = atomic_load(&t->mmio_accesses); break;
	default:                    t->data = ~0u; break;
	}
}

static uint64_t testdev_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu;
	struct testdev *t = opaque;
	if (offset + size <= ABI_TESTDEV_SCRATCH + 4) /* SCRATCH is at offset 0 */
		return t->scratch >> ((offset - ABI_TESTDEV_SCRATCH) * 8);
	if (offset == ABI_TESTDEV_ID && size == 4)
		return ABI_TESTDEV_MAGIC;
	if (offset == ABI_TESTDEV_DATA && size == 4)
		return t->data;
	return ~0ull;
}

static void testdev_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct testdev *t = opaque;
	if (offset + size <= ABI_TESTDEV_SCRATCH + 4) { /* SCRATCH is at offset 0 */
		unsigned shift = (unsigned)(offset - ABI_TESTDEV_SCRATCH) * 8;
		uint32_t mask = (size == 4 ? ~0u : (1u << (size * 8)) - 1) << shift;
		t->scratch = (t->scratch & ~mask) | (((uint32_t)value << shift) & mask);
	} else if (offset == ABI_TESTDEV_CMD && size == 4) {
		testdev_command(vcpu, t, (uint32_t)value);
	} else if (offset == ABI_TESTDEV_DATA && size == 4) {
		t->data = (uint32_t)value;
	}
}

static uint64_t window_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu;
	struct testdev *t = opaque;
	uint64_t value = 0;
	atomic_fetch_add(&t->mmio_accesses, 1);
	memcpy(&value, t->window + offset, size); /* the bus checked offset + size <= len */
	return value;
}

static void window_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	struct testdev *t = opaque;
	atomic_fetch_add(&t->mmio_accesses, 1);
	memcpy(t->window + offset, &value, size);
}

/* A guest write to the read-only slot exits as MMIO (api.rst 4.35,
 * KVM_MEM_READONLY); ROM ignores it, the VMM counts it. */
static void rom_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu, (void)offset, (void)size, (void)value;
	struct testdev *t = opaque;
	atomic_fetch_add(&t->rom_writes, 1);
}

static uint64_t rom_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	/* Only reached if the kernel has no read-only slots and the ROM is MMIO. */
	(void)vcpu;
	struct testdev *t = opaque;
	uint64_t value = 0;
	memcpy(&value, t->rom + offset, size);
	return value;
}

int testdev_setup(struct vm *vm)
{
	struct testdev *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	t->vm = vm;
	testdev_state = t;
	struct bus_device port = {
		.name = "testdev", .base = ABI_TESTDEV_PORT, .len = 16, .opaque = t,
		.read = testdev_read, .write = testdev_write,
	};
	struct bus_device window = {
		.name = "test-mmio", .base = ABI_TESTMMIO_GPA, .len = ABI_TESTMMIO_SIZE, .opaque = t,
		.read = window_read, .write = window_write,
	};
	int r = bus_register(&vm->pio_bus, &port);
	return r < 0 ? r : bus_register(&vm->mmio_bus, &window);
}

int rom_setup(struct vm *vm)
{
	struct testdev *t = testdev_state;
	t->rom = host_alloc_guest_ram(ABI_ROM_SIZE);
	if (!t->rom)
		return -1;
	memcpy(t->rom, ABI_ROM_SIGNATURE, sizeof(ABI_ROM_SIGNATURE));
	for (size_t i = 16; i < ABI_ROM_SIZE; i++)
		t->rom[i] = (uint8_t)i;
	struct bus_device rom = {
		.name = "rom", .base = ABI_ROM_GPA, .len = ABI_ROM_SIZE, .opaque = t,
		.read = rom_read, .write = rom_write,
	};
	int r = bus_register(&vm->mmio_bus, &rom);
	if (r < 0)
		return r;
	/* Where the kernel lacks read-only slots the ROM stays pure MMIO. */
	if (!vm_has_cap(vm, KVM_CAP_READONLY_MEM))
		return 0;
	return vm_add_region(vm, "rom", ABI_ROM_GPA, ABI_ROM_SIZE, t->rom, KVM_MEM_READONLY);
}
