/*
 * test_backend_check.c - zsram_check checks the allocator under the store,
 * whatever the backend: on a zbud and a z3fold store it passes on a sound
 * pool, fails (naming the allocator and the backend) once a page header of
 * the pool is corrupted, and passes again once the header is repaired.
 * Reaches the slot table and the backends' page-header magic through the
 * internal headers.
 */
#include <zsram.h>

#include "zs_test.h"

#include "../src/zsram_internal.h"
#include "z3fold.h"
#include "zbud.h"

/* The page-header word holding magic in the pool page of handle: headers
 * start the page, the magic within their first 64 bytes. */
static uint32_t *find_magic(unsigned long handle, size_t ps, uint32_t magic)
{
	unsigned char *page = (unsigned char *)(handle & ~(unsigned long)(ps - 1));

	for (size_t off = 0; off < 64; off += sizeof(uint32_t)) {
		uint32_t word;

		memcpy(&word, page + off, sizeof(word));
		if (word == magic)
			return (uint32_t *)(void *)(page + off);
	}
	return NULL;
}

static void corrupt_and_check(const char *backend, uint32_t magic, size_t ps)
{
	struct zsram_config cfg;
	unsigned char *page = malloc(ps);
	char why[256], want[64];
	struct zsram *z;
	uint32_t *hdr_magic;
	uint64_t nr = 48;

	CHECK(page);
	zsram_config_init(&cfg);
	cfg.nr_pages = nr;
	cfg.page_size = ps;
	cfg.allocator = backend;
	z = zsram_create(&cfg);
	CHECK(z);
	for (uint64_t i = 0; i < nr; i++) {
		tu_make_page(page, ps, i % 2 ? TU_PAGE_TEXT : TU_PAGE_MIXED, i);
		CHECK_EQ(zsram_write_page(z, i, page), 0);
	}
	CHECK_STORE(z);
	/* Slot 0 holds a compressed object in the backend's pool. */
	CHECK(slot_in_allocator(atomic_load(&z->slots.flags[0])));
	CHECK(!(atomic_load(&z->slots.flags[0]) & SLOT_RAW));
	hdr_magic = find_magic(z->slots.values[0], ps, magic);
	CHECK(hdr_magic);

	*hdr_magic ^= 1;
	why[0] = 0;
	CHECK(zsram_check(z, why, sizeof(why)) != 0);
	snprintf(want, sizeof(want), "allocator: %s: ", backend);
	if (strncmp(why, want, strlen(want)) != 0) {
		fprintf(stderr, "%s: zsram_check said \"%s\", not \"%s...\"\n", backend, why, want);
		exit(1);
	}
	CHECK(zsram_check(z, NULL, 0) != 0);
	printf("%s, %zu-byte pages: corruption found: %s\n", backend, ps, why);

	*hdr_magic ^= 1;
	CHECK_STORE(z);
	for (uint64_t i = 0; i < nr; i++) {
		unsigned char *back = malloc(ps);

		CHECK(back);
		tu_make_page(page, ps, i % 2 ? TU_PAGE_TEXT : TU_PAGE_MIXED, i);
		CHECK_EQ(zsram_read_page(z, i, back), 0);
		CHECK(memcmp(page, back, ps) == 0);
		free(back);
	}
	zsram_destroy(z);
	free(page);
}

int main(void)
{
	static const size_t page_sizes[] = { 4096, 16384 };

	for (size_t i = 0; i < sizeof(page_sizes) / sizeof(page_sizes[0]); i++) {
		corrupt_and_check("zbud", ZBUD_MAGIC, page_sizes[i]);
		corrupt_and_check("z3fold", Z3FOLD_MAGIC, page_sizes[i]);
	}
	printf("backend_check: ok\n");
	return 0;
}
