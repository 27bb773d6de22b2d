/* SPDX-License-Identifier: MIT */
/*
 * VM-entry diagnosis: the checks a processor makes at VMLAUNCH/VMRESUME (SDM
 * Vol. 3 27.2 "Checks on VMX Controls and Host-State Area", 27.3.1 "Checks on
 * the Guest State Area"), done in software so that a failing entry is explained
 * by rule, field and value instead of a bare error number.
 *
 * The checker reads the VMCS through an accessor: on the bare-metal host that
 * is VMREAD on the current VMCS, in the unit tests a struct vmcs_image.
 */
#ifndef KVMLABS_KVM_VMX_ENTRY_CHECK_H
#define KVMLABS_KVM_VMX_ENTRY_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmx_caps.h"

struct vmcs_accessor {
	uint64_t (*read)(void *ctx, uint32_t field);
	/* Physical memory, for the PDPTEs a PAE guest's CR3 points at (SDM 27.3.1.6);
	 * NULL skips those checks. Returns 0 or -errno. */
	int (*read_phys)(void *ctx, uint64_t pa, void *buf, size_t len);
	void *ctx;
};

struct vmentry_check_failure {
	const char *rule;     /* stable name, e.g. "guest-cs-ar"; "kit-..." for the kit's own rules */
	const char *section;  /* SDM Vol. 3 section, e.g. "27.3.1.2" */
	uint32_t field;       /* the VMCS field found wrong */
	uint64_t value;       /* its value */
	char message[256];    /* "guest CS.AR 0x0093: type must be code (SDM 27.3.1.2)" */
};

typedef void (*vmentry_check_report_fn)(void *arg, const struct vmentry_check_failure *failure);

struct vmentry_check_env {
	const struct vmx_capability_msrs *caps;
	const struct vmcs_accessor *vmcs;
	bool host_in_ia32e_mode;       /* the checking processor runs 64-bit (SDM 27.2.4) */
	vmentry_check_report_fn report; /* called once per failed check; may be NULL */
	void *report_arg;
};

/* Run every check; returns the number that failed (0: the entry should pass
 * every check this checker knows). */
unsigned int vmx_vmentry_check(const struct vmentry_check_env *env);

/* The name of rule i, NULL past the last: for documentation and tests. */
const char *vmx_vmentry_rule_name(unsigned int i);

// @region vmcs_image
/* A VMCS as a list of (field, value): the unit tests' synthetic VMCS. Fields
 * never written read as 0, as in a freshly VMCLEARed VMCS. */
#define VMCS_IMAGE_MAX_FIELDS 192
struct vmcs_image {
	unsigned int count;
	struct { uint32_t field; uint64_t value; } fields[VMCS_IMAGE_MAX_FIELDS];
};
void vmcs_image_write(struct vmcs_image *image, uint32_t field, uint64_t value);
uint64_t vmcs_image_read(void *image, uint32_t field); /* a vmcs_accessor.read */
// @end

#endif
