/* SPDX-License-Identifier: MIT */
/*
 * The fake vCPU the emulator runs on in these tests: the callbacks of
 * struct x86_emulate_ops over an array of registers, the instruction's own
 * bytes, two pages of memory and an I/O port space, logging every access in
 * the order the emulator makes it. x86.c implements the same callbacks over
 * the MMU and the kvm_run exits.
 */
#include <stdio.h>
#include <string.h>

#include "lab07_tests.h"

struct fake F;

static void log_event(enum emu_event_kind kind, uint64_t addr, unsigned int bytes, unsigned int count,
		      const void *val)
{
	if (F.nev >= FAKE_MAX_EVENTS)
		return;
	struct emu_event *e = &F.ev[F.nev++];
	*e = (struct emu_event){ .kind = kind, .addr = addr, .bytes = bytes, .count = count };
	if (val)
		memcpy(&e->val, val, bytes * count < 8 ? bytes * count : 8);
}

static uint64_t f_read_gpr(struct x86_emulate_ctxt *c, unsigned int r)
{
	(void)c;
	require(r < 16, "the emulator read general register %u: there are 16 (VCPU_REGS_RAX..R15)", r);
	return F.regs[r];
}

static void f_write_gpr(struct x86_emulate_ctxt *c, unsigned int r, uint64_t v)
{
	(void)c;
	require(r < 16, "the emulator wrote general register %u: there are 16 (VCPU_REGS_RAX..R15)", r);
	F.regs[r] = v;
	F.gpr_writes++;
	log_event(EV_GPR, r, 8, 1, &v);
}

static struct x86_exception page_fault(uint64_t addr, uint16_t ec)
{
	return (struct x86_exception){ .vector = 14, .error_code_valid = true, .error_code = ec, .address = addr };
}

static int f_fetch(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	(void)c;
	for (unsigned int i = 0; i < bytes; i++) {
		unsigned int k;
		for (k = 0; k < F.code_len && F.code_la[k] != addr + i; k++)
			;
		if (k == F.code_len) {
			*f = page_fault(addr + i, 0x10);   /* PFERR_FETCH_MASK */
			return X86EMUL_PROPAGATE_FAULT;
		}
		((uint8_t *)val)[i] = F.code[k];
		if (k + 1 > F.fetched)
			F.fetched = k + 1;
	}
	return X86EMUL_CONTINUE;
}

static uint8_t *fmem(uint64_t addr, unsigned int bytes)
{
	if (addr < MEM_BASE || addr + bytes > MEM_BASE + MEM_SIZE || addr + bytes < addr)
		return NULL;
	return F.mem + (addr - MEM_BASE);
}

static bool faults(uint64_t addr, unsigned int bytes)
{
	return addr < F.fault_hi && addr + bytes > F.fault_lo;
}

static int f_read(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	uint8_t *p = fmem(addr, bytes);
	(void)c;
	log_event(EV_READ, addr, bytes, 1, NULL);
	if (F.fault_reads && faults(addr, bytes)) {
		*f = page_fault(addr, 0);
		return X86EMUL_PROPAGATE_FAULT;
	}
	if (F.io_needed > 0) {
		F.io_needed--;
		return X86EMUL_IO_NEEDED;
	}
	if (!p)
		return X86EMUL_UNHANDLEABLE;
	F.reads++;
	memcpy(val, p, bytes);
	memcpy(&F.ev[F.nev - 1].val, p, bytes < 8 ? bytes : 8);
	return X86EMUL_CONTINUE;
}

static int f_write(struct x86_emulate_ctxt *c, uint64_t addr, const void *val, unsigned int bytes,
		   struct x86_exception *f)
{
	uint8_t *p = fmem(addr, bytes);
	(void)c;
	log_event(EV_WRITE, addr, bytes, 1, val);
	if (F.fault_writes && faults(addr, bytes)) {
		*f = page_fault(addr, 2);          /* PFERR_WRITE_MASK */
		return X86EMUL_PROPAGATE_FAULT;
	}
	if (!p)
		return X86EMUL_UNHANDLEABLE;
	F.writes++;
	memcpy(p, val, bytes);
	return X86EMUL_CONTINUE;
}

