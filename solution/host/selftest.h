/* SPDX-License-Identifier: MIT */
/* Self-tests of the host kernel, switched on by the runner (--host-selftest). */
#ifndef KVMLABS_HOST_SELFTEST_H
#define KVMLABS_HOST_SELFTEST_H

/* libc, heap and page allocator checks; a failure ends the run (status 26). */
void selftest_run(void);
/* Deliberate faults: each must end in the exception report, status 26. */
_Noreturn void selftest_fault(void);
_Noreturn void selftest_stack_overflow(void);
/* Never returns nor prints again: the runner's timeout must end the run. */
_Noreturn void selftest_hang(void);
/* An empty IDT, then #UD: a triple fault, which the runners configure the
 * emulators to stop on instead of resetting the machine. */
_Noreturn void selftest_triple_fault(void);

#endif
