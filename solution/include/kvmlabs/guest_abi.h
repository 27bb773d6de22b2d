/* SPDX-License-Identifier: MIT */
/*
 * The machine a guest image sees: the contract between the VMM, minikvm and the
 * guest images in grader/guests. Included by both sides, so they cannot drift.
 * grader/guests/README.md explains it in prose.
 */
#ifndef KVMLABS_GUEST_ABI_H
#define KVMLABS_GUEST_ABI_H

#include <x86/cpuid.h>
#include <x86/msr-index.h>

/* ---- I/O ports ---------------------------------------------------------- */
#define ABI_COM1_PORT        0x3f8  /* 8250 UART, 8 ports */
#define ABI_COM1_IRQ         4
#define ABI_DEBUGCON_PORT    0xe9   /* Bochs/QEMU debug console: a byte written is printed */
#define ABI_DEBUG_EXIT_PORT  0xf4   /* isa-debug-exit: VMM exits with (value << 1) | 1 */
#define ABI_DOORBELL_PORT    0xf0   /* 4-byte write; served by KVM_IOEVENTFD when available */
#define ABI_DOORBELL_IRQ     5      /* raised (KVM_IRQFD) each time the VMM serves a doorbell */

/* The test device: registers a guest uses to observe what the VMM did. */
#define ABI_TESTDEV_PORT     0x700  /* 16 ports */
#define ABI_TESTDEV_SCRATCH  0x0    /* r/w 1,2,4 bytes: reads return the last value written */
#define ABI_TESTDEV_ID       0x4    /* r 4: ABI_TESTDEV_MAGIC */
#define ABI_TESTDEV_CMD      0x8    /* w 4: run a command on ABI_TESTDEV_DATA */
#define ABI_TESTDEV_DATA     0xc    /* r/w 4: command argument in, result out */
#define ABI_TESTDEV_MAGIC    0x4c4d564bu /* "KVML" little-endian */

enum abi_testdev_cmd {
	ABI_CMD_DIRTY_SYNC     = 1, /* VMM reads and clears the RAM dirty log, prints
	                               "dirty: <count> <gpa> <gpa> ...", DATA = count */
	ABI_CMD_TRANSLATE      = 2, /* DATA = guest virtual address -> KVM_TRANSLATE ->
	                               DATA = guest physical address, or ~0 if invalid */
	ABI_CMD_ROM_WRITES     = 3, /* DATA = number of guest writes the ROM slot trapped */
	ABI_CMD_DOORBELLS      = 4, /* DATA = number of doorbells the VMM has served */
	ABI_CMD_MMIO_ACCESSES  = 5, /* DATA = number of MMIO exits the test MMIO window saw */
	ABI_CMD_PLUG_RAM       = 6, /* DATA = 1: a new memslot of zeroed RAM at ABI_HOTPLUG_GPA,
	                               DATA = 0: delete it; DATA = 1 done, 0 refused (already
	                               plugged, or nothing to unplug, or KVM said no) */
};

/* QEMU's board devices the kvm-unit-tests x86 images expect (their
 * scripts/arch-run.bash and x86/run give QEMU -device pc-testdev and
 * -device isa-debug-exit,iobase=0xf4,iosize=0x4; fw_cfg is QEMU's own). */
#define ABI_FW_CFG_PORT      0x510  /* w 2: selector; 0x511 r 1: the item's next byte (docs/specs/fw_cfg.rst) */
#define ABI_FW_CFG_SIGNATURE_KEY 0x00 /* 4 bytes: ABI_FW_CFG_SIGNATURE */
#define ABI_FW_CFG_ID        0x01   /* u32 feature bitmap: bit 0 traditional I/O interface */
#define ABI_FW_CFG_RAM_SIZE  0x03   /* u64 bytes of RAM (--mem) */
#define ABI_FW_CFG_NB_CPUS   0x05   /* u16 vCPUs (--cpus) */
#define ABI_FW_CFG_MAX_CPUS  0x0f   /* u16 most vCPUs the machine can have (= --cpus) */
#define ABI_FW_CFG_SIGNATURE "QEMU"
#define ABI_PC_TESTDEV_PORT  0xe0   /* r/w 1,2,4 at 0xe0-0xe3: one 32-bit register, byte lanes by port */
#define ABI_PC_TESTDEV_FLUSH 0xe4   /* w 4: a guest page number to flush (accepted, no effect here) */
#define ABI_PC_TESTDEV_IRQ   0x2000 /* w 1 at 0x2000 + n (n < 24): set interrupt line n to the value != 0 */
#define ABI_PC_TESTDEV_IRQS  24
#define ABI_PC_TESTDEV_MMIO_GPA  0xff000000 /* 64 KiB of MMIO scratch memory (the emulator test's) */
#define ABI_PC_TESTDEV_MMIO_SIZE 0x10000

