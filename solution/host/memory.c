// SPDX-License-Identifier: MIT
/*
 * Physical memory of the host.
 *
 * The E820 map says which ranges are RAM. Above 1 MiB, every RAM page that is
 * not the kernel, the guest archive or the allocator's own bitmap is handed
 * out by a first-fit bitmap allocator (one bit per 4 KiB page; set = in use),
 * which can also find long, aligned runs: minikvm's VMX structures want single
 * pages, guest RAM wants megabytes aligned to 2 MiB. Memory below 1 MiB (BIOS
 * data, boot code, the boot page tables) is never handed out.
 *
 * All RAM is identity-mapped (virt == phys, see host_kernel.h): boot/boot.S
 * maps 0-4 GiB with 2 MiB pages, memory_init() adds any RAM above 4 GiB and
 * unmaps two 4 KiB pages so bugs fault instead of corrupting memory: page 0
 * (NULL) and the guard page under the kernel stack.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <kvmlabs/host.h>
#include <kvmlabs/host_kernel.h>
#include <x86/const.h>
#include <x86/insns.h>
#include <x86/pgtable.h>
#include "memory.h"
#include "panic.h"
#include "trap.h"

#define LOW_MEMORY_END   0x100000ul
#define GIB              (1ul << HUGE_PAGE_SHIFT)  /* what one PDPT entry maps */
#define MAX_PHYS_TOP     (PT64_ENT_PER_PAGE * GIB)  /* one PDPT */
#define BITS_PER_WORD    64

static uint64_t *page_bitmap;      /* bit set = page in use or not RAM */
static uint64_t page_count;        /* pages the bitmap covers, from address 0 */
static uint64_t pages_free;
static uint64_t ram_bytes;
static uint64_t single_page_hint;  /* all pages below it were in use at some point */

static bool page_used(uint64_t pfn)
{
	return page_bitmap[pfn / BITS_PER_WORD] & (1ull << (pfn % BITS_PER_WORD));
}

static void mark_used(uint64_t first, uint64_t count)
{
	for (uint64_t pfn = first; pfn < first + count && pfn < page_count; pfn++)
		page_bitmap[pfn / BITS_PER_WORD] |= 1ull << (pfn % BITS_PER_WORD);
}

