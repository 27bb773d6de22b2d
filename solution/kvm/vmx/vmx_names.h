/* SPDX-License-Identifier: MIT */
/* Names for messages: basic exit reasons (SDM Vol. 3 Appendix C) and
 * VM-instruction error numbers (SDM Vol. 3 31.4). Hosted-clean. */
#ifndef KVMLABS_KVM_VMX_NAMES_H
#define KVMLABS_KVM_VMX_NAMES_H

#include <stdint.h>

/* "HLT", "IO_INSTRUCTION", ...; "unknown" outside the table. */
const char *vmx_exit_reason_name(uint32_t basic_reason);
/* "VMLAUNCH with non-clear VMCS", ...; "unknown VM-instruction error" outside. */
const char *vmx_instruction_error_name(uint32_t error);

#endif
