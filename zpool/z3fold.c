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
 * The pool, the page lists, the page source and the checker's walk are
 * zpool_paged's (paged.c); this file says what a z3fold page holds, how much
 * room it has and what its header must satisfy.  A z3fold pool starts with
 * struct zpool, so its functions are z3fold_backend's entries as they are.
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
	Z3FOLD_NONE = 0, /* slot unused */
	Z3FOLD_FIRST = 1,
	Z3FOLD_MIDDLE = 2,
	Z3FOLD_LAST = 3,
};

/* At the start of every page. */
struct z3fold_header {
	struct zpool_page_header page;	    /* list, owner, Z3FOLD_MAGIC, list index */
	uint16_t first_chunks;		    /* 0: no first buddy */
	uint16_t middle_chunks;		    /* 0: no middle buddy */
	uint16_t last_chunks;		    /* 0: no last buddy */
	uint16_t start_middle;		    /* chunk where the middle buddy starts */
	uint32_t slot_size[Z3FOLD_SLOTS];   /* bytes asked for the object */
	uint16_t slot_mapped[Z3FOLD_SLOTS]; /* live mappings of the object */
	uint8_t slot_buddy[Z3FOLD_SLOTS];   /* enum z3fold_buddy; NONE: free */
	uint8_t rearrange_pending;	    /* a free happened while mapped */
};

#define Z3FOLD_HEADER_CHUNKS \
	((sizeof(struct z3fold_header) + Z3FOLD_CHUNK_SIZE - 1) / Z3FOLD_CHUNK_SIZE)

/* Four chunks, as the published design has: the density depends on it. */
_Static_assert(Z3FOLD_HEADER_CHUNKS == 4, "the z3fold header takes 64 bytes");

/* zpool_paged's unbuddied list n: pages where one more object of up to n
 * chunks fits.  Everything below is guarded by paged.lock too. */
struct z3fold_pool {
	struct zpool_paged paged;	   /* everything but: */
	unsigned int total_chunks;	   /* T: chunks per page, header included */
	unsigned long long rearrangements; /* middle buddies moved, ever */
	unsigned long long deferred;	   /* rearrangements put off because mapped */
};

static struct z3fold_pool *z3fold_of(struct zpool *zp)
{
	return (struct z3fold_pool *)((char *)zp - offsetof(struct z3fold_pool, paged.base));
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
	return (zhdr->first_chunks != 0) + (zhdr->middle_chunks != 0) + (zhdr->last_chunks != 0);
}

static int page_is_mapped(const struct z3fold_header *zhdr)
{
	return zhdr->slot_mapped[0] || zhdr->slot_mapped[1] || zhdr->slot_mapped[2];
}

/* First chunk of a buddy that exists. */
static unsigned int buddy_start(const struct z3fold_pool *pool, const struct z3fold_header *zhdr,
				enum z3fold_buddy bud)
{
	switch (bud) {
	case Z3FOLD_FIRST: return Z3FOLD_HEADER_CHUNKS;
	case Z3FOLD_MIDDLE: return zhdr->start_middle;
	case Z3FOLD_LAST: return pool->total_chunks - zhdr->last_chunks;
	default: return 0;
	}
}

/*
 * The run of free chunks a new object would get as buddy bud, 0 when that
 * buddy is taken or cannot be placed; *start is where it would begin (for
 * the last buddy, the run's start: the object is put at its end).
 */
static unsigned int free_run(const struct z3fold_pool *pool, const struct z3fold_header *zhdr,
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
	default: return 0;
	}
	*start = begin;
	return end - begin;
}

/* Largest object, in chunks, that one more allocation could put here. */
static unsigned int usable_chunks(const struct z3fold_pool *pool, const struct z3fold_header *zhdr)
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

/* A page with three objects, or no room for one more, is full. */
static unsigned int z3fold_room(const struct zpool_paged *paged, const struct zpool_page_header *page)
{
	const struct z3fold_header *zhdr = (const struct z3fold_header *)page;

	if (object_count(zhdr) == Z3FOLD_SLOTS)
		return 0;
	return usable_chunks((const struct z3fold_pool *)paged, zhdr);
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

		memmove(chunk_address(zhdr, target), chunk_address(zhdr, zhdr->start_middle),
			(size_t)chunks * Z3FOLD_CHUNK_SIZE);
		zhdr->start_middle = (uint16_t)target;
		pool->rearrangements++;
	}
}

