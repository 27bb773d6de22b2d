/* SPDX-License-Identifier: MIT */
/*
 * The fake KVM behind kvm_seam.h for unit tests (fake_kvm.h says what it does).
 * Where it checks arguments it checks them the way Linux does, citing the
 * function in virt/kvm/kvm_main.c or arch/x86/kvm/x86.c that does the same.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <x86/const.h>

#include "fake_host.h"
#include "fake_kvm.h"

#define MAX_HANDLES   64
#define MAX_SLOTS     32
#define MAX_QUEUED    8
#define MAX_OVERRIDES 32
#define MAX_RECEIVED  4096
#define PIO_DATA_OFFSET (KVM_PIO_PAGE_OFFSET * 4096)
#define IDLE_BLOCK_LIMIT_MS 5000

struct step {
	struct step *next;
	long result;
	uint32_t reason;
	fake_exit_fn fill;
	void *ctx;
	/* for the built-in I/O and MMIO exits */
	struct kvm_run exit;
	uint8_t data[512];
};

struct handle {
	enum fake_handle_kind kind;
	bool closed;
	int parent;                 /* VM of a vCPU */
	long vcpu_id;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_run *run;
	size_t run_size;
	int maps;
	struct step *script, **script_tail;
	uint32_t last_reason;
	struct kvm_run last_exit;
	uint8_t received[MAX_RECEIVED];
	size_t nreceived;
};

struct slot {
	bool used;
	int vm_fd;
	struct kvm_userspace_memory_region region;
	uint64_t *dirty;
	size_t dirty_words;
};

struct override {
	unsigned long request;
	bool has_result;
	long result;
	long queued[MAX_QUEUED];
	int nqueued;
	fake_ioctl_fn fn;
	void *ctx;
};

