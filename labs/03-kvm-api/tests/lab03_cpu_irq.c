/* SPDX-License-Identifier: MIT */
/* Lab 03, exercises 4-7: CPUID and MSRs (cpuid.c), vCPU threads (smp.c),
 * irqfd and ioeventfd (irq.c), the dirty log (dirty.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kvmlabs/guest_abi.h>

#include "lab03.h"
#include "ut_vmm.h"

/* ---- Exercise 4: vcpu_setup_cpuid, vcpu_setup_msrs ------------------------------ */

static const struct kvm_cpuid2 *set_cpuid_table(void)
{
	ck_assert_msg(fake_kvm_count(KVM_SET_CPUID2) == 1, "want one KVM_SET_CPUID2, got %d",
		      fake_kvm_count(KVM_SET_CPUID2));
	return ut_call(KVM_SET_CPUID2, 0)->arg;
}

static const struct kvm_cpuid_entry2 *find_leaf(const struct kvm_cpuid2 *t, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < t->nent; i++)
		if (t->entries[i].function == function && t->entries[i].index == index)
			return &t->entries[i];
	return NULL;
}

static struct vcpu *cpuid_setup(int id)
{
	struct vm *vm = ut_vm(0);
	for (int i = 0; i <= id; i++)
		ut_vcpu(vm, i);
	struct vcpu *vcpu = &vm->vcpus[id];
	ck_assert_int_eq(vcpu_setup_cpuid(vcpu), 0);
	ck_assert_msg(ut_call(KVM_GET_SUPPORTED_CPUID, 0)->fd == vm->kvm_fd,
		      "KVM_GET_SUPPORTED_CPUID is a system ioctl: issue it on vm->kvm_fd");
	ck_assert_msg(ut_call(KVM_SET_CPUID2, 0)->fd == vcpu->fd, "KVM_SET_CPUID2 is a vCPU ioctl: on vcpu->fd");
	return vcpu;
}

START_TEST(ex4_cpuid_hypervisor_leaves)
{
	cpuid_setup(0);
	const struct kvm_cpuid2 *t = set_cpuid_table();
	int hv = 0;
	for (uint32_t i = 0; i < t->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &t->entries[i];
		if ((e->function & 0xffff0000u) == 0x40000000u)
			hv++;
		char sig[13] = { 0 };
		memcpy(sig, &e->ebx, 4);
		memcpy(sig + 4, &e->ecx, 4);
		memcpy(sig + 8, &e->edx, 4);
		ck_assert_msg(strcmp(sig, "KVMKVMKVM"), "KVM's own signature (leaf 0x%x) must be replaced", e->function);
	}
	ck_assert_msg(hv == 2, "want exactly the two kvmlabs leaves 0x40000000/1 in the hypervisor range, found %d", hv);
	const struct kvm_cpuid_entry2 *e = find_leaf(t, ABI_CPUID_HV_LEAF, 0);
	ck_assert_msg(e, "leaf 0x40000000 is missing");
	char sig[12];
	memcpy(sig, &e->ebx, 4);
	memcpy(sig + 4, &e->ecx, 4);
	memcpy(sig + 8, &e->edx, 4);
	ck_assert_msg(!memcmp(sig, ABI_CPUID_HV_SIGNATURE, 12), "EBX:ECX:EDX of 0x40000000 must read \"kvmlabs-vmm\"");
	ck_assert_msg(e->eax == ABI_CPUID_HV_FEATURES, "0x40000000 EAX is the highest hypervisor leaf 0x%x, got 0x%x",
		      ABI_CPUID_HV_FEATURES, e->eax);
	e = find_leaf(t, ABI_CPUID_HV_FEATURES, 0);
	ck_assert_msg(e && e->eax == ABI_HV_FEATURES_EAX, "0x40000001 EAX must be ABI_HV_FEATURES_EAX 0x%x",
		      ABI_HV_FEATURES_EAX);
}
END_TEST

