/* SPDX-License-Identifier: MIT */
/*
 * Boot sector and stage 2 of the kvmlabs host kernel.
 *
 * The BIOS loads sector 0 at 0x7c00 and jumps to it with DL = boot drive.
 * Sector 0 reads the rest of this section (stage 2) right behind itself;
 * stage 2 takes the E820 memory map, enables A20, loads the kernel at 1 MiB
 * and the guest archive behind it (through a bounce buffer below 1 MiB and
 * "unreal mode" copies), builds page tables that identity-map the first
 * 4 GiB with 2 MiB pages, and enters 64-bit mode at kernel_entry.
 *
 * Disk reads use INT 13h AH=02h with CHS addresses computed from the
 * geometry INT 13h AH=08h reports, which works for floppies and hard disks
 * on every PC BIOS (Bochs' rombios, SeaBIOS).
 */
#include <x86/msr-index.h>
#include <x86/pgtable.h>
#include <x86/processor-flags.h>
#include "boot_info.h"

#define COM1_PORT	0x3f8
#define E9_PORT		0xe9
#define BOCHS_SHUTDOWN_PORT 0x8900
#define QEMU_DEBUG_EXIT_PORT 0xf4
#define HOST_FAULT_STATUS 26	/* VMM_EXIT_HOST_FAULT */
#define SMAP		0x534d4150
/* Boot page tables: PML4 and PDPT entries point to the next table, PD
 * entries map 2 MiB pages. */
#define BOOT_TABLE_FLAGS	(PT_PRESENT_MASK | PT_WRITABLE_MASK)
#define BOOT_LARGE_PAGE_FLAGS	(PT_PRESENT_MASK | PT_WRITABLE_MASK | PT_PAGE_SIZE_MASK)

	.section .boot16, "ax"
	.code16
	.globl	boot_sector
boot_sector:
	jmp	boot_start
	.org	IMAGE_HEADER_OFFSET
image_header:
	.ascii	IMAGE_HEADER_MAGIC
	.long	boot16_sectors
	.long	kernel_sectors
	.long	archive_lba
	.long	archive_load_addr

disk_spt:	.word	18
disk_heads:	.word	2
boot_drive:	.byte	0

boot_start:
	cli
	xor	%ax, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$BOOT_STACK_TOP, %sp
	ljmp	$0, $1f
1:	sti
	cld
	mov	%dl, boot_drive

	/* INT 13h AH=08h: drive geometry. Keep the floppy defaults if it fails. */
	mov	$0x08, %ah
	xor	%di, %di
	int	$0x13
	jc	2f
	and	$0x3f, %cl
	jz	2f
	movzbw	%cl, %ax
	mov	%ax, disk_spt
	movzbw	%dh, %ax
	inc	%ax
	mov	%ax, disk_heads
2:	xor	%ax, %ax
	mov	%ax, %es

	mov	$1, %eax
	mov	$(boot16_sectors - 1), %cx
	mov	$(BOOT_LOAD_ADDR + IMAGE_SECTOR_SIZE), %bx
	call	disk_read
	jmp	stage2

/*
 * disk_read: read CX sectors starting at LBA EAX to ES:BX. The caller keeps
 * the destination inside one 64 KiB page (the floppy DMA limit). One INT 13h
 * call never crosses a track; each is retried three times with a reset.
 */
disk_read:
	test	%cx, %cx
	jz	9f
	mov	%eax, dr_lba
	mov	%cx, dr_left
	mov	%bx, dr_dest
	xor	%edx, %edx
	movzwl	disk_spt, %ecx
	div	%ecx			/* eax = track, edx = sector within track */
	mov	%dx, dr_count		/* temporarily: sector index */
	xor	%edx, %edx
	movzwl	disk_heads, %ecx
	div	%ecx			/* eax = cylinder, edx = head */
	cmp	$1024, %eax
	jae	disk_error
	mov	%dl, %dh
	mov	%al, %ch
	shl	$6, %ah
	mov	dr_count, %cl
	inc	%cl
	or	%ah, %cl		/* CL = sector | cylinder bits 8-9 << 6 */
	mov	disk_spt, %si		/* count = min(left, spt - index) */
	sub	dr_count, %si
	cmp	dr_left, %si
	jbe	1f
	mov	dr_left, %si
1:	mov	%si, dr_count
	mov	$3, %di
