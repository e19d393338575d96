/*
 * zbud.c - the zbud backend: at most two objects per page.
 *
 * Design (after the published zbud allocator; our own code):
 *
 *   page:  | header | first buddy ->      free      <- last buddy |
 *          0        64                                   page_size
 *
 * A page is cut into 64-byte chunks.  The first chunk holds the page header
 * (struct zbud_header); the other NCHUNKS = page_size / 64 - 1 chunks hold at
 * most two objects: the "first" buddy starts right after the header, the
 * "last" buddy ends at the end of the page, and the free chunks between them
 * are one contiguous run.  A page with one object is "unbuddied" and sits on
 * the unbuddied list indexed by its number of free chunks; a page with two
 * objects (or one that leaves no free chunk) sits on the full list.
 * Allocation is first fit over the unbuddied lists, from the list with just
 * enough free chunks upwards; when none fits, a new page is taken from the
 * page source and the object becomes its first buddy.  An empty page goes
 * straight back to the page source.
 *
 * Handles: objects never move, so a handle is the page address with the buddy
 * (1 = first, 2 = last) in its low bits; map is arithmetic plus a check of the
 * header's magic and owner.
 *
 * Locking: one mutex per pool protects the lists, the counters and every
 * header field except magic and owner (set once per page, before any handle
 * of it exists).  map/read/write take no lock: an object's own header fields
 * (its chunk count and size) only change when it is allocated or freed, and
 * the caller must not free an object it is using.  The page source is called
 * with the pool lock held, as zsmalloc does.
 *
 * The pool, the page lists, the page source and the checker's walk are
 * zpool_paged's (paged.c); this file says what a zbud page holds, how much
 * room it has and what its header must satisfy.  A zbud pool starts with
 * struct zpool, so its functions are zbud_backend's entries as they are.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zbud.h"

enum zbud_buddy {
	ZBUD_FIRST = 1,
	ZBUD_LAST = 2,
};
#define ZBUD_BUDDY_MASK 3ul

/* At the start of every page; exactly one chunk. */
struct zbud_header {
	struct zpool_page_header page; /* list, owner, ZBUD_MAGIC, list index */
	uint16_t first_chunks;	       /* chunks of the first buddy, 0: none */
	uint16_t last_chunks;	       /* chunks of the last buddy, 0: none */
	uint32_t first_size;	       /* bytes asked for the first buddy */
	uint32_t last_size;	       /* bytes asked for the last buddy */
};

_Static_assert(sizeof(struct zbud_header) <= ZBUD_CHUNK_SIZE,
	       "the zbud header must fit in one chunk");

/* zpool_paged's unbuddied list i: pages with one object and i free chunks. */
struct zbud_pool {
	struct zpool_paged paged;	/* everything but: */
	unsigned long long chunk_bytes; /* bytes the live objects' chunks take */
};

static struct zbud_pool *zbud_of(struct zpool *zp)
{
	return (struct zbud_pool *)((char *)zp - offsetof(struct zbud_pool, paged.base));
}

static unsigned int size_to_chunks(size_t size)
{
	return (unsigned int)((size + ZBUD_CHUNK_SIZE - 1) / ZBUD_CHUNK_SIZE);
}

static unsigned int free_chunks(const struct zpool_paged *pool, const struct zbud_header *zhdr)
{
	return pool->nchunks - zhdr->first_chunks - zhdr->last_chunks;
}

static unsigned int objects_in(const struct zbud_header *zhdr)
{
	return (zhdr->first_chunks != 0) + (zhdr->last_chunks != 0);
}

/* A page with two buddies, or no free chunk, is full. */
static unsigned int zbud_room(const struct zpool_paged *pool, const struct zpool_page_header *page)
{
	const struct zbud_header *zhdr = (const struct zbud_header *)page;

	return objects_in(zhdr) == 2 ? 0 : free_chunks(pool, zhdr);
}

/* Decodes and checks a handle; aborts on what cannot be ours. */
static struct zbud_header *handle_to_header(struct zbud_pool *pool, unsigned long handle,
					    enum zbud_buddy *bud)
{
	unsigned long buddy = handle & ZBUD_BUDDY_MASK;

