/* SPDX-License-Identifier: MIT */
#ifndef KVMLABS_LAB04_TESTS_H
#define KVMLABS_LAB04_TESTS_H

#include <check.h>

#include "kvm/vmx/vmx_caps.h"

Suite *vmx_caps_suite(void);
Suite *vmx_decode_suite(void);
Suite *vmx_entry_check_suite(void);

/* IA32_VMX_* values of a Skylake-class processor with TRUE_ controls (what
 * Bochs' corei7_skylake_x reports, give or take a few optional bits). */
void lab04_skylake_caps(struct vmx_capability_msrs *caps);

#endif