/* Decodes and checks a handle; caller holds the pool lock.  Aborts on what
 * cannot be a live object of this pool. */
static struct z3fold_header *handle_to_header(struct z3fold_pool *pool, unsigned long handle,
					      int *slot)
{
	unsigned long number = handle & Z3FOLD_SLOT_MASK;
	struct z3fold_header *zhdr;

	if (number == 0)
		zpool_misuse("z3fold: invalid handle %#lx", handle);
	zhdr = (struct z3fold_header *)zpool_paged_page_of(&pool->paged, handle, Z3FOLD_SLOT_MASK);
	*slot = (int)number - 1;
	if (zhdr->slot_buddy[*slot] == Z3FOLD_NONE)
		zpool_misuse("z3fold: handle %#lx of pool %s is not allocated (double free?)",
			     handle, pool->paged.name);
	return zhdr;
}

static char *slot_address(struct z3fold_pool *pool, struct z3fold_header *zhdr, int slot)
{
	return chunk_address(zhdr,
			     buddy_start(pool, zhdr, (enum z3fold_buddy)zhdr->slot_buddy[slot]));
}

static const char *z3fold_page_problem(const struct zpool_paged *paged,
				       const struct zpool_page_header *page, unsigned long *objects,
				       unsigned long long *bytes);

static const struct zpool_paged_ops z3fold_ops = {
	.magic = Z3FOLD_MAGIC,
	.chunk_size = Z3FOLD_CHUNK_SIZE,
	.header_chunks = Z3FOLD_HEADER_CHUNKS,
	.room = z3fold_room,
	.page_problem = z3fold_page_problem,
};

struct zpool *z3fold_create(const char *name, const struct zpool_config *config)
{
	struct zpool *zp = zpool_paged_create(sizeof(struct z3fold_pool), &z3fold_backend,
					      &z3fold_ops, name, config);

	if (zp)
		z3fold_of(zp)->total_chunks = (unsigned int)(zp->page_size / Z3FOLD_CHUNK_SIZE);
	return zp;
}

unsigned long z3fold_alloc(struct zpool *zp, size_t size)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	unsigned int chunks, start = 0;
	enum z3fold_buddy bud = Z3FOLD_NONE;
	int candidate, slot;
	static const enum z3fold_buddy order[] = {
		Z3FOLD_FIRST,
		Z3FOLD_MIDDLE,
		Z3FOLD_LAST,
	};

	zhdr = zpool_paged_alloc_begin(&pool->paged, size, sizeof(*zhdr), &chunks);
	if (!zhdr)
		return 0;
	for (candidate = 0; candidate < 3; candidate++) {
		if (free_run(pool, zhdr, order[candidate], &start) >= chunks) {
			bud = order[candidate];
			break;
		}
	}
	slot = slot_of_buddy(zhdr, Z3FOLD_NONE);
	if (bud == Z3FOLD_NONE || slot < 0)
		zpool_misuse("z3fold: pool %s lists page %p with room it does not have",
			     pool->paged.name, (void *)zhdr);
	switch (bud) {
	case Z3FOLD_FIRST: zhdr->first_chunks = (uint16_t)chunks; break;
	case Z3FOLD_MIDDLE:
		zhdr->middle_chunks = (uint16_t)chunks;
		zhdr->start_middle = (uint16_t)start;
		break;
	default: zhdr->last_chunks = (uint16_t)chunks; break;
	}
	zhdr->slot_buddy[slot] = (uint8_t)bud;
	zhdr->slot_size[slot] = (uint32_t)size;
	zhdr->slot_mapped[slot] = 0;
	zpool_paged_alloc_end(&pool->paged, &zhdr->page, size);
	return (unsigned long)(uintptr_t)zhdr | (unsigned long)(slot + 1);
}

