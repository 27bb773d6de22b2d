/* SPDX-License-Identifier: MIT */
/*
 * real-string-pio: string port I/O, rep outsb/outsw and rep insb/insw/insl.
 *
 * KVM serves a rep ins with read-ahead: one KVM_EXIT_IO with io.count > 1
 * (here 16) whose elements the VMM must all read from the device, each into
 * its own slot of the shared data page (api.rst, KVM_EXIT_IO); KVM then
 * copies them all into the guest. A rep outs reaches the VMM as one exit per
 * element on KVM's instruction emulator, or as one exit with every element
 * where a KVM batches them; either way each must be written, in order, so
 * the test device's scratch register ends up holding the last one.
 */
#include "rt.h"

#define SCRATCH (ABI_TESTDEV_PORT + ABI_TESTDEV_SCRATCH)
#define ID      (ABI_TESTDEV_PORT + ABI_TESTDEV_ID)
#define N 16

static void rep_outsb(uint16_t port, const void *src, uint32_t n)
{
	__asm__ volatile("rep outsb" : "+S"(src), "+c"(n) : "d"(port) : "memory");
}

static void rep_outsw(uint16_t port, const void *src, uint32_t n)
{
	__asm__ volatile("rep outsw" : "+S"(src), "+c"(n) : "d"(port) : "memory");
}

static void rep_insb(uint16_t port, void *dst, uint32_t n)
{
	__asm__ volatile("rep insb" : "+D"(dst), "+c"(n) : "d"(port) : "memory");
}

static void rep_insw(uint16_t port, void *dst, uint32_t n)
{
	__asm__ volatile("rep insw" : "+D"(dst), "+c"(n) : "d"(port) : "memory");
}

static void rep_insl(uint16_t port, void *dst, uint32_t n)
{
	__asm__ volatile("rep insl" : "+D"(dst), "+c"(n) : "d"(port) : "memory");
}

static uint32_t element(const void *buf, unsigned size, int i)
{
	uint32_t v = 0;
	memcpy(&v, (const uint8_t *)buf + i * size, size);
	return v;
}

/* After a rep ins of N elements of `size` bytes that should all read `want`. */
static void check_ins(const char *name, const void *buf, unsigned size, uint32_t want)
{
	int i = 0;
	while (i < N && element(buf, size, i) == want)
		i++;
	report(i == N, name, "element %d of %u read 0x%x, want 0x%x%s", i, N, i < N ? element(buf, size, i) : want, want,
	       i > 0 ? ": the first was served, not the others (a rep ins exit has io.count elements, "
		       "each in its own slot of the data page)" : "");
}

static uint8_t bytes[N];
static uint16_t words[N];
static uint32_t dwords[N];

void guest_main(void);
void guest_main(void)
{
	begin(GUEST_NAME);
	for (int i = 0; i < N; i++) {
		bytes[i] = (uint8_t)(0xa0 + i);
		words[i] = (uint16_t)(0x1100 * (i + 1) + i);
	}

	/* rep outs: the scratch register keeps the last element written. */
	outl(SCRATCH, 0);
	rep_outsb(SCRATCH, bytes, N);
	uint8_t b = inb(SCRATCH);
	report(b == bytes[N - 1], "rep-outsb", "after rep outsb of %u bytes 0x%x..0x%x the scratch register "
	       "holds 0x%x, want the last, 0x%x", N, bytes[0], bytes[N - 1], b, bytes[N - 1]);
	outl(SCRATCH, 0);
	rep_outsw(SCRATCH, words, N);
	uint16_t w = inw(SCRATCH);
	report(w == words[N - 1], "rep-outsw", "after rep outsw of %u words 0x%x..0x%x the scratch register "
	       "holds 0x%x, want the last, 0x%x", N, words[0], words[N - 1], w, words[N - 1]);

	/* rep ins: every element is a read of the port. */
	memset(bytes, 0, sizeof(bytes));
	outl(SCRATCH, 0x5a);
	rep_insb(SCRATCH, bytes, N);
	check_ins("rep-insb", bytes, 1, 0x5a);
	memset(words, 0, sizeof(words));
	outl(SCRATCH, 0xbeef);
	rep_insw(SCRATCH, words, N);
	check_ins("rep-insw", words, 2, 0xbeef);
	memset(dwords, 0, sizeof(dwords));
	rep_insl(ID, dwords, N);
	check_ins("rep-insl", dwords, 4, ABI_TESTDEV_MAGIC);
	end();
}
