/*
 * paged.c - the part of a pool that zbud and z3fold share (struct
 * zpool_paged, zpool_internal.h): creation and destruction, pages taken
 * from and given back to the page source with their shared header, the
 * first-fit lists a page sits on by the room it has (the backend says how
 * much: zpool_paged_ops.room), handle decoding up to the page, the sizes
 * both derive from their chunk geometry, and the checker's walk over every
 * list (the backend checks what its own header holds: page_problem).
 *
 * Locking: the pool's lock guards the lists, the counters and every header
 * field but magic and owner (set once, before any handle of the page
 * exists).  zpool_paged_alloc_begin takes it and zpool_paged_alloc_end
 * drops it; release_page and place expect it held; the rest take it
 * themselves where they need it.
 */
#include <errno.h>
#include <string.h>

#include "zpool_internal.h"

static struct zpool_paged *paged_of(struct zpool *zp)
{
	return (struct zpool_paged *)((char *)zp - offsetof(struct zpool_paged, base));
}

struct zpool *zpool_paged_create(size_t pool_bytes, const struct zpool_backend *backend,
				 const struct zpool_paged_ops *ops, const char *name,
				 const struct zpool_config *config)
{
	size_t page_size = config && config->page_size ? config->page_size : 4096;
	struct zpool_paged *pool;

	if (!zs_page_size_valid(page_size)) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, pool_bytes);
	if (!pool)
		return NULL;
	pool->base.backend = backend;
	pool->base.page_size = page_size;
	pool->ops = ops;
	pool->nchunks = (unsigned int)(page_size / ops->chunk_size) - ops->header_chunks;
	if (zpool_lists_init(&pool->unbuddied, pool->nchunks + 1))
		goto fail;
	zpool_list_init(&pool->full);
	if (zpool_page_source_init(&pool->source, config))
		goto fail_lists;
	if (pthread_mutex_init(&pool->lock, NULL)) {
		zpool_page_source_destroy(&pool->source);
		errno = ENOMEM;
		goto fail_lists;
	}
	snprintf(pool->name, sizeof(pool->name), "%s", name ? name : backend->name);
	return &pool->base;
fail_lists:
	zpool_lists_destroy(&pool->unbuddied);
fail:
	free(pool);
	return NULL;
}

/* Takes a page off whichever list it is on (if any). */
static void unlist(struct zpool_paged *pool, struct zpool_page_header *page)
{
	if (page->list_index == ZPOOL_NOT_LISTED)
		zpool_list_del(&page->list);
	else
		zpool_lists_del(&pool->unbuddied, page->list_index, &page->list);
	page->list_index = ZPOOL_NOT_LISTED;
}

void zpool_paged_release_page(struct zpool_paged *pool, struct zpool_page_header *page)
{
	unlist(pool, page);
	page->magic = 0;
	page->pool = NULL;
	zpool_page_free(&pool->source, page);
}

void zpool_paged_place(struct zpool_paged *pool, struct zpool_page_header *page)
{
	unsigned int room = pool->ops->room(pool, page);

	unlist(pool, page);
	if (room == 0) {
		zpool_list_add(&pool->full, &page->list);
	} else {
		zpool_lists_add(&pool->unbuddied, room, &page->list);
		page->list_index = (uint16_t)room;
	}
}

void *zpool_paged_alloc_begin(struct zpool_paged *pool, size_t size, size_t header_bytes,
			      unsigned int *chunks)
{
	struct zpool_page_header *page;
	int i;

	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (size > zpool_paged_max_size(&pool->base)) {
		errno = E2BIG;
		return NULL;
	}
	*chunks = (unsigned int)((size + pool->ops->chunk_size - 1) / pool->ops->chunk_size);
	pthread_mutex_lock(&pool->lock);
	i = zpool_lists_first(&pool->unbuddied, *chunks);
	if (i >= 0)
		return pool->unbuddied.heads[i].next;
	page = zpool_page_alloc(&pool->source);
	if (!page) { /* errno ENOSPC or ENOMEM */
		pthread_mutex_unlock(&pool->lock);
		return NULL;
	}
	memset(page, 0, header_bytes);
	zpool_list_init(&page->list);
	page->list_index = ZPOOL_NOT_LISTED;
	page->pool = pool;
	page->magic = pool->ops->magic;
	return page;
}

void zpool_paged_alloc_end(struct zpool_paged *pool, struct zpool_page_header *page, size_t size)
{
	zpool_paged_place(pool, page);
	pool->objects++;
	pool->stored_bytes += size;
	pthread_mutex_unlock(&pool->lock);
}

