/*
 * z3fold.c - the z3fold backend: up to three objects per page.
 *
 * Design (after the published z3fold allocator; our own code):
 *
 *   page: | header | first ->  | middle |        <- last |
 *         0        H            start_middle             T   (in chunks)
 *
 * A page is cut into 16-byte chunks; the header (struct z3fold_header) takes
 * the first H chunks, objects the other NCHUNKS = T - H.  Up to three objects
 * ("buddies") live in a page: the first right after the header, the last
 * ending at the page end, and a middle one anywhere between them.
 *
 * In-page rearrangement: when an object is freed and a middle buddy remains,
 * the middle buddy is moved towards the start of the page so that the free
 * chunks form one run again: with no first buddy it is moved to the start and
 * becomes the first; with a first but no last buddy it is slid down against
 * the first.  An object that is mapped must not move, so every slot keeps a
 * map count; while any object of the page is mapped the rearrangement is put
 * off (rearrange_pending) and done by the unmap that releases the last
 * mapping.  Until then the page's free space may be split in two runs; the
 * page is listed by the larger run it could use.
 *
 * Handles are indirect, so that rearrangement never invalidates them: a
 * handle is the page address plus a slot number (1..3) in its low bits; the
 * page header keeps one slot per object saying which buddy (first, middle,
 * last) the object is now, its size and its map count.  Moving the middle
 * buddy to first only rewrites its slot.
 *
 * Page lists: a page with room sits on unbuddied list n, n = the largest number
 * of chunks one more object could take there; pages with three objects or no
 * room sit on the full list.  Allocation takes the first page from the
 * lowest list that fits (so the tightest fit), else a new page.  An empty
 * page goes straight back to the page source.
 *
 * Locking: one mutex per pool protects the lists, the counters and every
 * header field except magic and owner (set once per page before any handle
 * of it exists).  map/unmap/read/write take it briefly (to read the slot and
 * count the mapping); the bytes of a mapped object are the caller's until
 * unmap.  The page source is called with the pool lock held.
 *
 * A z3fold pool starts with struct zpool, so the public functions take a
 * struct zpool * and are z3fold_backend's entries (at the end) as they are.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "z3fold.h"

#define Z3FOLD_SLOTS 3
#define Z3FOLD_SLOT_MASK 3ul

enum z3fold_buddy {
	Z3FOLD_NONE = 0,	/* slot unused */
	Z3FOLD_FIRST = 1,
	Z3FOLD_MIDDLE = 2,
	Z3FOLD_LAST = 3,
};

/* At the start of every page. */
struct z3fold_header {
	struct zpool_list list;		/* on an unbuddied list or the full list */
	struct z3fold_pool *pool;	/* owner; set once when the page is taken */
	uint32_t magic;			/* Z3FOLD_MAGIC while the page is in use */
	uint16_t first_chunks;		/* 0: no first buddy */
	uint16_t middle_chunks;		/* 0: no middle buddy */
	uint16_t last_chunks;		/* 0: no last buddy */
	uint16_t start_middle;		/* chunk where the middle buddy starts */
	uint32_t slot_size[Z3FOLD_SLOTS];	/* bytes asked for the object */
	uint16_t slot_mapped[Z3FOLD_SLOTS];	/* live mappings of the object */
	uint8_t slot_buddy[Z3FOLD_SLOTS];	/* enum z3fold_buddy; NONE: free */
	uint8_t rearrange_pending;	/* a free happened while mapped */
	uint16_t list_index;		/* its unbuddied list, or ZPOOL_NOT_LISTED */
};

#define Z3FOLD_HEADER_CHUNKS \
	((sizeof(struct z3fold_header) + Z3FOLD_CHUNK_SIZE - 1) / Z3FOLD_CHUNK_SIZE)

