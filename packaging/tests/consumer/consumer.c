/*
 * consumer.c - a program outside the tree that uses each installed library
 * once, as a user would: an object in a zsmalloc pool, one in a zbud pool
 * through zpool, a page in a zsram store, and a zsswap region (skipped,
 * with the reason, where userfaultfd is not allowed).  Prints "consumer ok"
 * and exits 0 when every byte read back is the one written.
 */
#include <stdio.h>
#include <string.h>

#include <zpool.h>
#include <zsmalloc.h>
#include <zsram.h>
#include <zsswap.h>

static int check_zsmalloc(void)
{
	struct zs_pool *pool = zs_create_pool("consumer");
	char copy[4096];
	unsigned long h;
	int ok;

	if (!pool)
		return 0;
	h = zs_malloc(pool, 100);
	zs_obj_write(pool, h, "zsmalloc", 9);
	const char *bytes = zs_obj_read_begin(pool, h, copy);
	ok = h && memcmp(bytes, "zsmalloc", 9) == 0;
	zs_obj_read_end(pool, h, (void *)bytes);
	zs_free(pool, h);
	zs_destroy_pool(pool);
	return ok;
}

static int check_zpool(void)
{
	struct zpool *pool = zpool_create("zbud", "consumer", NULL);
	unsigned long h;
	int ok;

	if (!pool)
		return 0;
	h = zpool_malloc(pool, 64);
	zpool_write(pool, h, "zpool", 6);
	ok = h && memcmp(zpool_map(pool, h, ZS_MM_RO), "zpool", 6) == 0;
	zpool_unmap(pool, h);
	zpool_free(pool, h);
	zpool_destroy(pool);
	return ok;
}

static int check_zsram(void)
{
	static unsigned char page[4096], back[4096];
	struct zsram_config cfg;
	struct zsram *store;
	int ok;

	zsram_config_init(&cfg);
	cfg.nr_pages = 4;
	store = zsram_create(&cfg);
	if (!store)
		return 0;
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i % 7);
	ok = zsram_write_page(store, 1, page) == 0 && zsram_read_page(store, 1, back) == 0 &&
	     memcmp(page, back, sizeof(page)) == 0;
	zsram_destroy(store);
	return ok;
}

static int check_zsswap(void)
{
	struct zsswap_config cfg;
	struct zsswap *z;
	char *mem;
	int ok;

	zsswap_config_init(&cfg);
	cfg.size = 1 << 20;
	z = zsswap_create(&cfg);
	if (!z) {
		printf("zsswap: not here: %s\n", zsswap_last_error());
		return 1;
	}
	mem = zsswap_base(z);
	strcpy(mem + 8192, "zsswap");
	ok = strcmp(mem + 8192, "zsswap") == 0;
	zsswap_destroy(z);
	return ok;
}

int main(void)
{
	int ok = check_zsmalloc() & check_zpool() & check_zsram() & check_zsswap();

	printf("consumer %s\n", ok ? "ok" : "FAILED");
	return !ok;
}
