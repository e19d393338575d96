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
 * A zbud pool starts with struct zpool, so the public functions take a
 * struct zpool * and are zbud_backend's entries (at the end) as they are.
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
	struct zpool_list list;		/* on an unbuddied list or the full list */
	struct zbud_pool *pool;		/* owner; set once when the page is taken */
	uint32_t magic;			/* ZBUD_MAGIC while the page is in use */
	uint16_t first_chunks;		/* chunks of the first buddy, 0: none */
	uint16_t last_chunks;		/* chunks of the last buddy, 0: none */
	uint32_t first_size;		/* bytes asked for the first buddy */
	uint32_t last_size;		/* bytes asked for the last buddy */
	uint16_t list_index;		/* its unbuddied list, or ZPOOL_NOT_LISTED */
};

_Static_assert(sizeof(struct zbud_header) <= ZBUD_CHUNK_SIZE,
	       "the zbud header must fit in one chunk");

struct zbud_pool {
	struct zpool base;		/* backend table, page size; set at creation */
	pthread_mutex_t lock;		/* protects everything below */
	struct zpool_page_source source;
	unsigned int nchunks;		/* chunks per page after the header */
	/* unbuddied list i: pages with one object and i free chunks,
	 * 1 <= i < nchunks */
	struct zpool_lists unbuddied;
	struct zpool_list full;		/* pages with no room for another object */
	unsigned long objects;		/* pages: source.pages */
	unsigned long long stored_bytes;
	unsigned long long chunk_bytes;
	char name[32];
};

static struct zbud_pool *zbud_of(struct zpool *zp)
{
	return (struct zbud_pool *)((char *)zp - offsetof(struct zbud_pool, base));
}

static unsigned int size_to_chunks(size_t size)
{
	return (unsigned int)((size + ZBUD_CHUNK_SIZE - 1) / ZBUD_CHUNK_SIZE);
}

static struct zbud_header *header_of_page(void *page)
{
	return page;
}

static unsigned int free_chunks(const struct zbud_pool *pool,
				const struct zbud_header *zhdr)
{
	return pool->nchunks - zhdr->first_chunks - zhdr->last_chunks;
}

/* Takes a page off whichever list it is on (if any). */
static void unlist(struct zbud_pool *pool, struct zbud_header *zhdr)
{
	if (zhdr->list_index == ZPOOL_NOT_LISTED)
		zpool_list_del(&zhdr->list);
	else
		zpool_lists_del(&pool->unbuddied, zhdr->list_index, &zhdr->list);
	zhdr->list_index = ZPOOL_NOT_LISTED;
}

/* Puts a page that holds at least one object on the list its state says. */
static void place_on_list(struct zbud_pool *pool, struct zbud_header *zhdr)
{
	unsigned int nfree = free_chunks(pool, zhdr);

	unlist(pool, zhdr);
	if ((zhdr->first_chunks && zhdr->last_chunks) || nfree == 0) {
		zpool_list_add(&pool->full, &zhdr->list);
	} else {
		zpool_lists_add(&pool->unbuddied, nfree, &zhdr->list);
		zhdr->list_index = (uint16_t)nfree;
	}
}

/* Decodes and checks a handle; aborts on what cannot be ours. */
static struct zbud_header *handle_to_header(struct zbud_pool *pool,
					    unsigned long handle,
					    enum zbud_buddy *bud)
{
	unsigned long buddy = handle & ZBUD_BUDDY_MASK;
	struct zbud_header *zhdr;

	if ((buddy != ZBUD_FIRST && buddy != ZBUD_LAST) ||
	    (handle & (pool->base.page_size - 1) & ~ZBUD_BUDDY_MASK))
		zpool_misuse("zbud: invalid handle %#lx", handle);
	zhdr = header_of_page((void *)(handle & ~(unsigned long)(pool->base.page_size - 1)));
	if (zhdr->magic != ZBUD_MAGIC || zhdr->pool != pool)
		zpool_misuse("zbud: handle %#lx is not an object of pool %s",
			     handle, pool->name);
	*bud = (enum zbud_buddy)buddy;
	return zhdr;
}