/* ---- Guest-physical memory map ------------------------------------------ */
#define ABI_GDT_GPA          0x500      /* VMM-built GDT (prot and long mode) */
#define ABI_PML4_GPA         0x2000     /* long mode: PML4, PDPT, 4 PDs identity-map 4 GiB */
#define ABI_PDPT_GPA         0x3000
#define ABI_PD_GPA           0x4000     /* ..0x7fff, 2 MiB pages */
#define ABI_MBI_GPA          0x9000     /* multiboot information, its module list and command line */
#define ABI_MBI_SIZE         0x1000     /* ...all within this page; modules follow the image */
#define ABI_REAL_LOAD_GPA    0x7c00     /* default load and entry address of a real-mode image */
#define ABI_BOOT_PARAMS_GPA  ABI_MBI_GPA /* a bzImage's zero page (struct boot_params), in the MBI's page */
#define ABI_LINUX_CMDLINE_GPA 0x20000   /* a bzImage's command line, at most ABI_LINUX_CMDLINE_SIZE bytes */
#define ABI_LINUX_CMDLINE_SIZE 0x1000
#define ABI_EBDA_GPA         0x9fc00    /* RAM below it is E820 RAM for a bzImage; to 1 MiB the BIOS's */
#define ABI_IMAGE_GPA        0x100000   /* where prot/long-mode guests are linked */
#define ABI_TESTMMIO_GPA     0xd0000000 /* 4 KiB test MMIO window: scratch bytes, any size */
#define ABI_TESTMMIO_SIZE    0x1000
#define ABI_ROM_GPA          0xffff0000 /* 64 KiB read-only slot (KVM_MEM_READONLY) */
#define ABI_ROM_SIZE         0x10000
#define ABI_ROM_SIGNATURE    "kvmlabs-rom-v1"  /* at offset 0; byte i >= 16 holds (i & 0xff) */
/* RAM a guest plugs and unplugs itself (ABI_CMD_PLUG_RAM); unassigned while
 * unplugged. Away from 0xc0000000, which guests use as "no memory here". */
#define ABI_HOTPLUG_GPA      0xc8000000
#define ABI_HOTPLUG_SIZE     0x10000

/* virtio-mmio devices (lab 09; virtio 1.2 §4.2, version 2 register layout),
 * from stage 09: device n's registers at ABI_VIRTIO_MMIO_GPA + n *
 * ABI_VIRTIO_MMIO_SIZE, its interrupt on line ABI_VIRTIO_IRQ(n). (Linux
 * learns the same from its command line: "virtio_mmio.device=0x200@0xd0100000:10".) */
#define ABI_VIRTIO_MMIO_GPA  0xd0100000
#define ABI_VIRTIO_MMIO_SIZE 0x200
#define ABI_VIRTIO_IRQ(n)    (10 + (n))
#define ABI_VIRTIO_CONSOLE   0          /* virtio-console, always (one port, §5.3) */
#define ABI_VIRTIO_BLK       1          /* virtio-blk on --disk FILE (§5.2); unassigned without */
#define ABI_VIRTIO_SLOTS     2

/* The disk a rubric gives a virtio-blk guest (disk=SIZE, made afresh for each
 * run): the grader fills byte i of it with ABI_DISK_FILL(i). A guest that
 * wrote sectors first..last with ABI_DISK_WORD(sector, j, seed) as 32-bit
 * word j (little-endian) of each says so in a line
 * "expect-disk: first=F last=L seed=0xS" before its end line; after a Linux
 * KVM run the grader checks the file: those sectors hold the pattern, every
 * other byte its fill (grader/lib/runner.py, check_disk). */
#define ABI_DISK_FILL(i)          ((uint8_t)((i) ^ ((i) >> 9) * 0x3bu))
#define ABI_DISK_WORD(s, j, seed) ((uint32_t)(seed) ^ (uint32_t)(s) * 0x01000193u ^ (uint32_t)(j) * 0x9e3779b1u)

/* GDT selectors the VMM installs (SDM Vol. 3 3.4.5 segment descriptors). */
#define ABI_SEL_CODE32       0x08
#define ABI_SEL_DATA         0x10
#define ABI_SEL_CODE64       0x18

/* ---- Entry state --------------------------------------------------------- */
/* Every vCPU starts at the image entry in the requested mode, with
 * EDI = vCPU index and ESI = number of vCPUs (multiboot: EAX = magic, EBX = MBI).
 * Interrupts are disabled (RFLAGS = 0x2). A multiboot kernel is the exception
 * (vmm --ap-start): only vCPU 0 starts, the others wait for INIT-SIPI. */
#define ABI_MULTIBOOT_MAGIC  0x2badb002

/* ---- CPUID and MSRs the VMM configures ---------------------------------- */
#define ABI_CPUID_HV_LEAF    CPUID_HYPERVISOR_BASE /* EAX = max hypervisor leaf, EBX:ECX:EDX = signature */
#define ABI_CPUID_HV_SIGNATURE "kvmlabs-vmm\0" /* 12 bytes */
#define ABI_CPUID_HV_FEATURES 0x40000001 /* EAX = ABI_HV_FEATURES_EAX */
#define ABI_HV_FEATURES_EAX  0x6b766d31u /* "1mvk": the kvmlabs VMM ABI version 1 */
/* The VMM sets IA32_SYSENTER_CS and IA32_SYSENTER_ESP (x86/msr-index.h) to these. */
#define ABI_SYSENTER_CS_VALUE  0x0010
#define ABI_SYSENTER_ESP_VALUE 0x4b564d4cu

/* ---- Hypercalls (minikvm, VMCALL) ---------------------------------------- */
/* RAX = number, RBX/RCX/RDX = arguments; result in RAX (KVM's convention). */
#define ABI_HC_PUTCHAR       1  /* print BL */
#define ABI_HC_EXIT          2  /* end the VM with guest status BL (like the debug-exit port) */
#define ABI_HC_ECHO          3  /* RAX = RBX ^ 0x5a5a5a5a: proves the call returned */
#define ABI_HC_UNKNOWN_ERR   (-1000) /* -KVM_ENOSYS for unknown numbers */

#endif
