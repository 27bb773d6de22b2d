/* SPDX-License-Identifier: MIT */
/*
 * What the kvm-unit-tests' boot protocol gives a multiboot kernel, for the
 * kut-* guests: the multiboot information with its command line and module
 * (Multiboot Specification 0.6.96, 3.3; kvm-unit-tests lib/x86/setup.c) and
 * fw_cfg's traditional I/O interface (QEMU docs/specs/fw_cfg.rst;
 * kvm-unit-tests lib/x86/fwcfg.c).
 */
#ifndef RT_KUT_H
#define RT_KUT_H

#include "rt.h"

struct mb_info {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
	uint32_t mods_count, mods_addr;
};
struct mb_module { uint32_t start, end, string, reserved; };
#define MBI_FLAG_MEM     (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS    (1u << 3)

/* Select an item, then read its first `bytes` bytes, little-endian. */
static inline uint64_t fw_cfg_read(uint16_t key, unsigned bytes)
{
	uint64_t v = 0;
	outw(ABI_FW_CFG_PORT, key);
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)inb(ABI_FW_CFG_PORT + 1) << (8 * i);
	return v;
}

/* The RAM size fw_cfg reports (--mem), or 0 where no fw_cfg answers with its
 * signature (a VMM without it). */
static inline uint64_t fw_cfg_ram_size(void)
{
	uint32_t sig = (uint32_t)fw_cfg_read(ABI_FW_CFG_SIGNATURE_KEY, 4);
	return memcmp(&sig, ABI_FW_CFG_SIGNATURE, 4) ? 0 : fw_cfg_read(ABI_FW_CFG_RAM_SIZE, 8);
}

#endif
