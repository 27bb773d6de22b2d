/* SPDX-License-Identifier: MIT */
/*
 * minikvm's generic core (Linux: virt/kvm/kvm_main.c): the handles that stand
 * in for file descriptors, ioctl dispatch per object kind, VM and vCPU life
 * cycle, memslots, guest-memory access and vCPU blocking. Entry points of the
 * KVM seam (kvmlabs/kvm_seam.h). Architecture work goes to x86.c through the
 * kvm_arch_* functions, as in Linux.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kvmlabs/host_kernel.h"
#include "kvmlabs/kvm_seam.h"
#include "kvmlabs/lab.h"
#include "irq.h"
#include "kvm_host.h"

/* ---- memory ------------------------------------------------------------- */

void *kvm_zalloc(size_t size)
{
	size_t pages = (size + KVM_PAGE_SIZE - 1) / KVM_PAGE_SIZE;
	return pages == 1 ? host_page_alloc() : host_pages_alloc(pages, KVM_PAGE_SIZE);
}

void kvm_free(void *p, size_t size)
{
	size_t pages = (size + KVM_PAGE_SIZE - 1) / KVM_PAGE_SIZE;
	if (!p)
		return;
	if (pages == 1)
		host_page_free(p);
	else
		host_pages_free(p, pages);
}

/* ---- handles: the file descriptors of the bare-metal KVM ---------------- */

enum kvm_handle_kind { HANDLE_FREE, HANDLE_SYSTEM, HANDLE_VM, HANDLE_VCPU };

#define KVM_MAX_HANDLES 32
#define KVM_FIRST_HANDLE 3 /* like fds after stdin/stdout/stderr: 0 is never a valid handle */

static struct {
	enum kvm_handle_kind kind;
	void *object;
} kvm_handles[KVM_MAX_HANDLES];

static int kvm_vm_count;          /* the vendor is enabled while a VM exists (Linux: hardware_enable_all) */
static bool kvm_hardware_ready;   /* kvm_arch_hardware_setup() succeeded */

static int handle_alloc(enum kvm_handle_kind kind, void *object)
{
	for (int i = 0; i < KVM_MAX_HANDLES; i++) {
		if (kvm_handles[i].kind == HANDLE_FREE) {
			kvm_handles[i].kind = kind;
			kvm_handles[i].object = object;
			return i + KVM_FIRST_HANDLE;
		}
	}
	return -EMFILE;
}

/* The kind of handle fd (HANDLE_FREE if none) and its object. */
static enum kvm_handle_kind handle_get(int fd, void **object)
{
	int i = fd - KVM_FIRST_HANDLE;
	if (i < 0 || i >= KVM_MAX_HANDLES)
		return HANDLE_FREE;
	*object = kvm_handles[i].object;
	return kvm_handles[i].kind;
}

static void handle_release(int fd)
{
	int i = fd - KVM_FIRST_HANDLE;
	kvm_handles[i].kind = HANDLE_FREE;
	kvm_handles[i].object = NULL;
}

/* ---- memslots ----------------------------------------------------------- */

// @region gfn_to_memslot
struct kvm_memory_slot *gfn_to_memslot(struct kvm *kvm, gfn_t gfn)
{
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++) {
		struct kvm_memory_slot *slot = &kvm->memslots[i];
		if (slot->npages && gfn >= slot->base_gfn && gfn - slot->base_gfn < slot->npages)
			return slot;
	}
	return NULL;
}

hva_t gfn_to_hva_prot(struct kvm *kvm, gfn_t gfn, bool *writable)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	if (!slot)
		return KVM_HVA_ERR_BAD;
	if (writable)
		*writable = !(slot->flags & KVM_MEM_READONLY);
	return slot->userspace_addr + ((gfn - slot->base_gfn) << KVM_PAGE_SHIFT);
}
// @end

hva_t gfn_to_hva(struct kvm *kvm, gfn_t gfn)
{
	return gfn_to_hva_prot(kvm, gfn, NULL);
}

