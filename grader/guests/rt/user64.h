/* SPDX-License-Identifier: MIT */
/*
 * One memory access at CPL 3, and how it ended (long-mode guests; linked
 * from the trap64 archive, built on rt/trap64.h).
 *
 * A guest uses them where an access may need the hypervisor's instruction
 * emulator: MMIO, a write to a read-only memslot. A hypervisor without one
 * cannot complete such an access; outside ring 0 Linux makes that the
 * guest's #UD at the instruction (arch/x86/kvm/x86.c,
 * handle_emulation_failure) and the guest goes on, where in ring 0 the run
 * would end with KVM_EXIT_INTERNAL_ERROR. So each access runs alone in ring 3
 * and ends with a ud2 of its own: a #UD there means it completed, a #UD at
 * the access itself means the host refused it.
 *
 * The caller's page tables must map the runtime's code and data (the image)
 * and the address accessed with U/S = 1 at every level, as
 * trap64_user_identity() does for the first GiB; trap64_init() comes first.
 */
#ifndef RT_USER64_H
#define RT_USER64_H

#include <stdint.h>

enum user_end {
	USER_DONE,  /* the access completed (natively or emulated) */
	USER_UD,    /* #UD at the access instruction: the host could not emulate it */
	USER_FAULT, /* anything else: trap64_last says what */
};

/* size: 1, 2, 4 or 8 bytes, zero-extended into *value (untouched unless
 * USER_DONE); another size is USER_FAULT without an access. */
enum user_end user_load(uint64_t va, unsigned size, uint64_t *value);
enum user_end user_store(uint64_t va, unsigned size, uint64_t value);

static inline const char *user_end_name(enum user_end e)
{
	return e == USER_DONE ? "completed" : e == USER_UD ? "#UD" : "faulted";
}

#endif