START_TEST(ex4_cpuid_keeps_other_leaves)
{
	/* The fake's table (grader/unittest/fake_kvm.c, default_cpuid): compare with what KVM offered. */
	struct kvm_cpuid2 *offered = calloc(1, sizeof(*offered) + 64 * sizeof(struct kvm_cpuid_entry2));
	offered->nent = 64;
	struct vm *vm = ut_vm(0);
	ck_assert_int_eq(kvm_ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, offered), 0);
	fake_kvm_reset();
	cpuid_setup(0);
	const struct kvm_cpuid2 *t = set_cpuid_table();
	for (uint32_t i = 0; i < offered->nent; i++) {
		const struct kvm_cpuid_entry2 *o = &offered->entries[i];
		if ((o->function & 0xffff0000u) == 0x40000000u)
			continue;
		const struct kvm_cpuid_entry2 *e = find_leaf(t, o->function, o->index);
		ck_assert_msg(e, "leaf 0x%x index %u that KVM supports is missing", o->function, o->index);
		/* What may change: leaf 1 EBX[31:24] (APIC ID), VMX (leaf 1 ECX bit 5), SVM (0x80000001 ECX bit 2). */
		uint32_t ebx_mask = o->function == 1 ? 0x00ffffffu : ~0u;
		uint32_t ecx_mask = o->function == 1 ? ~(1u << 5) : o->function == 0x80000001 ? ~(1u << 2) : ~0u;
		ck_assert_msg(e->eax == o->eax && (e->ebx & ebx_mask) == (o->ebx & ebx_mask) &&
				      (e->ecx & ecx_mask) == (o->ecx & ecx_mask) && e->edx == o->edx && e->flags == o->flags,
			      "leaf 0x%x index %u changed to %08x %08x %08x %08x flags %x; KVM offered %08x %08x %08x %08x "
			      "flags %x", o->function, o->index, e->eax, e->ebx, e->ecx, e->edx, e->flags, o->eax, o->ebx,
			      o->ecx, o->edx, o->flags);
	}
	const struct kvm_cpuid_entry2 *leaf1 = find_leaf(t, 1, 0), *ext1 = find_leaf(t, 0x80000001, 0);
	ck_assert_msg(leaf1 && !(leaf1->ecx & (1u << 5)), "the guest is no hypervisor: hide VMX (leaf 1 ECX bit 5)");
	ck_assert_msg(ext1 && !(ext1->ecx & (1u << 2)), "the guest is no hypervisor: hide SVM (0x80000001 ECX bit 2)");
	free(offered);
}
END_TEST

START_TEST(ex4_cpuid_apic_id_per_vcpu)
{
	cpuid_setup(3);
	const struct kvm_cpuid_entry2 *e = find_leaf(set_cpuid_table(), 1, 0);
	ck_assert_msg(e, "leaf 1 is missing");
	ck_assert_msg(e->ebx == ((0xaa020800u & 0x00ffffffu) | (3u << 24)),
		      "leaf 1 EBX 0x%08x: bits 31:24 are the initial APIC ID (3), the rest stays 0x020800", e->ebx);
}
END_TEST

START_TEST(ex4_cpuid_many_hypervisor_leaves)
{
	static const struct kvm_cpuid_entry2 table[] = {
		{ .function = 0, .eax = 1 },
		{ .function = 0x40000000, .eax = 0x40000003, .ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d },
		{ .function = 0x40000001, .eax = 0x1 },
		{ .function = 0x40000002 },
		{ .function = 0x40000003, .eax = 7 },
		{ .function = 1, .ebx = 0x00000800 },
	};
	fake_kvm_set_supported_cpuid(table, 6);
	cpuid_setup(1);
	const struct kvm_cpuid2 *t = set_cpuid_table();
	ck_assert_msg(t->nent == 4, "want leaves 0, 1, 0x40000000, 0x40000001: %u entries", t->nent);
	ck_assert_msg(!find_leaf(t, 0x40000002, 0) && !find_leaf(t, 0x40000003, 0),
		      "KVM's leaves 0x40000002/3 must go: the kvmlabs range ends at 0x40000001");
	ck_assert_uint_eq(find_leaf(t, 1, 0)->ebx, 0x01000800);
}
END_TEST

/* A KVM_GET_SUPPORTED_CPUID that fills in a plausible table and still fails:
 * only its result says the table must not be used. */
