/* SPDX-License-Identifier: MIT */
/*
 * prot-vmx-vmcall: hypercalls (SDM Vol. 3 VMCALL; KVM's convention: number in
 * RAX, arguments in RBX/RCX/RDX, result in RAX). ECHO proves the call came
 * back with a result computed from the argument; PUTCHAR prints "hc" between
 * the brackets of "hypercall putchar: [hc]"; an unknown number returns
 * ABI_HC_UNKNOWN_ERR (-KVM_ENOSYS). Needs a hypervisor that handles VMCALL:
 * minikvm. (Some host KVMs never return from VMCALL; see README.md.)
 */
#include "rt.h"

static long hypercall(uint32_t nr, uint32_t arg)
{
	long ret;
	__asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "b"(arg), "c"(0), "d"(0) : "memory");
	return ret;
}

void guest_main(uint32_t cpu, uint32_t ncpus);
void guest_main(uint32_t cpu, uint32_t ncpus)
{
	(void)ncpus;
	begin_alone(cpu, GUEST_NAME);

	uint32_t arg = 0x12345678;
	uint32_t echo = (uint32_t)hypercall(ABI_HC_ECHO, arg);
	report(echo == (arg ^ 0x5a5a5a5a), "hc-echo", "ECHO(0x%x) returned 0x%x, want 0x%x", arg, echo, arg ^ 0x5a5a5a5au);
	arg = 0xa5a5a5a5;
	echo = (uint32_t)hypercall(ABI_HC_ECHO, arg);
	report(echo == (arg ^ 0x5a5a5a5a), "hc-echo-2", "ECHO(0x%x) returned 0x%x, want 0x%x", arg, echo, arg ^ 0x5a5a5a5au);

	puts("hypercall putchar: [");
	hypercall(ABI_HC_PUTCHAR, 'h');
	hypercall(ABI_HC_PUTCHAR, 'c');
	puts("]\n");
	pass("hc-putchar-returned");

	long err = hypercall(0x7fff, 0);
	report((int)err == ABI_HC_UNKNOWN_ERR, "hc-unknown", "hypercall 0x7fff returned %d, want %d",
	       (int)err, ABI_HC_UNKNOWN_ERR);
	end();
}