2:	mov	dr_count, %ax
	mov	$0x02, %ah
	mov	dr_dest, %bx
	mov	boot_drive, %dl
	pusha
	int	$0x13
	popa
	jnc	3f
	dec	%di
	jz	disk_error
	pusha
	xor	%ah, %ah
	int	$0x13
	popa
	jmp	2b
3:	mov	dr_count, %cx
	sub	%cx, dr_left
	mov	dr_dest, %bx
	shl	$9, %cx
	add	%cx, %bx
	movzwl	dr_count, %eax
	add	dr_lba, %eax
	mov	dr_left, %cx
	jmp	disk_read
9:	ret

disk_error:
	mov	$msg_disk, %si
/* fatal16: print the message at SI and the exit line, then end the emulator. */
fatal16:
	call	puts16
	mov	$msg_exit, %si
	call	puts16
	mov	$BOCHS_SHUTDOWN_PORT, %dx
	mov	$msg_shutdown, %si
1:	lodsb
	test	%al, %al
	jz	2f
	outb	%al, %dx
	jmp	1b
2:	mov	$HOST_FAULT_STATUS, %al
	outb	%al, $QEMU_DEBUG_EXIT_PORT
	cli
3:	hlt
	jmp	3b

/* puts16: the NUL-terminated string at SI to port 0xe9 and COM1 (8N1;
 * the BIOS may have left the divisor latch selected). */
puts16:
	mov	$(COM1_PORT + 3), %dx
	mov	$0x03, %al
	outb	%al, %dx
puts16_next:
	lodsb
	test	%al, %al
	jz	2f
	outb	%al, $E9_PORT
	mov	%al, %ah
	mov	$(COM1_PORT + 5), %dx
	mov	$0xffff, %cx
1:	inb	%dx, %al
	test	$0x20, %al
	loopz	1b
	mov	$COM1_PORT, %dx
	mov	%ah, %al
	outb	%al, %dx
	jmp	puts16_next
2:	ret

msg_disk:	.asciz	"kvmlabs-boot: disk read error\n"
msg_exit:	.asciz	"kvmlabs-host: exit status 26\n"
msg_shutdown:	.asciz	"Shutdown"

	.org	510
	.word	0xaa55

/* ---- Stage 2: the sectors behind the boot sector ------------------------- */
stage2:
	movzbl	boot_drive, %eax
	mov	%eax, boot_info + BOOT_INFO_DRIVE_OFF
	/* INT 15h EAX=E820h: the physical memory map (ACPI spec, "System Address
	 * Map Interfaces"). Entries are 24 bytes; a 20-byte answer leaves the
	 * preset "valid" extended attribute. */
	mov	$(boot_info + BOOT_INFO_E820_OFF), %di
	xor	%ebx, %ebx
	xor	%bp, %bp
1:	mov	$0xe820, %eax
	mov	$SMAP, %edx
	mov	$BOOT_E820_ENTRY_SIZE, %ecx
	movl	$1, 20(%di)
	int	$0x15
	jc	3f
	cmp	$SMAP, %eax
	jne	3f
	mov	8(%di), %eax
	or	12(%di), %eax
	jz	2f			/* skip empty entries */
	inc	%bp
	add	$BOOT_E820_ENTRY_SIZE, %di
	cmp	$BOOT_E820_MAX, %bp
	jae	3f
2:	test	%ebx, %ebx
	jnz	1b
3:	movzwl	%bp, %eax
	mov	%eax, boot_info + BOOT_INFO_E820_COUNT_OFF
	mov	$msg_e820, %si
	test	%eax, %eax
	jz	fatal16

	/* A20: ask the BIOS, then the "fast A20" bit of system control port A. */
	mov	$0x2401, %ax
	int	$0x15
	call	a20_enabled
	jnz	1f
	inb	$0x92, %al
	or	$0x02, %al
	and	$0xfe, %al
	outb	%al, $0x92
	call	a20_enabled
	mov	$msg_a20, %si
	jz	fatal16