static struct {
	pthread_mutex_t lock;
	struct handle handles[MAX_HANDLES];   /* fd = index + FD_BASE */
	int nhandles;
	long open_error;
	long mmap_size;
	long caps[256];
	struct slot slots[MAX_SLOTS];
	struct override overrides[MAX_OVERRIDES];
	int noverrides;
	struct kvm_cpuid_entry2 *cpuid;
	unsigned ncpuid;
	bool idle_blocks;
	struct fake_call *calls;
	int ncalls, calls_cap;
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Handles start well above what a process has open, so a VMM that mixes up a
 * handle with something else is caught by the kind checks. */
#define FD_BASE 40

static const struct request_def {
	unsigned long request;
	const char *name;
	enum fake_handle_kind kind, kind2;
} requests[] = {
	{ KVM_GET_API_VERSION, "KVM_GET_API_VERSION", FAKE_SYSTEM, FAKE_NONE },
	{ KVM_CREATE_VM, "KVM_CREATE_VM", FAKE_SYSTEM, FAKE_NONE },
	{ KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE", FAKE_SYSTEM, FAKE_NONE },
	{ KVM_CHECK_EXTENSION, "KVM_CHECK_EXTENSION", FAKE_SYSTEM, FAKE_VM },
	{ KVM_GET_SUPPORTED_CPUID, "KVM_GET_SUPPORTED_CPUID", FAKE_SYSTEM, FAKE_NONE },
	{ KVM_GET_MSR_INDEX_LIST, "KVM_GET_MSR_INDEX_LIST", FAKE_SYSTEM, FAKE_NONE },
	{ KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", FAKE_VM, FAKE_NONE },
	{ KVM_CREATE_VCPU, "KVM_CREATE_VCPU", FAKE_VM, FAKE_NONE },
	{ KVM_GET_DIRTY_LOG, "KVM_GET_DIRTY_LOG", FAKE_VM, FAKE_NONE },
	{ KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", FAKE_VM, FAKE_NONE },
	{ KVM_IRQ_LINE, "KVM_IRQ_LINE", FAKE_VM, FAKE_NONE },
	{ KVM_IRQFD, "KVM_IRQFD", FAKE_VM, FAKE_NONE },
	{ KVM_IOEVENTFD, "KVM_IOEVENTFD", FAKE_VM, FAKE_NONE },
	{ KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", FAKE_VM, FAKE_NONE },
	{ KVM_CREATE_PIT2, "KVM_CREATE_PIT2", FAKE_VM, FAKE_NONE },
	{ KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", FAKE_VM, FAKE_NONE },
	{ KVM_RUN, "KVM_RUN", FAKE_VCPU, FAKE_NONE },
	{ KVM_GET_REGS, "KVM_GET_REGS", FAKE_VCPU, FAKE_NONE },
	{ KVM_SET_REGS, "KVM_SET_REGS", FAKE_VCPU, FAKE_NONE },
	{ KVM_GET_SREGS, "KVM_GET_SREGS", FAKE_VCPU, FAKE_NONE },
	{ KVM_SET_SREGS, "KVM_SET_SREGS", FAKE_VCPU, FAKE_NONE },
	{ KVM_SET_CPUID2, "KVM_SET_CPUID2", FAKE_VCPU, FAKE_NONE },
	{ KVM_GET_MSRS, "KVM_GET_MSRS", FAKE_VCPU, FAKE_NONE },
	{ KVM_SET_MSRS, "KVM_SET_MSRS", FAKE_VCPU, FAKE_NONE },
	{ KVM_TRANSLATE, "KVM_TRANSLATE", FAKE_VCPU, FAKE_NONE },
	{ KVM_GET_MP_STATE, "KVM_GET_MP_STATE", FAKE_VCPU, FAKE_NONE },
	{ KVM_SET_MP_STATE, "KVM_SET_MP_STATE", FAKE_VCPU, FAKE_NONE },
	{ KVM_INTERRUPT, "KVM_INTERRUPT", FAKE_VCPU, FAKE_NONE },
};

static const struct request_def *request_def(unsigned long request)
{
	for (size_t i = 0; i < ARRAY_SIZE(requests); i++)
		if (requests[i].request == request)
			return &requests[i];
	return NULL;
}

const char *fake_kvm_request_name(unsigned long request)
{
	const struct request_def *d = request_def(request);
	return d ? d->name : "an unknown request";
}

static struct handle *handle_of(int fd)
{
	int i = fd - FD_BASE;
	if (i < 0 || i >= fk.nhandles || fk.handles[i].closed)
		return NULL;
	return &fk.handles[i];
}

static int handle_new(enum fake_handle_kind kind)
{
	if (fk.nhandles == MAX_HANDLES)
		return -EMFILE;
	struct handle *h = &fk.handles[fk.nhandles];
	memset(h, 0, sizeof(*h));
	h->kind = kind;
	h->script_tail = &h->script;
	return FD_BASE + fk.nhandles++;
}

/* The state after RESET (SDM Vol. 3 10.1.1, table 10-1), as KVM sets it up. */
static void vcpu_reset_state(struct handle *h)
{
	h->regs = (struct kvm_regs){ .rip = 0xfff0, .rflags = 0x2, .rdx = 0x600 };
	struct kvm_segment data = { .base = 0, .limit = 0xffff, .selector = 0, .type = 3, .present = 1, .s = 1 };
	h->sregs = (struct kvm_sregs){
		.cs = { .base = 0xffff0000, .limit = 0xffff, .selector = 0xf000, .type = 0xb, .present = 1, .s = 1 },
		.ds = data, .es = data, .fs = data, .gs = data, .ss = data,
		.tr = { .limit = 0xffff, .type = 0xb, .present = 1 },
		.ldt = { .limit = 0xffff, .type = 2, .present = 1 },
		.gdt = { .limit = 0xffff }, .idt = { .limit = 0xffff },
		.cr0 = 0x60000010, .apic_base = 0xfee00900,
	};
}

static const struct kvm_cpuid_entry2 default_cpuid[] = {
	{ .function = 0, .eax = 0x10, .ebx = 0x68747541, .edx = 0x69746e65, .ecx = 0x444d4163 },
	{ .function = 1, .eax = 0x00a00f11, .ebx = 0xaa020800, .ecx = 0xf6d83223, .edx = 0x0f8bfbff },
	{ .function = 4, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x121 },
	{ .function = 4, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x122 },
	{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0x219c07ab },
	{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d },
	{ .function = 0x40000001, .eax = 0x01007afb },
	{ .function = 0x80000000, .eax = 0x80000021, .ebx = 0x68747541 },
	{ .function = 0x80000001, .ecx = 0x75c237ff, .edx = 0x2fd3fbff },
};

static void free_steps(struct step *s)
{
	while (s) {
		struct step *next = s->next;
		free(s);
		s = next;
	}
}

void fake_kvm_reset(void)
{
	pthread_mutex_lock(&fk.lock);
	for (int i = 0; i < fk.nhandles; i++) {
		free(fk.handles[i].run);
		free_steps(fk.handles[i].script);
	}
	for (int i = 0; i < MAX_SLOTS; i++)
		free(fk.slots[i].dirty);
	for (int i = 0; i < fk.ncalls; i++)
		free(fk.calls[i].arg);
	free(fk.calls);
	free(fk.cpuid);
	pthread_mutex_t lock = fk.lock;
	memset(&fk, 0, sizeof(fk));
	fk.lock = lock;
	fk.mmap_size = 3 * 4096;
	pthread_mutex_unlock(&fk.lock);
	fake_kvm_set_supported_cpuid(default_cpuid, ARRAY_SIZE(default_cpuid));
}

/* ---- programming ---------------------------------------------------------- */

static struct override *override_of(unsigned long request)
{
	for (int i = 0; i < fk.noverrides; i++)
		if (fk.overrides[i].request == request)
			return &fk.overrides[i];
	ck_assert_msg(fk.noverrides < MAX_OVERRIDES, "fake_kvm: too many programmed requests");
	struct override *o = &fk.overrides[fk.noverrides++];
	memset(o, 0, sizeof(*o));
	o->request = request;
	return o;
}

void fake_kvm_fail_open(long err)
{
	fk.open_error = err;
}

void fake_kvm_set_result(unsigned long request, long result)
{
	pthread_mutex_lock(&fk.lock);
	struct override *o = override_of(request);
	o->has_result = true;
	o->result = result;
	pthread_mutex_unlock(&fk.lock);
}

void fake_kvm_push_result(unsigned long request, long result)
{
	pthread_mutex_lock(&fk.lock);
	struct override *o = override_of(request);
	ck_assert_msg(o->nqueued < MAX_QUEUED, "fake_kvm: too many queued results");
	o->queued[o->nqueued++] = result;
	pthread_mutex_unlock(&fk.lock);
}

void fake_kvm_set_handler(unsigned long request, fake_ioctl_fn fn, void *ctx)
{
	pthread_mutex_lock(&fk.lock);
	struct override *o = override_of(request);
	o->fn = fn;
	o->ctx = ctx;
	pthread_mutex_unlock(&fk.lock);
}

void fake_kvm_set_cap(long cap, long value)
{
	ck_assert_msg(cap >= 0 && cap < 256, "fake_kvm: capability %ld out of range", cap);
	fk.caps[cap] = value;
}

void fake_kvm_set_mmap_size(long size)
{
	fk.mmap_size = size;
}

void fake_kvm_set_supported_cpuid(const struct kvm_cpuid_entry2 *entries, unsigned n)
{
	pthread_mutex_lock(&fk.lock);
	free(fk.cpuid);
	fk.cpuid = calloc(n ? n : 1, sizeof(*entries));
	memcpy(fk.cpuid, entries, n * sizeof(*entries));
	fk.ncpuid = n;
	pthread_mutex_unlock(&fk.lock);
}

static struct slot *slot_of(int vm_fd, unsigned slot)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		if (fk.slots[i].used && fk.slots[i].vm_fd == vm_fd && fk.slots[i].region.slot == slot)
			return &fk.slots[i];
	return NULL;
}

void fake_kvm_set_dirty_bitmap(unsigned slot, const uint64_t *words, size_t nwords)
{
	pthread_mutex_lock(&fk.lock);
	struct slot *s = NULL;
	for (int i = 0; i < MAX_SLOTS && !s; i++)
		if (fk.slots[i].used && fk.slots[i].region.slot == slot)
			s = &fk.slots[i];
	ck_assert_msg(s, "fake_kvm: the test set a dirty bitmap for slot %u, which no "
		      "KVM_SET_USER_MEMORY_REGION created", slot);
	free(s->dirty);
	s->dirty = calloc(nwords ? nwords : 1, sizeof(uint64_t));
	memcpy(s->dirty, words, nwords * sizeof(uint64_t));
	s->dirty_words = nwords;
	pthread_mutex_unlock(&fk.lock);
}

void fake_kvm_set_idle_blocks(bool block)
{
	fk.idle_blocks = block;
}

/* ---- scripts -------------------------------------------------------------- */

static struct step *queue_step(int vcpu_fd, long result, uint32_t reason)
{
	pthread_mutex_lock(&fk.lock);
	struct handle *h = handle_of(vcpu_fd);
	ck_assert_msg(h && h->kind == FAKE_VCPU, "fake_kvm: script for %d, which is not a vCPU handle", vcpu_fd);
	struct step *s = calloc(1, sizeof(*s));
	s->result = result;
	s->reason = reason;
	*h->script_tail = s;
	h->script_tail = &s->next;
	pthread_mutex_unlock(&fk.lock);
	return s;
}

void fake_kvm_queue_run(int vcpu_fd, long result, uint32_t reason, fake_exit_fn fill, void *ctx)
{
	struct step *s = queue_step(vcpu_fd, result, reason);
	s->fill = fill;
	s->ctx = ctx;
}

void fake_kvm_queue_exit(int vcpu_fd, uint32_t reason)
{
	fake_kvm_queue_run(vcpu_fd, 0, reason, NULL, NULL);
}

static void fill_io(struct kvm_run *run, void *ctx)
{
	struct step *s = ctx;
	run->io = s->exit.io;
	uint8_t *data = (uint8_t *)run + PIO_DATA_OFFSET;
	size_t n = (size_t)run->io.size * run->io.count;
	if (run->io.direction == KVM_EXIT_IO_OUT)
		memcpy(data, s->data, n);
	else
		memset(data, 0xcc, n); /* stale bytes: an IN the VMM does not fill shows */
}

void fake_kvm_queue_io(int vcpu_fd, uint8_t direction, uint16_t port, uint8_t size, uint32_t count,
		       const void *data)
{
	struct step *s = queue_step(vcpu_fd, 0, KVM_EXIT_IO);
	size_t n = (size_t)size * count;
	ck_assert_msg(n <= sizeof(s->data), "fake_kvm: I/O exit of %zu bytes is too large", n);
	s->exit.io.direction = direction;
	s->exit.io.port = port;
	s->exit.io.size = size;
	s->exit.io.count = count;
	s->exit.io.data_offset = PIO_DATA_OFFSET;
	if (direction == KVM_EXIT_IO_OUT && data)
		memcpy(s->data, data, n);
	s->fill = fill_io;
	s->ctx = s;
}

static void fill_mmio(struct kvm_run *run, void *ctx)
{
	struct step *s = ctx;
	run->mmio = s->exit.mmio;
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xcc, sizeof(run->mmio.data));
}

void fake_kvm_queue_mmio(int vcpu_fd, bool is_write, uint64_t gpa, uint32_t len, const void *data)
{
	struct step *s = queue_step(vcpu_fd, 0, KVM_EXIT_MMIO);
	s->exit.mmio.phys_addr = gpa;
	s->exit.mmio.len = len;
	s->exit.mmio.is_write = is_write;
	if (is_write && data)
		memcpy(s->exit.mmio.data, data, len < 8 ? len : 8);
	s->fill = fill_mmio;
	s->ctx = s;
}

size_t fake_kvm_guest_received(int vcpu_fd, uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&fk.lock);
	struct handle *h = handle_of(vcpu_fd);
	size_t n = 0;
	if (h) {
		n = h->nreceived < len ? h->nreceived : len;
		memcpy(buf, h->received, n);
	}
	pthread_mutex_unlock(&fk.lock);
	return n;
}

/* ---- handles -------------------------------------------------------------- */

enum fake_handle_kind fake_kvm_kind(int fd)
{
	int i = fd - FD_BASE;
	return i >= 0 && i < fk.nhandles ? fk.handles[i].kind : FAKE_NONE;
}

bool fake_kvm_closed(int fd)
{
	int i = fd - FD_BASE;
	return i >= 0 && i < fk.nhandles && fk.handles[i].closed;
}

int fake_kvm_make_vm(void)
{
	pthread_mutex_lock(&fk.lock);
	int fd = handle_new(FAKE_VM);
	pthread_mutex_unlock(&fk.lock);
	return fd;
}

int fake_kvm_make_vcpu(int vm_fd, struct kvm_run **run, size_t *run_size)
{
	pthread_mutex_lock(&fk.lock);
	int fd = handle_new(FAKE_VCPU);
	struct handle *h = handle_of(fd);
	h->parent = vm_fd;
	h->vcpu_id = -1;
	vcpu_reset_state(h);
	h->run_size = (size_t)fk.mmap_size;
	h->run = aligned_alloc(4096, h->run_size);
	memset(h->run, 0, h->run_size);
	pthread_mutex_unlock(&fk.lock);
	*run = h->run;
	if (run_size)
		*run_size = h->run_size;
	return fd;
}

struct kvm_regs *fake_kvm_regs(int vcpu_fd)
{
	struct handle *h = handle_of(vcpu_fd);
	ck_assert_msg(h && h->kind == FAKE_VCPU, "fd %d is not a vCPU handle of the fake KVM", vcpu_fd);
	return &h->regs;
}

struct kvm_sregs *fake_kvm_sregs(int vcpu_fd)
{
	struct handle *h = handle_of(vcpu_fd);
	ck_assert_msg(h && h->kind == FAKE_VCPU, "fd %d is not a vCPU handle of the fake KVM", vcpu_fd);
	return &h->sregs;
}

struct kvm_run *fake_kvm_run_area(int vcpu_fd, size_t *size, int *maps)
{
	struct handle *h = handle_of(vcpu_fd);
	if (!h)
		return NULL;
	if (size)
		*size = h->run_size;
	if (maps)
		*maps = h->maps;
	return h->run;
}

/* ---- the seam -------------------------------------------------------------- */

int kvm_seam_open(void)
{
	if (fk.open_error)
		return (int)fk.open_error;
	pthread_mutex_lock(&fk.lock);
	int fd = handle_new(FAKE_SYSTEM);
	pthread_mutex_unlock(&fk.lock);
	return fd;
}

void kvm_seam_close(int fd)
{
	pthread_mutex_lock(&fk.lock);
	struct handle *h = handle_of(fd);
	if (h)
		h->closed = true;
	pthread_mutex_unlock(&fk.lock);
}

const char *kvm_seam_name(void)
{
	return "fake-kvm";
}

struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size)
{
	pthread_mutex_lock(&fk.lock);
	struct handle *h = handle_of(vcpu_fd);
	struct kvm_run *run = NULL;
	/* Linux maps a vCPU's pages only (kvm_vcpu_mmap): anything else is an error,
	 * and so is a size beyond KVM_GET_VCPU_MMAP_SIZE (kvm_vcpu_fault: SIGBUS). */
	if (h && h->kind == FAKE_VCPU && size >= sizeof(struct kvm_run) && size <= (size_t)fk.mmap_size) {
		if (!h->run) {
			h->run = aligned_alloc(4096, (size + 4095) & ~(size_t)4095);
			memset(h->run, 0, size);
			h->run_size = size;
		}
		h->maps++;
		run = h->run;
	}
	pthread_mutex_unlock(&fk.lock);
	return run;
}

static size_t arg_size(unsigned long request, const void *arg)
{
	if (_IOC_DIR(request) == _IOC_NONE || !arg)
		return 0;
	size_t size = _IOC_SIZE(request);
	if (request == KVM_SET_CPUID2 || request == KVM_GET_SUPPORTED_CPUID) {
		uint32_t n = ((const struct kvm_cpuid2 *)arg)->nent;
		size += (n < 4096 ? n : 4096) * sizeof(struct kvm_cpuid_entry2);
	} else if (request == KVM_SET_MSRS || request == KVM_GET_MSRS) {
		uint32_t n = ((const struct kvm_msrs *)arg)->nmsrs;
		size += (n < 4096 ? n : 4096) * sizeof(struct kvm_msr_entry);
	}
	return size;
}

static void record(int fd, unsigned long request, void *arg, long result)
{
	if (fk.ncalls == fk.calls_cap) {
		fk.calls_cap = fk.calls_cap ? 2 * fk.calls_cap : 64;
		fk.calls = realloc(fk.calls, (size_t)fk.calls_cap * sizeof(*fk.calls));
	}
	struct fake_call *c = &fk.calls[fk.ncalls++];
	*c = (struct fake_call){ .fd = fd, .kind = fake_kvm_kind(fd), .request = request, .result = result,
				 .thread = pthread_self() };
	c->arg_size = arg_size(request, arg);
	if (c->arg_size) {
		c->arg = malloc(c->arg_size);
		memcpy(c->arg, arg, c->arg_size);
	} else {
		c->value = (uintptr_t)arg;
	}
}

/* kvm_vm_ioctl_set_memory_region() / kvm_set_memory_region() checks. */
static long set_memory_region(int vm_fd, const struct kvm_userspace_memory_region *mr)
{
	if (mr->flags & ~(uint32_t)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY))
		return -EINVAL;
	if ((mr->memory_size | mr->guest_phys_addr | mr->userspace_addr) & 4095)
		return -EINVAL;
	if (mr->slot >= MAX_SLOTS || mr->guest_phys_addr + mr->memory_size < mr->guest_phys_addr)
		return -EINVAL;
	struct slot *s = slot_of(vm_fd, mr->slot);
	if (mr->memory_size == 0) { /* deletes the slot */
		if (s) {
			free(s->dirty);
			memset(s, 0, sizeof(*s));
		}
		return 0;
	}
	for (int i = 0; i < MAX_SLOTS; i++) {
		const struct slot *o = &fk.slots[i];
		if (!o->used || o->vm_fd != vm_fd || o == s)
			continue;
		if (mr->guest_phys_addr < o->region.guest_phys_addr + o->region.memory_size &&
		    o->region.guest_phys_addr < mr->guest_phys_addr + mr->memory_size)
			return -EEXIST;
	}
	for (int i = 0; i < MAX_SLOTS && !s; i++)
		if (!fk.slots[i].used)
			s = &fk.slots[i];
	if (!s)
		return -ENOSPC;
	s->used = true;
	s->vm_fd = vm_fd;
	s->region = *mr;
	return 0;
}

/* kvm_vm_ioctl_get_dirty_log(): copy the slot's bitmap out, then clear it. */
static long get_dirty_log(int vm_fd, struct kvm_dirty_log *log)
{
	struct slot *s = slot_of(vm_fd, log->slot);
	if (!s || !(s->region.flags & KVM_MEM_LOG_DIRTY_PAGES))
		return -ENOENT;
	uint64_t pages = s->region.memory_size / 4096;
	size_t words = (size_t)((pages + 63) / 64);
	uint64_t *out = log->dirty_bitmap;
	for (size_t i = 0; i < words; i++)
		out[i] = i < s->dirty_words ? s->dirty[i] : 0;
	if (pages % 64 && words)
		out[words - 1] &= (1ull << (pages % 64)) - 1;
	memset(s->dirty, 0, s->dirty_words * sizeof(uint64_t));
	return 0;
}

static long cpuid_get(struct kvm_cpuid2 *cpuid)
{
	if (cpuid->nent < fk.ncpuid)
		return -E2BIG;
	memcpy(cpuid->entries, fk.cpuid, fk.ncpuid * sizeof(fk.cpuid[0]));
	cpuid->nent = fk.ncpuid;
	return 0;
}

/* KVM completes an IN or MMIO read on the next KVM_RUN (complete_userspace_io):
 * that is when the guest receives what the VMM put in the kvm_run area. */
static void complete_last_exit(struct handle *h)
{
	const struct kvm_run *run = h->run;
	const uint8_t *src = NULL;
	size_t n = 0;
	if (h->last_reason == KVM_EXIT_IO && h->last_exit.io.direction == KVM_EXIT_IO_IN) {
		src = (const uint8_t *)run + h->last_exit.io.data_offset;
		n = (size_t)h->last_exit.io.size * h->last_exit.io.count;
	} else if (h->last_reason == KVM_EXIT_MMIO && !h->last_exit.mmio.is_write) {
		src = run->mmio.data;
		n = h->last_exit.mmio.len;
	}
	if (n > MAX_RECEIVED - h->nreceived)
		n = MAX_RECEIVED - h->nreceived;
	if (src)
		memcpy(h->received + h->nreceived, src, n);
	h->nreceived += n;
	h->last_reason = KVM_EXIT_UNKNOWN;
}

static long run_blocked(int fd)
{
	/* A halted vCPU: only a signal (host_thread_kick) brings it out. */
	for (int ms = 0; ms < IDLE_BLOCK_LIMIT_MS; ms++) {
		if (fake_host_take_kick())
			return -EINTR;
		struct timespec ts = { .tv_nsec = 1000000 };
		nanosleep(&ts, NULL);
	}
	ck_abort_msg("vCPU handle %d stayed in KVM_RUN for %d s: nobody kicked its thread "
		     "(host_thread_kick) or set kvm_run->immediate_exit", fd, IDLE_BLOCK_LIMIT_MS / 1000);
	return -EINTR;
}

static long vcpu_run(int fd, struct handle *h, bool *unlocked)
{
	if (!h->run)
		ck_abort_msg("KVM_RUN on vCPU handle %d, whose kvm_run area was never mapped (kvm_seam_map_run)", fd);
	complete_last_exit(h);
	/* A kick that came while the thread was outside KVM_RUN is gone, as a
	 * signal handled in user space is; one from now on is pending and ends
	 * the run. kvm_run->immediate_exit covers the window in between
	 * (api.rst 5): with it set, KVM_RUN returns -EINTR at once. */
	fake_host_take_kick();
	if (h->run->immediate_exit)
		return -EINTR;
	struct step *s = h->script;
	if (!s) {
		if (!fk.idle_blocks)
			ck_abort_msg("KVM_RUN on vCPU handle %d after the last exit the test scripted: "
				     "the run loop should have stopped before", fd);
		pthread_mutex_unlock(&fk.lock);
		*unlocked = true;
		return run_blocked(fd);
	}
	h->script = s->next;
	if (!h->script)
		h->script_tail = &h->script;
	long result = s->result;
	if (result == 0) {
		h->run->exit_reason = s->reason;
		if (s->fill)
			s->fill(h->run, s->ctx);
		h->last_reason = s->reason;
		h->last_exit = *h->run;
	}
	free(s);
	return result;
}

static long default_ioctl(int fd, struct handle *h, unsigned long request, void *arg, bool *unlocked)
{
	switch (request) {
	case KVM_GET_API_VERSION:
		return 12;
	case KVM_CREATE_VM:
		return (uintptr_t)arg ? -EINVAL : handle_new(FAKE_VM); /* machine type 0 only */
	case KVM_GET_VCPU_MMAP_SIZE:
		return fk.mmap_size;
	case KVM_CHECK_EXTENSION: {
		uintptr_t cap = (uintptr_t)arg;
		return cap < 256 ? fk.caps[cap] : 0;
	}
	case KVM_GET_SUPPORTED_CPUID:
		return cpuid_get(arg);
	case KVM_SET_USER_MEMORY_REGION:
		return set_memory_region(fd, arg);
	case KVM_CREATE_VCPU: {
		long id = (long)(uintptr_t)arg;
		if (id < 0 || id >= 1024) /* KVM_MAX_VCPU_IDS */
			return -EINVAL;
		for (int i = 0; i < fk.nhandles; i++)
			if (fk.handles[i].kind == FAKE_VCPU && fk.handles[i].parent == fd && fk.handles[i].vcpu_id == id)
				return -EEXIST;
		int vfd = handle_new(FAKE_VCPU);
		if (vfd >= 0) {
			struct handle *v = handle_of(vfd);
			v->parent = fd;
			v->vcpu_id = id;
			vcpu_reset_state(v);
		}
		return vfd;
	}
	case KVM_GET_DIRTY_LOG:
		return get_dirty_log(fd, arg);
	case KVM_RUN:
		return vcpu_run(fd, h, unlocked);
	case KVM_GET_REGS:
		memcpy(arg, &h->regs, sizeof(h->regs));
		return 0;
	case KVM_SET_REGS:
		memcpy(&h->regs, arg, sizeof(h->regs));
		return 0;
	case KVM_GET_SREGS:
		memcpy(arg, &h->sregs, sizeof(h->sregs));
		return 0;
	case KVM_SET_SREGS:
		memcpy(&h->sregs, arg, sizeof(h->sregs));
		return 0;
	case KVM_SET_MSRS:
	case KVM_GET_MSRS:
		return ((struct kvm_msrs *)arg)->nmsrs; /* all of them */
	case KVM_TRANSLATE: {
		struct kvm_translation *tr = arg;
		tr->physical_address = tr->linear_address;
		tr->valid = tr->linear_address < (1ull << 32);
		return 0;
	}
	case KVM_GET_MP_STATE:
		((struct kvm_mp_state *)arg)->mp_state = KVM_MP_STATE_RUNNABLE;
		return 0;
	default:
		return 0;
	}
}

long kvm_ioctl(int fd, unsigned long request, void *arg)
{
	pthread_mutex_lock(&fk.lock);
	struct handle *h = handle_of(fd);
	const struct request_def *d = request_def(request);
	bool unlocked = false;
	long r;
	if (!h)
		r = -EBADF;
	else if (!d || (h->kind != d->kind && h->kind != d->kind2))
		r = -ENOTTY; /* kvm_dev_ioctl / kvm_vm_ioctl / kvm_vcpu_ioctl do not know it */
	else {
		struct override *o = NULL;
		for (int i = 0; i < fk.noverrides; i++)
			if (fk.overrides[i].request == request)
				o = &fk.overrides[i];
		if (o && o->nqueued) {
			r = o->queued[0];
			memmove(o->queued, o->queued + 1, (size_t)--o->nqueued * sizeof(o->queued[0]));
		} else if (o && o->has_result) {
			r = o->result;
		} else if (o && o->fn) {
			pthread_mutex_unlock(&fk.lock);
			r = o->fn(fd, request, arg, o->ctx);
			pthread_mutex_lock(&fk.lock);
		} else {
			r = default_ioctl(fd, h, request, arg, &unlocked);
		}
	}
	if (unlocked)
		pthread_mutex_lock(&fk.lock);
	record(fd, request, arg, r);
	pthread_mutex_unlock(&fk.lock);
	return r;
}

/* ---- inspecting ------------------------------------------------------------ */

int fake_kvm_ncalls(void)
{
	return fk.ncalls;
}

const struct fake_call *fake_kvm_call(int i)
{
	return i >= 0 && i < fk.ncalls ? &fk.calls[i] : NULL;
}

int fake_kvm_index(unsigned long request, int n)
{
	for (int i = 0; i < fk.ncalls; i++)
		if (fk.calls[i].request == request && n-- == 0)
			return i;
	return -1;
}

int fake_kvm_count(unsigned long request)
{
	int n = 0;
	for (int i = 0; i < fk.ncalls; i++)
		n += fk.calls[i].request == request;
	return n;
}

const struct fake_call *fake_kvm_find(unsigned long request, int n)
{
	return fake_kvm_call(fake_kvm_index(request, n));
}
