/* SPDX-License-Identifier: MIT */
/* The KVM seam on Linux: system calls on /dev/kvm and the handles it returns. */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kvmlabs/kvm_seam.h>

int kvm_seam_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

long kvm_ioctl(int fd, unsigned long request, void *arg)
{
	int r = ioctl(fd, request, arg);
	return r < 0 ? -errno : r;
}

struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void kvm_seam_close(int fd)
{
	close(fd);
}

const char *kvm_seam_name(void)
{
	return "linux-kvm";
}