static size_t buddy_offset(const struct zbud_pool *pool,
			   const struct zbud_header *zhdr, enum zbud_buddy bud)
{
	if (bud == ZBUD_FIRST)
		return ZBUD_CHUNK_SIZE;
	return pool->base.page_size - (size_t)zhdr->last_chunks * ZBUD_CHUNK_SIZE;
}

struct zpool *zbud_create(const char *name, const struct zpool_config *config)
{
	struct zbud_pool *pool;
	size_t page_size = config && config->page_size ? config->page_size : 4096;

	if (!zs_page_size_valid(page_size)) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->base.backend = &zbud_backend;
	pool->base.page_size = page_size;
	pool->nchunks = (unsigned int)(page_size / ZBUD_CHUNK_SIZE) - 1;
	if (zpool_lists_init(&pool->unbuddied, pool->nchunks + 1)) {
		free(pool);
		return NULL;
	}
	zpool_list_init(&pool->full);
	if (zpool_page_source_init(&pool->source, config)) {
		zpool_lists_destroy(&pool->unbuddied);
		free(pool);
		return NULL;
	}
	if (pthread_mutex_init(&pool->lock, NULL)) {
		zpool_page_source_destroy(&pool->source);
		zpool_lists_destroy(&pool->unbuddied);
		free(pool);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(pool->name, sizeof(pool->name), "%s", name ? name : "zbud");
	return &pool->base;
}

static void release_page(struct zbud_pool *pool, struct zbud_header *zhdr)
{
	unlist(pool, zhdr);
	zhdr->magic = 0;
	zhdr->pool = NULL;
	zpool_page_free(&pool->source, zhdr);
}

static void release_list(struct zbud_pool *pool, struct zpool_list *head)
{
	while (!zpool_list_empty(head))
		release_page(pool, (struct zbud_header *)head->next);
}

void zbud_destroy(struct zpool *zp)
{
	struct zbud_pool *pool;
	unsigned int i;

	if (!zp)
		return;
	pool = zbud_of(zp);
	for (i = 0; i <= pool->nchunks; i++)
		release_list(pool, &pool->unbuddied.heads[i]);
	release_list(pool, &pool->full);
	zpool_page_source_destroy(&pool->source);
	pthread_mutex_destroy(&pool->lock);
	zpool_lists_destroy(&pool->unbuddied);
	free(pool);
}

/* First fit: the page with the fewest free chunks that still fit. */
static struct zbud_header *find_unbuddied(struct zbud_pool *pool,
					  unsigned int chunks)
{
	int i = zpool_lists_first(&pool->unbuddied, chunks);

	if (i < 0)
		return NULL;
	return (struct zbud_header *)pool->unbuddied.heads[i].next;
}

unsigned long zbud_alloc(struct zpool *zp, size_t size)
{
	struct zbud_pool *pool = zbud_of(zp);
	struct zbud_header *zhdr;
	unsigned int chunks;
	enum zbud_buddy bud;

	if (size == 0) {
		errno = EINVAL;
		return 0;
	}
	if (size > zbud_max_size(zp)) {
		errno = E2BIG;
		return 0;
	}
	chunks = size_to_chunks(size);
	pthread_mutex_lock(&pool->lock);
	zhdr = find_unbuddied(pool, chunks);
	if (!zhdr) {
		void *page = zpool_page_alloc(&pool->source);

		if (!page) {	/* errno ENOSPC or ENOMEM */
			pthread_mutex_unlock(&pool->lock);
			return 0;
		}
		zhdr = header_of_page(page);
		memset(zhdr, 0, sizeof(*zhdr));
		zpool_list_init(&zhdr->list);
		zhdr->list_index = ZPOOL_NOT_LISTED;
		zhdr->pool = pool;
		zhdr->magic = ZBUD_MAGIC;
	}
	if (zhdr->first_chunks == 0) {
		bud = ZBUD_FIRST;
		zhdr->first_chunks = (uint16_t)chunks;
		zhdr->first_size = (uint32_t)size;
	} else {
		bud = ZBUD_LAST;
		zhdr->last_chunks = (uint16_t)chunks;
		zhdr->last_size = (uint32_t)size;
	}
	place_on_list(pool, zhdr);
	pool->objects++;
	pool->stored_bytes += size;
	pool->chunk_bytes += (unsigned long long)chunks * ZBUD_CHUNK_SIZE;
	pthread_mutex_unlock(&pool->lock);
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
	pthread_mutex_lock(&pool->lock);
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
		zpool_misuse("zbud: double free of handle %#lx in pool %s",
			     handle, pool->name);
	pool->objects--;
	pool->stored_bytes -= size;
	pool->chunk_bytes -= (unsigned long long)chunks * ZBUD_CHUNK_SIZE;
	if (zhdr->first_chunks == 0 && zhdr->last_chunks == 0)
		release_page(pool, zhdr);
	else
		place_on_list(pool, zhdr);
	pthread_mutex_unlock(&pool->lock);
}

void *zbud_map(struct zpool *zp, unsigned long handle, enum zs_mapmode mm)
{
	struct zbud_pool *pool = zbud_of(zp);
	enum zbud_buddy bud;
	struct zbud_header *zhdr = handle_to_header(pool, handle, &bud);

	(void)mm;	/* always in place: every mode is the same */
	if ((bud == ZBUD_FIRST ? zhdr->first_chunks : zhdr->last_chunks) == 0)
		zpool_misuse("zbud: handle %#lx of pool %s is not allocated",
			     handle, pool->name);
	return (char *)zhdr + buddy_offset(pool, zhdr, bud);
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
	struct zbud_pool *pool = zbud_of(zp);
	enum zbud_buddy bud;
	struct zbud_header *zhdr = handle_to_header(pool, handle, &bud);

	return bud == ZBUD_FIRST ? zhdr->first_size : zhdr->last_size;
}

size_t zbud_max_size(struct zpool *zp)
{
	return (size_t)zbud_of(zp)->nchunks * ZBUD_CHUNK_SIZE;
}

size_t zbud_huge_size(struct zpool *zp)
{
	/* Anything that needs every chunk leaves no room for a buddy. */
	return (size_t)(zbud_of(zp)->nchunks - 1) * ZBUD_CHUNK_SIZE;
}

unsigned long zbud_total_pages(struct zpool *zp)
{
	struct zbud_pool *pool = zbud_of(zp);
	unsigned long pages;

	pthread_mutex_lock(&pool->lock);
	pages = pool->source.pages;
	pthread_mutex_unlock(&pool->lock);
	return pages;
}

void zbud_get_stats(struct zpool *zp, struct zbud_stats *stats)
{
	struct zbud_pool *pool = zbud_of(zp);

	pthread_mutex_lock(&pool->lock);
	stats->pages = pool->source.pages;
	stats->objects = pool->objects;
	/* Every page holds one or two objects. */
	stats->buddied_pages = pool->objects - pool->source.pages;
	stats->unbuddied_pages = 2 * pool->source.pages - pool->objects;
	stats->stored_bytes = pool->stored_bytes;
	stats->chunk_bytes = pool->chunk_bytes;
	pthread_mutex_unlock(&pool->lock);
}

int zbud_print_stats(struct zpool *zp, FILE *out)
{
	struct zbud_pool *pool = zbud_of(zp);
	struct zbud_stats st;
	double page_bytes;

	zbud_get_stats(zp, &st);
	page_bytes = (double)st.pages * (double)pool->base.page_size;
	fprintf(out, "zbud pool %s: page size %zu, %u chunks of %d bytes per page\n",
		pool->name, pool->base.page_size, pool->nchunks, ZBUD_CHUNK_SIZE);
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

	pthread_mutex_lock(&pool->lock);
	n = (zhdr->first_chunks != 0) + (zhdr->last_chunks != 0);
	pthread_mutex_unlock(&pool->lock);
	return n;
}

/* Checks one list; adds what it saw to *pages and *objects. */
static int check_list(struct zbud_pool *pool, struct zpool_list *head,
		      int full, unsigned int nfree, unsigned long *pages,
		      unsigned long *objects, unsigned long long *bytes,
		      char *why, size_t why_len)
{
	struct zpool_list *node;

	for (node = head->next; node != head; node = node->next) {
		struct zbud_header *zhdr = (struct zbud_header *)node;
		unsigned int n = (zhdr->first_chunks != 0) + (zhdr->last_chunks != 0);

		if ((uintptr_t)zhdr & (pool->base.page_size - 1)) {
			snprintf(why, why_len, "zbud: page %p not aligned", (void *)zhdr);
			return -1;
		}
		if (zhdr->magic != ZBUD_MAGIC || zhdr->pool != pool) {
			snprintf(why, why_len, "zbud: page %p has a bad header", (void *)zhdr);
			return -1;
		}
		if (n == 0) {
			snprintf(why, why_len, "zbud: empty page %p kept", (void *)zhdr);
			return -1;
		}
		if (zhdr->first_chunks + zhdr->last_chunks > pool->nchunks) {
			snprintf(why, why_len, "zbud: page %p buddies overlap", (void *)zhdr);
			return -1;
		}
		if ((zhdr->first_chunks != 0) != (zhdr->first_size != 0) ||
		    (zhdr->last_chunks != 0) != (zhdr->last_size != 0) ||
		    size_to_chunks(zhdr->first_size) != zhdr->first_chunks ||
		    size_to_chunks(zhdr->last_size) != zhdr->last_chunks) {
			snprintf(why, why_len, "zbud: page %p sizes disagree with chunks",
				 (void *)zhdr);
			return -1;
		}
		if (full ? (n != 2 && free_chunks(pool, zhdr) != 0) ||
				   zhdr->list_index != ZPOOL_NOT_LISTED
			 : n != 1 || free_chunks(pool, zhdr) != nfree ||
				   zhdr->list_index != nfree) {
			snprintf(why, why_len, "zbud: page %p on the wrong list", (void *)zhdr);
			return -1;
		}
		(*pages)++;
		*objects += n;
		*bytes += zhdr->first_size + zhdr->last_size;
	}
	return 0;
}

int zbud_check(struct zpool *zp, char *why, size_t why_len)
{
	struct zbud_pool *pool = zbud_of(zp);
	unsigned long pages = 0, objects = 0;
	unsigned long long bytes = 0;
	char scratch[1];
	int ret = 0;
	unsigned int i;

	if (!why) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	pthread_mutex_lock(&pool->lock);
	ret = check_list(pool, &pool->full, 1, 0, &pages, &objects, &bytes,
			 why, why_len);
	if (!ret)
		ret = zpool_lists_check(&pool->unbuddied, "zbud", why, why_len);
	for (i = 1; !ret && i <= pool->nchunks; i++)
		ret = check_list(pool, &pool->unbuddied.heads[i], 0, i, &pages, &objects,
				 &bytes, why, why_len);
	if (!ret && (pages != pool->source.pages || objects != pool->objects ||
		     bytes != pool->stored_bytes)) {
		snprintf(why, why_len,
			 "zbud: lists hold %lu pages, %lu objects, %llu bytes; counters say %lu, %lu, %llu",
			 pages, objects, bytes, pool->source.pages, pool->objects,
			 pool->stored_bytes);
		ret = -1;
	}
	pthread_mutex_unlock(&pool->lock);
	return ret;
}

const struct zpool_backend zbud_backend = {
	.name = "zbud",
	.create = zbud_create,
	.destroy = zbud_destroy,
	.malloc = zbud_alloc,
	.free = zbud_free,
	.max_size = zbud_max_size,
	.huge_size = zbud_huge_size,
	.map = zbud_map,
	.write = zbud_write,
	.total_pages = zbud_total_pages,
	.print_stats = zbud_print_stats,
	.check = zbud_check,
};