	if (buddy != ZBUD_FIRST && buddy != ZBUD_LAST)
		zpool_misuse("zbud: invalid handle %#lx", handle);
	*bud = (enum zbud_buddy)buddy;
	return (struct zbud_header *)zpool_paged_page_of(&pool->paged, handle, ZBUD_BUDDY_MASK);
}

static size_t buddy_offset(const struct zpool_paged *pool, const struct zbud_header *zhdr,
			   enum zbud_buddy bud)
{
	if (bud == ZBUD_FIRST)
		return ZBUD_CHUNK_SIZE;
	return pool->base.page_size - (size_t)zhdr->last_chunks * ZBUD_CHUNK_SIZE;
}

static const char *zbud_page_problem(const struct zpool_paged *pool,
				     const struct zpool_page_header *page, unsigned long *objects,
				     unsigned long long *bytes)
{
	const struct zbud_header *zhdr = (const struct zbud_header *)page;

	if (objects_in(zhdr) == 0)
		return "empty page kept";
	if (zhdr->first_chunks + zhdr->last_chunks > pool->nchunks)
		return "buddies overlap";
	if ((zhdr->first_chunks != 0) != (zhdr->first_size != 0) ||
	    (zhdr->last_chunks != 0) != (zhdr->last_size != 0) ||
	    size_to_chunks(zhdr->first_size) != zhdr->first_chunks ||
	    size_to_chunks(zhdr->last_size) != zhdr->last_chunks)
		return "sizes disagree with chunks";
	*objects += objects_in(zhdr);
	*bytes += zhdr->first_size + zhdr->last_size;
	return NULL;
}

static const struct zpool_paged_ops zbud_ops = {
	.magic = ZBUD_MAGIC,
	.chunk_size = ZBUD_CHUNK_SIZE,
	.header_chunks = 1,
	.room = zbud_room,
	.page_problem = zbud_page_problem,
};

struct zpool *zbud_create(const char *name, const struct zpool_config *config)
{
	return zpool_paged_create(sizeof(struct zbud_pool), &zbud_backend, &zbud_ops, name, config);
}

unsigned long zbud_alloc(struct zpool *zp, size_t size)
{
	struct zbud_pool *pool = zbud_of(zp);
	struct zbud_header *zhdr;
	unsigned int chunks;
	enum zbud_buddy bud;

	zhdr = zpool_paged_alloc_begin(&pool->paged, size, sizeof(*zhdr), &chunks);
	if (!zhdr)
		return 0;
	if (zhdr->first_chunks == 0) {
		bud = ZBUD_FIRST;
		zhdr->first_chunks = (uint16_t)chunks;
		zhdr->first_size = (uint32_t)size;
	} else {
		bud = ZBUD_LAST;
		zhdr->last_chunks = (uint16_t)chunks;
		zhdr->last_size = (uint32_t)size;
	}
	pool->chunk_bytes += (unsigned long long)chunks * ZBUD_CHUNK_SIZE;
	zpool_paged_alloc_end(&pool->paged, &zhdr->page, size);
	return (unsigned long)(uintptr_t)zhdr | bud;
}

void zbud_free(struct zpool *zp, unsigned long handle)
{
	struct zbud_pool *pool = zbud_of(zp);
	struct zbud_header *zhdr;
	enum zbud_buddy bud;
	unsigned int chunks;
	size_t size;

	if (!handle)
		return;
	zhdr = handle_to_header(pool, handle, &bud);
	pthread_mutex_lock(&pool->paged.lock);
	if (bud == ZBUD_FIRST) {
		chunks = zhdr->first_chunks;
		size = zhdr->first_size;
		zhdr->first_chunks = 0;
		zhdr->first_size = 0;
	} else {
		chunks = zhdr->last_chunks;
		size = zhdr->last_size;
		zhdr->last_chunks = 0;
		zhdr->last_size = 0;
	}
	if (chunks == 0)
		zpool_misuse("zbud: double free of handle %#lx in pool %s", handle, pool->paged.name);
	pool->paged.objects--;
	pool->paged.stored_bytes -= size;
	pool->chunk_bytes -= (unsigned long long)chunks * ZBUD_CHUNK_SIZE;
	if (objects_in(zhdr) == 0)
		zpool_paged_release_page(&pool->paged, &zhdr->page);
	else
		zpool_paged_place(&pool->paged, &zhdr->page);
	pthread_mutex_unlock(&pool->paged.lock);
}

