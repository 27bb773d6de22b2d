/* SPDX-License-Identifier: MIT */
/*
 * pc-testdev: QEMU's x86 test device (hw/misc/pc-testdev.c), which the
 * kvm-unit-tests x86 images are run with (scripts/arch-run.bash, x86/run):
 *
 *   0xe0-0xe3    one 32-bit register; an access of any size reads or writes
 *                the byte lanes its port selects (the emulator test's string
 *                and rep I/O)
 *   0xe4         a 4-byte write names a guest page to "flush": QEMU
 *                mprotect()s its host mapping to make KVM drop its sptes;
 *                accepted here and ignored (the host seam has no mprotect)
 *   0xe8-0xeb    QEMU's byte-wise view of the same register: left out, as
 *                0xe9 is the debug console of the kit's guest ABI (and
 *                Bochs'); no kvm-unit-tests x86 test uses it
 *   0x2000+n     a 1-byte write sets interrupt line n (n < 24) to value != 0,
 *                through KVM_IRQ_LINE (api.rst 4.25); needs the irqchip
 *   0xff000000   64 KiB of MMIO scratch memory the emulator test runs
 *                instructions against
 *
 * One state on four bus ranges, freed when the last range is released.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "devices.h"

struct pc_testdev {
	struct bus_device ranges[4];
	atomic_int live;          /* ranges not yet released */
	struct vm *vm;
	uint32_t data;            /* the register at 0xe0 and 0xe8 */
	uint8_t mem[ABI_PC_TESTDEV_MMIO_SIZE];
};

/* The byte lanes an access at port offset `offset` of `size` bytes covers
 * (the bus keeps offset + size within the 4 ports). */
static uint32_t lane_mask(uint64_t offset, unsigned size)
{
	return (size >= 4 ? ~0u : (1u << (size * 8)) - 1) << ((offset & 3) * 8);
}

static uint64_t data_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu;
	struct pc_testdev *t = opaque;
	return (t->data & lane_mask(offset, size)) >> ((offset & 3) * 8);
}

static void data_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	struct pc_testdev *t = opaque;
	uint32_t mask = lane_mask(offset, size);
	t->data = (t->data & ~mask) | (((uint32_t)value << ((offset & 3) * 8)) & mask);
}

static void flush_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu, (void)opaque, (void)offset, (void)size, (void)value;
}

static void irq_line_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	struct pc_testdev *t = opaque;
	if (size != 1 || !t->vm->has_irqchip)
		return;
	struct kvm_irq_level level = { .irq = (uint32_t)offset, .level = value != 0 };
	kvm_ioctl(t->vm->vm_fd, KVM_IRQ_LINE, &level);
}

static uint64_t mem_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu;
	struct pc_testdev *t = opaque;
	uint64_t value = 0;
	memcpy(&value, t->mem + offset, size); /* the bus checked offset + size <= len */
	return value;
}

static void mem_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	struct pc_testdev *t = opaque;
	memcpy(t->mem + offset, &value, size);
}

static void pc_testdev_put(struct pc_testdev *t)
{
	if (atomic_fetch_sub(&t->live, 1) == 1)
		free(t);
}

static void pc_testdev_release(struct bus_device *dev)
{
	pc_testdev_put(dev->opaque);
}

int pc_testdev_init(struct vm *vm)
{
	struct pc_testdev *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->vm = vm;
	const struct bus_device ranges[] = {
		{ .name = "pc-testdev", .base = ABI_PC_TESTDEV_PORT, .len = 4, .read = data_read, .write = data_write },
		{ .name = "pc-testdev-flush", .base = ABI_PC_TESTDEV_FLUSH, .len = 4, .write = flush_write },
		{ .name = "pc-testdev-irq", .base = ABI_PC_TESTDEV_IRQ, .len = ABI_PC_TESTDEV_IRQS,
		  .write = irq_line_write },
		{ .name = "pc-testdev-mem", .base = ABI_PC_TESTDEV_MMIO_GPA, .len = ABI_PC_TESTDEV_MMIO_SIZE,
		  .read = mem_read, .write = mem_write },
	};
	_Static_assert(ARRAY_SIZE(ranges) == ARRAY_SIZE(t->ranges), "one bus device per range");
	atomic_store(&t->live, 1); /* this function's, until the ranges are on */
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(ranges) && r == 0; i++) {
		t->ranges[i] = ranges[i];
		t->ranges[i].opaque = t;
		t->ranges[i].release = pc_testdev_release;
		atomic_fetch_add(&t->live, 1);
		r = bus_register(i == ARRAY_SIZE(ranges) - 1 ? &vm->mmio_bus : &vm->pio_bus, &t->ranges[i]);
		if (r < 0)
			atomic_fetch_sub(&t->live, 1);
	}
	pc_testdev_put(t); /* this function's reference: the bus devices hold the rest */
	return r;
}
