// SPDX-License-Identifier: MIT
/*
 * kvmlabs bare-metal libc: the heap, on top of the host page allocator.
 *
 * Small blocks come from per-size-class free lists carved out of whole pages
 * (slots of 32 .. 4096 bytes, header included); larger blocks are runs of
 * pages of their own and go back to the page allocator when freed. Every
 * block starts with a 16-byte header, so user pointers are 16-byte aligned
 * and free() can check that it was given a live block.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kvmlabs/host_kernel.h>
#include <x86/pgtable.h>
#include "../panic.h"

#define HEADER_SIZE      16u
#define MIN_SLOT_SHIFT   5          /* 32-byte slots */
#define NUM_CLASSES      8          /* 32 .. 4096 */
#define MAGIC_SMALL      0x6c6c616du /* "mall" */
#define MAGIC_LARGE      0x6772616cu /* "larg" */
#define MAGIC_FREE       0x65657266u /* "free" */

struct block_header {
	uint32_t magic;
	uint32_t size_class;   /* small blocks */
	uint64_t pages;        /* large blocks */
};
_Static_assert(sizeof(struct block_header) == HEADER_SIZE, "header keeps user data 16-byte aligned");
_Static_assert(MIN_SLOT_SHIFT + NUM_CLASSES - 1 == PAGE_SHIFT, "the largest slot is one page");

struct free_slot {
	struct block_header header;
	struct free_slot *next;
};

static struct free_slot *free_lists[NUM_CLASSES];

static size_t class_slot_size(unsigned int size_class)
{
	return (size_t)1 << (size_class + MIN_SLOT_SHIFT);
}

static bool refill(unsigned int size_class)
{
	uint8_t *page = host_page_alloc();
	if (!page)
		return false;
	size_t slot = class_slot_size(size_class);
	for (size_t off = 0; off + slot <= PAGE_SIZE; off += slot) {
		struct free_slot *s = (struct free_slot *)(page + off);
		s->header.magic = MAGIC_FREE;
		s->next = free_lists[size_class];
		free_lists[size_class] = s;
	}
	return true;
}

void *malloc(size_t size)
{
	if (size > SIZE_MAX - PAGE_SIZE - HEADER_SIZE)
		return NULL;
	size_t need = size + HEADER_SIZE;
	if (need <= PAGE_SIZE) {
		unsigned int size_class = 0;
		while (class_slot_size(size_class) < need)
			size_class++;
		if (!free_lists[size_class] && !refill(size_class))
			return NULL;
		struct free_slot *s = free_lists[size_class];
		free_lists[size_class] = s->next;
		s->header.magic = MAGIC_SMALL;
		s->header.size_class = size_class;
		return (uint8_t *)s + HEADER_SIZE;
	}
	size_t pages = (need + PAGE_SIZE - 1) / PAGE_SIZE;
	struct block_header *h = host_pages_alloc(pages, PAGE_SIZE);
	if (!h)
		return NULL;
	h->magic = MAGIC_LARGE;
	h->pages = pages;
	return (uint8_t *)h + HEADER_SIZE;
}

static struct block_header *live_header(void *ptr, const char *caller)
{
	struct block_header *h = (struct block_header *)((uint8_t *)ptr - HEADER_SIZE);
	if (((uintptr_t)ptr & (HEADER_SIZE - 1)) ||
	    (h->magic != MAGIC_SMALL && h->magic != MAGIC_LARGE) ||
	    (h->magic == MAGIC_SMALL && h->size_class >= NUM_CLASSES))
		host_panic("%s(%p): not a live heap block (%s)", caller, ptr,
			   h->magic == MAGIC_FREE ? "freed twice" : "never allocated");
	return h;
}

static size_t usable_size(const struct block_header *h)
{
	if (h->magic == MAGIC_SMALL)
		return class_slot_size(h->size_class) - HEADER_SIZE;
	return h->pages * PAGE_SIZE - HEADER_SIZE;
}

void free(void *ptr)
{
	if (!ptr)
		return;
	struct block_header *h = live_header(ptr, "free");
	if (h->magic == MAGIC_LARGE) {
		h->magic = MAGIC_FREE;
		host_pages_free(h, h->pages);
		return;
	}
	struct free_slot *s = (struct free_slot *)h;
	unsigned int size_class = h->size_class;
	s->header.magic = MAGIC_FREE;
	s->next = free_lists[size_class];
	free_lists[size_class] = s;
}

void *calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = malloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

void *realloc(void *ptr, size_t size)
{
	if (!ptr)
		return malloc(size);
	if (size == 0) {
		free(ptr);
		return NULL;
	}
	struct block_header *h = live_header(ptr, "realloc");
	size_t old = usable_size(h);
	if (size <= old)
		return ptr;
	void *p = malloc(size);
	if (!p)
		return NULL;
	memcpy(p, ptr, old);
	free(ptr);
	return p;
}
