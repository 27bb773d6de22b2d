/* SPDX-License-Identifier: MIT */
/*
 * Linked into the sanitizer builds only (vmm.mk: vmm-san, vmm-tsan). A
 * sanitizer that finds a bug ends the process with exit status 1 unless told
 * otherwise (ASan, UBSan) or 66 (TSan); 1 is what a guest that passed gives
 * ((0 << 1) | 1, vmm_status.h), so a VMM with a heap overflow would look
 * like a pass. These defaults make every report end with
 * VMM_EXIT_SANITIZER; ASAN_OPTIONS, UBSAN_OPTIONS and TSAN_OPTIONS still
 * override them (compiler-rt: sanitizer_flags.inc, "exitcode").
 */
#include <kvmlabs/vmm_status.h>

#define STR(x)  #x
#define XSTR(x) STR(x)
#define EXITCODE "exitcode=" XSTR(VMM_EXIT_SANITIZER)

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__tsan_default_options(void);

const char *__asan_default_options(void)
{
	return EXITCODE;
}

const char *__ubsan_default_options(void)
{
	return EXITCODE ":print_stacktrace=1";
}

/* halt_on_error: the first race ends the run, as the first ASan report does. */
const char *__tsan_default_options(void)
{
	return EXITCODE ":halt_on_error=1";
}
