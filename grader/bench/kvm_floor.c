/* SPDX-License-Identifier: MIT */
/*
 * The floor: the least a VMM can do per exit. One VM with the in-kernel
 * irqchip (so HLT and the local APIC stay in the kernel, as in the kit's VMM
 * and QEMU), one memslot, one vCPU in flat protected mode at a multiboot
 * image's entry, and a KVM_RUN loop per vCPU that serves what the benchmark
 * guest needs: COM1 output (printed), its line status (always ready), MMIO writes
 * (dropped) and reads (0), and the debug-exit port 0xf4. Written straight
 * against <linux/kvm.h> with no kvmlabs code (only the architectural and
 * guest-ABI constants of solution/include), so the VMM's per-exit overhead is
 * measured against nothing but KVM itself.
 *
 *   kvm_floor [--cpus N] IMAGE.elf
 *
 * With --cpus N (2..4) vCPUs 1..N-1 are created too, each run by a thread of
 * its own. With the in-kernel irqchip KVM leaves them waiting for INIT and a
 * start-up IPI (KVM_MP_STATE_UNINITIALIZED, api.rst 4.38): their first
 * KVM_RUN blocks until the guest's BSP starts them, as on a real machine.
 *
 * On stderr it says the vCPU's TSC rate (KVM_GET_TSC_KHZ, api.rst 4.56) and
 * the host's, measured against CLOCK_MONOTONIC: grader/bench/run converts the
 * guest's cycles to time with them. Exit status as the kit's VMM: (value << 1)
 * | 1 for a write of value to port 0xf4.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kvmlabs/guest_abi.h>
#include <x86/processor-flags.h>

#define MEM        (16u << 20)
#define UART_LSR   5
#define LSR_READY  0x60 /* THRE | TEMT: the transmitter is always empty */
#define MAX_CPUS   4

static int kvm_fd, vm_fd, mmap_size;

static void die(const char *what)
{
	perror(what);
	exit(6);
}

static void load_elf32(uint8_t *ram, const uint8_t *img, size_t size, uint32_t *entry)
{
	uint32_t phoff, e;
	uint16_t phnum;
	if (size < 52 || memcmp(img, "\177ELF", 4) || img[4] != 1) {
		fprintf(stderr, "kvm_floor: not an ELF32 image\n");
		exit(4);
	}
	memcpy(&e, img + 24, 4);
	memcpy(&phoff, img + 28, 4);
	memcpy(&phnum, img + 44, 2);
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t ph[8];
		if ((uint64_t)phoff + (i + 1) * 32ull > size)
			die("program headers");
		memcpy(ph, img + phoff + i * 32, 32);
		if (ph[0] != 1)
			continue;
		if ((uint64_t)ph[1] + ph[4] > size || (uint64_t)ph[3] + ph[5] > MEM || ph[4] > ph[5])
			die("segment");
		memcpy(ram + ph[3], img + ph[1], ph[4]);
		memset(ram + ph[3] + ph[4], 0, ph[5] - ph[4]);
	}
	*entry = e;
}

/* The host's TSC rate, from two TSC reads 50 ms apart on CLOCK_MONOTONIC. */
static unsigned long host_tsc_khz(void)
{
	struct timespec a, b, nap = { 0, 50000000 };
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t t0 = __builtin_ia32_rdtsc();
	nanosleep(&nap, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	uint64_t t1 = __builtin_ia32_rdtsc();
	double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	return (unsigned long)((t1 - t0) / ns * 1e6);
}

static struct kvm_run *vcpu_create(int id, int *fd)
{
	*fd = ioctl(vm_fd, KVM_CREATE_VCPU, id);
	struct kvm_run *run = *fd < 0 ? MAP_FAILED : mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (run == MAP_FAILED)
		die("vcpu");
	return run;
}

/* One vCPU's KVM_RUN loop; returns only by ending the process. */
static void *vcpu_loop(int vcpu, struct kvm_run *run)
{
	for (;;) {
		/* EAGAIN: an AP's first KVM_RUN on some hosts (HOST-KVM.md). */
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_MMIO) {
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			continue;
		}
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "kvm_floor: unexpected exit %u\n", run->exit_reason);
			fflush(stdout);
			exit(14);
		}
		uint8_t *io = (uint8_t *)run + run->io.data_offset;
		uint16_t port = run->io.port;
		if (run->io.direction == KVM_EXIT_IO_IN) {
			memset(io, port == ABI_COM1_PORT + UART_LSR ? LSR_READY : 0, run->io.size * run->io.count);
		} else if (port == ABI_COM1_PORT || port == ABI_DEBUGCON_PORT) {
			fwrite(io, 1, run->io.count, stdout);
		} else if (port == ABI_DEBUG_EXIT_PORT) {
			uint32_t v = 0;
			memcpy(&v, io, run->io.size);
			fflush(stdout);
			/* exit(), not return: the other vCPUs' threads end with it. */
			exit((int)((v << 1) | 1) & 0xff);
		}
	}
}