static long cpuid_fails(int fd, unsigned long request, void *arg, void *ctx)
{
	(void)fd, (void)request, (void)ctx;
	struct kvm_cpuid2 *cpuid = arg;
	cpuid->nent = 1;
	cpuid->entries[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 1 };
	return -EIO;
}

START_TEST(ex4_cpuid_reports_kvm_errors)
{
	struct vm *vm = ut_vm(0);
	struct vcpu *vcpu = ut_vcpu(vm, 0);
	fake_kvm_set_handler(KVM_GET_SUPPORTED_CPUID, cpuid_fails, NULL);
	ck_assert_msg(vcpu_setup_cpuid(vcpu) < 0, "KVM_GET_SUPPORTED_CPUID failed: vcpu_setup_cpuid() must fail");
	ck_assert_msg(fake_kvm_count(KVM_SET_CPUID2) == 0, "KVM_GET_SUPPORTED_CPUID failed: set nothing on the vCPU");
	fake_kvm_set_handler(KVM_GET_SUPPORTED_CPUID, NULL, NULL);
	fake_kvm_push_result(KVM_SET_CPUID2, -EINVAL);
	ck_assert_msg(vcpu_setup_cpuid(vcpu) < 0, "KVM_SET_CPUID2 failed: vcpu_setup_cpuid() must fail");
}
END_TEST

START_TEST(ex4_msrs_in_one_call)
{
	struct vcpu *vcpu = ut_vcpu(ut_vm(0), 0);
	ck_assert_int_eq(vcpu_setup_msrs(vcpu), 0);
	ck_assert_msg(fake_kvm_count(KVM_SET_MSRS) == 1, "set both MSRs with ONE KVM_SET_MSRS (%d calls)",
		      fake_kvm_count(KVM_SET_MSRS));
	const struct fake_call *c = ut_call(KVM_SET_MSRS, 0);
	ck_assert_msg(c->fd == vcpu->fd, "KVM_SET_MSRS is a vCPU ioctl");
	const struct kvm_msrs *m = c->arg;
	ck_assert_msg(m->nmsrs == 2, "nmsrs %u, want 2", m->nmsrs);
	bool cs = false, esp = false;
	for (uint32_t i = 0; i < 2; i++) {
		if (m->entries[i].index == MSR_IA32_SYSENTER_CS)
			cs = m->entries[i].data == ABI_SYSENTER_CS_VALUE;
		if (m->entries[i].index == MSR_IA32_SYSENTER_ESP)
			esp = m->entries[i].data == ABI_SYSENTER_ESP_VALUE;
	}
	ck_assert_msg(cs && esp, "want SYSENTER_CS (0x174) = 0x%x and SYSENTER_ESP (0x175) = 0x%x",
		      ABI_SYSENTER_CS_VALUE, ABI_SYSENTER_ESP_VALUE);
}
END_TEST

START_TEST(ex4_msrs_partial_set_fails)
{
	struct vcpu *vcpu = ut_vcpu(ut_vm(0), 0);
	fake_kvm_push_result(KVM_SET_MSRS, 1);
	ck_assert_msg(vcpu_setup_msrs(vcpu) < 0, "KVM_SET_MSRS set only 1 of 2 MSRs: that is a failure");
	fake_kvm_push_result(KVM_SET_MSRS, -EINVAL);
	ck_assert_msg(vcpu_setup_msrs(vcpu) < 0, "KVM_SET_MSRS failed: vcpu_setup_msrs() must fail");
}
END_TEST

/* ---- Exercise 5: vm_run_vcpus ----------------------------------------------------------- */

static struct vm *smp_vm(int n)
{
	struct vm *vm = ut_vm(1 << 20);
	for (int i = 0; i < n; i++)
		ut_vcpu(vm, i);
	vm->stop_event = host_event_create();
	vm->start_ns = host_now_ns();
	return vm;
}

static double seconds_since(uint64_t t0)
{
	return (double)(host_now_ns() - t0) / 1e9;
}

