/* SPDX-License-Identifier: MIT */
/* The KVM seam on Linux: system calls on /dev/kvm and the handles it returns. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kvmlabs/kvm_seam.h>
#include <kvmlabs/vmm_status.h>

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

/*
 * Each vCPU's kvm_run mapping is followed by an inaccessible guard page, so a
 * VMM that maps fewer bytes than KVM_GET_VCPU_MMAP_SIZE and then reads the PIO
 * data page (io.data_offset, usually one page in) faults at once, and says so,
 * instead of reading whatever mapping happens to lie next to it.
 */
#define RUN_GUARDS 64
static struct run_guard { uintptr_t start, guard; size_t size; int fd; } run_guards[RUN_GUARDS];
static volatile sig_atomic_t run_guard_count;
static struct sigaction run_guard_chained;

/* Async-signal-safe: the message is put together by hand and written with write(2). */
static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static char *put_num(char *p, uintptr_t v, unsigned base)
{
	char digits[24];
	int n = 0;
	if (base == 16)
		p = put_str(p, "0x");
	do
		digits[n++] = "0123456789abcdef"[v % base];
	while ((v /= base) != 0);
	while (n)
		*p++ = digits[--n];
	return p;
}

static void run_guard_fault(int sig, siginfo_t *info, void *uc)
{
	uintptr_t a = (uintptr_t)info->si_addr;
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 0; i < run_guard_count; i++) {
		const struct run_guard *g = &run_guards[i];
		if (a < g->guard || a >= g->guard + (uintptr_t)page)
			continue;
		char msg[256], *p = msg;
		p = put_str(p, "vmm: read past the kvm_run mapping of vCPU fd ");
		p = put_num(p, (uintptr_t)g->fd, 10);
		p = put_str(p, ": offset ");
		p = put_num(p, a - g->start, 16);
		p = put_str(p, " of a ");
		p = put_num(p, g->size, 10);
		p = put_str(p, "-byte mapping; map the size KVM_GET_VCPU_MMAP_SIZE returns (exit status ");
		p = put_num(p, VMM_EXIT_INTERNAL_ERROR, 10);
		p = put_str(p, ")\n");
		(void)!write(STDERR_FILENO, msg, (size_t)(p - msg));
		_exit(VMM_EXIT_INTERNAL_ERROR);
	}
	/* Not ours: the previous handler (a sanitizer's) or the default action,
	 * when the faulting access runs again. */
	sigaction(sig, &run_guard_chained, NULL);
	(void)uc;
}

struct kvm_run *kvm_seam_map_run(int vcpu_fd, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (size + page - 1) / page * page;
	char *area = mmap(NULL, span + page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return NULL;
	void *p = mmap(area, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, vcpu_fd, 0);
	if (p == MAP_FAILED) {
		munmap(area, span + page);
		return NULL;
	}
	if (run_guard_count < RUN_GUARDS) {
		if (run_guard_count == 0) {
			struct sigaction sa = { .sa_sigaction = run_guard_fault, .sa_flags = SA_SIGINFO | SA_NODEFER };
			sigemptyset(&sa.sa_mask);
			sigaction(SIGSEGV, &sa, &run_guard_chained);
		}
		run_guards[run_guard_count] = (struct run_guard){ (uintptr_t)area, (uintptr_t)area + span, size, vcpu_fd };
		run_guard_count++;
	}
	return p;
}

void kvm_seam_close(int fd)
{
	close(fd);
}

const char *kvm_seam_name(void)
{
	return "linux-kvm";
}