void z3fold_free(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	int slot;

	if (!handle)
		return;
	pthread_mutex_lock(&pool->paged.lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (zhdr->slot_mapped[slot])
		zpool_misuse("z3fold: free of handle %#lx while it is mapped", handle);
	switch (zhdr->slot_buddy[slot]) {
	case Z3FOLD_FIRST: zhdr->first_chunks = 0; break;
	case Z3FOLD_MIDDLE:
		zhdr->middle_chunks = 0;
		zhdr->start_middle = 0;
		break;
	default: zhdr->last_chunks = 0; break;
	}
	pool->paged.objects--;
	pool->paged.stored_bytes -= zhdr->slot_size[slot];
	zhdr->slot_buddy[slot] = Z3FOLD_NONE;
	zhdr->slot_size[slot] = 0;
	if (object_count(zhdr) == 0) {
		zpool_paged_release_page(&pool->paged, &zhdr->page);
	} else {
		if (page_is_mapped(zhdr)) {
			if (zhdr->middle_chunks && !zhdr->rearrange_pending)
				pool->deferred++;
			zhdr->rearrange_pending = 1;
		} else {
			rearrange_page(pool, zhdr);
		}
		zpool_paged_place(&pool->paged, &zhdr->page);
	}
	pthread_mutex_unlock(&pool->paged.lock);
}

void *z3fold_map(struct zpool *zp, unsigned long handle, enum zs_mapmode mm)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	char *addr;
	int slot;

	(void)mm; /* always in place: every mode is the same */
	pthread_mutex_lock(&pool->paged.lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (zhdr->slot_mapped[slot] == UINT16_MAX)
		zpool_misuse("z3fold: handle %#lx mapped too many times", handle);
	zhdr->slot_mapped[slot]++;
	addr = slot_address(pool, zhdr, slot);
	pthread_mutex_unlock(&pool->paged.lock);
	return addr;
}

void z3fold_unmap(struct zpool *zp, unsigned long handle)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	int slot;

	pthread_mutex_lock(&pool->paged.lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (zhdr->slot_mapped[slot] == 0)
		zpool_misuse("z3fold: unmap of handle %#lx that is not mapped", handle);
	zhdr->slot_mapped[slot]--;
	if (zhdr->rearrange_pending && !page_is_mapped(zhdr)) {
		zhdr->rearrange_pending = 0;
		rearrange_page(pool, zhdr);
		zpool_paged_place(&pool->paged, &zhdr->page);
	}
	pthread_mutex_unlock(&pool->paged.lock);
}

void z3fold_write(struct zpool *zp, unsigned long handle, const void *mem, size_t len)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	int slot;

	pthread_mutex_lock(&pool->paged.lock);
	zhdr = handle_to_header(pool, handle, &slot);
	if (len > zhdr->slot_size[slot])
		zpool_misuse("z3fold: write of %zu bytes into an object of %u", len,
			     zhdr->slot_size[slot]);
	memcpy(slot_address(pool, zhdr, slot), mem, len);
	pthread_mutex_unlock(&pool->paged.lock);
}

/* What callers and tests ask of a live handle, read under the lock. */
enum z3fold_fact { FACT_SIZE, FACT_BUDDY, FACT_OFFSET, FACT_OBJECTS };

static size_t handle_fact(struct zpool *zp, unsigned long handle, enum z3fold_fact fact)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_header *zhdr;
	size_t v;
	int slot;

	pthread_mutex_lock(&pool->paged.lock);
	zhdr = handle_to_header(pool, handle, &slot);
	switch (fact) {
	case FACT_SIZE: v = zhdr->slot_size[slot]; break;
	case FACT_BUDDY: v = zhdr->slot_buddy[slot]; break;
	case FACT_OFFSET: v = (size_t)(slot_address(pool, zhdr, slot) - (char *)zhdr); break;
	default: v = object_count(zhdr); break;
	}
	pthread_mutex_unlock(&pool->paged.lock);
	return v;
}

size_t z3fold_obj_size(struct zpool *zp, unsigned long handle)
{
	return handle_fact(zp, handle, FACT_SIZE);
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
	pthread_mutex_lock(&pool->paged.lock);
	stats->pages = pool->paged.source.pages;
	stats->objects = pool->paged.objects;
	stats->stored_bytes = pool->paged.stored_bytes;
	stats->rearrangements = pool->rearrangements;
	stats->deferred = pool->deferred;
	for (i = 0; i <= pool->paged.nchunks; i++)
		count_list(&pool->paged.unbuddied.heads[i], stats);
	count_list(&pool->paged.full, stats);
	pthread_mutex_unlock(&pool->paged.lock);
}