START_TEST(ex5_one_thread_per_vcpu)
{
	struct vm *vm = smp_vm(4);
	static struct ut_device dev;
	ut_bus_insert(&vm->pio_bus, ut_device_at("testdev", ABI_TESTDEV_PORT, 16, &dev));
	for (int i = 0; i < 4; i++) {
		uint8_t v = (uint8_t)i;
		fake_kvm_queue_io(vm->vcpus[i].fd, KVM_EXIT_IO_OUT, ABI_TESTDEV_PORT, 1, 1, &v);
		fake_kvm_queue_exit(vm->vcpus[i].fd, KVM_EXIT_HLT);
	}
	ck_assert_int_eq(vm_run_vcpus(vm), 0);
	ck_assert_msg(vm->exit_status == VMM_EXIT_HALTED, "all vCPUs halted: status %d, want VMM_EXIT_HALTED",
		      vm->exit_status);
	ck_assert_int_eq(dev.n, 4);
	pthread_t seen[4];
	for (int i = 0; i < 4; i++) {
		const struct fake_call *c = NULL;
		for (int k = 0; k < fake_kvm_ncalls(); k++)
			if (fake_kvm_call(k)->request == KVM_RUN && fake_kvm_call(k)->fd == vm->vcpus[i].fd)
				c = fake_kvm_call(k);
		ck_assert_msg(c, "vCPU %d never ran", i);
		ck_assert_msg(!pthread_equal(c->thread, pthread_self()), "vCPU %d ran in the main thread", i);
		for (int k = 0; k < i; k++)
			ck_assert_msg(!pthread_equal(c->thread, seen[k]), "vCPUs %d and %d ran in the same thread", k, i);
		seen[i] = c->thread;
	}
	ck_assert_msg(fake_host_threads_started() == 4 && fake_host_threads_joined() == 4,
		      "start 4 threads and join them all (started %d, joined %d)", fake_host_threads_started(),
		      fake_host_threads_joined());
}
END_TEST

START_TEST(ex5_first_stop_brings_all_out)
{
	struct vm *vm = smp_vm(3);
	fake_kvm_set_idle_blocks(true); /* vCPUs 1 and 2 sit in KVM_RUN until kicked */
	fake_kvm_queue_exit(vm->vcpus[0].fd, KVM_EXIT_SHUTDOWN);
	uint64_t t0 = host_now_ns();
	ck_assert_int_eq(vm_run_vcpus(vm), 0);
	ck_assert_msg(seconds_since(t0) < 2, "vm_run_vcpus() took %.1f s to end a VM one vCPU had stopped",
		      seconds_since(t0));
	ck_assert_int_eq(vm->exit_status, VMM_EXIT_TRIPLE_FAULT);
	ck_assert_msg(fake_host_threads_joined() == 3, "every vCPU thread must be joined (%d)", fake_host_threads_joined());
}
END_TEST

START_TEST(ex5_timeout_ends_vm)
{
	struct vm *vm = smp_vm(2);
	ut_options()->timeout_s = 1;
	vm->deadline_ns = vm->start_ns + 1000000000ull; /* as vmm_run() sets it for --timeout 1 */
	fake_kvm_set_idle_blocks(true);
	uint64_t t0 = host_now_ns();
	ck_assert_int_eq(vm_run_vcpus(vm), 0);
	double took = seconds_since(t0);
	ck_assert_msg(vm->exit_status == VMM_EXIT_TIMEOUT, "--timeout 1 with halted vCPUs: status %d, want %d",
		      vm->exit_status, VMM_EXIT_TIMEOUT);
	ck_assert_msg(took >= 0.9 && took < 3, "the 1 s timeout ended the VM after %.2f s", took);
	ck_assert_int_eq(fake_host_threads_joined(), 2);
}
END_TEST

START_TEST(ex5_refuses_more_vcpus_than_threads)
{
	struct vm *vm = smp_vm(2);
	fake_host_set_max_threads(1);
	ck_assert_msg(vm_run_vcpus(vm) < 0, "2 vCPUs on a host with one thread: vm_run_vcpus() must fail");
	ck_assert_int_eq(fake_host_threads_started(), 0);
}
END_TEST

/* ---- Exercise 6: irqfd_attach, doorbell_ioeventfd --------------------------------------- */

static struct vm *irq_vm(void)
{
	struct vm *vm = ut_vm(0);
	fake_kvm_set_cap(KVM_CAP_IRQCHIP, 1);
	fake_kvm_set_cap(KVM_CAP_IRQFD, 1);
	return vm;
}

