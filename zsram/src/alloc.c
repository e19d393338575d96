/*
 * alloc.c - the store's allocator and its pages.
 *
 * Every backend, zsmalloc too, is a struct zpool * (<zpool.h>), chosen by
 * name at creation; the store calls zpool_* directly.  zbud and z3fold take
 * their pages from the store's single-page source (common/pages.h), which
 * also holds the pages of RAW slots; zsmalloc keeps its built-in arena.
 *
 * Locking: none here.  The pool is thread-safe on its own; the page source
 * has a leaf lock of its own (the allocator calls it with its own lock held,
 * and it calls nothing back).
 */
#include <errno.h>
#include <string.h>

#include "zsram_internal.h"

/*
 * The store's page source: 1 MiB chunks, made resident 64 KiB at a time in
 * one system call (far cheaper than a fault per page), so at most 64 KiB of
 * fresh pages wait resident and unused; when more than 32 free pages are
 * resident, 17 are given back, down to 16.  The memory limit is the store's
 * (zsram_alloc_within_limit), checked once an allocation is made.
 */
static const struct zs_single_policy zsram_page_policy = {
	.first_chunk_bytes = 1u << 20,
	.max_chunk_bytes = 1u << 20,
	.populate_bytes = 64u << 10,
	.warm_pages = 32,
	.release_batch = 17,
};

size_t zsram_allocators(const char **names, size_t max)
{
	return zpool_backends(names, max);
}

int zsram_alloc_init(struct zsram_alloc *a, const char *backend, const char *name, size_t page_size,
		     uint64_t limit_pages)
{
	/* zsmalloc uses its built-in arena: virtually contiguous zspages
	 * backed page by page, which keeps the pool smaller than pages from a
	 * caller's source would (no page pointers, one pagemap entry per
	 * zspage, no copies for objects that span pages).  Every backend keeps
	 * the limit: it refuses a page before backing it, since a zspage's
	 * pages, once backed, are given back only by compaction. */
	struct zpool_config cfg = { .page_size = page_size, .max_pages = (unsigned long)limit_pages };

	memset(a, 0, sizeof(*a));
	if (zs_single_init(&a->pages, page_size, &zsram_page_policy))
		return -ENOMEM;
	a->pages_ready = true;
	if (!backend)
		backend = "zsmalloc";
	if (strcmp(backend, "zsmalloc") != 0) {
		cfg.page_ops = &zs_single_page_ops;
		cfg.page_ctx = &a->pages;
	}
	a->pool = zpool_create(backend, name, &cfg);
	if (!a->pool)
		return errno == ENOENT ? -EINVAL : -errno;
	a->max_size = zpool_max_size(a->pool);
	a->huge_size = zpool_huge_size(a->pool);
	if (a->huge_size > a->max_size)
		a->huge_size = a->max_size;
	return 0;
}

void zsram_alloc_fini(struct zsram_alloc *a)
{
	if (!a->pages_ready)
		return;
	/* Destroying the pool frees every object at once; its pages go back
	 * with the chunks, not one by one. */
	zs_single_dying(&a->pages);
	zpool_destroy(a->pool);
	zs_single_destroy(&a->pages);
	memset(a, 0, sizeof(*a));
}