static struct kvm_run *ap_run[MAX_CPUS];
static int ap_fd[MAX_CPUS];

static void *ap_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	return vcpu_loop(ap_fd[id], ap_run[id]);
}

int main(int argc, char **argv)
{
	int cpus = 1;
	if (argc == 4 && !strcmp(argv[1], "--cpus")) {
		cpus = atoi(argv[2]);
		argv += 2, argc -= 2;
	}
	if (argc != 2 || cpus < 1 || cpus > MAX_CPUS) {
		fprintf(stderr, "usage: kvm_floor [--cpus 1..%d] IMAGE.elf\n", MAX_CPUS);
		return 2;
	}
	int f = open(argv[1], O_RDONLY);
	struct stat st;
	if (f < 0 || fstat(f, &st) < 0)
		die(argv[1]);
	uint8_t *img = malloc(st.st_size);
	if (!img || read(f, img, st.st_size) != st.st_size)
		die("read");

	kvm_fd = open("/dev/kvm", O_RDWR);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	uint8_t *ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kvm_fd < 0 || vm_fd < 0 || ram == MAP_FAILED)
		die("kvm");
	/* Before the vCPUs, so that they get a local APIC (api.rst 4.24). */
	if (ioctl(vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		die("KVM_CREATE_IRQCHIP");
	struct kvm_userspace_memory_region slot = { .memory_size = MEM, .userspace_addr = (uintptr_t)ram };
	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	uint32_t entry;
	load_elf32(ram, img, st.st_size, &entry);
	/* A flat GDT the guest's interrupt gates can name (null, code 0x08, data 0x10). */
	uint64_t gdt[3] = { 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull };
	memcpy(ram + ABI_GDT_GPA, gdt, sizeof(gdt));

	mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	int vcpu;
	struct kvm_run *run = vcpu_create(0, &vcpu);
	struct kvm_sregs s;
	ioctl(vcpu, KVM_GET_SREGS, &s);
	struct kvm_segment code = { .limit = ~0u, .selector = ABI_SEL_CODE32, .type = 11, .present = 1, .db = 1,
				    .s = 1, .g = 1 };
	struct kvm_segment data = code;
	data.selector = ABI_SEL_DATA;
	data.type = 3;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = ABI_GDT_GPA;
	s.gdt.limit = sizeof(gdt) - 1;
	s.cr0 = X86_CR0_PE | X86_CR0_ET;
	/* Multiboot entry state (Multiboot Specification 3.2): EAX magic, EBX the
	 * information structure, which this loader does not write. */
	struct kvm_regs r = { .rip = entry, .rax = ABI_MULTIBOOT_MAGIC, .rflags = X86_EFLAGS_FIXED };
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &r) < 0)
		die("registers");
	for (int id = 1; id < cpus; id++) {
		pthread_t t;
		ap_run[id] = vcpu_create(id, &ap_fd[id]);
		if (pthread_create(&t, NULL, ap_thread, (void *)(intptr_t)id))
			die("pthread_create");
	}
	long khz = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);
	fprintf(stderr, "kvm_floor: vcpu tsc_khz %ld host tsc_khz %lu\n", khz, host_tsc_khz());
	vcpu_loop(vcpu, run);
}
