/* SPDX-License-Identifier: MIT */
/* The host as a boot loader of the bzImage on the VMM's command line (runner --native-linux). */
#ifndef KVMLABS_HOST_NATIVE_LINUX_H
#define KVMLABS_HOST_NATIVE_LINUX_H
#include <stdint.h>
/* host_end: the first byte past what the host still reads (the guest archive);
 * ram_bytes: the machine's RAM, which --mem must not exceed. */
_Noreturn void native_linux_boot(uint64_t host_end, uint64_t ram_bytes, int argc, char **argv);
#endif
