/* SPDX-License-Identifier: MIT */
/*
 * Lab plumbing shared by the VMM and minikvm.
 *
 * KVMLABS_STAGE is the lab a build is configured for (1..9; the full solution
 * is 9). Subsystems of later labs are switched off below their stage the way
 * KVM switches them off with module parameters (ept=0, no in-kernel irqchip).
 */
#ifndef KVMLABS_LAB_H
#define KVMLABS_LAB_H

#ifndef KVMLABS_STAGE
#define KVMLABS_STAGE 9
#endif

/* True when the build includes lab n's subsystem. Used at the few places a
 * later lab plugs in (the VMX controls requested, the MMU chosen, the
 * in-kernel irqchip offered, the emulator's entry, the virtio devices), so a
 * stage's own guests never reach the code of a lab after it. A compile-time
 * constant: the switched-off branch is still compiled, type-checked and then
 * dropped. */
#define LAB_ENABLED(n) (KVMLABS_STAGE >= (n))

/* Called by every lab stub: prints "lab NN: name() not implemented" and ends
 * the VMM with VMM_EXIT_NOT_IMPLEMENTED, so an unfinished lab fails at once
 * with a message that names the function to write, and never hangs. */
_Noreturn void lab_todo(int lab, const char *name);

#endif
