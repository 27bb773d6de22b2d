// SPDX-License-Identifier: MIT
/*
 * The KVM seam when no minikvm is linked (solution/kvm/kvm.mk has no
 * KVM_SRCS): every call fails with -ENODEV, so the VMM ends with
 * VMM_EXIT_KVM_SETUP and a message instead of a link error.
 */
#include <errno.h>
#include <stddef.h>

#include <kvmlabs/kvm_seam.h>

int kvm_seam_open(void)
{
	return -ENODEV;
}

long kvm_ioctl(int fd, unsigned long request, void *arg)
{
	(void)fd;
	(void)request;
	(void)arg;
	return -ENODEV;
}

struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size)
{
	(void)vcpu_fd;
	(void)size;
	return NULL;
}

void kvm_seam_close(int fd)
{
	(void)fd;
}

const char *kvm_seam_name(void)
{
	return "no-kvm";
}