int z3fold_print_stats(struct zpool *zp, FILE *out)
{
	struct z3fold_pool *pool = z3fold_of(zp);
	struct z3fold_stats st;
	double page_bytes;

	z3fold_get_stats(zp, &st);
	page_bytes = (double)st.pages * (double)pool->paged.base.page_size;
	fprintf(out, "z3fold pool %s: page size %zu, %u chunks of %d bytes per page\n",
		pool->paged.name, pool->paged.base.page_size, pool->paged.nchunks, Z3FOLD_CHUNK_SIZE);
	fprintf(out, "  pages               %lu\n", st.pages);
	fprintf(out, "  objects             %lu\n", st.objects);
	fprintf(out, "  pages with 1/2/3    %lu / %lu / %lu\n", st.pages_by_objects[1],
		st.pages_by_objects[2], st.pages_by_objects[3]);
	fprintf(out, "  stored bytes        %llu\n", st.stored_bytes);
	fprintf(out, "  rearrangements      %llu (%llu put off while mapped)\n", st.rearrangements,
		st.deferred);
	fprintf(out, "  objects/page        %.3f\n",
		st.pages ? (double)st.objects / (double)st.pages : 0.0);
	if (fprintf(out, "  bytes used          %.1f%% of pages\n",
		    page_bytes > 0 ? 100.0 * (double)st.stored_bytes / page_bytes : 0.0) < 0)
		return -1;
	return 0;
}

unsigned int z3fold_handle_buddy(struct zpool *zp, unsigned long handle)
{
	return (unsigned int)handle_fact(zp, handle, FACT_BUDDY);
}

size_t z3fold_handle_offset(struct zpool *zp, unsigned long handle)
{
	return handle_fact(zp, handle, FACT_OFFSET);
}

unsigned int z3fold_objects_in_page(struct zpool *zp, unsigned long handle)
{
	return (unsigned int)handle_fact(zp, handle, FACT_OBJECTS);
}

/* Checks what a page's header says of its objects; NULL when fine. */
static const char *z3fold_page_problem(const struct zpool_paged *paged,
				       const struct zpool_page_header *page, unsigned long *objects,
				       unsigned long long *bytes)
{
	const struct z3fold_pool *pool = (const struct z3fold_pool *)paged;
	const struct z3fold_header *zhdr = (const struct z3fold_header *)page;
	unsigned int h = Z3FOLD_HEADER_CHUNKS, t = pool->total_chunks;
	unsigned int chunks[4] = { 0, zhdr->first_chunks, zhdr->middle_chunks, zhdr->last_chunks };
	unsigned int seen[4] = { 0 };
	int i;

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
	if ((unsigned int)(zhdr->first_chunks + zhdr->middle_chunks + zhdr->last_chunks) >
	    pool->paged.nchunks)
		return "buddies take more than the page";
	if (zhdr->middle_chunks && (zhdr->start_middle < h + zhdr->first_chunks ||
				    zhdr->start_middle + zhdr->middle_chunks > t - zhdr->last_chunks))
		return "middle buddy overlaps another";
	if (zhdr->rearrange_pending && !page_is_mapped(zhdr))
		return "rearrangement pending on an unmapped page";
	if (!zhdr->rearrange_pending && zhdr->middle_chunks &&
	    (!zhdr->first_chunks ||
	     (!zhdr->last_chunks && zhdr->start_middle != h + zhdr->first_chunks)))
		return "page left unrearranged";
	*objects += object_count(zhdr);
	for (i = 0; i < Z3FOLD_SLOTS; i++)
		*bytes += zhdr->slot_size[i];
	return NULL;
}

const struct zpool_backend z3fold_backend = {
	.name = "z3fold",
	.create = z3fold_create,
	.malloc = z3fold_alloc,
	.free = z3fold_free,
	.map = z3fold_map,
	.unmap = z3fold_unmap,
	.write = z3fold_write,
	.print_stats = z3fold_print_stats,
	ZPOOL_PAGED_ENTRIES,
};
