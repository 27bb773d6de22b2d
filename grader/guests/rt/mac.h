/* SPDX-License-Identifier: MIT */
/*
 * The report's MAC (README.md, "The report's MAC"): HMAC-SHA256 (RFC 2104,
 * FIPS 180-4) over the guest's report lines, keyed by the per-run secret the
 * grader writes into its copy of the image before the run. The key lives in a
 * slot of its own section, found by the grader by its marker in the image's
 * bytes, so ELF32, ELF64 and flat real-mode images are prepared alike.
 */
#ifndef RT_MAC_H
#define RT_MAC_H

#include <stdint.h>

#define MAC_KEY_BYTES 32
#define MAC_BYTES     32

/* grader/lib/mac.py knows this layout: 16 marker bytes, then the key. */
struct mac_key_slot {
	char magic[16];
	uint8_t key[MAC_KEY_BYTES];
};
extern struct mac_key_slot rt_mac_key_slot;

struct sha256 {
	uint32_t h[8];
	uint32_t len;          /* bytes hashed so far; a guest's report is far below 4 GiB */
	uint8_t buf[64];
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, uint32_t n);
void sha256_final(struct sha256 *s, uint8_t out[32]);

/* Streaming HMAC: begin with the slot's key, feed bytes, finish. */
void mac_begin(void);
void mac_byte(uint8_t c);
void mac_finish(uint8_t out[MAC_BYTES]);

#endif
