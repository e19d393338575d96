/* zsram_test.h - what several of the store's tests ask of it (on top of
 * tests/common/zs_test.h). */
#ifndef ZSRAM_TEST_H
#define ZSRAM_TEST_H

#include <zsram.h>

#include "zs_test.h"

/* Compressed slots among the first nr that record codec alg (0 primary,
 * 1..3 a secondary algorithm, 4..5 a dictionary generation). */
static inline uint64_t zt_count_alg(struct zsram *z, uint64_t nr, unsigned int alg)
{
	struct zsram_slot_info info;
	uint64_t n = 0;

	for (uint64_t i = 0; i < nr; i++) {
		CHECK_EQ(zsram_slot_info(z, i, &info), 0);
		n += info.kind == ZSRAM_SLOT_COMPRESSED && info.algorithm == alg;
	}
	return n;
}

#endif