struct z3fold_pool {
	struct zpool base;		/* backend table, page size; set at creation */
	pthread_mutex_t lock;		/* protects everything below */
	struct zpool_page_source source;
	unsigned int total_chunks;	/* T: chunks per page, header included */
	unsigned int nchunks;		/* chunks per page for objects */
	/* unbuddied list n: pages where one more object of up to n chunks fits */
	struct zpool_lists unbuddied;
	struct zpool_list full;		/* pages with no room for another object */
	unsigned long objects;		/* pages: source.pages */
	unsigned long long stored_bytes;
	unsigned long long rearrangements;
	unsigned long long deferred;
	char name[32];
};

static struct z3fold_pool *z3fold_of(struct zpool *zp)
{
	return (struct z3fold_pool *)((char *)zp - offsetof(struct z3fold_pool, base));
}

static unsigned int size_to_chunks(size_t size)
{
	return (unsigned int)((size + Z3FOLD_CHUNK_SIZE - 1) / Z3FOLD_CHUNK_SIZE);
}

static char *chunk_address(struct z3fold_header *zhdr, unsigned int chunk)
{
	return (char *)zhdr + (size_t)chunk * Z3FOLD_CHUNK_SIZE;
}

static unsigned int object_count(const struct z3fold_header *zhdr)
{
	return (zhdr->first_chunks != 0) + (zhdr->middle_chunks != 0) +
	       (zhdr->last_chunks != 0);
}

static int page_is_mapped(const struct z3fold_header *zhdr)
{
	return zhdr->slot_mapped[0] || zhdr->slot_mapped[1] || zhdr->slot_mapped[2];
}

/* First chunk of a buddy that exists. */
static unsigned int buddy_start(const struct z3fold_pool *pool,
				const struct z3fold_header *zhdr,
				enum z3fold_buddy bud)
{
	switch (bud) {
	case Z3FOLD_FIRST:
		return Z3FOLD_HEADER_CHUNKS;
	case Z3FOLD_MIDDLE:
		return zhdr->start_middle;
	case Z3FOLD_LAST:
		return pool->total_chunks - zhdr->last_chunks;
	default:
		return 0;
	}
}

/*
 * The run of free chunks a new object would get as buddy bud, 0 when that
 * buddy is taken or cannot be placed; *start is where it would begin (for
 * the last buddy, the run's start: the object is put at its end).
 */
static unsigned int free_run(const struct z3fold_pool *pool,
			     const struct z3fold_header *zhdr,
			     enum z3fold_buddy bud, unsigned int *start)
{
	unsigned int h = Z3FOLD_HEADER_CHUNKS, t = pool->total_chunks;
	unsigned int begin, end;

	switch (bud) {
	case Z3FOLD_FIRST:
		if (zhdr->first_chunks)
			return 0;
		begin = h;
		end = zhdr->middle_chunks ? zhdr->start_middle : t - zhdr->last_chunks;
		break;
	case Z3FOLD_MIDDLE:
		/* A middle buddy only goes between a first and a last. */
		if (zhdr->middle_chunks || !zhdr->first_chunks || !zhdr->last_chunks)
			return 0;
		begin = h + zhdr->first_chunks;
		end = t - zhdr->last_chunks;
		break;
	case Z3FOLD_LAST:
		if (zhdr->last_chunks)
			return 0;
		begin = zhdr->middle_chunks ? zhdr->start_middle + zhdr->middle_chunks
					    : h + zhdr->first_chunks;
		end = t;
		break;
	default:
		return 0;
	}
	*start = begin;
	return end - begin;
}

/* Largest object, in chunks, that one more allocation could put here. */
static unsigned int usable_chunks(const struct z3fold_pool *pool,
				  const struct z3fold_header *zhdr)
{
	unsigned int best = 0, run, start;
	int bud;

	for (bud = Z3FOLD_FIRST; bud <= Z3FOLD_LAST; bud++) {
		run = free_run(pool, zhdr, (enum z3fold_buddy)bud, &start);
		if (run > best)
			best = run;
	}
	return best;
}

/* Takes a page off whichever list it is on (if any). */
static void unlist(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	if (zhdr->list_index == ZPOOL_NOT_LISTED)
		zpool_list_del(&zhdr->list);
	else
		zpool_lists_del(&pool->unbuddied, zhdr->list_index, &zhdr->list);
	zhdr->list_index = ZPOOL_NOT_LISTED;
}

