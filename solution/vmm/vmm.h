/* SPDX-License-Identifier: MIT */
/*
 * The kvmlabs VMM: one virtual machine, its vCPUs, memory and devices.
 *
 * Portable code: it talks to KVM only through kvm_seam.h and to its host only
 * through host.h, so it runs as a Linux process on /dev/kvm and linked into the
 * bare-metal host on top of minikvm. Its names carry no kvm_ prefix: in the
 * bare-metal image those are minikvm's.
 */
#ifndef KVMLABS_VMM_H
#define KVMLABS_VMM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmlabs/guest_abi.h>
#include <kvmlabs/host.h>
#include <kvmlabs/kvm_seam.h>
#include <kvmlabs/lab.h>
#include <kvmlabs/vmm_status.h>
#include <x86/const.h>
#include <x86/pgtable.h>

#include "bus.h"

#define VMM_MAX_VCPUS   8
#define VMM_MAX_REGIONS 8
/* Interrupt lines a device can have: the IOAPIC's 24 pins; GSIs 0-15 also
 * reach the 8259s (api.rst 4.24, KVM_CREATE_IRQCHIP). */
#define VMM_IRQ_LINES   24

enum cpu_mode { MODE_AUTO, MODE_REAL, MODE_PROT, MODE_LONG };

/* How the vCPUs after the first start (--ap-start). The kit's guest ABI
 * starts every vCPU at the image entry (guest_abi.h); a standard multiboot
 * kernel gets application processors as a PC has them: waiting in the
 * wait-for-SIPI state until the BSP sends INIT and SIPI through its local
 * APIC (SDM Vol. 3A 9.4, "Multiple-Processor (MP) Initialization"). */
enum ap_start { AP_START_AUTO, AP_START_ENTRY, AP_START_SIPI };

struct vmm_options {
	/* Numbers are uint64_t and flags bool, so the option table can store them. */
	uint64_t mem_size;        /* --mem */
	uint64_t cpus;            /* --cpus */
	enum cpu_mode mode;       /* --mode */
	uint64_t load_addr;       /* --load, ~0 = default for the image kind */
	uint64_t entry;           /* --entry, ~0 = from the image */
	bool trace;               /* --trace */
	bool irqchip;             /* --no-irqchip clears */
	bool ioeventfd;           /* --no-ioeventfd clears */
	bool dirty_log;           /* --dirty-log, implied by --dirty-report */
	uint64_t dirty_report_ms; /* --dirty-report MS */
	uint64_t timeout_s;       /* --timeout */
	uint64_t max_output;      /* --max-output */
	enum ap_start ap_start;   /* --ap-start, AUTO = by image kind (loader.c) */
	const char *append;       /* --append: the multiboot command line after the image name */
	const char *initrd;       /* --initrd: a file loaded as the first multiboot module */
	const char *disk;         /* --disk: virtio-blk's backing file (lab 09) */
	bool event_idx;           /* --no-event-idx clears: virtio devices offer VIRTIO_F_EVENT_IDX */
	const char *image;
};

/* A guest-physical range backed by host memory, i.e. one KVM memslot. */
struct mem_region {
	uint64_t gpa, size;
	void *hva;
	uint32_t slot, flags;     /* KVM_MEM_* */
	const char *name;
};

struct vcpu {
	struct vm *vm;
	int id, fd;
	struct kvm_run *run;
	struct host_thread *thread;
	uint64_t exits;
	/* The supervisor's sleep probe (smp.c), answered in the vCPU's thread
	 * (vm_stopping()): the probe number asked, and that number again if the
	 * vCPU was asleep for good then, else 0. */
	atomic_uint sleep_asked, sleep_answer;
};

/* What the loader found in the image: where and how the vCPUs start. */
struct boot_info {
	uint64_t entry;
	enum cpu_mode mode;
	bool multiboot;
	bool linux;               /* a bzImage: RSI = the zero page at entry (loader.c) */
	enum ap_start ap_start;   /* ENTRY or SIPI, never AUTO once loaded */
	uint64_t image_end;       /* the first byte of RAM after everything the image loaded */
	const char *kind;         /* "flat", "elf32", "elf64", "multiboot" */
};

/* One interrupt line (GSI) and the device that asked for it (irq_request). */
struct irq_line {
	const char *owner;        /* NULL: free */
	int irqfd;                /* event bound to the line with KVM_IRQFD, or -1 */
};

struct vm {
	const struct vmm_options *opt;
	int kvm_fd, vm_fd;
	size_t run_size;          /* KVM_GET_VCPU_MMAP_SIZE */

	/* The image file, read before anything else and loaded by the boot step. */
	uint8_t *image;
	size_t image_size;
	uint8_t *initrd;          /* --initrd, read with the image, freed once in guest RAM */
	size_t initrd_size;
	struct boot_info boot;

	struct mem_region regions[VMM_MAX_REGIONS];
	int nr_regions;
	uint8_t *ram;             /* region 0: guest RAM at GPA 0 */

	struct bus pio_bus, mmio_bus;
	struct virtio_dev *virtio[ABI_VIRTIO_SLOTS]; /* lab 09: by slot, NULL where none */

	struct vcpu vcpus[VMM_MAX_VCPUS];
	int nr_vcpus;
	atomic_int running_vcpus;