1:
	/* The kernel at 1 MiB. */
	mov	$boot16_sectors, %eax
	mov	$kernel_sectors, %ecx
	mov	$KERNEL_LOAD_ADDR, %edi
	call	load_high

	/* The guest archive: check its header, then load all of it. */
	mov	$BOOT_BUFFER_SEG, %ax
	mov	%ax, %es
	xor	%bx, %bx
	mov	$archive_lba, %eax
	mov	$1, %cx
	call	disk_read
	xor	%ax, %ax
	mov	%ax, %es
	mov	$msg_archive, %si
	push	%ds
	mov	$BOOT_BUFFER_SEG, %ax
	mov	%ax, %ds
	cmpl	$0x4c4d564b, 0		/* "KVMLARC1" */
	jne	1f
	cmpl	$0x31435241, 4
	jne	1f
	mov	12, %eax		/* total_size */
	pop	%ds
	mov	%eax, boot_info + BOOT_INFO_ARCHIVE_SIZE_OFF
	jmp	2f
1:	pop	%ds
	jmp	fatal16
2:	call	archive_fits
	mov	$msg_archive_size, %si
	jc	fatal16
	movl	$archive_load_addr, boot_info + BOOT_INFO_ARCHIVE_ADDR_OFF
	mov	boot_info + BOOT_INFO_ARCHIVE_SIZE_OFF, %ecx
	add	$(IMAGE_SECTOR_SIZE - 1), %ecx
	shr	$9, %ecx
	mov	$archive_lba, %eax
	mov	$archive_load_addr, %edi
	call	load_high
	movl	$BOOT_INFO_MAGIC, boot_info + BOOT_INFO_MAGIC_OFF
	jmp	enter_long_mode

/* a20_enabled: ZF clear when 0x100600 is not an alias of 0x600. */
a20_enabled:
	xor	%ax, %ax
	mov	%ax, %fs
	not	%ax
	mov	%ax, %gs
	movw	$0x1234, %fs:0x600
	movw	$0x5678, %gs:0x610
	cmpw	$0x5678, %fs:0x600
	ret

/* archive_fits: CF set unless [archive_load_addr, + archive size) lies in
 * one E820 RAM entry below 4 GiB. */
archive_fits:
	mov	$(boot_info + BOOT_INFO_E820_OFF), %di
	mov	boot_info + BOOT_INFO_E820_COUNT_OFF, %cx
1:	cmpl	$E820_TYPE_RAM, 16(%di)
	jne	2f
	cmpl	$0, 4(%di)		/* base below 4 GiB */
	jne	2f
	mov	(%di), %eax
	cmp	$archive_load_addr, %eax
	ja	2f
	mov	%eax, %edx		/* edx = end of the entry, clamped */
	add	8(%di), %edx
	jc	3f
	cmpl	$0, 12(%di)
	je	4f
3:	mov	$0xfffff000, %edx
4:	sub	$archive_load_addr, %edx
	jb	2f
	cmp	boot_info + BOOT_INFO_ARCHIVE_SIZE_OFF, %edx
	jb	2f
	clc
	ret
2:	add	$BOOT_E820_ENTRY_SIZE, %di
	loop	1b
	stc
	ret

/*
 * load_high: read ECX sectors from LBA EAX to physical address EDI (above
 * 1 MiB). Chunks go through the bounce buffer; each copy runs with DS/ES
 * holding 4 GiB limits from a trip through protected mode ("unreal mode":
 * segment loads in real-address mode change only the base, not the cached
 * limit; SDM Vol. 3, "Switching Back to Real-Address Mode").
 */
load_high:
	mov	%eax, lh_lba
	mov	%ecx, lh_left
	mov	%edi, lh_dest
1:	mov	lh_left, %ecx
	jecxz	9f
	cmp	$BOOT_BUFFER_SECTORS, %ecx
	jbe	2f
	mov	$BOOT_BUFFER_SECTORS, %ecx
2:	mov	%cx, lh_count
	mov	$BOOT_BUFFER_SEG, %ax
	mov	%ax, %es
	xor	%bx, %bx
	mov	lh_lba, %eax
	call	disk_read
	cli
	lgdtl	boot_gdt_desc
	mov	%cr0, %eax
	or	$X86_CR0_PE, %al
	mov	%eax, %cr0
	jmp	3f
3:	mov	$BOOT_SEL_DATA, %bx
	mov	%bx, %ds
	mov	%bx, %es
	and	$~X86_CR0_PE, %al
	mov	%eax, %cr0
	jmp	4f