START_TEST(ex6_irqfd_binds_an_event_per_line)
{
	struct vm *vm = irq_vm();
	ck_assert_int_eq(irq_init(vm), 0);
	ck_assert_int_eq(fake_kvm_count(KVM_CREATE_IRQCHIP), 1);
	ck_assert(vm->has_irqchip && vm->has_irqfd);
	ck_assert_int_eq(irq_request(vm, ABI_COM1_IRQ, "uart"), ABI_COM1_IRQ);
	ck_assert_int_eq(irq_request(vm, IRQ_ANY, "virtio"), 9);
	ck_assert_msg(fake_kvm_count(KVM_IRQFD) == 2, "want a KVM_IRQFD for GSI %d and 9, got %d calls",
		      ABI_COM1_IRQ, fake_kvm_count(KVM_IRQFD));
	for (int i = 0; i < 2; i++) {
		const struct fake_call *c = ut_call(KVM_IRQFD, i);
		const struct kvm_irqfd *f = c->arg;
		ck_assert_msg(c->fd == vm->vm_fd, "KVM_IRQFD is a VM ioctl");
		ck_assert_msg(f->gsi == (i ? 9u : ABI_COM1_IRQ), "KVM_IRQFD for GSI %u, want %u", f->gsi,
			      i ? 9u : ABI_COM1_IRQ);
		ck_assert_msg(f->flags == 0, "flags 0x%x: assigning needs no flag (KVM_IRQFD_FLAG_DEASSIGN removes)", f->flags);
		ck_assert_msg(fake_host_event_is_open((int)f->fd), "KVM_IRQFD.fd %u is not an open host event", f->fd);
		ck_assert_msg(vm->irq_lines[f->gsi].irqfd == (int)f->fd, "vm->irq_lines[%u].irqfd must remember event %u",
			      f->gsi, f->fd);
	}
	irq_raise(vm, ABI_COM1_IRQ);
	ck_assert_msg(fake_host_event_pending(vm->irq_lines[ABI_COM1_IRQ].irqfd) == 1,
		      "irq_raise() on an irqfd line signals its event");
	ck_assert_int_eq(fake_kvm_count(KVM_IRQ_LINE), 0);
	irq_exit(vm);
	ck_assert_msg(fake_host_events_open() == 0, "irq_exit() closes the lines' events (%d open)",
		      fake_host_events_open());
}
END_TEST

START_TEST(ex6_irqfd_failure_closes_event)
{
	struct vm *vm = irq_vm();
	fake_kvm_set_result(KVM_IRQFD, -EINVAL);
	ck_assert_int_eq(irq_init(vm), 0);
	ck_assert_int_eq(irq_request(vm, ABI_COM1_IRQ, "uart"), ABI_COM1_IRQ);
	ck_assert_msg(vm->irq_lines[ABI_COM1_IRQ].irqfd == -1, "a line KVM_IRQFD refused keeps irqfd -1");
	ck_assert_msg(fake_host_events_open() == 0, "the event of a refused KVM_IRQFD must be closed (%d open)",
		      fake_host_events_open());
	irq_raise(vm, ABI_COM1_IRQ);
	ck_assert_msg(fake_kvm_count(KVM_IRQ_LINE) == 2, "without irqfd the line is pulsed with KVM_IRQ_LINE");
}
END_TEST

START_TEST(ex6_lines_belong_to_one_device)
{
	struct vm *vm = irq_vm();
	ck_assert_int_eq(irq_init(vm), 0);
	ck_assert_int_eq(irq_request(vm, ABI_COM1_IRQ, "uart"), ABI_COM1_IRQ);
	ck_assert_int_eq(irq_request(vm, ABI_COM1_IRQ, "another uart"), -EBUSY);
	for (int gsi = 9; gsi < VMM_IRQ_LINES; gsi++)
		ck_assert_int_eq(irq_request(vm, IRQ_ANY, "virtio"), gsi);
	ck_assert_int_eq(irq_request(vm, IRQ_ANY, "one too many"), -ENOSPC);
	irq_exit(vm);
	ck_assert_int_eq(irq_request(vm, IRQ_ANY, "after exit"), 9);
}
END_TEST