static int f_pio_in(struct x86_emulate_ctxt *c, int size, uint16_t port, void *val, unsigned int count)
{
	(void)c;
	for (unsigned int i = 0; i < count; i++)
		for (int b = 0; b < size; b++)
			((uint8_t *)val)[i * (unsigned int)size + (unsigned int)b] = F.ports[(uint16_t)(port + b)];
	log_event(EV_PIO_IN, port, (unsigned int)size, count, val);
	return X86EMUL_CONTINUE;
}

static int f_pio_out(struct x86_emulate_ctxt *c, int size, uint16_t port, const void *val, unsigned int count)
{
	(void)c;
	for (unsigned int i = 0; i < count; i++)
		for (int b = 0; b < size; b++)
			F.ports[(uint16_t)(port + b)] = ((const uint8_t *)val)[i * (unsigned int)size + (unsigned int)b];
	log_event(EV_PIO_OUT, port, (unsigned int)size, count, val);
	return X86EMUL_CONTINUE;
}

static void f_get_segment(struct x86_emulate_ctxt *c, struct kvm_segment *s, int sreg)
{
	(void)c;
	require(sreg >= 0 && sreg < 6, "the emulator asked for segment register %d: there are 6 (X86_SREG_ES..GS)",
		sreg);
	*s = F.seg[sreg];
}

static int f_cpl(struct x86_emulate_ctxt *c)
{
	(void)c;
	return 0;
}

static const struct x86_emulate_ops fake_ops = {
	.read_gpr = f_read_gpr,
	.write_gpr = f_write_gpr,
	.fetch = f_fetch,
	.read_emulated = f_read,
	.write_emulated = f_write,
	.pio_in_emulated = f_pio_in,
	.pio_out_emulated = f_pio_out,
	.get_segment = f_get_segment,
	.cpl = f_cpl,
};

void fake_reset(void)
{
	memset(&F, 0, sizeof(F));
}

void fake_setup_at(enum x86emul_mode mode, uint64_t ip, const uint8_t *code, unsigned int len)
{
	uint64_t cs_base = mode == M64 ? 0 : CODE_BASE - 0x1000;

	require(len <= sizeof(F.code), "test bug: %u instruction bytes", len);
	memset(&F.ctxt, 0, sizeof(F.ctxt));
	F.fetched = 0;
	F.io_needed = 0;
	F.fault_reads = F.fault_writes = false;
	F.fault_lo = F.fault_hi = 0;
	F.reads = F.writes = F.gpr_writes = 0;
	F.nev = 0;
	for (int i = 0; i < 6; i++)
		F.seg[i] = (struct kvm_segment){ .limit = mode == MREAL || mode == M16 ? 0xffff : 0xffffffff,
						 .present = 1, .s = 1, .type = 3, .db = mode == M32 || mode == M64 };
	F.seg[X86_SREG_CS].base = cs_base;
	F.seg[X86_SREG_CS].type = 0xb;
	F.seg[X86_SREG_CS].l = mode == M64;
	memcpy(F.code, code, len);
	F.code_len = len;
	/* Where each byte is: IP wraps at 64 KiB in 16-bit code, EIP at 4 GiB. */
	for (unsigned int i = 0; i < len; i++) {
		if (mode == M64)
			F.code_la[i] = ip + i;
		else if (mode == M32)
			F.code_la[i] = (uint32_t)(cs_base + (uint32_t)(ip + i));
		else
			F.code_la[i] = (uint32_t)(cs_base + (uint16_t)(ip + i));
	}
	F.ctxt.ops = &fake_ops;
	F.ctxt.mode = mode;
	F.ctxt.eip = ip;
	F.ctxt.eflags = X86_EFLAGS_FIXED;
}

void fake_setup(enum x86emul_mode mode, const uint8_t *code, unsigned int len)
{
	fake_setup_at(mode, mode == M64 ? CODE_BASE : 0x1000, code, len);
}