struct zpool_page_header *zpool_paged_page_of(struct zpool_paged *pool, unsigned long handle,
					      unsigned long low_mask)
{
	unsigned long page_mask = (unsigned long)pool->base.page_size - 1;
	struct zpool_page_header *page;

	if (handle & page_mask & ~low_mask)
		zpool_misuse("%s: invalid handle %#lx", pool->base.backend->name, handle);
	page = (struct zpool_page_header *)(handle & ~page_mask);
	if (page->magic != pool->ops->magic || page->pool != pool)
		zpool_misuse("%s: handle %#lx is not an object of pool %s",
			     pool->base.backend->name, handle, pool->name);
	return page;
}

static void release_list(struct zpool_paged *pool, struct zpool_list *head)
{
	while (!zpool_list_empty(head))
		zpool_paged_release_page(pool, (struct zpool_page_header *)head->next);
}

void zpool_paged_destroy(struct zpool *zp)
{
	struct zpool_paged *pool;
	unsigned int i;

	if (!zp)
		return;
	pool = paged_of(zp);
	for (i = 0; i <= pool->nchunks; i++)
		release_list(pool, &pool->unbuddied.heads[i]);
	release_list(pool, &pool->full);
	zpool_page_source_destroy(&pool->source);
	pthread_mutex_destroy(&pool->lock);
	zpool_lists_destroy(&pool->unbuddied);
	free(pool); /* the backend's pool starts with it */
}

size_t zpool_paged_max_size(struct zpool *zp)
{
	struct zpool_paged *pool = paged_of(zp);

	return (size_t)pool->nchunks * pool->ops->chunk_size;
}

size_t zpool_paged_huge_size(struct zpool *zp)
{
	struct zpool_paged *pool = paged_of(zp);

	/* Anything that needs every chunk leaves no room for a buddy. */
	return (size_t)(pool->nchunks - 1) * pool->ops->chunk_size;
}

unsigned long zpool_paged_total_pages(struct zpool *zp)
{
	struct zpool_paged *pool = paged_of(zp);
	unsigned long pages;

	pthread_mutex_lock(&pool->lock);
	pages = pool->source.pages;
	pthread_mutex_unlock(&pool->lock);
	return pages;
}

/* Checks the pages of one list (index 0: the full list); adds what they
 * hold to *pages, *objects and *bytes. */
static int check_list(struct zpool_paged *pool, unsigned int index, unsigned long *pages,
		      unsigned long *objects, unsigned long long *bytes, char *why, size_t why_len)
{
	struct zpool_list *head = index ? &pool->unbuddied.heads[index] : &pool->full;
	uint16_t listed = index ? (uint16_t)index : ZPOOL_NOT_LISTED;

	for (struct zpool_list *node = head->next; node != head; node = node->next) {
		struct zpool_page_header *page = (struct zpool_page_header *)node;
		const char *problem;

		if ((uintptr_t)page & (pool->base.page_size - 1))
			problem = "page not aligned";
		else if (page->magic != pool->ops->magic || page->pool != pool)
			problem = "bad page header";
		else
			problem = pool->ops->page_problem(pool, page, objects, bytes);
		if (!problem && (pool->ops->room(pool, page) != index || page->list_index != listed))
			problem = "page on the wrong list";
		if (problem) {
			snprintf(why, why_len, "%s: page %p: %s", pool->base.backend->name,
				 (void *)page, problem);
			return -1;
		}
		(*pages)++;
	}
	return 0;
}

int zpool_paged_check(struct zpool *zp, char *why, size_t why_len)
{
	struct zpool_paged *pool = paged_of(zp);
	const char *backend = zp->backend->name;
	unsigned long pages = 0, objects = 0;
	unsigned long long bytes = 0;
	char scratch[1];
	unsigned int i;
	int ret;

	if (!why) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	pthread_mutex_lock(&pool->lock);
	ret = check_list(pool, 0, &pages, &objects, &bytes, why, why_len);
	if (!ret)
		ret = zpool_lists_check(&pool->unbuddied, backend, why, why_len);
	for (i = 1; !ret && i <= pool->nchunks; i++)
		ret = check_list(pool, i, &pages, &objects, &bytes, why, why_len);
	if (!ret && (pages != pool->source.pages || objects != pool->objects ||
		     bytes != pool->stored_bytes)) {
		snprintf(why,
			 why_len, "%s: lists hold %lu pages, %lu objects, %llu bytes; counters say %lu, %lu, %llu",
			 backend, pages, objects, bytes, pool->source.pages, pool->objects,
			 pool->stored_bytes);
		ret = -1;
	}
	pthread_mutex_unlock(&pool->lock);
	return ret;
}