/* Puts a page that holds at least one object on the list its state says. */
static void place_on_list(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	unsigned int usable = usable_chunks(pool, zhdr);

	unlist(pool, zhdr);
	if (object_count(zhdr) == Z3FOLD_SLOTS || usable == 0) {
		zpool_list_add(&pool->full, &zhdr->list);
	} else {
		zpool_lists_add(&pool->unbuddied, usable, &zhdr->list);
		zhdr->list_index = (uint16_t)usable;
	}
}

static int slot_of_buddy(const struct z3fold_header *zhdr, enum z3fold_buddy bud)
{
	int i;

	for (i = 0; i < Z3FOLD_SLOTS; i++)
		if (zhdr->slot_buddy[i] == bud)
			return i;
	return -1;
}

/*
 * Moves the middle buddy towards the start of the page so that the free
 * chunks form one run.  Caller holds the pool lock; no object of the page
 * may be mapped.
 */
static void rearrange_page(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	unsigned int h = Z3FOLD_HEADER_CHUNKS;
	unsigned int chunks = zhdr->middle_chunks;
	int slot;

	if (!chunks)
		return;
	if (!zhdr->first_chunks) {
		/* The middle buddy becomes the first. */
		memmove(chunk_address(zhdr, h), chunk_address(zhdr, zhdr->start_middle),
			(size_t)chunks * Z3FOLD_CHUNK_SIZE);
		slot = slot_of_buddy(zhdr, Z3FOLD_MIDDLE);
		zhdr->slot_buddy[slot] = Z3FOLD_FIRST;
		zhdr->first_chunks = (uint16_t)chunks;
		zhdr->middle_chunks = 0;
		zhdr->start_middle = 0;
		pool->rearrangements++;
	} else if (!zhdr->last_chunks && zhdr->start_middle > h + zhdr->first_chunks) {
		/* Slide the middle buddy down against the first. */
		unsigned int target = h + zhdr->first_chunks;

		memmove(chunk_address(zhdr, target),
			chunk_address(zhdr, zhdr->start_middle),
			(size_t)chunks * Z3FOLD_CHUNK_SIZE);
		zhdr->start_middle = (uint16_t)target;
		pool->rearrangements++;
	}
}

/* Decodes and checks a handle; caller holds the pool lock.  Aborts on what
 * cannot be a live object of this pool. */
static struct z3fold_header *handle_to_header(struct z3fold_pool *pool,
					      unsigned long handle, int *slot)
{
	unsigned long number = handle & Z3FOLD_SLOT_MASK;
	struct z3fold_header *zhdr;

	if (number == 0 || (handle & (pool->base.page_size - 1) & ~Z3FOLD_SLOT_MASK))
		zpool_misuse("z3fold: invalid handle %#lx", handle);
	zhdr = (struct z3fold_header *)(handle & ~(unsigned long)(pool->base.page_size - 1));
	if (zhdr->magic != Z3FOLD_MAGIC || zhdr->pool != pool)
		zpool_misuse("z3fold: handle %#lx is not an object of pool %s",
			     handle, pool->name);
	*slot = (int)number - 1;
	if (zhdr->slot_buddy[*slot] == Z3FOLD_NONE)
		zpool_misuse("z3fold: handle %#lx of pool %s is not allocated (double free?)",
			     handle, pool->name);
	return zhdr;
}

static char *slot_address(struct z3fold_pool *pool, struct z3fold_header *zhdr,
			  int slot)
{
	return chunk_address(zhdr, buddy_start(pool, zhdr,
					       (enum z3fold_buddy)zhdr->slot_buddy[slot]));
}

struct zpool *z3fold_create(const char *name, const struct zpool_config *config)
{
	struct z3fold_pool *pool;
	size_t page_size = config && config->page_size ? config->page_size : 4096;

