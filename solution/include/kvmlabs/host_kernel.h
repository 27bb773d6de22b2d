/* SPDX-License-Identifier: MIT */
/*
 * What the bare-metal host kernel (solution/host) offers minikvm (solution/kvm).
 * The host identity-maps all physical memory, so a kernel pointer is also the
 * physical address VMX structures (VMXON region, VMCS, page tables) need.
 */
#ifndef KVMLABS_HOST_KERNEL_H
#define KVMLABS_HOST_KERNEL_H

#include <stddef.h>
#include <stdint.h>

/* One zeroed 4 KiB page, virt == phys. NULL when memory is exhausted. */
void *host_page_alloc(void);
void host_page_free(void *page);

/* n contiguous zeroed pages aligned to `align` bytes (a power of two >= 4096). */
void *host_pages_alloc(size_t n, size_t align);
void host_pages_free(void *pages, size_t n);

static inline uint64_t host_virt_to_phys(const void *p) { return (uint64_t)(uintptr_t)p; }
static inline void *host_phys_to_virt(uint64_t pa) { return (void *)(uintptr_t)pa; }

#endif
