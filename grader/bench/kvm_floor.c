/* SPDX-License-Identifier: MIT */
/*
 * The floor: the least a VMM can do per PIO exit. One VM, one memslot, one
 * vCPU in flat protected mode, and a KVM_RUN loop that counts I/O exits until
 * port 0xf4. Written straight against <linux/kvm.h> with no kvmlabs code (only
 * the architectural constants of solution/include/x86), so the VMM's per-exit
 * overhead is measured against nothing but KVM itself.
 *
 *   kvm_floor IMAGE.elf    prints "exits N seconds S"
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <x86/processor-flags.h>

#define MEM (4u << 20)

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void load_elf32(uint8_t *ram, const uint8_t *img, size_t size, uint32_t *entry)
{
	uint32_t phoff, e;
	uint16_t phnum;
	if (size < 52 || memcmp(img, "\177ELF", 4) || img[4] != 1)
		die("not an ELF32 image");
	memcpy(&e, img + 24, 4);
	memcpy(&phoff, img + 28, 4);
	memcpy(&phnum, img + 44, 2);
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t ph[8];
		if (phoff + (i + 1) * 32 > size)
			die("program headers");
		memcpy(ph, img + phoff + i * 32, 32);
		if (ph[0] != 1)
			continue;
		if (ph[1] + ph[4] > size || ph[3] + ph[5] > MEM)
			die("segment");
		memcpy(ram + ph[3], img + ph[1], ph[4]);
	}
	*entry = e;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kvm_floor IMAGE.elf\n");
		return 2;
	}
	int f = open(argv[1], O_RDONLY);
	struct stat st;
	if (f < 0 || fstat(f, &st) < 0)
		die(argv[1]);
	uint8_t *img = malloc(st.st_size);
	if (!img || read(f, img, st.st_size) != st.st_size)
		die("read");

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int kvm = open("/dev/kvm", O_RDWR);
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	uint8_t *ram = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kvm < 0 || vm < 0 || ram == MAP_FAILED)
		die("kvm");
	struct kvm_userspace_memory_region slot = { .memory_size = MEM, .userspace_addr = (uintptr_t)ram };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		die("KVM_SET_USER_MEMORY_REGION");
	uint32_t entry;
	load_elf32(ram, img, st.st_size, &entry);
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (vcpu < 0 || run == MAP_FAILED)
		die("vcpu");
	struct kvm_sregs s;
	ioctl(vcpu, KVM_GET_SREGS, &s);
	struct kvm_segment code = { .limit = ~0u, .selector = 8, .type = 11, .present = 1, .db = 1, .s = 1, .g = 1 };
	struct kvm_segment data = code;
	data.selector = 16;
	data.type = 3;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.cr0 = X86_CR0_PE | X86_CR0_ET;
	struct kvm_regs r = { .rip = entry, .rflags = X86_EFLAGS_FIXED };
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0 || ioctl(vcpu, KVM_SET_REGS, &r) < 0)
		die("registers");

	unsigned long exits = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			die("KVM_RUN");
		if (run->exit_reason != KVM_EXIT_IO) {
			fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
			return 1;
		}
		exits++;
		if (run->io.port == 0xf4)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("exits %lu seconds %.6f\n", exits, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