static void mark_free(uint64_t first, uint64_t count)
{
	for (uint64_t pfn = first; pfn < first + count && pfn < page_count; pfn++)
		page_bitmap[pfn / BITS_PER_WORD] &= ~(1ull << (pfn % BITS_PER_WORD));
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

static const char *e820_type_name(uint32_t type)
{
	static const char *const names[] = {
		[1] = "RAM", [2] = "reserved", [3] = "ACPI data", [4] = "ACPI NVS",
		[5] = "unusable", [7] = "persistent",
	};
	return type < ARRAY_SIZE(names) && names[type] ? names[type] : "other";
}

void memory_print_map(const struct boot_info *bi)
{
	printf("kvmlabs-host: E820 memory map (%u entries):\n", bi->e820_count);
	for (uint32_t i = 0; i < bi->e820_count; i++) {
		const struct boot_e820_entry *e = &bi->e820[i];
		printf("  0x%012lx-0x%012lx %s\n", e->base, e->base + e->length - 1, e820_type_name(e->type));
	}
}

/* Where a RAM range [base, base+len) lies in E820 RAM, entirely: true/false. */
static bool range_is_ram(const struct boot_info *bi, uint64_t base, uint64_t len)
{
	for (uint32_t i = 0; i < bi->e820_count; i++) {
		const struct boot_e820_entry *e = &bi->e820[i];
		if (e->type == E820_TYPE_RAM && base >= e->base && base + len <= e->base + e->length)
			return true;
	}
	return false;
}

/* Page tables: the boot PML4 and PDPT (boot/boot.S) stay in use. */
static uint64_t *pdpt(void) { return (uint64_t *)(uintptr_t)BOOT_PDPT_ADDR; }

static void map_ram_above_4g(uint64_t top)
{
	for (uint64_t gib = BOOT_PD_COUNT; gib * GIB < top; gib++) {
		uint64_t *pd = host_page_alloc();
		if (!pd)
			host_panic("no page for the page directory of RAM at %lu GiB", gib);
		for (uint64_t i = 0; i < PT64_ENT_PER_PAGE; i++)
			pd[i] = (gib * GIB + i * LARGE_PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK |
				PT_PAGE_SIZE_MASK;
		pdpt()[gib] = host_virt_to_phys(pd) | PT_PRESENT_MASK | PT_WRITABLE_MASK;
	}
	write_cr3(read_cr3());
}

/* Replace the 2 MiB mapping around addr (below 4 GiB) by a page table, so
 * single 4 KiB pages in it can be unmapped. */
static uint64_t *split_large_page(uint64_t addr)
{
	uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt()[addr / GIB] & PT64_BASE_ADDR_MASK);
	uint64_t *pde = &pd[(addr % GIB) / LARGE_PAGE_SIZE];
	if (!(*pde & PT_PAGE_SIZE_MASK))
		return (uint64_t *)(uintptr_t)(*pde & PT64_BASE_ADDR_MASK);
	uint64_t *pt = host_page_alloc();
	if (!pt)
		host_panic("no page to split the mapping at %#lx", addr);
	uint64_t base = align_down(addr, LARGE_PAGE_SIZE);
	for (uint64_t i = 0; i < PT64_ENT_PER_PAGE; i++)
		pt[i] = (base + i * PAGE_SIZE) | PT_PRESENT_MASK | PT_WRITABLE_MASK;
	*pde = host_virt_to_phys(pt) | PT_PRESENT_MASK | PT_WRITABLE_MASK;
	write_cr3(read_cr3());
	return pt;
}

static void unmap_page(uint64_t addr)
{
	uint64_t *pt = split_large_page(addr);
	pt[(addr % LARGE_PAGE_SIZE) / PAGE_SIZE] = 0;
	invlpg((void *)(uintptr_t)addr);
}

void memory_init(const struct boot_info *bi)
{
	uint64_t top = 0;
	for (uint32_t i = 0; i < bi->e820_count; i++) {
		const struct boot_e820_entry *e = &bi->e820[i];
		if (e->type != E820_TYPE_RAM)
			continue;
		ram_bytes += e->length;
		if (e->base + e->length > top)
			top = e->base + e->length;
	}
	if (top > MAX_PHYS_TOP) {
		printf("kvmlabs-host: ignoring RAM above %lu GiB\n", MAX_PHYS_TOP / GIB);
		top = MAX_PHYS_TOP;
	}
	page_count = align_up(top, PAGE_SIZE) / PAGE_SIZE;

	/* The bitmap goes right behind whatever the boot code loaded. */
	uint64_t used_end = (uint64_t)(uintptr_t)kernel_end;
	if (bi->archive_size && bi->archive_addr + bi->archive_size > used_end)
		used_end = bi->archive_addr + bi->archive_size;
	uint64_t bitmap_addr = align_up(used_end, PAGE_SIZE);
	uint64_t bitmap_bytes = align_up(align_up(page_count, BITS_PER_WORD) / 8, PAGE_SIZE);
	if (!range_is_ram(bi, bitmap_addr, bitmap_bytes))
		host_panic("no RAM for the page bitmap at %#lx (%lu bytes)", bitmap_addr, bitmap_bytes);
	page_bitmap = (uint64_t *)(uintptr_t)bitmap_addr;
	memset(page_bitmap, 0xff, bitmap_bytes);

	/* RAM first, then every other type on top: where E820 entries overlap,
	 * "not RAM" wins. */
	for (uint32_t i = 0; i < bi->e820_count; i++) {
		const struct boot_e820_entry *e = &bi->e820[i];
		uint64_t start = align_up(e->base < LOW_MEMORY_END ? LOW_MEMORY_END : e->base, PAGE_SIZE);
		uint64_t end = align_down(e->base + e->length, PAGE_SIZE);
		if (e->type == E820_TYPE_RAM && end > start)
			mark_free(start / PAGE_SIZE, (end - start) / PAGE_SIZE);
	}
	for (uint32_t i = 0; i < bi->e820_count; i++) {
		const struct boot_e820_entry *e = &bi->e820[i];
		if (e->type != E820_TYPE_RAM)
			mark_used(e->base / PAGE_SIZE,
				  (align_up(e->base + e->length, PAGE_SIZE) - align_down(e->base, PAGE_SIZE)) / PAGE_SIZE);
	}
	mark_used(0, LOW_MEMORY_END / PAGE_SIZE);
	mark_used(LOW_MEMORY_END / PAGE_SIZE, (bitmap_addr + bitmap_bytes - LOW_MEMORY_END) / PAGE_SIZE);

	pages_free = 0;
	for (uint64_t pfn = 0; pfn < page_count; pfn++)
		pages_free += !page_used(pfn);
	single_page_hint = 0;

	if (top > BOOT_PD_COUNT * GIB)
		map_ram_above_4g(top);
	unmap_page(0);
	unmap_page((uint64_t)(uintptr_t)kernel_stack_guard);
}

uint64_t memory_ram_bytes(void) { return ram_bytes; }
uint64_t memory_free_pages(void) { return pages_free; }

/* ---- host_kernel.h ---------------------------------------------------------- */

// @region host_pages_alloc
void *host_pages_alloc(size_t n, size_t align)
{
	if (n == 0 || align < PAGE_SIZE || (align & (align - 1)) || n > pages_free)
		return NULL;
	uint64_t step = align / PAGE_SIZE;
	uint64_t start = align_up(n == 1 ? single_page_hint : 0, step);

	while (start + n <= page_count) {
		/* Skip whole words of used pages quickly. */
		if (page_bitmap[start / BITS_PER_WORD] == ~0ull) {
			start = align_up(align_down(start, BITS_PER_WORD) + BITS_PER_WORD, step);
			continue;
		}
		uint64_t i = 0;
		while (i < n && !page_used(start + i))
			i++;
		if (i == n) {
			mark_used(start, n);
			pages_free -= n;
			if (n == 1)
				single_page_hint = start + 1;
			void *p = host_phys_to_virt(start * PAGE_SIZE);
			memset(p, 0, n * PAGE_SIZE);
			return p;
		}
		start = align_up(start + i + 1, step);
	}
	return NULL;
}
// @end

void host_pages_free(void *pages, size_t n)
{
	uint64_t pa = host_virt_to_phys(pages);
	uint64_t pfn = pa / PAGE_SIZE;
	if (!pages || (pa & (PAGE_SIZE - 1)) || pa < LOW_MEMORY_END || pfn + n > page_count)
		host_panic("host_pages_free(%p, %zu): not allocated memory", pages, n);
	for (uint64_t i = 0; i < n; i++)
		if (!page_used(pfn + i))
			host_panic("host_pages_free(%p, %zu): page %#lx is already free", pages, n,
				   (pfn + i) << PAGE_SHIFT);
	mark_free(pfn, n);
	pages_free += n;
	if (pfn < single_page_hint)
		single_page_hint = pfn;
}

void *host_page_alloc(void)
{
	return host_pages_alloc(1, PAGE_SIZE);
}

void host_page_free(void *page)
{
	host_pages_free(page, 1);
}
