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
// @end

int vmx_decode_io_qual(uint64_t qual, struct vmx_io_qual *io)
{
	// @lab 04 vmx_decode_io_qual: Decode an I/O exit qualification (SDM Vol. 3 Table 28-5).
	/* Bits 2:0 hold size - 1; the encodings 2 and 4..7 are not used. */
	static const uint8_t sizes[8] = { 1, 2, 0, 4, 0, 0, 0, 0 };
	uint8_t size = sizes[qual & 7];
	if (!size)
		return -EINVAL;
	io->size = size;
	io->in = qual & (1u << 3);
	io->string = qual & (1u << 4);
	io->rep = qual & (1u << 5);
	io->imm = qual & (1u << 6);
	io->port = (uint16_t)(qual >> 16);
	return 0;
	// @end
}

int vmx_decode_cr_qual(uint64_t qual, struct vmx_cr_qual *cr)
{
	// @lab 04 vmx_decode_cr_qual: Decode a control-register-access exit qualification (SDM Vol. 3 Table 28-3).
	cr->cr = qual & 0xf;
	cr->type = (qual >> 4) & 3;
	cr->lmsw_memory = qual & (1u << 6);
	cr->gpr = (qual >> 8) & 0xf;
	cr->lmsw_data = (uint16_t)(qual >> 16);
	if (cr->type <= CR_ACCESS_MOV_FROM_CR && cr->cr != 0 && cr->cr != 3 && cr->cr != 4 && cr->cr != 8)
		return -EINVAL;
	if (cr->type >= CR_ACCESS_CLTS && cr->cr != 0)
		return -EINVAL;
	return 0;
	// @end
}

uint32_t vmx_segment_access_rights(const struct kvm_segment *seg)
{
	// @lab 04 vmx_segment_access_rights: Pack a kvm_segment into VMCS access rights (SDM Vol. 3 Table 25-2).
	/* An unusable segment is described by bit 16 alone (Linux: vmx_segment_access_rights). */
	if (seg->unusable || !seg->present)
		return VMX_AR_UNUSABLE;
	uint32_t ar = seg->type & VMX_AR_TYPE_MASK;
	ar |= (seg->s & 1u) << 4;
	ar |= (seg->dpl & 3u) << VMX_AR_DPL_SHIFT;
	ar |= (seg->present & 1u) << 7;
	ar |= (seg->avl & 1u) << 12;
	ar |= (seg->l & 1u) << 13;
	ar |= (seg->db & 1u) << 14;
	ar |= (seg->g & 1u) << 15;
	return ar;
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