START_TEST(ex6_ioeventfd_layout)
{
	struct vm *vm = ut_vm(0);
	fake_kvm_set_cap(KVM_CAP_IOEVENTFD, 1);
	ck_assert_int_eq(doorbell_init(vm), 0);
	const struct fake_call *c = ut_call(KVM_IOEVENTFD, 0);
	const struct kvm_ioeventfd *io = c->arg;
	ck_assert_msg(c->fd == vm->vm_fd, "KVM_IOEVENTFD is a VM ioctl");
	ck_assert_msg(io->addr == ABI_DOORBELL_PORT && io->len == 4,
		      "want port 0x%x, 4 bytes; got addr 0x%llx len %u", ABI_DOORBELL_PORT, (unsigned long long)io->addr,
		      io->len);
	ck_assert_msg(io->flags == KVM_IOEVENTFD_FLAG_PIO,
		      "flags 0x%x: the doorbell is a port (KVM_IOEVENTFD_FLAG_PIO), any value (no DATAMATCH)", io->flags);
	ck_assert_msg(fake_host_event_is_open(io->fd), "KVM_IOEVENTFD.fd %d is not an open host event", io->fd);
	ck_assert(vm->has_ioeventfd);
	ck_assert_msg(!bus_find(&vm->pio_bus, ABI_DOORBELL_PORT, 4), "with ioeventfd the port needs no bus device");
	/* What KVM does on a guest write: signal the event. The I/O thread serves it. */
	host_event_signal(io->fd);
	uint64_t t0 = host_now_ns();
	while (atomic_load(&vm->doorbells) == 0 && seconds_since(t0) < 2) {
		struct timespec ms = { .tv_nsec = 1000000 };
		nanosleep(&ms, NULL);
	}
	ck_assert_msg(atomic_load(&vm->doorbells) == 1, "the doorbell thread did not serve the signalled event");
	vm_stop(vm, VMM_EXIT_HALTED, "test");
	doorbell_exit(vm);
	ck_assert_msg(fake_host_events_open() == 0, "doorbell_exit() closes the doorbell's event");
}
END_TEST

START_TEST(ex6_ioeventfd_refused_falls_back)
{
	struct vm *vm = ut_vm(0);
	fake_kvm_set_cap(KVM_CAP_IOEVENTFD, 1);
	fake_kvm_push_result(KVM_IOEVENTFD, -ENOSPC);
	ck_assert_int_eq(doorbell_init(vm), 0);
	ck_assert(!vm->has_ioeventfd);
	ck_assert_msg(fake_host_events_open() == 0, "the event of a refused KVM_IOEVENTFD must be closed");
	ck_assert_msg(bus_find(&vm->pio_bus, ABI_DOORBELL_PORT, 4), "without ioeventfd the doorbell is a bus device");
	ck_assert_int_eq(fake_host_threads_started(), 0);
}
END_TEST

/* ---- Exercise 7: dirty_sync ---------------------------------------------------------- */

static struct vm *dirty_vm(uint64_t size, uint32_t slot)
{
	struct vm *vm = ut_vm(0);
	static uint8_t page[4096] __attribute__((aligned(4096)));
	vm->regions[0] = (struct mem_region){ .gpa = 0, .size = size, .hva = page, .slot = slot,
					      .flags = KVM_MEM_LOG_DIRTY_PAGES, .name = "ram" };
	vm->nr_regions = 1;
	/* The slot as KVM knows it; hva is only checked for alignment. */
	struct kvm_userspace_memory_region mr = {
		.slot = slot, .flags = KVM_MEM_LOG_DIRTY_PAGES, .memory_size = size, .userspace_addr = (uintptr_t)page,
	};
	ck_assert_int_eq(kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr), 0);
	return vm;
}

