/* SPDX-License-Identifier: MIT */
/*
 * HMAC-SHA256 for the report's MAC (mac.h). Small rather than fast: a guest
 * reports a few hundred bytes, a handful of compressions. Plain 32-bit C, so
 * -m16 builds it too (gcc emits operand-size prefixes for the 32-bit ALU ops).
 */
#include "mac.h"
#include "rt.h"

/* Marked slot, zero key: the grader fills a per-run copy of the image
 * (grader/lib/mac.py). Not static and not const, so the compiler must read
 * the key from memory instead of folding the zeros it was built with. */
struct mac_key_slot rt_mac_key_slot __attribute__((section(".kvmlabs_key"), used, aligned(16))) = {
	.magic = { 'K', 'V', 'M', 'L', 'A', 'B', 'S', '-', 'M', 'A', 'C', 'K', 'E', 'Y', '-', '1' },
};

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

#define S0(a) (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22))
#define S1(e) (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25))
#define s0(x) (ror(x, 7) ^ ror(x, 18) ^ ((x) >> 3))
#define s1(x) (ror(x, 17) ^ ror(x, 19) ^ ((x) >> 10))
/* One round with the working variables renamed instead of moved: the host KVM
 * of some machines emulates CPL0 guest code instruction by instruction
 * (about 1 us each), so every instruction of the compression counts. */
#define ROUND(a, b, c, d, e, f, g, h, i)                                              \
	do {                                                                          \
		uint32_t t1 = h + S1(e) + (g ^ (e & (f ^ g))) + sha256_k[i] + w[(i) % 16]; \
		d += t1;                                                              \
		h = t1 + S0(a) + ((a & b) | (c & (a | b)));                           \
	} while (0)

/* FIPS 180-4, 6.2.2: one 64-byte block; the message schedule kept in a
 * 16-word window. */
static void sha256_block(struct sha256 *s)
{
	uint32_t w[16];
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];

	for (unsigned i = 0; i < 16; i++)
		w[i] = (uint32_t)s->buf[4 * i] << 24 | (uint32_t)s->buf[4 * i + 1] << 16 |
		       (uint32_t)s->buf[4 * i + 2] << 8 | s->buf[4 * i + 3];
	for (unsigned i = 0; i < 64; i += 8) {
		if (i)
			for (unsigned j = 0; j < 16 && i % 16 == 0; j++)
				w[j] += s1(w[(j + 14) % 16]) + w[(j + 9) % 16] + s0(w[(j + 1) % 16]);
		ROUND(a, b, c, d, e, f, g, h, i);
		ROUND(h, a, b, c, d, e, f, g, i + 1);
		ROUND(g, h, a, b, c, d, e, f, i + 2);
		ROUND(f, g, h, a, b, c, d, e, i + 3);
		ROUND(e, f, g, h, a, b, c, d, i + 4);
		ROUND(d, e, f, g, h, a, b, c, i + 5);
		ROUND(c, d, e, f, g, h, a, b, i + 6);
		ROUND(b, c, d, e, f, g, h, a, i + 7);
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
	s->h[5] += f;
	s->h[6] += g;
	s->h[7] += h;
}

void sha256_init(struct sha256 *s)
{
	/* FIPS 180-4, 5.3.3. */
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
}

void sha256_update(struct sha256 *s, const void *data, uint32_t n)
{
	const uint8_t *p = data;
	while (n--) {
		s->buf[s->len++ % 64] = *p++;
		if (s->len % 64 == 0)
			sha256_block(s);
	}
}

void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint32_t bits = s->len * 8; /* the high word of the 64-bit length is 0 */
	uint8_t pad = 0x80;
	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->len % 64 != 56)
		sha256_update(s, &pad, 1);
	for (unsigned i = 0; i < 4; i++)
		sha256_update(s, &pad, 1);
	for (int i = 3; i >= 0; i--) {
		uint8_t b = (uint8_t)(bits >> (8 * i));
		sha256_update(s, &b, 1);
	}
	for (unsigned i = 0; i < 32; i++)
		out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), K the key padded to 64 bytes. */
static struct sha256 mac_inner;

static void mac_pad_key(struct sha256 *s, uint8_t pad)
{
	uint8_t k[64];
	for (unsigned i = 0; i < 64; i++)
		k[i] = (uint8_t)((i < MAC_KEY_BYTES ? rt_mac_key_slot.key[i] : 0) ^ pad);
	sha256_init(s);
	sha256_update(s, k, sizeof(k));
}

void mac_begin(void)
{
	mac_pad_key(&mac_inner, 0x36);
}

/* Inline rather than through sha256_update(): it runs once per character printed. */
void mac_byte(uint8_t c)
{
	mac_inner.buf[mac_inner.len++ % 64] = c;
	if (mac_inner.len % 64 == 0)
		sha256_block(&mac_inner);
}

void mac_finish(uint8_t out[MAC_BYTES])
{
	struct sha256 outer;
	uint8_t inner[32];
	sha256_final(&mac_inner, inner);
	mac_pad_key(&outer, 0x5c);
	sha256_update(&outer, inner, sizeof(inner));
	sha256_final(&outer, out);
}
