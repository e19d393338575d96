/*
 * fuzz_common.h - what every harness in fuzz/ shares: reading the fuzzer's
 * input bytes as a stream of small decisions, a seeded PRNG for byte
 * patterns and random fault injection (fz_maybe_fail_meta arms
 * libzsmalloc's metadata failures), and FZ_CHECK, which ends the run with
 * a message (abort, so libFuzzer records the input as a crash).
 *
 * Input bytes are consumed front to back; once they run out every read
 * answers 0, so any input, even an empty one, is a valid program.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h" /* zs_test_fail_meta_alloc */

/* The entry point libFuzzer calls (and fuzz_replay.c, without libFuzzer). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond, ...)                                                                      \
	do {                                                                                     \
		if (__builtin_expect(!(cond), 0)) {                                              \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                            \
			fputc('\n', stderr);                                                     \
			abort();                                                                 \
		}                                                                                \
	} while (0)

/* ---- Input reader ---- */

struct fz_input {
	const uint8_t *data;
	size_t size, pos;
};

static inline void fz_input_init(struct fz_input *in, const uint8_t *data, size_t size)
{
	in->data = data;
	in->size = size;
	in->pos = 0;
}

static inline int fz_done(const struct fz_input *in)
{
	return in->pos >= in->size;
}

static inline uint8_t fz_u8(struct fz_input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static inline uint16_t fz_u16(struct fz_input *in)
{
	uint16_t lo = fz_u8(in);

	return (uint16_t)(lo | (uint16_t)fz_u8(in) << 8);
}

static inline uint32_t fz_u32(struct fz_input *in)
{
	uint32_t lo = fz_u16(in);

	return lo | (uint32_t)fz_u16(in) << 16;
}

static inline uint64_t fz_u64(struct fz_input *in)
{
	uint64_t lo = fz_u32(in);

	return lo | (uint64_t)fz_u32(in) << 32;
}

/* A value in [0, n) from one or two bytes (n > 0). */
static inline size_t fz_below(struct fz_input *in, size_t n)
{
	return (n <= 256 ? fz_u8(in) : fz_u16(in)) % n;
}

/* ---- PRNG (splitmix64): patterns and random fault injection ---- */

static inline uint64_t fz_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random metadata failures: when none is armed, arms one, odds 1/rate (0:
 * never), to fail one of the next `within` metadata allocations. */
static inline void fz_maybe_fail_meta(uint64_t *rng, unsigned int rate, unsigned int within)
{
	if (rate && zs_test_meta_countdown() == 0 && fz_rand(rng) % rate == 0)
		zs_test_fail_meta_alloc(1 + fz_rand(rng) % within, false);
}

/* Fills buf with bytes of one of a few shapes chosen by kind: random,
 * a short repeating text (compressible), one repeated byte, zeros, a
 * repeated 64-bit word, random with long zero runs. */
static inline void fz_fill(unsigned char *buf, size_t len, unsigned int kind, uint64_t seed)
{
	uint64_t st = seed, w;
	size_t i;

	switch (kind % 6) {
	case 0:
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)(fz_rand(&st) >> 56);
		break;
	case 1: {
		static const char text[] = "the quick brown fox jumps over the lazy dog ";
		size_t off = (size_t)(seed % (sizeof(text) - 1));

		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)text[(off + i) % (sizeof(text) - 1)];
		break;
	}
	case 2:
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)seed;
		break;
	case 3:
		for (i = 0; i < len; i++)
			buf[i] = 0;
		break;
	case 4:
		w = fz_rand(&st);
		for (i = 0; i < len; i++)
			buf[i] = (unsigned char)(w >> (8 * (i % 8)));
		break;
	default:
		for (i = 0; i < len; i++) {
			uint64_t r = fz_rand(&st);

			buf[i] = (r & 3) ? 0 : (unsigned char)(r >> 56);
		}
		break;
	}
}

#endif /* FUZZ_COMMON_H */