unsigned int parse_hex(const char *hex, uint8_t *out, unsigned int max)
{
	unsigned int n = 0, v;
	for (const char *p = hex; *p;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		require(sscanf(p, "%2x", &v) == 1 && n < max, "test bug: bad hex \"%s\"", hex);
		out[n++] = (uint8_t)v;
		p += 2;
	}
	return n;
}

int emu_decode(enum x86emul_mode mode, const char *hex)
{
	uint8_t b[32];
	unsigned int n = parse_hex(hex, b, sizeof(b));
	fake_setup(mode, b, n);
	return x86_decode_insn(&F.ctxt, 0);
}

int emu_run(enum x86emul_mode mode, const char *hex)
{
	int rc = emu_decode(mode, hex);
	return rc == EMULATION_OK ? x86_emulate_insn(&F.ctxt) : rc;
}

void emu_exec(const char *what, const char *hex, unsigned int off, uint64_t flags)
{
	int rc;

	F.regs[RBX] = MEM_BASE + off;
	rc = emu_decode(M64, hex);
	require(rc == EMULATION_OK, "%s (%s): x86_decode_insn gave %s, expected EMULATION_OK", what, hex,
		emu_result(rc));
	F.ctxt.eflags = X86_EFLAGS_FIXED | flags;
	rc = x86_emulate_insn(&F.ctxt);
	require(rc == EMULATION_OK, "%s (%s, RBX = 0x%llx): x86_emulate_insn gave %s, expected EMULATION_OK", what,
		hex, (unsigned long long)F.regs[RBX], emu_result(rc));
	require(F.ctxt.eip == CODE_BASE + F.code_len,
		"%s (%s): RIP is 0x%llx after it, expected 0x%llx (the next instruction: RIP + %u bytes)", what, hex,
		(unsigned long long)F.ctxt.eip, (unsigned long long)(CODE_BASE + F.code_len), F.code_len);
}

const char *emu_result(int rc)
{
	static char buf[4][160];
	static unsigned int k;
	char *s = buf[k++ % 4];
	const struct x86_emulate_ctxt *c = &F.ctxt;

	switch (rc) {
	case EMULATION_OK:
		return "EMULATION_OK";
	case EMULATION_IO_NEEDED:
		return "EMULATION_IO_NEEDED";
	case EMULATION_FAILED:
		if (c->have_exception)
			snprintf(s, 160, "EMULATION_FAILED (exception vector %u, error code %s0x%x)", c->exception.vector,
				 c->exception.error_code_valid ? "" : "none, ", c->exception.error_code);
		else
			snprintf(s, 160, "EMULATION_FAILED (%s)", c->failure ? c->failure : "no reason given");
		return s;
	default:
		snprintf(s, 160, "%d (not an EMULATION_* value)", rc);
		return s;
	}
}

const char *flag_names(uint64_t flags)
{
	static char buf[8][32];
	static unsigned int k;
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = { { X86_EFLAGS_CF, "CF" }, { X86_EFLAGS_PF, "PF" }, { X86_EFLAGS_AF, "AF" },
		      { X86_EFLAGS_ZF, "ZF" }, { X86_EFLAGS_SF, "SF" }, { X86_EFLAGS_OF, "OF" } };
	char *s = buf[k++ % 8];

	s[0] = 0;
	for (unsigned int i = 0; i < ARRAY_SIZE(names); i++)
		if (flags & names[i].bit)
			snprintf(s + strlen(s), 32 - strlen(s), "%s%s", s[0] ? " " : "", names[i].name);
	return s[0] ? s : "none";
}

uint64_t mem_get(unsigned int off, unsigned int bytes)
{
	uint64_t v = 0;
	memcpy(&v, F.mem + off, bytes);
	return v;
}

void mem_set(unsigned int off, uint64_t val, unsigned int bytes)
{
	memcpy(F.mem + off, &val, bytes);
}

int event_find(enum emu_event_kind kind, uint64_t addr)
{
	for (unsigned int i = 0; i < F.nev; i++)
		if (F.ev[i].kind == kind && (addr == ~0ull || F.ev[i].addr == addr))
			return (int)i;
	return -1;
}