	if (!zs_page_size_valid(page_size)) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->base.backend = &z3fold_backend;
	pool->base.page_size = page_size;
	pool->total_chunks = (unsigned int)(page_size / Z3FOLD_CHUNK_SIZE);
	pool->nchunks = pool->total_chunks - (unsigned int)Z3FOLD_HEADER_CHUNKS;
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
	snprintf(pool->name, sizeof(pool->name), "%s", name ? name : "z3fold");
	return &pool->base;
}

static void release_page(struct z3fold_pool *pool, struct z3fold_header *zhdr)
{
	unlist(pool, zhdr);
	zhdr->magic = 0;
	zhdr->pool = NULL;
	zpool_page_free(&pool->source, zhdr);
}

static void release_list(struct z3fold_pool *pool, struct zpool_list *head)
{
	while (!zpool_list_empty(head))
		release_page(pool, (struct z3fold_header *)head->next);
}

void z3fold_destroy(struct zpool *zp)
{
	struct z3fold_pool *pool;
	unsigned int i;

	if (!zp)
		return;
	pool = z3fold_of(zp);
	for (i = 0; i <= pool->nchunks; i++)
		release_list(pool, &pool->unbuddied.heads[i]);
	release_list(pool, &pool->full);
	zpool_page_source_destroy(&pool->source);
	pthread_mutex_destroy(&pool->lock);
	zpool_lists_destroy(&pool->unbuddied);
	free(pool);
}

static struct z3fold_header *find_page_with_room(struct z3fold_pool *pool,
						 unsigned int chunks)
{
	int i = zpool_lists_first(&pool->unbuddied, chunks);

	if (i < 0)
		return NULL;
	return (struct z3fold_header *)pool->unbuddied.heads[i].next;
}

static struct z3fold_header *new_page(struct z3fold_pool *pool)
{
	struct z3fold_header *zhdr = zpool_page_alloc(&pool->source);

	if (!zhdr)
		return NULL;
	memset(zhdr, 0, sizeof(*zhdr));
	zpool_list_init(&zhdr->list);
	zhdr->list_index = ZPOOL_NOT_LISTED;
	zhdr->pool = pool;
	zhdr->magic = Z3FOLD_MAGIC;
	return zhdr;
}

unsigned long z3fold_alloc(struct zpool *zp, size_t size)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	unsigned int chunks, start = 0;
	enum z3fold_buddy bud = Z3FOLD_NONE;
	int candidate, slot;
	static const enum z3fold_buddy order[] = {
		Z3FOLD_FIRST, Z3FOLD_MIDDLE, Z3FOLD_LAST,
	};

	if (size == 0) {
		errno = EINVAL;
		return 0;
	}
	if (size > z3fold_max_size(zp)) {
		errno = E2BIG;
		return 0;
	}
	chunks = size_to_chunks(size);
	pthread_mutex_lock(&pool->lock);
	zhdr = find_page_with_room(pool, chunks);
	if (!zhdr) {
		zhdr = new_page(pool);
		if (!zhdr) {	/* errno ENOSPC or ENOMEM */
			pthread_mutex_unlock(&pool->lock);
			return 0;
		}
	}
	for (candidate = 0; candidate < 3; candidate++) {
		if (free_run(pool, zhdr, order[candidate], &start) >= chunks) {
			bud = order[candidate];
			break;
		}
	}
	slot = slot_of_buddy(zhdr, Z3FOLD_NONE);
	if (bud == Z3FOLD_NONE || slot < 0)
		zpool_misuse("z3fold: pool %s lists page %p with room it does not have",
			     pool->name, (void *)zhdr);
	switch (bud) {
	case Z3FOLD_FIRST:
		zhdr->first_chunks = (uint16_t)chunks;
		break;
	case Z3FOLD_MIDDLE:
		zhdr->middle_chunks = (uint16_t)chunks;
		zhdr->start_middle = (uint16_t)start;
		break;
	default:
		zhdr->last_chunks = (uint16_t)chunks;
		break;
	}
	zhdr->slot_buddy[slot] = (uint8_t)bud;
	zhdr->slot_size[slot] = (uint32_t)size;
	zhdr->slot_mapped[slot] = 0;
	place_on_list(pool, zhdr);
	pool->objects++;
	pool->stored_bytes += size;
	pthread_mutex_unlock(&pool->lock);
	return (unsigned long)(uintptr_t)zhdr | (unsigned long)(slot + 1);
}

