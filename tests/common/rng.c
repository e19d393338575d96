/*
 * rng.c - the tests' one PRNG (xoshiro256** seeded through splitmix64) and
 * what is made from it: random sizes, byte patterns keyed by a number (so a
 * test can check an object without keeping a copy), and pages of the kinds
 * a compressed store sees.  A struct tu_rng belongs to one thread.
 */
#include "zs_test.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void tu_rng_seed(struct tu_rng *rng, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

struct tu_rng tu_rng_from(uint64_t part)
{
	struct tu_rng rng;

	tu_rng_seed(&rng, tu_state.seed + part);
	return rng;
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t tu_rand(struct tu_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t tu_below(struct tu_rng *rng, uint64_t n)
{
	return tu_rand(rng) % n;
}

uint64_t tu_range(struct tu_rng *rng, uint64_t lo, uint64_t hi)
{
	return lo + tu_below(rng, hi - lo + 1);
}

void tu_fill_random(struct tu_rng *rng, void *buf, size_t len)
{
	unsigned char *p = buf;

	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v = tu_rand(rng);

		memcpy(p, &v, 8);
	}
	if (len) {
		uint64_t v = tu_rand(rng);

		memcpy(p, &v, len);
	}
}

size_t tu_first_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;

	if (memcmp(a, b, len) == 0)
		return len;
	for (size_t i = 0; i < len; i++)
		if (x[i] != y[i])
			return i;
	return len;
}

size_t tu_random_size(struct tu_rng *rng, size_t page_size, size_t huge_size)
{
	unsigned int kind = (unsigned int)tu_below(rng, 100);

	if (kind < 35)
		return tu_range(rng, 1, 256);
	if (kind < 80)
		return tu_range(rng, 257, huge_size);
	if (kind < 92)
		return tu_range(rng, huge_size + 1, page_size);
	return tu_range(rng, 1, page_size);
}

/* The pattern of key: the PRNG seeded with the key, 8 bytes a draw. */
static void pattern_word(struct tu_rng *rng, unsigned char out[8])
{
	uint64_t v = tu_rand(rng);

	memcpy(out, &v, 8);
}

void tu_pattern_fill(void *buf, size_t len, uint64_t key)
{
	struct tu_rng rng;

	tu_rng_seed(&rng, key);
	tu_fill_random(&rng, buf, len);
}

size_t tu_pattern_check(const void *buf, size_t len, uint64_t key)
{
	const unsigned char *p = buf;
	unsigned char want[8];
	struct tu_rng rng;

	tu_rng_seed(&rng, key);
	for (size_t i = 0; i < len; i += 8) {
		size_t n = len - i < 8 ? len - i : 8;

		pattern_word(&rng, want);
		if (memcmp(p + i, want, n) != 0)
			return i + tu_first_diff(p + i, want, n);
	}
	return len;
}

void tu_make_page(void *page, size_t ps, enum tu_page_kind kind, uint64_t seed)
{
	static const char *const words[] = { "alpha ",	 "beta ",	"gamma ",  "delta ",
					     "epsilon ", "zeta ",	"eta ",	   "theta ",
					     "iota ",	 "kappa ",	"lambda ", "{\"key\": ",
					     "value, ",	 "0x7f00ff12 ", "NULL ",   "\n" };
	unsigned char *p = page;
	struct tu_rng rng;

	tu_rng_seed(&rng, seed * 0x9e3779b97f4a7c15ull + 1);
	switch (kind) {
	case TU_PAGE_TEXT:
		for (size_t off = 0; off < ps;) {
			const char *w = words[tu_below(&rng, 16)];
			size_t n = strlen(w);

			if (n > ps - off)
				n = ps - off;
			memcpy(p + off, w, n);
			off += n;
		}
		/* Mark the page so two seeds never give the same page. */
		memcpy(p, &seed, sizeof(seed));
		break;
	case TU_PAGE_MIXED:
		for (size_t off = 0; off < ps; off += 8) {
			uint64_t w = tu_rand(&rng);

			if ((off / 8) % 2)
				w &= 0xff;
			memcpy(p + off, &w, 8);
		}
		break;
	case TU_PAGE_RANDOM: tu_fill_random(&rng, p, ps); break;
	case TU_PAGE_SAME: {
		uint64_t w = seed * 0x0101010101010101ull + 0x1234;

		for (size_t off = 0; off < ps; off += 8)
			memcpy(p + off, &w, 8);
		break;
	}
	default: memset(p, 0, ps); break;
	}
}
