/* SPDX-License-Identifier: MIT */
/*
 * fw_cfg, QEMU's firmware configuration device, in its traditional I/O
 * interface (QEMU docs/specs/fw_cfg.rst, "Selector (Control) Register" and
 * "Data Register"): a 16-bit write to the selector port picks an item and
 * rewinds it, each byte read from the data port returns the item's next byte,
 * little-endian; reads past the end of an item, or of an item that does not
 * exist, return 0. The kvm-unit-tests learn how many CPUs to wait for and
 * how much RAM they have from it (lib/x86/fwcfg.c, fwcfg_get_nb_cpus()), so
 * without it they wait for 0xffff CPUs, an unassigned port's all-ones.
 *
 * As QEMU's on a PC, both registers are one 2-byte I/O range at 0x510
 * (fw_cfg_comb_*): a 16-bit write at the base selects, a byte read at either
 * port reads data; data writes have been ignored since QEMU 2.4 and so are
 * they here. No DMA interface (FW_CFG_ID bit 1 clear), no file directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/guest_abi.h>

#include "../vmm.h"
#include "devices.h"

/* FW_CFG_ID: bit 0, the traditional interface (fw_cfg.rst, "Interface
 * Version / Feature Bitmap"). */
#define FW_CFG_FEATURE_TRADITIONAL 1u

struct fw_cfg_item {
	uint16_t key;
	uint8_t len;
	uint8_t data[8];
};

struct fw_cfg {
	struct bus_device dev;
	struct fw_cfg_item items[5];
	unsigned nr_items;
	const struct fw_cfg_item *cur; /* NULL: an unknown key */
	uint32_t offset;
};

static void item_add(struct fw_cfg *f, uint16_t key, uint64_t value, uint8_t len)
{
	struct fw_cfg_item *it = &f->items[f->nr_items++];
	it->key = key;
	it->len = len;
	for (unsigned i = 0; i < len; i++)
		it->data[i] = (uint8_t)(value >> (8 * i));
}

static uint64_t fw_cfg_read(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size)
{
	(void)vcpu, (void)offset;
	struct fw_cfg *f = opaque;
	if (size != 1)
		return ~0ull; /* not a valid access of the device: as if unassigned */
	if (!f->cur || f->offset >= f->cur->len)
		return 0;
	return f->cur->data[f->offset++];
}

static void fw_cfg_write(struct vcpu *vcpu, void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	(void)vcpu;
	struct fw_cfg *f = opaque;
	if (offset != 0 || size != 2)
		return; /* data writes and odd selector writes are ignored */
	/* Bits 14 and 15 (write channel, architecture-local) are part of the
	 * key: 0x8005 is not NB_CPUS. */
	uint16_t key = (uint16_t)value;
	f->cur = NULL;
	f->offset = 0;
	for (unsigned i = 0; i < f->nr_items; i++)
		if (f->items[i].key == key)
			f->cur = &f->items[i];
}

static void fw_cfg_release(struct bus_device *dev)
{
	free(dev->opaque);
}

int fw_cfg_init(struct vm *vm)
{
	struct fw_cfg *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	uint32_t signature;
	memcpy(&signature, ABI_FW_CFG_SIGNATURE, sizeof(signature));
	item_add(f, ABI_FW_CFG_SIGNATURE_KEY, signature, 4);
	item_add(f, ABI_FW_CFG_ID, FW_CFG_FEATURE_TRADITIONAL, 4);
	item_add(f, ABI_FW_CFG_RAM_SIZE, vm->opt->mem_size, 8);
	/* Every vCPU is present from the start: as many as there may be. */
	item_add(f, ABI_FW_CFG_NB_CPUS, vm->opt->cpus, 2);
	item_add(f, ABI_FW_CFG_MAX_CPUS, vm->opt->cpus, 2);
	f->dev = (struct bus_device){
		.name = "fw_cfg", .base = ABI_FW_CFG_PORT, .len = 2, .opaque = f,
		.read = fw_cfg_read, .write = fw_cfg_write, .release = fw_cfg_release,
	};
	int r = bus_register(&vm->pio_bus, &f->dev);
	if (r < 0)
		free(f);
	return r;
}