void z3fold_free(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	int slot;

	if (!handle)
		return;
	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (zhdr->slot_mapped[slot])
		zpool_misuse("z3fold: free of handle %#lx while it is mapped", handle);
	switch (zhdr->slot_buddy[slot]) {
	case Z3FOLD_FIRST:
		zhdr->first_chunks = 0;
		break;
	case Z3FOLD_MIDDLE:
		zhdr->middle_chunks = 0;
		zhdr->start_middle = 0;
		break;
	default:
		zhdr->last_chunks = 0;
		break;
	}
	pool->objects--;
	pool->stored_bytes -= zhdr->slot_size[slot];
	zhdr->slot_buddy[slot] = Z3FOLD_NONE;
	zhdr->slot_size[slot] = 0;
	if (object_count(zhdr) == 0) {
		release_page(pool, zhdr);
	} else {
		if (page_is_mapped(zhdr)) {
			if (zhdr->middle_chunks && !zhdr->rearrange_pending)
				pool->deferred++;
			zhdr->rearrange_pending = 1;
		} else {
			rearrange_page(pool, zhdr);
		}
		place_on_list(pool, zhdr);
	}
	pthread_mutex_unlock(&pool->lock);
}

void *z3fold_map(struct zpool *zp, unsigned long handle, enum zs_mapmode mm)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	char *addr;
	int slot;

	(void)mm;	/* always in place: every mode is the same */
	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (zhdr->slot_mapped[slot] == UINT16_MAX)
		zpool_misuse("z3fold: handle %#lx mapped too many times", handle);
	zhdr->slot_mapped[slot]++;
	addr = slot_address(pool, zhdr, slot);
	pthread_mutex_unlock(&pool->lock);
	return addr;
}

void z3fold_unmap(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	int slot;

	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (zhdr->slot_mapped[slot] == 0)
		zpool_misuse("z3fold: unmap of handle %#lx that is not mapped", handle);
	zhdr->slot_mapped[slot]--;
	if (zhdr->rearrange_pending && !page_is_mapped(zhdr)) {
		zhdr->rearrange_pending = 0;
		rearrange_page(pool, zhdr);
		place_on_list(pool, zhdr);
	}
	pthread_mutex_unlock(&pool->lock);
}

void z3fold_write(struct zpool *zp, unsigned long handle,
		  const void *mem, size_t len)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	int slot;

	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (len > zhdr->slot_size[slot])
		zpool_misuse("z3fold: write of %zu bytes into an object of %u",
			     len, zhdr->slot_size[slot]);
	memcpy(slot_address(pool, zhdr, slot), mem, len);
	pthread_mutex_unlock(&pool->lock);
}

size_t z3fold_obj_size(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	size_t size;
	int slot;

	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	size = zhdr->slot_size[slot];
	pthread_mutex_unlock(&pool->lock);
	return size;
}

size_t z3fold_max_size(struct zpool *zp)
{
	return (size_t)z3fold_of(zp)->nchunks * Z3FOLD_CHUNK_SIZE;
}

size_t z3fold_huge_size(struct zpool *zp)
{
	/* Anything that needs every chunk leaves no room for a buddy. */
	return (size_t)(z3fold_of(zp)->nchunks - 1) * Z3FOLD_CHUNK_SIZE;
}

unsigned long z3fold_total_pages(struct zpool *zp)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	unsigned long pages;

	pthread_mutex_lock(&pool->lock);
	pages = pool->source.pages;
	pthread_mutex_unlock(&pool->lock);
	return pages;
}

static void count_list(struct zpool_list *head, struct z3fold_stats *stats)
{
	struct zpool_list *node;

	for (node = head->next; node != head; node = node->next)
		stats->pages_by_objects[object_count((struct z3fold_header *)node)]++;
}

