/* SPDX-License-Identifier: MIT */
/*
 * The test device (guest_abi.h): registers through which a guest observes
 * what the VMM and KVM did — values it wrote coming back, how many MMIO exits
 * and ROM writes the VMM saw, the dirty log, KVM_TRANSLATE — so that the
 * grader judges by what the guest saw, not by what the VMM claims. Also the
 * test MMIO window, the ROM slot and RAM the guest plugs in and out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "devices.h"

/* The hot-plugged RAM's memslot: past every slot of vm->regions
 * (memory.c), so the VMM's own GPA look-ups never see it. */
#define TESTDEV_HOTPLUG_SLOT VMM_MAX_REGIONS

/* One device model on three ranges, each its own bus device: the port
 * registers, the test MMIO window and the ROM. It is freed when the last of
 * the three is released. */
struct testdev {
	struct bus_device port, window_dev, rom_dev;
	atomic_int ranges;        /* bus devices not yet released */
	struct vm *vm;
	uint32_t scratch, data;
	atomic_uint mmio_accesses, rom_writes;
	uint8_t window[ABI_TESTMMIO_SIZE];
	uint8_t *rom;
	struct mem_region hotplug; /* .hva NULL: nothing plugged */
};

static uint32_t testdev_translate(struct vcpu *vcpu, uint32_t linear)
{
	struct kvm_translation tr = { .linear_address = linear };
	if (kvm_ioctl(vcpu->fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
		return ~0u;
	return (uint32_t)tr.physical_address;
}

/* ABI_CMD_PLUG_RAM: a memslot created or deleted while the guest runs,
 * from the vCPU's own thread (api.rst 4.35: KVM_SET_USER_MEMORY_REGION may
 * be called at any time; KVM makes it visible to every vCPU before it
 * returns). Fresh memory each time, so a plugged slot always reads zero,
 * and it is freed only once KVM no longer maps it. 1: done, 0: refused. */
static uint32_t testdev_plug_ram(struct testdev *t, uint32_t plug)
{
	struct mem_region *slot = &t->hotplug;
	if (plug > 1 || (plug == 1) == (slot->hva != NULL))
		return 0;
	if (plug) {
		void *ram = host_alloc_guest_ram(ABI_HOTPLUG_SIZE);
		if (!ram)
			return 0;
		*slot = (struct mem_region){
			.gpa = ABI_HOTPLUG_GPA, .size = ABI_HOTPLUG_SIZE, .hva = ram,
			.slot = TESTDEV_HOTPLUG_SLOT, .name = "hotplug",
		};
		if (vm_set_memslot(t->vm, slot) < 0) {
			host_free_guest_ram(ram, ABI_HOTPLUG_SIZE);
			slot->hva = NULL;
			return 0;
		}
		return 1;
	}
	struct mem_region gone = *slot;
	gone.size = 0; /* memory_size 0 deletes the slot */
	if (vm_set_memslot(t->vm, &gone) < 0)
		return 0;
	host_free_guest_ram(slot->hva, ABI_HOTPLUG_SIZE);
	slot->hva = NULL;
	return 1;
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
	case ABI_CMD_PLUG_RAM:      t->data = testdev_plug_ram(t, t->data); break;
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

static void testdev_put(struct testdev *t)
{
	if (atomic_fetch_sub(&t->ranges, 1) != 1)
		return;
	if (t->hotplug.hva) /* the VM outlives its devices (vmm.c): take the slot out first */
		testdev_plug_ram(t, 0);
	if (t->rom)
		host_free_guest_ram(t->rom, ABI_ROM_SIZE);
	free(t);
}

static void testdev_release(struct bus_device *dev)
{
	testdev_put(dev->opaque);
}

static int testdev_register(struct testdev *t, struct bus *bus, struct bus_device *dev)
{
	dev->opaque = t;
	dev->release = testdev_release;
	atomic_fetch_add(&t->ranges, 1);
	int r = bus_register(bus, dev);
	if (r < 0)
		atomic_fetch_sub(&t->ranges, 1);
	return r;
}

/* The ROM: a read-only slot whose writes come back as MMIO exits to its bus
 * device, or, where the kernel lacks read-only slots, pure MMIO. */
static int rom_init(struct vm *vm, struct testdev *t)
{
	t->rom = host_alloc_guest_ram(ABI_ROM_SIZE);
	if (!t->rom)
		return -ENOMEM;
	memcpy(t->rom, ABI_ROM_SIGNATURE, sizeof(ABI_ROM_SIGNATURE));
	for (size_t i = 16; i < ABI_ROM_SIZE; i++)
		t->rom[i] = (uint8_t)i;
	t->rom_dev = (struct bus_device){
		.name = "rom", .base = ABI_ROM_GPA, .len = ABI_ROM_SIZE, .read = rom_read, .write = rom_write,
	};
	int r = testdev_register(t, &vm->mmio_bus, &t->rom_dev);
	if (r < 0 || !vm_has_cap(vm, KVM_CAP_READONLY_MEM))
		return r;
	return vm_add_region(vm, "rom", ABI_ROM_GPA, ABI_ROM_SIZE, t->rom, KVM_MEM_READONLY);
}

int testdev_init(struct vm *vm)
{
	struct testdev *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->vm = vm;
	atomic_store(&t->ranges, 1); /* this function's, until the ranges are on */
	t->port = (struct bus_device){
		.name = "testdev", .base = ABI_TESTDEV_PORT, .len = 16, .read = testdev_read, .write = testdev_write,
	};
	t->window_dev = (struct bus_device){
		.name = "test-mmio", .base = ABI_TESTMMIO_GPA, .len = ABI_TESTMMIO_SIZE,
		.read = window_read, .write = window_write,
	};
	int r = testdev_register(t, &vm->pio_bus, &t->port);
	if (r == 0)
		r = testdev_register(t, &vm->mmio_bus, &t->window_dev);
	if (r == 0)
		r = rom_init(vm, t);
	testdev_put(t); /* this function's reference: the bus devices hold the rest */
	return r;
}