4:	xor	%bx, %bx
	mov	%bx, %ds
	mov	%bx, %es
	mov	$(BOOT_BUFFER_SEG << 4), %esi
	mov	lh_dest, %edi
	movzwl	lh_count, %ecx
	shl	$7, %ecx		/* sectors -> dwords */
	addr32	rep movsl
	sti
	mov	%edi, lh_dest
	movzwl	lh_count, %eax
	add	%eax, lh_lba
	sub	%eax, lh_left
	jmp	1b
9:	ret

enter_long_mode:
	cli
	/* Disable the 8259s' outputs; the kernel never enables interrupts, but
	 * a stray IRQ must not arrive on an exception vector. */
	mov	$0xff, %al
	outb	%al, $0xa1
	outb	%al, $0x21

	/* Identity map 0-4 GiB: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs of 2 MiB
	 * pages (SDM Vol. 3 4.5). */
	xor	%ax, %ax
	mov	%ax, %es
	mov	$BOOT_PML4_ADDR, %di
	mov	$((BOOT_PD_ADDR + BOOT_PD_COUNT * PAGE_SIZE - BOOT_PML4_ADDR) / 2), %cx
	rep	stosw
	movl	$(BOOT_PDPT_ADDR | BOOT_TABLE_FLAGS), BOOT_PML4_ADDR
	movl	$((BOOT_PD_ADDR + 0 * PAGE_SIZE) | BOOT_TABLE_FLAGS), BOOT_PDPT_ADDR + 0 * 8
	movl	$((BOOT_PD_ADDR + 1 * PAGE_SIZE) | BOOT_TABLE_FLAGS), BOOT_PDPT_ADDR + 1 * 8
	movl	$((BOOT_PD_ADDR + 2 * PAGE_SIZE) | BOOT_TABLE_FLAGS), BOOT_PDPT_ADDR + 2 * 8
	movl	$((BOOT_PD_ADDR + 3 * PAGE_SIZE) | BOOT_TABLE_FLAGS), BOOT_PDPT_ADDR + 3 * 8
	mov	$BOOT_PD_ADDR, %di
	xor	%eax, %eax		/* eax = 2 MiB page number */
1:	mov	%eax, %edx
	shl	$LARGE_PAGE_SHIFT, %edx
	or	$BOOT_LARGE_PAGE_FLAGS, %edx
	mov	%edx, (%di)
	mov	%eax, %edx		/* the address's bits 63:32 */
	shr	$(32 - LARGE_PAGE_SHIFT), %edx
	mov	%edx, 4(%di)
	add	$8, %di
	inc	%eax
	cmp	$(BOOT_PD_COUNT * PT64_ENT_PER_PAGE), %eax
	jb	1b

	lgdtl	boot_gdt_desc
	mov	%cr0, %eax
	or	$X86_CR0_PE, %eax
	mov	%eax, %cr0
	ljmpl	$BOOT_SEL_CODE32, $protected_mode

	.code32
protected_mode:
	mov	$BOOT_SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$BOOT_PML4_ADDR, %eax
	mov	%eax, %cr3
	mov	%cr4, %eax
	or	$X86_CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$X86_CR0_PG, %eax
	mov	%eax, %cr0
	ljmp	$BOOT_SEL_CODE64, $long_mode

	.code64
long_mode:
	mov	$boot_info, %edi
	movabs	$kernel_entry, %rax
	jmp	*%rax

	.balign	8
boot_gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: 32-bit code, flat */
	.quad	0x00cf92000000ffff	/* 0x10: data, flat 4 GiB */
	.quad	0x00af9a000000ffff	/* 0x18: 64-bit code */
boot_gdt_end:
boot_gdt_desc:
	.word	boot_gdt_end - boot_gdt - 1
	.long	boot_gdt

msg_e820:	.asciz	"kvmlabs-boot: the BIOS gave no E820 memory map\n"
msg_a20:	.asciz	"kvmlabs-boot: cannot enable A20\n"
msg_archive:	.asciz	"kvmlabs-boot: no guest archive behind the kernel (build it with grader/baremetal/run)\n"
msg_archive_size: .asciz "kvmlabs-boot: the guest archive does not fit in RAM\n"

	.balign	4
dr_lba:		.long	0
dr_left:	.word	0
dr_dest:	.word	0
dr_count:	.word	0
lh_count:	.word	0
lh_lba:		.long	0
lh_left:	.long	0
lh_dest:	.long	0

	.balign	8
	.globl	boot_info
boot_info:
	.fill	BOOT_INFO_SIZE, 1, 0

	.section .note.GNU-stack, "", @progbits
