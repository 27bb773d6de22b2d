/* SPDX-License-Identifier: MIT */
/*
 * The one door between the VMM and a KVM.
 *
 * The VMM never calls open(2), ioctl(2) or mmap(2) on /dev/kvm itself; it calls
 * these four functions. Hosted on Linux they are thin wrappers around the
 * system calls (vmm/linux/kvm_linux.c). Linked into the bare-metal host they are
 * minikvm's entry points (kvm/kvm_main.c). Requests and structures are Linux's
 * own, from <linux/kvm.h>, so the same VMM runs on both kernels.
 *
 * Convention: every call returns a non-negative result or -errno, the way the
 * kernel's ioctl handlers do, so no global errno crosses the seam.
 */
#ifndef KVMLABS_KVM_SEAM_H
#define KVMLABS_KVM_SEAM_H

#include <stddef.h>
#include <linux/kvm.h>

/* Open the KVM device (/dev/kvm). Returns a handle or -errno. */
int kvm_seam_open(void);

/* Issue a KVM ioctl on a system, VM or vCPU handle. Returns >= 0 or -errno. */
long kvm_ioctl(int fd, unsigned long request, void *arg);

/* Map the vCPU's shared area (struct kvm_run plus the PIO data page).
 * size comes from KVM_GET_VCPU_MMAP_SIZE. Returns NULL on failure. */
struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size);

/* Release a handle (close(2) on Linux). */
void kvm_seam_close(int fd);

/* A short name of the kernel behind the seam, for messages: "linux-kvm" or "minikvm". */
const char *kvm_seam_name(void);

#endif
