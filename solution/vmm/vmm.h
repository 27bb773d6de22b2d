/* SPDX-License-Identifier: MIT */
/*
 * The kvmlabs VMM: one virtual machine, its vCPUs, memory and devices.
 *
 * Portable code: it talks to KVM only through kvm_seam.h and to its host only
 * through host.h, so it runs as a Linux process on /dev/kvm and linked into the
 * bare-metal host on top of minikvm.
 */
#ifndef KVMLABS_VMM_H
#define KVMLABS_VMM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kvmlabs/host.h>
#include <kvmlabs/kvm_seam.h>
#include <kvmlabs/lab.h>
#include <kvmlabs/vmm_status.h>

#include "bus.h"

#define VMM_MAX_VCPUS   8
#define VMM_MAX_REGIONS 8
#define PAGE_SIZE       4096ull

enum cpu_mode { MODE_AUTO, MODE_REAL, MODE_PROT, MODE_LONG };

struct vmm_options {
	/* Numbers are uint64_t and flags bool, so the option table can store them. */
	uint64_t mem_size;        /* --mem */
	uint64_t cpus;            /* --cpus */
	enum cpu_mode mode;       /* --mode */
	uint64_t load_addr;       /* --load, ~0 = default for the image kind */
	uint64_t entry;           /* --entry, ~0 = from the image */
	bool trace;               /* --trace */
	bool irqchip;             /* --no-irqchip clears */
	bool dirty_log;           /* --dirty-log, implied by --dirty-report */
	uint64_t dirty_report_ms; /* --dirty-report MS */
	uint64_t timeout_s;       /* --timeout */
	uint64_t max_output;      /* --max-output */
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
};

struct vm {
	const struct vmm_options *opt;
	int kvm_fd, vm_fd;
	size_t run_size;          /* KVM_GET_VCPU_MMAP_SIZE */

	struct mem_region regions[VMM_MAX_REGIONS];
	int nr_regions;
	uint8_t *ram;             /* region 0: guest RAM at GPA 0 */

	struct bus pio_bus, mmio_bus;

	struct vcpu vcpus[VMM_MAX_VCPUS];
	int nr_vcpus;
	atomic_int running_vcpus;

	/* Interrupts and doorbells (lab 03). */
	bool has_irqchip, has_irqfd, has_ioeventfd;
	int irqfd_event[16];      /* per GSI, -1 if none */
	int doorbell_event;       /* -1 if served synchronously */
	struct host_thread *doorbell_thread;
	atomic_uint doorbells;

	/* Ending: the first vm_stop() wins. */
	atomic_int stopping;
	int exit_status;
	int stop_event;           /* signalled by vm_stop() for the supervisor */
	atomic_uint_least64_t output_bytes;
	uint64_t start_ns;
	uint64_t deadline_ns;     /* --timeout, checked by vm_stopping() */
};

/* main.c / util */
void vm_stop(struct vm *vm, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool vm_stopping(struct vm *vm);
bool vm_has_cap(const struct vm *vm, long cap);
void vmm_output(struct vm *vm, const char *buf, size_t n);
void vmm_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *kvm_strerror(long err);
int vmm_main(int argc, char **argv);

/* vm.c (lab 01) */
int kvm_open_checked(void);
int vm_create(struct vm *vm);
int vm_set_memslot(struct vm *vm, const struct mem_region *region);
int vcpu_create(struct vm *vm, struct vcpu *vcpu, int id);
int vcpu_setup_real(struct vcpu *vcpu, uint64_t entry);

/* What an exit handler tells the run loop. */
enum exit_action { EXIT_CONTINUE, EXIT_STOP };

/* run.c (lab 01) */
void vcpu_run_loop(struct vcpu *vcpu);
void vcpu_dump(struct vcpu *vcpu);
void trace_exit(const struct vcpu *vcpu);
const char *kvm_exit_name(uint32_t reason);

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

/* cpuid.c (lab 03) */
int vcpu_setup_cpuid(struct vcpu *vcpu);
int vcpu_setup_msrs(struct vcpu *vcpu);

/* smp.c (lab 03) */
int vm_run_vcpus(struct vm *vm);

/* irq.c (lab 03) */
int irq_setup(struct vm *vm);
void irq_raise(struct vm *vm, int gsi);
int doorbell_setup(struct vm *vm);
void doorbell_teardown(struct vm *vm);

/* dirty.c (lab 03) */
long dirty_sync(struct vm *vm, bool print);

/* loader.c */
struct boot_info {
	uint64_t entry;
	enum cpu_mode mode;
	bool multiboot;
	const char *kind;         /* "flat", "elf32", "elf64", "multiboot" */
};
int load_image(struct vm *vm, const uint8_t *img, size_t size, const struct vmm_options *opt,
	       struct boot_info *boot, char *err, size_t errlen);

/* devices */
int devices_setup(struct vm *vm);

#endif