void *zbud_map(struct zpool *zp, unsigned long handle, enum zs_mapmode mm)
{
	struct zbud_pool *pool = zbud_of(zp);
	enum zbud_buddy bud;
	struct zbud_header *zhdr = handle_to_header(pool, handle, &bud);

	(void)mm; /* always in place: every mode is the same */
	if ((bud == ZBUD_FIRST ? zhdr->first_chunks : zhdr->last_chunks) == 0)
		zpool_misuse("zbud: handle %#lx of pool %s is not allocated", handle,
			     pool->paged.name);
	return (char *)zhdr + buddy_offset(&pool->paged, zhdr, bud);
}

void zbud_write(struct zpool *zp, unsigned long handle, const void *mem, size_t len)
{
	size_t size = zbud_obj_size(zp, handle);

	if (len > size)
		zpool_misuse("zbud: write of %zu bytes into an object of %zu", len, size);
	memcpy(zbud_map(zp, handle, ZS_MM_WO), mem, len);
}

size_t zbud_obj_size(struct zpool *zp, unsigned long handle)
{
	enum zbud_buddy bud;
	struct zbud_header *zhdr = handle_to_header(zbud_of(zp), handle, &bud);

	return bud == ZBUD_FIRST ? zhdr->first_size : zhdr->last_size;
}

void zbud_get_stats(struct zpool *zp, struct zbud_stats *stats)
{
	struct zbud_pool *pool = zbud_of(zp);
	struct zpool_paged *p = &pool->paged;

	pthread_mutex_lock(&p->lock);
	stats->pages = p->source.pages;
	stats->objects = p->objects;
	/* Every page holds one or two objects. */
	stats->buddied_pages = p->objects - p->source.pages;
	stats->unbuddied_pages = 2 * p->source.pages - p->objects;
	stats->stored_bytes = p->stored_bytes;
	stats->chunk_bytes = pool->chunk_bytes;
	pthread_mutex_unlock(&p->lock);
}

int zbud_print_stats(struct zpool *zp, FILE *out)
{
	struct zpool_paged *p = &zbud_of(zp)->paged;
	struct zbud_stats st;
	double page_bytes;

	zbud_get_stats(zp, &st);
	page_bytes = (double)st.pages * (double)zp->page_size;
	fprintf(out, "zbud pool %s: page size %zu, %u chunks of %d bytes per page\n", p->name,
		zp->page_size, p->nchunks, ZBUD_CHUNK_SIZE);
	fprintf(out, "  pages            %lu\n", st.pages);
	fprintf(out, "  objects          %lu\n", st.objects);
	fprintf(out, "  buddied pages    %lu\n", st.buddied_pages);
	fprintf(out, "  unbuddied pages  %lu\n", st.unbuddied_pages);
	fprintf(out, "  stored bytes     %llu\n", st.stored_bytes);
	fprintf(out, "  objects/page     %.3f\n",
		st.pages ? (double)st.objects / (double)st.pages : 0.0);
	if (fprintf(out, "  bytes used       %.1f%% of pages\n",
		    page_bytes > 0 ? 100.0 * (double)st.stored_bytes / page_bytes : 0.0) < 0)
		return -1;
	return 0;
}

unsigned int zbud_objects_in_page(struct zpool *zp, unsigned long handle)
{
	struct zbud_pool *pool = zbud_of(zp);
	enum zbud_buddy bud;
	struct zbud_header *zhdr = handle_to_header(pool, handle, &bud);
	unsigned int n;

	pthread_mutex_lock(&pool->paged.lock);
	n = objects_in(zhdr);
	pthread_mutex_unlock(&pool->paged.lock);
	return n;
}

const struct zpool_backend zbud_backend = {
	.name = "zbud",
	.create = zbud_create,
	.malloc = zbud_alloc,
	.free = zbud_free,
	.map = zbud_map,
	.write = zbud_write,
	.print_stats = zbud_print_stats,
	ZPOOL_PAGED_ENTRIES,
};
