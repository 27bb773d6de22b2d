/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: minikvm's instruction emulator (solution/kvm/emulate.c)
 * on hostile instruction bytes. The input is a 4-byte header, then the
 * bytes at the guest's RIP:
 *   byte 0   bits 0-2: the mode (X86EMUL_MODE_*, modulo 5); bit 3: the data
 *            segment is unusable; bit 4: read_emulated and pio_in answer
 *            IO_NEEDED the first time (an MMIO read, an IN: the caller then
 *            runs the instruction again, as complete_emulated_io does);
 *            bit 5: the ops have no read_emulated/write_emulated or PIO;
 *            bit 6: a DS limit of 0xffff; bit 7: RIP near the top of the
 *            address space (64-bit: of the canonical half)
 *   byte 1   the six arithmetic flags (bits 0, 2, 4, 6, 7 and 11's value in bit 1)
 *   byte 2   the register pattern: a register i holds MEM_BASE + (i * b) % 4096,
 *            or, for i in the bits of byte 3, a value with high bits set
 *   byte 3   see byte 2
 * The fetch faults (#PF) past the input's end, as an unmapped next page
 * would. Memory is 4 KiB at MEM_BASE; other addresses fault (#PF) or fail.
 * Checks: no crash or undefined behaviour (ASan, UBSan); the decoder never
 * fetches past the instruction it decodes (the farthest byte fetched is
 * within the decoded length, and that length is at most 15); a success
 * advances RIP by that length, or leaves it on the instruction with
 * ctxt.restart (a REP string instruction with elements left, run again here
 * up to 64 times); a failure leaves the registers as they were; a run again
 * after IO_NEEDED reads the same bytes at the same place.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kvm_emulate.h"

#define CODE_BASE 0x1000ull
#define MEM_BASE  0x8000ull
#define MEM_SIZE  4096

struct fuzz_vcpu {
	struct x86_emulate_ctxt ctxt;
	uint64_t regs[16];
	const uint8_t *code;
	size_t code_len;
	uint64_t code_base;
	uint64_t fetch_end;
	uint8_t mem[MEM_SIZE];
	uint8_t hdr0;
	bool io_done;             /* the IO_NEEDED access has been "completed" */
	uint64_t io_addr;         /* where it was, and its size */
	unsigned int io_bytes;
};

static struct fuzz_vcpu V;

static uint64_t f_read_gpr(struct x86_emulate_ctxt *c, unsigned int r)
{
	(void)c;
	if (r >= 16)
		abort();
	return V.regs[r];
}

static void f_write_gpr(struct x86_emulate_ctxt *c, unsigned int r, uint64_t v)
{
	(void)c;
	if (r >= 16)
		abort();
	V.regs[r] = v;
}

static int page_fault(struct x86_exception *f, uint64_t addr, uint16_t ec)
{
	*f = (struct x86_exception){ .vector = 14, .error_code_valid = true, .error_code = ec, .address = addr };
	return X86EMUL_PROPAGATE_FAULT;
}

static int f_fetch(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	(void)c;
	if (bytes == 0 || bytes > 8)
		abort();
	if (addr < V.code_base || addr - V.code_base + bytes > V.code_len)
		return page_fault(f, addr, 0x10);
	memcpy(val, V.code + (addr - V.code_base), bytes);
	if (addr - V.code_base + bytes > V.fetch_end)
		V.fetch_end = addr - V.code_base + bytes;
	return X86EMUL_CONTINUE;
}

static int f_mem(uint64_t addr, unsigned int bytes, struct x86_exception *f, uint8_t **p, bool write)
{
	if (bytes == 0 || bytes > 8)
		abort();
	if (addr >= MEM_BASE && addr - MEM_BASE + bytes <= MEM_SIZE) {
		*p = V.mem + (addr - MEM_BASE);
		return X86EMUL_CONTINUE;
	}
	if (addr & 0x1000)
		return page_fault(f, addr, write ? 2 : 0);
	return X86EMUL_UNHANDLEABLE;
}

static int f_read(struct x86_emulate_ctxt *c, uint64_t addr, void *val, unsigned int bytes, struct x86_exception *f)
{
	uint8_t *p;
	int rc;
	(void)c;
	if ((V.hdr0 & 0x10) && !V.io_done) {
		V.io_addr = addr;
		V.io_bytes = bytes;
		return X86EMUL_IO_NEEDED;
	}
	if ((V.hdr0 & 0x10) && V.io_bytes && (addr != V.io_addr || bytes != V.io_bytes))
		abort();   /* the run again read something else first: it is not the same instruction */
	V.io_bytes = 0;
	if ((rc = f_mem(addr, bytes, f, &p, false)))
		return rc;
	memcpy(val, p, bytes);
	return X86EMUL_CONTINUE;
}

static int f_write(struct x86_emulate_ctxt *c, uint64_t addr, const void *val, unsigned int bytes,
		   struct x86_exception *f)
{
	uint8_t *p;
	int rc;
	(void)c;
	if ((rc = f_mem(addr, bytes, f, &p, true)))
		return rc;
	memcpy(p, val, bytes);
	return X86EMUL_CONTINUE;
}

static int f_pio_in(struct x86_emulate_ctxt *c, int size, uint16_t port, void *val, unsigned int count)
{
	(void)c;
	if (size != 1 && size != 2 && size != 4)
		abort();
	if (count != 1)
		abort();
	if ((V.hdr0 & 0x10) && !V.io_done)
		return X86EMUL_IO_NEEDED;
	uint32_t v = port * 0x01010101u;
	memcpy(val, &v, (size_t)size);
	return X86EMUL_CONTINUE;
}

static int f_pio_out(struct x86_emulate_ctxt *c, int size, uint16_t port, const void *val, unsigned int count)
{
	(void)c, (void)port, (void)val;
	if ((size != 1 && size != 2 && size != 4) || count != 1)
		abort();
	return X86EMUL_CONTINUE;
}

static void f_get_segment(struct x86_emulate_ctxt *c, struct kvm_segment *s, int sreg)
{
	(void)c;
	if (sreg < 0 || sreg > 5)
		abort();
	*s = (struct kvm_segment){ .limit = (V.hdr0 & 0x40) ? 0xffff : 0xffffffff, .present = 1, .s = 1, .type = 3,
				   .db = 1 };
	if (sreg == 3 && (V.hdr0 & 0x08))
		s->unusable = 1;
	if (sreg == 1 && V.ctxt.mode != X86EMUL_MODE_PROT64 && V.ctxt.mode != X86EMUL_MODE_PROT32)
		s->base = V.code_base & ~0xffffull;   /* 16-bit code: IP is the low 16 bits */
}

static const struct x86_emulate_ops ops = {
	.read_gpr = f_read_gpr, .write_gpr = f_write_gpr, .fetch = f_fetch,
	.read_emulated = f_read, .write_emulated = f_write, .get_segment = f_get_segment,
	.pio_in_emulated = f_pio_in, .pio_out_emulated = f_pio_out,
};

static const struct x86_emulate_ops ops_no_mmio = {
	.read_gpr = f_read_gpr, .write_gpr = f_write_gpr, .fetch = f_fetch, .get_segment = f_get_segment,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	memset(&V, 0, sizeof(V));
	V.hdr0 = data[0];
	V.code = data + 4;
	V.code_len = size - 4;
	enum x86emul_mode mode = (enum x86emul_mode)((data[0] & 7) % 5);
	V.code_base = CODE_BASE;
	if (data[0] & 0x80)
		V.code_base = mode == X86EMUL_MODE_PROT64 ? 0x00007ffffffffff8ull
			    : mode == X86EMUL_MODE_PROT32 ? 0xfffffff8ull : 0xfff8ull;
	for (int i = 0; i < 16; i++) {
		V.regs[i] = MEM_BASE + ((uint64_t)i * data[2]) % MEM_SIZE;
		if (data[3] & (1u << (i & 7)) && (i & 8))
			V.regs[i] |= 0xffff800000000000ull;
	}
	for (unsigned int i = 0; i < MEM_SIZE; i++)
		V.mem[i] = (uint8_t)(i * 7 + data[2]);

	V.ctxt.ops = (data[0] & 0x20) ? &ops_no_mmio : &ops;
	V.ctxt.mode = mode;
	V.ctxt.eip = mode == X86EMUL_MODE_PROT64 || mode == X86EMUL_MODE_PROT32 ? V.code_base : (V.code_base & 0xffff);
	V.ctxt.eflags = 2 | (data[1] & 0xd5) | ((data[1] & 2) ? 0x800 : 0);
	uint64_t eip0 = V.ctxt.eip;

	int rc = x86_decode_insn(&V.ctxt, 0);
	if (V.ctxt.insn_len > X86_MAX_INSN_LEN)
		abort();
	if (V.fetch_end > V.ctxt.insn_len)
		abort();   /* read past the instruction */
	if (rc != EMULATION_OK)
		return 0;
	uint64_t want = eip0 + V.ctxt.insn_len;
	if (mode == X86EMUL_MODE_PROT32)
		want = (uint32_t)want;
	else if (mode != X86EMUL_MODE_PROT64)
		want = (uint16_t)want;
	for (int run = 0; run < 64; run++) {
		uint64_t before[16];
		memcpy(before, V.regs, sizeof(before));
		rc = x86_emulate_insn(&V.ctxt);
		if (V.fetch_end > V.ctxt.insn_len)
			abort();
		if (rc == EMULATION_IO_NEEDED) {
			if (memcmp(before, V.regs, sizeof(before)) || V.ctxt.eip != eip0)
				abort();   /* an instruction waiting for the VMM changed something */
			if (V.io_done)
				abort();   /* it waited again for what was just completed */
			V.io_done = true;
			continue;
		}
		V.io_done = false;
		if (rc != EMULATION_OK) {
			if (memcmp(before, V.regs, sizeof(before)))
				abort();   /* a failed instruction changed a register */
			return 0;
		}
		if (!V.ctxt.restart) {
			if (V.ctxt.eip != want)
				abort();
			return 0;
		}
		if (V.ctxt.eip != eip0)
			abort();   /* elements left: the instruction stays where it is */
	}
	return 0;
}
