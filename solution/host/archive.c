// SPDX-License-Identifier: MIT
/* The guest archive (format in archive.h): validation, argv and lookup by name.
 * The runner writes it, but the kernel checks every offset and size anyway:
 * a truncated or corrupt image must fail with a message, not a wild read. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"

static const struct archive_header *archive;
static const struct archive_entry *entries;

/* CRC-32 as in zlib and IEEE 802.3 (reflected polynomial 0xedb88320), which
 * the runner computes with Python's zlib.crc32. */
static uint32_t crc32(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	uint32_t crc = ~0u;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static bool inside(uint64_t offset, uint64_t size, uint64_t total)
{
	return offset <= total && size <= total - offset;
}

const char *archive_init(const struct boot_info *bi, int *argc, char ***argv)
{
	const struct archive_header *h = (const void *)(uintptr_t)bi->archive_addr;
	if (bi->archive_size < sizeof(*h) || memcmp(h->magic, ARCHIVE_MAGIC, 8))
		return "no archive header";
	if (h->version != ARCHIVE_VERSION)
		return "unknown archive version (rebuild the kernel and the runner together)";
	if (h->total_size != bi->archive_size)
		return "archive size differs from what the boot code loaded";
	if (crc32((const uint8_t *)h + sizeof(*h), h->total_size - sizeof(*h)) != h->checksum)
		return "archive checksum mismatch (the image was not written completely)";
	if (!inside(h->argv_offset, h->argv_size, h->total_size) ||
	    !inside(h->entries_offset, (uint64_t)h->entry_count * sizeof(struct archive_entry), h->total_size) ||
	    (h->entries_offset % 8))
		return "archive tables lie outside the archive";

	const char *args = (const char *)h + h->argv_offset;
	if (h->argc == 0 || h->argc > h->argv_size || (h->argv_size && args[h->argv_size - 1] != '\0'))
		return "malformed command line in the archive";
	char **v = calloc(h->argc + 1, sizeof(char *));
	if (!v)
		return "no memory for argv";
	uint32_t n = 0;
	for (uint32_t off = 0; off < h->argv_size && n < h->argc; n++) {
		v[n] = (char *)args + off;
		off += strlen(args + off) + 1;
	}
	if (n != h->argc)
		return "command line in the archive has fewer strings than argc";

	const struct archive_entry *e = (const void *)((const uint8_t *)h + h->entries_offset);
	for (uint32_t i = 0; i < h->entry_count; i++)
		if (!memchr(e[i].name, '\0', ARCHIVE_NAME_MAX) || !e[i].name[0] ||
		    !inside(e[i].offset, e[i].size, h->total_size))
			return "malformed file entry in the archive";

	archive = h;
	entries = e;
	*argc = (int)h->argc;
	*argv = v;
	return NULL;
}

uint32_t archive_flags(void)
{
	return archive ? archive->flags : 0;
}

const struct archive_entry *archive_find(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	for (size_t i = 0; i < archive_entry_count(); i++)
		if (!strcmp(entries[i].name, name))
			return &entries[i];
	return NULL;
}

const void *archive_data(const struct archive_entry *e)
{
	return (const uint8_t *)archive + e->offset;
}

size_t archive_entry_count(void)
{
	return archive ? archive->entry_count : 0;
}

const struct archive_entry *archive_entry(size_t i)
{
	return i < archive_entry_count() ? &entries[i] : NULL;
}
