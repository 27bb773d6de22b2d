/* SPDX-License-Identifier: MIT */
/*
 * Exit-qualification decoding and segment access rights: the pure pieces of
 * the exit handlers and of guest-state setup, kept hosted so they are tested.
 */
#include <errno.h>

#include <x86/pgtable.h>

#include "kvmlabs/lab.h"
#include "vmcs.h"
#include "vmx_decode.h"

// @lab 04 vmx_decode_helpers: Your own types and static helpers for this file.
/* your helpers */
// @end

int vmx_decode_io_qual(uint64_t qual, struct vmx_io_qual *io)
{
	// @lab 04 vmx_decode_io_qual: Decode an I/O exit qualification (SDM Vol. 3 Table 28-5).
	(void)qual, (void)io;
	lab_todo(4, "vmx_decode_io_qual");
	// @end
}

int vmx_decode_cr_qual(uint64_t qual, struct vmx_cr_qual *cr)
{
	// @lab 04 vmx_decode_cr_qual: Decode a control-register-access exit qualification (SDM Vol. 3 Table 28-3).
	(void)qual, (void)cr;
	lab_todo(4, "vmx_decode_cr_qual");
	// @end
}

uint32_t vmx_segment_access_rights(const struct kvm_segment *seg)
{
	// @lab 04 vmx_segment_access_rights: Pack a kvm_segment into VMCS access rights (SDM Vol. 3 Table 25-2).
	(void)seg;
	lab_todo(4, "vmx_segment_access_rights");
	// @end
}

void vmx_segment_from_access_rights(uint32_t ar, struct kvm_segment *seg)
{
	seg->unusable = (ar & VMX_AR_UNUSABLE) ? 1 : 0;
	seg->type = ar & VMX_AR_TYPE_MASK;
	seg->s = (ar >> 4) & 1;
	seg->dpl = VMX_AR_DPL(ar);
	/* KVM reports an unusable segment as not present (vmx_get_segment). */
	seg->present = seg->unusable ? 0 : (ar >> 7) & 1;
	seg->avl = (ar >> 12) & 1;
	seg->l = (ar >> 13) & 1;
	seg->db = (ar >> 14) & 1;
	seg->g = (ar >> 15) & 1;
}

uint64_t vmx_ept_violation_error_code(uint64_t qual)
{
	// @lab 06 vmx_ept_violation_error_code: The page-fault error code the MMU gets for an EPT violation (SDM Vol. 3 Table 28-7; Linux: handle_ept_violation).
	(void)qual;
	lab_todo(6, "vmx_ept_violation_error_code");
	// @end
}
