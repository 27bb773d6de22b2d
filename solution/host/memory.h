/* SPDX-License-Identifier: MIT */
/* Physical memory: the E820 map, the page allocator and the kernel's page tables. */
#ifndef KVMLABS_HOST_MEMORY_H
#define KVMLABS_HOST_MEMORY_H

#include <stdbool.h>
#include <stdint.h>

#include "boot_info.h"

extern char kernel_start[], kernel_end[];

void memory_init(const struct boot_info *bi);
void memory_print_map(const struct boot_info *bi);
uint64_t memory_ram_bytes(void);
uint64_t memory_free_pages(void);

#endif