START_TEST(ex7_counts_dirty_bits)
{
	struct vm *vm = dirty_vm(1 << 20, 0);
	const uint64_t bits[4] = { 1ull | (1ull << 5) | (1ull << 63), 1ull, 0, (1ull << (200 - 192)) | (1ull << 63) };
	fake_kvm_set_dirty_bitmap(0, bits, 4);
	long n = dirty_sync(vm, false);
	ck_assert_msg(n == 6, "pages 0, 5, 63, 64, 200 and 255 are dirty: want 6, got %ld", n);
	const struct fake_call *c = ut_call(KVM_GET_DIRTY_LOG, 0);
	ck_assert_msg(c->fd == vm->vm_fd, "KVM_GET_DIRTY_LOG is a VM ioctl");
	ck_assert_uint_eq(((const struct kvm_dirty_log *)c->arg)->slot, 0);
	ck_assert_msg(dirty_sync(vm, false) == 0, "KVM cleared the log: a second sync finds nothing");
	ck_assert_int_eq(fake_kvm_count(KVM_GET_DIRTY_LOG), 2);
}
END_TEST

START_TEST(ex7_uses_the_ram_slot_and_prints)
{
	/* 64 MiB + 1 page: the last bitmap word is partly used. */
	struct vm *vm = dirty_vm((64 << 20) + 4096, 5);
	uint64_t bits[257] = { 0 };
	bits[0] = 1ull << 1;
	bits[100] = 1ull << 7; /* page 6407 */
	bits[256] = 1ull;
	fake_kvm_set_dirty_bitmap(5, bits, 257);
	ut_stdout_begin();
	long n = dirty_sync(vm, true);
	const char *out = ut_stdout_end();
	ck_assert_msg(n == 3, "want 3 dirty pages (the last one in the slot's last page), got %ld", n);
	ck_assert_msg(((const struct kvm_dirty_log *)ut_call(KVM_GET_DIRTY_LOG, 0)->arg)->slot == 5,
		      "ask for the RAM region's slot (vm->regions[0].slot = 5)");
	ck_assert_str_eq(out, "dirty: 3 0x1000 0x1907000 0x4000000\n");
}
END_TEST

START_TEST(ex7_reports_kvm_errors)
{
	struct vm *vm = dirty_vm(1 << 20, 0);
	fake_kvm_push_result(KVM_GET_DIRTY_LOG, -ENOENT);
	ck_assert_msg(dirty_sync(vm, false) < 0, "KVM_GET_DIRTY_LOG failed: dirty_sync() returns -errno");
}
END_TEST

Suite *lab03_cpu_irq_suite(void)
{
	Suite *s = suite_create("lab03-cpu-irq");
	TCase *tc = ut_tcase("cpuid-msrs", 10);
	tcase_add_test(tc, ex4_cpuid_hypervisor_leaves);
	tcase_add_test(tc, ex4_cpuid_keeps_other_leaves);
	tcase_add_test(tc, ex4_cpuid_apic_id_per_vcpu);
	tcase_add_test(tc, ex4_cpuid_many_hypervisor_leaves);
	tcase_add_test(tc, ex4_cpuid_reports_kvm_errors);
	tcase_add_test(tc, ex4_msrs_in_one_call);
	tcase_add_test(tc, ex4_msrs_partial_set_fails);
	suite_add_tcase(s, tc);
	tc = ut_tcase("vcpu-threads", 15);
	tcase_add_test(tc, ex5_one_thread_per_vcpu);
	tcase_add_test(tc, ex5_first_stop_brings_all_out);
	tcase_add_test(tc, ex5_timeout_ends_vm);
	tcase_add_test(tc, ex5_refuses_more_vcpus_than_threads);
	suite_add_tcase(s, tc);
	tc = ut_tcase("irqfd-ioeventfd", 10);
	tcase_add_test(tc, ex6_irqfd_binds_an_event_per_line);
	tcase_add_test(tc, ex6_irqfd_failure_closes_event);
	tcase_add_test(tc, ex6_lines_belong_to_one_device);
	tcase_add_test(tc, ex6_ioeventfd_layout);
	tcase_add_test(tc, ex6_ioeventfd_refused_falls_back);
	suite_add_tcase(s, tc);
	tc = ut_tcase("dirty-log", 10);
	tcase_add_test(tc, ex7_counts_dirty_bits);
	tcase_add_test(tc, ex7_uses_the_ram_slot_and_prints);
	tcase_add_test(tc, ex7_reports_kvm_errors);
	suite_add_tcase(s, tc);
	return s;
}