void z3fold_get_stats(struct zpool *zp, struct z3fold_stats *stats)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	unsigned int i;

	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&pool->lock);
	stats->pages = pool->source.pages;
	stats->objects = pool->objects;
	stats->stored_bytes = pool->stored_bytes;
	stats->rearrangements = pool->rearrangements;
	stats->deferred = pool->deferred;
	for (i = 0; i <= pool->nchunks; i++)
		count_list(&pool->unbuddied.heads[i], stats);
	count_list(&pool->full, stats);
	pthread_mutex_unlock(&pool->lock);
}

int z3fold_print_stats(struct zpool *zp, FILE *out)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_stats st;
	double page_bytes;

	z3fold_get_stats(zp, &st);
	page_bytes = (double)st.pages * (double)pool->base.page_size;
	fprintf(out, "z3fold pool %s: page size %zu, %u chunks of %d bytes per page\n",
		pool->name, pool->base.page_size, pool->nchunks, Z3FOLD_CHUNK_SIZE);
	fprintf(out, "  pages               %lu\n", st.pages);
	fprintf(out, "  objects             %lu\n", st.objects);
	fprintf(out, "  pages with 1/2/3    %lu / %lu / %lu\n", st.pages_by_objects[1],
		st.pages_by_objects[2], st.pages_by_objects[3]);
	fprintf(out, "  stored bytes        %llu\n", st.stored_bytes);
	fprintf(out, "  rearrangements      %llu (%llu put off while mapped)\n",
		st.rearrangements, st.deferred);
	fprintf(out, "  objects/page        %.3f\n",
		st.pages ? (double)st.objects / (double)st.pages : 0.0);
	if (fprintf(out, "  bytes used          %.1f%% of pages\n",
		    page_bytes > 0 ? 100.0 * (double)st.stored_bytes / page_bytes : 0.0) < 0)
		return -1;
	return 0;
}

unsigned int z3fold_handle_buddy(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	unsigned int bud;
	int slot;

	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	bud = zhdr->slot_buddy[slot];
	pthread_mutex_unlock(&pool->lock);
	return bud;
}

size_t z3fold_handle_offset(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	size_t offset;
	int slot;

	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	offset = (size_t)(slot_address(pool, zhdr, slot) - (char *)zhdr);
	pthread_mutex_unlock(&pool->lock);
	return offset;
}

unsigned int z3fold_objects_in_page(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	unsigned int n;
	int slot;

	pthread_mutex_lock(&pool->lock);
	zhdr = handle_to_header(pool, handle, &slot);
	n = object_count(zhdr);
	pthread_mutex_unlock(&pool->lock);
	return n;
}

/* Checks one page's header against itself; NULL when fine. */
static const char *check_page(const struct z3fold_pool *pool,
			      const struct z3fold_header *zhdr)
{
	unsigned int h = Z3FOLD_HEADER_CHUNKS, t = pool->total_chunks;
	unsigned int chunks[4] = { 0, zhdr->first_chunks, zhdr->middle_chunks,
				   zhdr->last_chunks };
	unsigned int seen[4] = { 0 };
	int i;

	if ((uintptr_t)zhdr & (pool->base.page_size - 1))
		return "page not aligned";
	if (zhdr->magic != Z3FOLD_MAGIC || zhdr->pool != pool)
		return "bad page header";
	if (object_count(zhdr) == 0)
		return "empty page kept";
	for (i = 0; i < Z3FOLD_SLOTS; i++) {
		unsigned int bud = zhdr->slot_buddy[i];

		if (bud > Z3FOLD_LAST)
			return "slot with an unknown buddy";
		if (bud == Z3FOLD_NONE) {
			if (zhdr->slot_size[i] || zhdr->slot_mapped[i])
				return "free slot with a size or mappings";
			continue;
		}
		if (seen[bud]++)
			return "two slots name the same buddy";
		if (!chunks[bud] || size_to_chunks(zhdr->slot_size[i]) != chunks[bud])
			return "slot size disagrees with its buddy's chunks";
	}
	for (i = 1; i <= 3; i++)
		if (chunks[i] && !seen[i])
			return "buddy without a slot";
	if ((unsigned int)(zhdr->first_chunks + zhdr->middle_chunks + zhdr->last_chunks) > pool->nchunks)
		return "buddies take more than the page";
	if (zhdr->middle_chunks &&
	    (zhdr->start_middle < h + zhdr->first_chunks ||
	     zhdr->start_middle + zhdr->middle_chunks > t - zhdr->last_chunks))
		return "middle buddy overlaps another";
	if (zhdr->rearrange_pending && !page_is_mapped(zhdr))
		return "rearrangement pending on an unmapped page";
	if (!zhdr->rearrange_pending && zhdr->middle_chunks &&
	    (!zhdr->first_chunks ||
	     (!zhdr->last_chunks && zhdr->start_middle != h + zhdr->first_chunks)))
		return "page left unrearranged";
	return NULL;
}