	/* Interrupts and doorbells (lab 03). */
	bool has_irqchip, has_irqfd, has_ioeventfd, has_pit;
	struct irq_line irq_lines[VMM_IRQ_LINES];
	int doorbell_event;       /* -1 if served synchronously */
	struct host_thread *doorbell_thread;
	struct bus_device doorbell_port;
	atomic_uint doorbells;

	/* Ending: the first vm_stop() wins. */
	atomic_int stopping;
	int exit_status;
	char stop_message[256];
	int stop_event;           /* signalled by vm_stop() for the supervisor */
	atomic_uint_least64_t output_bytes;
	atomic_bool output_lost;  /* stdout refused guest output: said once */
	uint64_t start_ns;
	/* --timeout, checked by vm_stopping() in every thread; the doorbell's I/O
	 * thread runs before the vCPUs start and the deadline is set. */
	atomic_uint_least64_t deadline_ns;
	atomic_uint sleep_probe;  /* the supervisor's current sleep probe, 0: none */
};

/* kvm_run->immediate_exit is shared by the vCPU thread, which clears it,
 * the supervisor, which sets it to stop the vCPU (smp.c), and KVM, which
 * reads it at KVM_RUN (api.rst 5). The structure is KVM's, so the field
 * cannot be _Atomic: both sides use the atomic built-ins, sequentially
 * consistent so that a vCPU that clears it then sees vm->stopping. */
static inline void vcpu_set_immediate_exit(struct vcpu *vcpu, bool on)
{
	__atomic_store_n(&vcpu->run->immediate_exit, (uint8_t)on, __ATOMIC_SEQ_CST);
}

/* What an exit handler tells the run loop. */
enum exit_action { EXIT_CONTINUE, EXIT_STOP };

/* vmm.c: the VM's subsystems, set up in order and taken down in reverse */
int vmm_run(const struct vmm_options *opt);
void vm_init_state(struct vm *vm, const struct vmm_options *opt);

/* util.c */
void vm_stop(struct vm *vm, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool vm_stopping(struct vm *vm);
void vmm_output(struct vm *vm, const char *buf, size_t n);
void vmm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *vmm_strerror(long err);

/* vm.c (lab 01) */
int vmm_open_kvm(void);
int vm_create(struct vm *vm);
int vm_set_memslot(struct vm *vm, const struct mem_region *region);
int vcpu_create(struct vm *vm, struct vcpu *vcpu, int id);
int vcpu_setup_real(struct vcpu *vcpu, uint64_t entry);
bool vm_has_cap(const struct vm *vm, long cap);
int vm_open(struct vm *vm);
void vm_close(struct vm *vm);
int vcpus_init(struct vm *vm);
void vcpus_exit(struct vm *vm);

/* run.c (lab 01) */
void vcpu_run_loop(struct vcpu *vcpu);
void vcpu_dump(struct vcpu *vcpu);
void vcpu_check_entry_state(struct vcpu *vcpu);
void trace_exit(const struct vcpu *vcpu);
const char *exit_reason_name(uint32_t reason);

/* modes.c (lab 02) */
int vcpu_setup_protected(struct vcpu *vcpu, uint64_t entry);
int vcpu_setup_long(struct vcpu *vcpu, uint64_t entry);
void gdt_build(uint64_t *gdt);
void page_tables_build(uint8_t *ram, uint64_t ram_size);

/* bus.c (lab 03) */
enum exit_action handle_mmio(struct vcpu *vcpu);

/* memory.c (lab 03) */
int vm_add_region(struct vm *vm, const char *name, uint64_t gpa, uint64_t size, void *hva, uint32_t flags);
void *gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);
const struct mem_region *gpa_to_region(const struct vm *vm, uint64_t gpa);
int guest_memory_init(struct vm *vm);
void guest_memory_exit(struct vm *vm);

/* cpuid.c (lab 03) */
int vcpu_setup_cpuid(struct vcpu *vcpu);
int vcpu_setup_msrs(struct vcpu *vcpu);
int vcpu_setup_cpu_model(struct vcpu *vcpu);

/* smp.c (lab 03) */
int vm_run_vcpus(struct vm *vm);

/* irq.c (lab 03) */
#define IRQ_ANY (-1)
int irq_init(struct vm *vm);
void irq_exit(struct vm *vm);
int irq_request(struct vm *vm, int gsi, const char *owner);
void irq_raise(struct vm *vm, int gsi);
int doorbell_init(struct vm *vm);
void doorbell_exit(struct vm *vm);

/* dirty.c (lab 03) */
long dirty_sync(struct vm *vm, bool print);
int dirty_log_init(struct vm *vm);
void dirty_log_exit(struct vm *vm);

/* loader.c */
int load_image(struct vm *vm, const uint8_t *img, size_t size, const struct vmm_options *opt,
	       struct boot_info *boot, char *err, size_t errlen);
int guest_image_init(struct vm *vm);
void guest_image_exit(struct vm *vm);
int guest_boot_init(struct vm *vm);

/* virtio/mmio.c (lab 09) */
int virtio_init(struct vm *vm);
void virtio_exit(struct vm *vm);

/* devices/devices.c */
int devices_init(struct vm *vm);
void devices_exit(struct vm *vm);

#endif
