/*
 * zs-example - stores a file's pages in a zsmalloc pool and shows the pool.
 *
 * Reads FILE (default: this program's own binary) in 4 KiB pages, keeps
 * each page's non-zero prefix as an object (a stand-in for a compressed
 * page: real compression is zsram's and zsbench's job), reads every object
 * back and compares, frees every other object, compacts, checks again, and
 * prints the class table and the pool's figures.  Exits non-zero if any
 * byte differs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zsmalloc.h>

#define PAGE 4096

struct stored {
	unsigned long handle;
	size_t size;
	long offset; /* page offset in the file, to compare against */
};

/* Object size for a page: up to the last non-zero byte (at least 1). */
static size_t trimmed_size(const unsigned char *page, size_t len)
{
	while (len > 1 && page[len - 1] == 0)
		len--;
	return len;
}

static int verify(struct zs_pool *pool, FILE *f, const struct stored *objs, size_t n)
{
	unsigned char want[PAGE], copy[PAGE];
	for (size_t i = 0; i < n; i++) {
		if (!objs[i].handle)
			continue;
		memset(want, 0, sizeof(want));
		if (fseek(f, objs[i].offset, SEEK_SET) || fread(want, 1, PAGE, f) == 0)
			return -1;
		const unsigned char *got = zs_obj_read_begin(pool, objs[i].handle, copy);
		int same = memcmp(got, want, objs[i].size) == 0;
		zs_obj_read_end(pool, objs[i].handle, (void *)got);
		if (!same) {
			fprintf(stderr, "zs-example: page at offset %ld read back wrong\n",
				objs[i].offset);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/proc/self/exe";
	if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
		fprintf(stderr,
			"usage: zs-example [FILE]\n"
			"Stores FILE's pages in a zsmalloc pool, verifies them, frees half,\n"
			"compacts, verifies again and prints the pool's class table.\n");
		return argc > 2 ? 2 : 0;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "zs-example: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct zs_pool *pool = zs_create_pool("zs-example");
	if (!pool) {
		fprintf(stderr, "zs-example: cannot create a pool: %s\n", strerror(errno));
		return 1;
	}

	size_t n = 0, cap = 1024, payload = 0;
	struct stored *objs = malloc(cap * sizeof(*objs));
	unsigned char page[PAGE];
	size_t got;
	long offset = 0;
	while (objs && (got = fread(page, 1, PAGE, f)) > 0) {
		memset(page + got, 0, PAGE - got);
		if (n == cap) {
			struct stored *more = realloc(objs, 2 * cap * sizeof(*objs));
			if (!more)
				break;
			objs = more;
			cap *= 2;
		}
		size_t size = trimmed_size(page, PAGE);
		unsigned long h = zs_malloc(pool, size);
		if (!h) {
			fprintf(stderr, "zs-example: zs_malloc(%zu): %s\n", size, strerror(errno));
			return 1;
		}
		zs_obj_write(pool, h, page, size);
		objs[n++] = (struct stored){ .handle = h, .size = size, .offset = offset };
		payload += size;
		offset += PAGE;
	}
	if (!objs) {
		fprintf(stderr, "zs-example: out of memory\n");
		return 1;
	}
	unsigned long filled = zs_get_total_pages(pool);
	if (verify(pool, f, objs, n))
		return 1;
	printf("stored %zu pages of %s as %zu bytes of objects in %lu pool pages (%.2f%% over)\n", n,
	       path, payload, filled, payload ? 100.0 * ((double)filled * PAGE / payload - 1) : 0);

	size_t live = 0;
	for (size_t i = 0; i < n; i++) {
		if (i % 2) {
			zs_free(pool, objs[i].handle);
			objs[i].handle = 0;
		} else {
			live += objs[i].size;
		}
	}
	unsigned long before = zs_get_total_pages(pool);
	unsigned long freed = zs_compact(pool);
	if (verify(pool, f, objs, n))
		return 1;
	char why[256];
	if (zs_pool_check(pool, why, sizeof(why))) {
		fprintf(stderr, "zs-example: pool inconsistent: %s\n", why);
		return 1;
	}
	printf("freed every other page: %lu pool pages; zs_compact gave back %lu, leaving %lu "
	       "(%.2f%% over %zu live bytes)\n\n",
	       before, freed, zs_get_total_pages(pool),
	       live ? 100.0 * ((double)zs_get_total_pages(pool) * PAGE / live - 1) : 0, live);
	zs_print_class_stats(pool, stdout);

	for (size_t i = 0; i < n; i++)
		zs_free(pool, objs[i].handle);
	int leaked = zs_get_total_pages(pool) != 0;
	if (leaked)
		fprintf(stderr, "zs-example: %lu pages left after freeing everything\n",
			zs_get_total_pages(pool));
	zs_destroy_pool(pool);
	free(objs);
	fclose(f);
	return leaked;
}
