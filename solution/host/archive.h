/* SPDX-License-Identifier: MIT */
/*
 * The guest archive: the guest images and the VMM command line, which
 * grader/baremetal/run writes behind the kernel on a copy of the disk image
 * and boot/boot.S loads into memory. All integers are little-endian.
 *
 *   header   struct archive_header, at offset 0
 *   argv     argc NUL-terminated strings back to back, at argv_offset
 *   entries  entry_count struct archive_entry, at entries_offset
 *   data     each entry's bytes at its offset (16-byte aligned)
 *
 * checksum is the CRC-32 of zlib (IEEE 802.3) over bytes [sizeof(header), total_size).
 */
#ifndef KVMLABS_HOST_ARCHIVE_H
#define KVMLABS_HOST_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "boot_info.h"

#define ARCHIVE_MAGIC      "KVMLARC1"
#define ARCHIVE_VERSION    1
#define ARCHIVE_NAME_MAX   48     /* including the NUL */

/* Host options the runner passes in header.flags. */
#define ARCHIVE_FLAG_VERBOSE   (1u << 0)  /* print the memory map and boot details */
#define ARCHIVE_FLAG_SELFTEST  (1u << 1)  /* run the host self-tests before the VMM */
#define ARCHIVE_FLAG_FAULT     (1u << 2)  /* take a deliberate page fault (tests the report) */
#define ARCHIVE_FLAG_OVERFLOW  (1u << 3)  /* overflow the kernel stack (tests the guard page) */
#define ARCHIVE_FLAG_HANG      (1u << 4)  /* spin forever (tests the runner's timeout) */
#define ARCHIVE_FLAG_TRIPLE    (1u << 5)  /* triple fault (tests that the emulator stops, not resets) */
#define ARCHIVE_FLAG_NO_EPT    (1u << 6)  /* minikvm as with kvm_intel.ept=0: the shadow MMU at every stage */
#define ARCHIVE_FLAG_NATIVE_LINUX (1u << 7) /* no VMM: boot the bzImage on the command line directly (native_linux.c) */

// @region archive_format
struct archive_header {
	char magic[8];
	uint32_t version;
	uint32_t total_size;
	uint32_t checksum;
	uint32_t flags;
	uint32_t argc;
	uint32_t argv_offset;
	uint32_t argv_size;
	uint32_t entry_count;
	uint32_t entries_offset;
	uint32_t reserved;
};

struct archive_entry {
	char name[ARCHIVE_NAME_MAX];
	uint64_t offset;
	uint64_t size;
};
// @end

_Static_assert(sizeof(struct archive_header) == 48, "archive header layout");
_Static_assert(sizeof(struct archive_entry) == 64, "archive entry layout");

/* Check the archive the boot code loaded; on success fill argc/argv (argv[0]
 * is "vmm") and return NULL, else return why it is unusable. */
const char *archive_init(const struct boot_info *bi, int *argc, char ***argv);
uint32_t archive_flags(void);
/* The entry whose name is path's basename, or NULL. */
const struct archive_entry *archive_find(const char *path);
const void *archive_data(const struct archive_entry *e);
size_t archive_entry_count(void);
const struct archive_entry *archive_entry(size_t i);

#endif
