/* SPDX-License-Identifier: MIT */
/*
 * What the boot code (boot/boot.S) hands to the kernel, and the layout of the
 * disk image it boots from. Included by assembly and C, so only #defines
 * outside the __ASSEMBLER__ block. grader/baremetal/run writes the image
 * layout from the other side; README.md describes it in prose.
 */
#ifndef KVMLABS_HOST_BOOT_INFO_H
#define KVMLABS_HOST_BOOT_INFO_H

/* ---- Disk image ---------------------------------------------------------- */
/* Sector 0 is the boot sector; at IMAGE_HEADER_OFFSET it carries a header the
 * runner reads to learn where the guest archive goes (sector archive_lba). */
#define IMAGE_HEADER_OFFSET     8
#define IMAGE_HEADER_MAGIC      "KVMLIMG1"
#define IMAGE_HDR_BOOT_SECTORS  (IMAGE_HEADER_OFFSET + 8)   /* u32: boot sector + stage 2 */
#define IMAGE_HDR_KERNEL_SECTORS (IMAGE_HEADER_OFFSET + 12) /* u32 */
#define IMAGE_HDR_ARCHIVE_LBA   (IMAGE_HEADER_OFFSET + 16)  /* u32: first sector of the archive */
#define IMAGE_HDR_ARCHIVE_ADDR  (IMAGE_HEADER_OFFSET + 20)  /* u32: physical load address */
#define IMAGE_SECTOR_SIZE       512

/* ---- Physical memory below 1 MiB used while booting ----------------------- */
#define BOOT_PML4_ADDR          0x1000  /* boot page tables: PML4, PDPT, 4 PDs */
#define BOOT_PDPT_ADDR          0x2000
#define BOOT_PD_ADDR            0x3000  /* ..0x6fff: 2048 2 MiB pages = 4 GiB */
#define BOOT_PD_COUNT           4       /* one per GiB */
#define BOOT_STACK_TOP          0x7c00  /* real-mode stack, below the boot sector */
#define BOOT_LOAD_ADDR          0x7c00  /* where the BIOS puts sector 0 */
#define BOOT_BUFFER_SEG         0x1000  /* 0x10000: int 13h bounce buffer, 32 KiB */
#define BOOT_BUFFER_SECTORS     64
#define KERNEL_LOAD_ADDR        0x100000

/* ---- Boot information ------------------------------------------------------ */
#define BOOT_INFO_MAGIC         0x424d564b  /* "KVMB" */
#define BOOT_E820_MAX           64
#define BOOT_E820_ENTRY_SIZE    24
#define BOOT_INFO_MAGIC_OFF     0
#define BOOT_INFO_E820_COUNT_OFF 4
#define BOOT_INFO_ARCHIVE_ADDR_OFF 8
#define BOOT_INFO_ARCHIVE_SIZE_OFF 16
#define BOOT_INFO_DRIVE_OFF     24
#define BOOT_INFO_E820_OFF      32
#define BOOT_INFO_SIZE          (BOOT_INFO_E820_OFF + BOOT_E820_MAX * BOOT_E820_ENTRY_SIZE)

#define E820_TYPE_RAM           1

/* Segment selectors of the boot GDT (boot/boot.S) and of the kernel GDT (cpu.c). */
#define BOOT_SEL_CODE32         0x08
#define BOOT_SEL_DATA           0x10
#define BOOT_SEL_CODE64         0x18

#ifndef __ASSEMBLER__
#include <stdint.h>

struct boot_e820_entry {
	uint64_t base;
	uint64_t length;
	uint32_t type;
	uint32_t acpi_attr;
} __attribute__((packed));

struct boot_info {
	uint32_t magic;
	uint32_t e820_count;
	uint64_t archive_addr;
	uint64_t archive_size;
	uint32_t boot_drive;
	uint32_t reserved;
	struct boot_e820_entry e820[BOOT_E820_MAX];
} __attribute__((packed));

_Static_assert(sizeof(struct boot_e820_entry) == BOOT_E820_ENTRY_SIZE, "e820 entry layout");
_Static_assert(__builtin_offsetof(struct boot_info, archive_addr) == BOOT_INFO_ARCHIVE_ADDR_OFF, "boot_info layout");
_Static_assert(__builtin_offsetof(struct boot_info, archive_size) == BOOT_INFO_ARCHIVE_SIZE_OFF, "boot_info layout");
_Static_assert(__builtin_offsetof(struct boot_info, boot_drive) == BOOT_INFO_DRIVE_OFF, "boot_info layout");
_Static_assert(__builtin_offsetof(struct boot_info, e820) == BOOT_INFO_E820_OFF, "boot_info layout");
_Static_assert(sizeof(struct boot_info) == BOOT_INFO_SIZE, "boot_info layout");

/* Defined in boot/boot.S; the kernel reads it before it touches any memory. */
extern struct boot_info boot_info;
#endif

#endif