static int check_list(struct z3fold_pool *pool, struct zpool_list *head,
		      int full, unsigned int usable, unsigned long *pages,
		      unsigned long *objects, unsigned long long *bytes,
		      char *why, size_t why_len)
{
	struct zpool_list *node;

	for (node = head->next; node != head; node = node->next) {
		struct z3fold_header *zhdr = (struct z3fold_header *)node;
		const char *problem = check_page(pool, zhdr);
		unsigned int n;
		int i;

		if (!problem) {
			n = object_count(zhdr);
			if (full ? (n != Z3FOLD_SLOTS && usable_chunks(pool, zhdr) != 0) ||
					   zhdr->list_index != ZPOOL_NOT_LISTED
				 : n == Z3FOLD_SLOTS || usable_chunks(pool, zhdr) != usable ||
					   zhdr->list_index != usable)
				problem = "page on the wrong list";
		}
		if (problem) {
			snprintf(why, why_len, "z3fold: page %p: %s", (void *)zhdr, problem);
			return -1;
		}
		(*pages)++;
		*objects += object_count(zhdr);
		for (i = 0; i < Z3FOLD_SLOTS; i++)
			*bytes += zhdr->slot_size[i];
	}
	return 0;
}

int z3fold_check(struct zpool *zp, char *why, size_t why_len)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	unsigned long pages = 0, objects = 0;
	unsigned long long bytes = 0;
	char scratch[1];
	int ret;
	unsigned int i;

	if (!why) {
		why = scratch;
		why_len = sizeof(scratch);
	}
	pthread_mutex_lock(&pool->lock);
	ret = check_list(pool, &pool->full, 1, 0, &pages, &objects, &bytes,
			 why, why_len);
	if (!ret)
		ret = zpool_lists_check(&pool->unbuddied, "z3fold", why, why_len);
	for (i = 1; !ret && i <= pool->nchunks; i++)
		ret = check_list(pool, &pool->unbuddied.heads[i], 0, i, &pages, &objects,
				 &bytes, why, why_len);
	if (!ret && (pages != pool->source.pages || objects != pool->objects ||
		     bytes != pool->stored_bytes)) {
		snprintf(why, why_len,
			 "z3fold: lists hold %lu pages, %lu objects, %llu bytes; counters say %lu, %lu, %llu",
			 pages, objects, bytes, pool->source.pages, pool->objects,
			 pool->stored_bytes);
		ret = -1;
	}
	pthread_mutex_unlock(&pool->lock);
	return ret;
}

const struct zpool_backend z3fold_backend = {
	.name = "z3fold",
	.create = z3fold_create,
	.destroy = z3fold_destroy,
	.malloc = z3fold_alloc,
	.free = z3fold_free,
	.max_size = z3fold_max_size,
	.huge_size = z3fold_huge_size,
	.map = z3fold_map,
	.unmap = z3fold_unmap,
	.write = z3fold_write,
	.total_pages = z3fold_total_pages,
	.print_stats = z3fold_print_stats,
	.check = z3fold_check,
};