int kvm_read_guest(struct kvm *kvm, gpa_t gpa, void *data, size_t len)
{
	uint8_t *dst = data;
	while (len) {
		size_t offset = gpa & (KVM_PAGE_SIZE - 1);
		size_t chunk = len < KVM_PAGE_SIZE - offset ? len : KVM_PAGE_SIZE - offset;
		hva_t hva = gfn_to_hva(kvm, gpa >> KVM_PAGE_SHIFT);
		if (hva == KVM_HVA_ERR_BAD)
			return -EFAULT;
		memcpy(dst, (const void *)(uintptr_t)(hva + offset), chunk);
		dst += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* Write guest RAM on the guest's behalf (the emulator's stores): only
 * writable slots, each page marked in the dirty log (Linux:
 * kvm_write_guest, kvm_vcpu_mark_page_dirty). -EFAULT if any page is not
 * writable RAM; nothing is written then. */
int kvm_write_guest(struct kvm *kvm, gpa_t gpa, const void *data, size_t len)
{
	for (gpa_t g = gpa & ~(gpa_t)(KVM_PAGE_SIZE - 1); g < gpa + len; g += KVM_PAGE_SIZE) {
		bool writable;
		if (gfn_to_hva_prot(kvm, g >> KVM_PAGE_SHIFT, &writable) == KVM_HVA_ERR_BAD || !writable)
			return -EFAULT;
	}
	const uint8_t *src = data;
	while (len) {
		size_t offset = gpa & (KVM_PAGE_SIZE - 1);
		size_t chunk = len < KVM_PAGE_SIZE - offset ? len : KVM_PAGE_SIZE - offset;
		hva_t hva = gfn_to_hva(kvm, gpa >> KVM_PAGE_SHIFT);
		memcpy((void *)(uintptr_t)(hva + offset), src, chunk);
		mark_page_dirty(kvm, gpa >> KVM_PAGE_SHIFT);
		src += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

static size_t kvm_dirty_bitmap_bytes(const struct kvm_memory_slot *slot)
{
	return (slot->npages + 63) / 64 * 8;
}

static void kvm_slot_free(struct kvm *kvm, struct kvm_memory_slot *slot)
{
	if (slot->dirty_bitmap)
		kvm_free(slot->dirty_bitmap, kvm_dirty_bitmap_bytes(slot));
	slot->dirty_bitmap = NULL;
	kvm_arch_free_memslot(kvm, slot);
}

static bool memslot_overlaps(struct kvm *kvm, uint16_t id, gfn_t base, uint64_t npages)
{
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++) {
		struct kvm_memory_slot *s = &kvm->memslots[i];
		if (i == id || !s->npages)
			continue;
		if (base < s->base_gfn + s->npages && s->base_gfn < base + npages)
			return true;
	}
	return false;
}

/* The rules of Linux's __kvm_set_memory_region() (api.rst 4.35). */
static int kvm_set_memory_region(struct kvm *kvm, const struct kvm_userspace_memory_region *mem)
{
	/* Dirty logging needs the shadow MMU's write protection (lab 05). */
	const uint32_t valid_flags = KVM_MEM_READONLY | (LAB_ENABLED(5) ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	if (mem->flags & ~valid_flags)
		return -EINVAL;
	if ((mem->slot >> 16) != 0)
		return -EINVAL;  /* one address space */
	uint16_t id = (uint16_t)mem->slot;
	if (id >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	if ((mem->memory_size | mem->guest_phys_addr | mem->userspace_addr) & (KVM_PAGE_SIZE - 1))
		return -EINVAL;
	if (mem->guest_phys_addr + mem->memory_size < mem->guest_phys_addr)
		return -EINVAL;
	/* userspace_addr is a host pointer, identity mapped: it must not wrap either. */
	if (mem->userspace_addr + mem->memory_size < mem->userspace_addr)
		return -EINVAL;

	struct kvm_memory_slot *old = &kvm->memslots[id];
	uint64_t npages = mem->memory_size >> KVM_PAGE_SHIFT;
	gfn_t base = mem->guest_phys_addr >> KVM_PAGE_SHIFT;

	if (npages == 0) {
		if (!old->npages)
			return -EINVAL;
		/* Zap while the slot still says which gfns its sptes map. */
		kvm_arch_flush_shadow_memslot(kvm, old);
		kvm_slot_free(kvm, old);
		memset(old, 0, sizeof(*old));
		kvm->memslots_generation++;
		kvm_arch_memslots_updated(kvm);
		return 0;
	}
	if (old->npages) {
		/* An existing slot may move or change its dirty-log flag; never its
		 * size, its host memory or its read-only-ness. */
		if (mem->userspace_addr != old->userspace_addr || npages != old->npages ||
		    ((mem->flags ^ old->flags) & KVM_MEM_READONLY))
			return -EINVAL;
		if (base == old->base_gfn && mem->flags == old->flags)
			return 0;
	}
	if (memslot_overlaps(kvm, id, base, npages))
		return -EEXIST;
	struct kvm_memory_slot new = {
		.base_gfn = base, .npages = npages, .userspace_addr = mem->userspace_addr, .flags = mem->flags, .id = id,
	};
	if (old->npages) {
		/* A move or a new dirty-log flag: the MMU's arrays stay (the zap
		 * below empties them); the bitmap follows the flag. */
		kvm_arch_flush_shadow_memslot(kvm, old);
		new.arch = old->arch;
		new.dirty_bitmap = old->dirty_bitmap;
	} else if (kvm_arch_create_memslot(kvm, &new) < 0) {
		return -ENOMEM;
	}
	bool logging = new.flags & KVM_MEM_LOG_DIRTY_PAGES;
	if (logging && !new.dirty_bitmap) {
		new.dirty_bitmap = kvm_zalloc(kvm_dirty_bitmap_bytes(&new));
		if (!new.dirty_bitmap) {
			if (!old->npages)
				kvm_slot_free(kvm, &new);
			return -ENOMEM;
		}
	} else if (!logging && new.dirty_bitmap) {
		kvm_free(new.dirty_bitmap, kvm_dirty_bitmap_bytes(&new));
		new.dirty_bitmap = NULL;
	}
	*old = new;
	/* A new slot needs no zap: nothing mapped its gfns but MMIO sptes, and
	 * the new generation retires those. */
	kvm->memslots_generation++;
	kvm_arch_memslots_updated(kvm);
	return 0;
}

/* Every vCPU drops its cached translations before it next enters (Linux:
 * kvm_flush_remote_tlbs). Without EPT and VPIDs each VM entry does that
 * anyway; EPT's guest-physical translations survive entries and exits, so
 * an EPT entry made narrower or dropped needs this (INVEPT, SDM Vol. 3 29.4.3.1). */
void kvm_flush_remote_tlbs(struct kvm *kvm)
{
	for (int i = 0; i < kvm->nr_vcpus; i++)
		if (kvm->vcpus[i])
			kvm_make_request(KVM_REQ_TLB_FLUSH, kvm->vcpus[i]);
}

/* ---- the dirty log (Linux: kvm_get_dirty_log_protect, mark_page_dirty) -------- */

void mark_page_dirty(struct kvm *kvm, gfn_t gfn)
{
	struct kvm_memory_slot *slot = gfn_to_memslot(kvm, gfn);
	if (slot && slot->dirty_bitmap) {
		uint64_t i = gfn - slot->base_gfn;
		slot->dirty_bitmap[i / 64] |= 1ull << (i % 64);
	}
}

/* Copy the slot's log out, clear it, and write-protect the slot so the next
 * writes are caught again (api.rst 4.37). The bitmap has a bit per page,
 * rounded up to 64 bits, as Linux's. */
static long kvm_vm_ioctl_get_dirty_log(struct kvm *kvm, struct kvm_dirty_log *log)
{
	if ((log->slot >> 16) != 0 || (log->slot & 0xffff) >= KVM_USER_MEM_SLOTS)
		return -EINVAL;
	struct kvm_memory_slot *slot = &kvm->memslots[log->slot & 0xffff];
	if (!slot->npages)
		return -EINVAL;
	if (!slot->dirty_bitmap)
		return -ENOENT;
	if (!log->dirty_bitmap)
		return -EFAULT;
	size_t bytes = kvm_dirty_bitmap_bytes(slot);
	memcpy(log->dirty_bitmap, slot->dirty_bitmap, bytes);
	memset(slot->dirty_bitmap, 0, bytes);
	kvm_arch_sync_dirty_log(kvm, slot);
	return 0;
}

/* ---- VM and vCPU life cycle --------------------------------------------- */

static void kvm_put_kvm(struct kvm *kvm)
{
	if (--kvm->refs > 0)
		return;
	kvm_arch_destroy_vm(kvm);
	for (int i = 0; i < KVM_USER_MEM_SLOTS; i++)
		if (kvm->memslots[i].npages)
			kvm_slot_free(kvm, &kvm->memslots[i]);
	kvm_free(kvm, sizeof(*kvm));
	if (--kvm_vm_count == 0)
		kvm_arch_hardware_disable();
}

static long kvm_dev_ioctl_create_vm(unsigned long type)
{
	if (type != 0)
		return -EINVAL;
	if (kvm_vm_count == 0) {
		int r = kvm_arch_hardware_enable();
		if (r < 0)
			return r;
	}
	struct kvm *kvm = kvm_zalloc(sizeof(*kvm));
	if (!kvm)
		goto nomem;
	kvm->refs = 1;
	kvm_vm_count++;
	if (kvm_arch_init_vm(kvm) < 0) {
		kvm_put_kvm(kvm);
		return -ENOMEM;
	}
	int fd = handle_alloc(HANDLE_VM, kvm);
	if (fd < 0) {
		kvm_put_kvm(kvm);
		return fd;
	}
	kvm->handle = fd;
	return fd;
nomem:
	if (kvm_vm_count == 0)
		kvm_arch_hardware_disable();
	return -ENOMEM;
}

static void kvm_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	struct kvm *kvm = vcpu->kvm;
	kvm_arch_vcpu_destroy(vcpu);
	kvm_free(vcpu->run, KVM_VCPU_MMAP_PAGES * KVM_PAGE_SIZE);
	for (int i = 0; i < kvm->nr_vcpus; i++)
		if (kvm->vcpus[i] == vcpu)
			kvm->vcpus[i] = NULL;
	kvm_free(vcpu, kvm_arch_vcpu_size());
	kvm_put_kvm(kvm);
}

static long kvm_vm_ioctl_create_vcpu(struct kvm *kvm, unsigned long id)
{
	if (id >= KVM_MAX_VCPUS)
		return -EINVAL;
	if (kvm->vcpus[id])
		return -EEXIST;
	/* The vendor's vCPU, which starts with struct kvm_vcpu (Linux: vcpu_size). */
	struct kvm_vcpu *vcpu = kvm_zalloc(kvm_arch_vcpu_size());
	if (!vcpu)
		return -ENOMEM;
	vcpu->run = kvm_zalloc(KVM_VCPU_MMAP_PAGES * KVM_PAGE_SIZE);
	if (!vcpu->run) {
		kvm_free(vcpu, kvm_arch_vcpu_size());
		return -ENOMEM;
	}
	vcpu->kvm = kvm;
	vcpu->vcpu_id = (int)id;
	kvm->refs++;
	int r = kvm_arch_vcpu_create(vcpu);
	if (r == 0)
		r = handle_alloc(HANDLE_VCPU, vcpu);
	if (r < 0) {
		kvm_vcpu_destroy(vcpu);
		return r;
	}
	vcpu->handle = r;
	kvm->vcpus[id] = vcpu;
	if ((int)id >= kvm->nr_vcpus)
		kvm->nr_vcpus = (int)id + 1;
	return r;
}

/* ---- the I/O buses of in-kernel devices (Linux: kvm_io_bus_*) ------------- */

int kvm_io_bus_register_dev(struct kvm *kvm, enum kvm_bus bus, uint64_t addr, int len, struct kvm_io_device *dev)
{
	struct kvm_io_bus *b = &kvm->buses[bus];
	if (b->dev_count >= KVM_IO_BUS_MAX_DEVS)
		return -ENOSPC;
	b->range[b->dev_count++] = (struct kvm_io_range){ .addr = addr, .len = len, .dev = dev };
	return 0;
}

void kvm_io_bus_unregister_dev(struct kvm *kvm, enum kvm_bus bus, struct kvm_io_device *dev)
{
	struct kvm_io_bus *b = &kvm->buses[bus];
	for (int i = 0; i < b->dev_count;) {
		if (b->range[i].dev == dev)
			b->range[i] = b->range[--b->dev_count];
		else
			i++;
	}
}

/* The first device whose range holds the whole access and that takes it. */
static int kvm_io_bus_access(struct kvm_vcpu *vcpu, enum kvm_bus bus, uint64_t addr, int len, void *val,
			     bool write)
{
	const struct kvm_io_bus *b = &vcpu->kvm->buses[bus];
	for (int i = 0; i < b->dev_count; i++) {
		const struct kvm_io_range *r = &b->range[i];
		if (addr < r->addr || addr + (uint64_t)len > r->addr + (uint64_t)r->len)
			continue;
		struct kvm_io_device *dev = r->dev;
		int ret = write ? (dev->ops->write ? dev->ops->write(vcpu, dev, addr, len, val) : -EOPNOTSUPP)
				: (dev->ops->read ? dev->ops->read(vcpu, dev, addr, len, val) : -EOPNOTSUPP);
		if (ret == 0)
			return 0;
	}
	return -EOPNOTSUPP;
}

int kvm_io_bus_write(struct kvm_vcpu *vcpu, enum kvm_bus bus, uint64_t addr, int len, const void *val)
{
	return kvm_io_bus_access(vcpu, bus, addr, len, (void *)val, true);
}

int kvm_io_bus_read(struct kvm_vcpu *vcpu, enum kvm_bus bus, uint64_t addr, int len, void *val)
{
	return kvm_io_bus_access(vcpu, bus, addr, len, val, false);
}

/* ---- blocking (Linux: kvm_vcpu_block) ------------------------------------ */

/* Something became pending for vcpu (Linux: kvm_vcpu_kick, an IPI to the CPU
 * that runs it). The host runs one vCPU at a time on its one CPU: a vCPU that
 * blocks looks at its own conditions again at each step of its wait
 * (kvm_vcpu_block), and the kicking thread gives the CPU up at its next
 * chance, so the kicked vCPU runs as soon as another CPU would let it. */
void kvm_vcpu_kick(struct kvm_vcpu *vcpu)
{
	vcpu->kicks++;
	host_thread_yield_soon();
}


bool kvm_vcpu_block(struct kvm_vcpu *vcpu, uint64_t deadline_ns)
{
	for (;;) {
		if (kvm_arch_vcpu_runnable(vcpu))
			return true;
		uint64_t now = host_clock_ns();
		if (now >= deadline_ns)
			return false;
		uint64_t wake = kvm_arch_vcpu_wake_time_ns(vcpu);
		host_wait_until(wake < deadline_ns ? wake : deadline_ns);
	}
}

/* ---- ioctl dispatch ----------------------------------------------------- */

// @region check_extension
static long kvm_vm_ioctl_check_extension_generic(struct kvm *kvm, long cap)
{
	switch (cap) {
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
	case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
	case KVM_CAP_READONLY_MEM:
	case KVM_CAP_IMMEDIATE_EXIT:
	case KVM_CAP_CHECK_EXTENSION_VM:
		return 1;
	case KVM_CAP_NR_VCPUS:
	case KVM_CAP_MAX_VCPUS:
	case KVM_CAP_MAX_VCPU_ID:
		return KVM_MAX_VCPUS;
	case KVM_CAP_NR_MEMSLOTS:
		return KVM_USER_MEM_SLOTS;
	default:
		return kvm_vm_ioctl_check_extension(kvm, cap);
	}
}
// @end

static long kvm_dev_ioctl(unsigned long request, void *arg)
{
	switch (request) {
	case KVM_GET_API_VERSION:
		return arg ? -EINVAL : KVM_API_VERSION;
	case KVM_CREATE_VM:
		return kvm_dev_ioctl_create_vm((unsigned long)(uintptr_t)arg);
	case KVM_CHECK_EXTENSION:
		return kvm_vm_ioctl_check_extension_generic(NULL, (long)(uintptr_t)arg);
	case KVM_GET_VCPU_MMAP_SIZE:
		return arg ? -EINVAL : (long)(KVM_VCPU_MMAP_PAGES * KVM_PAGE_SIZE);
	default:
		return kvm_arch_dev_ioctl(request, arg);
	}
}

static long kvm_vm_ioctl(struct kvm *kvm, unsigned long request, void *arg)
{
	switch (request) {
	case KVM_CREATE_VCPU:
		return kvm_vm_ioctl_create_vcpu(kvm, (unsigned long)(uintptr_t)arg);
	case KVM_SET_USER_MEMORY_REGION:
		if (!arg)
			return -EFAULT;
		return kvm_set_memory_region(kvm, arg);
	case KVM_CHECK_EXTENSION:
		return kvm_vm_ioctl_check_extension_generic(kvm, (long)(uintptr_t)arg);
	case KVM_GET_DIRTY_LOG:
		if (!arg)
			return -EFAULT;
		return kvm_vm_ioctl_get_dirty_log(kvm, arg);
	default:
		return kvm_arch_vm_ioctl(kvm, request, arg);
	}
}

int kvm_seam_open(void)
{
	if (!kvm_hardware_ready) {
		char err[200];
		if (kvm_arch_hardware_setup(err, sizeof(err)) < 0) {
			printf("minikvm: no usable VMX: %s\n", err);
			return -ENODEV;
		}
		kvm_hardware_ready = true;
	}
	return handle_alloc(HANDLE_SYSTEM, NULL);
}

long kvm_ioctl(int fd, unsigned long request, void *arg)
{
	void *object = NULL;
	switch (handle_get(fd, &object)) {
	case HANDLE_SYSTEM:
		return kvm_dev_ioctl(request, arg);
	case HANDLE_VM:
		return kvm_vm_ioctl(object, request, arg);
	case HANDLE_VCPU:
		return kvm_arch_vcpu_ioctl(object, request, arg);
	default:
		return -EBADF;
	}
}

struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size)
{
	void *object = NULL;
	if (handle_get(vcpu_fd, &object) != HANDLE_VCPU || size == 0 || size > KVM_VCPU_MMAP_PAGES * KVM_PAGE_SIZE)
		return NULL;
	return ((struct kvm_vcpu *)object)->run;
}

void kvm_seam_close(int fd)
{
	void *object = NULL;
	enum kvm_handle_kind kind = handle_get(fd, &object);
	if (kind == HANDLE_FREE)
		return;
	handle_release(fd);
	if (kind == HANDLE_VM)
		kvm_put_kvm(object);
	else if (kind == HANDLE_VCPU)
		kvm_vcpu_destroy(object);
}

const char *kvm_seam_name(void)
{
	return "minikvm";
}
