/*
 * peers.c - the allocators zsbench compares, behind one set of operations.
 *
 * Every peer stores the same compressed objects: store = allocate + copy in,
 * read = a pointer to the bytes (in place, or copied into the caller's page
 * buffer), release = free, compact = the allocator's own way to give memory
 * back.  Each is opened inside the forked child that runs it:
 *   glibc     the process's own malloc/free (under a sanitizer, that is the
 *             sanitizer's allocator: reported as such); compact: malloc_trim
 *   jemalloc  dlopen("libjemalloc.so.2"): mallocx/dallocx; compact: flush the
 *             thread cache and purge every arena (mallctl)
 *   mimalloc  dlopen("libmimalloc.so.2"): mi_malloc/mi_free; compact:
 *             mi_collect(true)
 *   zsmalloc, zbud, z3fold  our allocators, all three through zpool (the one
 *             allocator interface): zpool_malloc + zpool_write,
 *             zpool_read_begin/end, zpool_free, zpool_compact.  An object
 *             above zpool_max_size() (zbud's and z3fold's headers take part
 *             of each page) does not fit their pages and is kept as a raw
 *             page of a side array, as zswap leaves such a page uncompressed.
 * A peer that cannot be opened says why ("missing: ...").
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <zpool.h>
#include <zsmalloc.h>

#include "pages.h" /* common/: side pages are reserved and released there */

/* ---- glibc malloc ---- */

static void *glibc_open(char *why, size_t why_len)
{
	(void)why;
	(void)why_len;
	return (void *)1; /* no state: the process's own malloc */
}

static unsigned long glibc_store(void *ctx, const void *data, size_t len)
{
	void *p = malloc(len);

	(void)ctx;
	if (p)
		memcpy(p, data, len);
	return (unsigned long)p;
}

static const void *direct_read_begin(void *ctx, unsigned long h, void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return (const void *)h;
}

static void direct_read_end(void *ctx, unsigned long h, const void *mem)
{
	(void)ctx;
	(void)h;
	(void)mem;
}

static void glibc_release(void *ctx, unsigned long h, size_t len)
{
	(void)ctx;
	(void)len;
	free((void *)h);
}

static long glibc_compact(void *ctx)
{
	(void)ctx;
	malloc_trim(0);
	return -1;
}

static long no_pool_pages(void *ctx)
{
	(void)ctx;
	return -1;
}

static void no_close(void *ctx)
{
	(void)ctx;
}

/* ---- dlopen'd allocators ---- */

struct dl_allocator {
	void *lib;
	void *(*alloc)(size_t size, int flags); /* jemalloc */
	void (*release)(void *p, int flags);
	int (*mallctl)(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
	void *(*mi_malloc)(size_t size); /* mimalloc */
	void (*mi_free)(void *p);
	void (*collect)(bool force);
};

static struct dl_allocator dl; /* one per child: each peer runs in its own */

/* Opens soname and fills the three symbol slots; NULL with why on failure. */
static void *dl_open(const char *soname, const char *const names[3], void **slots[3], char *why,
		     size_t why_len)
{
	memset(&dl, 0, sizeof(dl));
	dl.lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!dl.lib) {
		snprintf(why, why_len, "missing: %s", dlerror());
		return NULL;
	}
	for (int i = 0; i < 3; i++) {
		*slots[i] = dlsym(dl.lib, names[i]);
		if (!*slots[i]) {
			snprintf(why, why_len, "missing: no %s in the library", names[i]);
			return NULL;
		}
	}
	return &dl;
}

static void *jemalloc_open(char *why, size_t why_len)
{
	static const char *const names[3] = { "mallocx", "dallocx", "mallctl" };
	void **slots[3] = { (void **)&dl.alloc, (void **)&dl.release, (void **)&dl.mallctl };

	return dl_open("libjemalloc.so.2", names, slots, why, why_len);
}

static void *mimalloc_open(char *why, size_t why_len)
{
	static const char *const names[3] = { "mi_malloc", "mi_free", "mi_collect" };
	void **slots[3] = { (void **)&dl.mi_malloc, (void **)&dl.mi_free, (void **)&dl.collect };

	return dl_open("libmimalloc.so.2", names, slots, why, why_len);
}

static unsigned long dl_store(void *ctx, const void *data, size_t len)
{
	struct dl_allocator *a = ctx;
	void *p = a->mi_malloc ? a->mi_malloc(len) : a->alloc(len, 0);

	if (p)
		memcpy(p, data, len);
	return (unsigned long)p;
}

static void dl_release(void *ctx, unsigned long h, size_t len)
{
	struct dl_allocator *a = ctx;

	(void)len;
	if (a->mi_free)
		a->mi_free((void *)h);
	else
		a->release((void *)h, 0);
}

static long jemalloc_compact(void *ctx)
{
	struct dl_allocator *a = ctx;

	a->mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
	a->mallctl("arena.4096.purge", NULL, NULL, NULL, 0); /* 4096: all arenas */
	return -1;
}

static long mimalloc_compact(void *ctx)
{
	struct dl_allocator *a = ctx;

	a->collect(true);
	return -1;
}

/* One peer's table; reader names the read_begin/read_end pair. */
#define PEER(peer, label, store_op, reader, release_op, compact_op, pages_op, breakdown_op, close_op) \
	{                                                                                             \
		.name = #peer, .what = label, .open = peer##_open, .store = store_op,                 \
		.read_begin = reader##_read_begin, .read_end = reader##_read_end,                     \
		.release = release_op, .compact = compact_op, .pool_pages = pages_op,                 \
		.breakdown = breakdown_op, .close = close_op,                                         \
	}
/* Peers whose handle is the object's address: read in place. */
static const struct zsb_peer_ops glibc_peer =
	PEER(glibc, "glibc malloc + memcpy (the process's own malloc)", glibc_store, direct,
	     glibc_release, glibc_compact, no_pool_pages, NULL, no_close);
static const struct zsb_peer_ops jemalloc_peer =
	PEER(jemalloc, "jemalloc mallocx/dallocx (dlopen libjemalloc.so.2) + memcpy", dl_store,
	     direct, dl_release, jemalloc_compact, no_pool_pages, NULL, no_close);
static const struct zsb_peer_ops mimalloc_peer =
	PEER(mimalloc, "mimalloc mi_malloc/mi_free (dlopen libmimalloc.so.2) + memcpy", dl_store,
	     direct, dl_release, mimalloc_compact, no_pool_pages, NULL, no_close);

/* ---- zsmalloc, zbud and z3fold: through zpool ---- */

#define SIDE_HANDLE_BIT (1UL << 63)
#define SIDE_RESERVE (64ULL << 30) /* virtual room for raw side pages */

struct zpool_peer {
	struct zpool *pool;
	size_t max_size;
	unsigned char *side; /* raw pages for objects above max_size */
	pthread_mutex_t side_lock;
	uint64_t side_next;  /* pages of side ever used */
	uint32_t *side_free; /* stack of freed side page indexes */
	size_t side_nfree, side_cap;
	long side_pages; /* side pages in use */
};

static void *zpool_peer_open(const char *backend, char *why, size_t why_len)
{
	struct zpool_peer *z = calloc(1, sizeof(*z));

	if (!z) {
		snprintf(why, why_len, "failed: out of memory");
		return NULL;
	}
	z->pool = zpool_create(backend, "zsbench", NULL);
	if (!z->pool) {
		snprintf(why, why_len, "%s: zpool_create(\"%s\"): %s",
			 errno == ENOENT ? "missing" : "failed", backend, strerror(errno));
		free(z);
		return NULL;
	}
	z->max_size = zpool_max_size(z->pool);
	if (z->max_size >= ZSB_PAGE_SIZE) /* zsmalloc: every object fits */
		return z;
	z->side = zs_reserve_aligned(SIDE_RESERVE, ZSB_PAGE_SIZE);
	if (!z->side) {
		snprintf(why, why_len, "failed: cannot reserve side pages: %s", strerror(errno));
		zpool_destroy(z->pool);
		free(z);
		return NULL;
	}
	pthread_mutex_init(&z->side_lock, NULL);
	return z;
}

static void *zsmalloc_open(char *why, size_t why_len)
{
	return zpool_peer_open("zsmalloc", why, why_len);
}

static void *zbud_open(char *why, size_t why_len)
{
	return zpool_peer_open("zbud", why, why_len);
}

static void *z3fold_open(char *why, size_t why_len)
{
	return zpool_peer_open("z3fold", why, why_len);
}

static unsigned long zpool_peer_store(void *ctx, const void *data, size_t len)
{
	struct zpool_peer *z = ctx;
	unsigned long h;
	uint64_t page;

	if (len <= z->max_size) {
		h = zpool_malloc(z->pool, len);
		if (h & SIDE_HANDLE_BIT) {
			fprintf(stderr,
				"zsbench: zpool handle %#lx uses bit 63, which zsbench "
				"needs for its side pages\n",
				h);
			abort();
		}
		if (h)
			zpool_write(z->pool, h, data, len);
		return h;
	}
	pthread_mutex_lock(&z->side_lock);
	if (z->side_nfree) {
		page = z->side_free[--z->side_nfree];
	} else if (z->side_next < SIDE_RESERVE / ZSB_PAGE_SIZE) {
		page = z->side_next++;
	} else {
		pthread_mutex_unlock(&z->side_lock);
		return 0;
	}
	z->side_pages++;
	pthread_mutex_unlock(&z->side_lock);
	memcpy(z->side + page * ZSB_PAGE_SIZE, data, len);
	return SIDE_HANDLE_BIT | page;
}

static const void *zpool_peer_read_begin(void *ctx, unsigned long h, void *buf, size_t len)
{
	struct zpool_peer *z = ctx;

	(void)len;
	if (h & SIDE_HANDLE_BIT)
		return z->side + (h & ~SIDE_HANDLE_BIT) * ZSB_PAGE_SIZE;
	return zpool_read_begin(z->pool, h, buf);
}

static void zpool_peer_read_end(void *ctx, unsigned long h, const void *mem)
{
	struct zpool_peer *z = ctx;

	if (!(h & SIDE_HANDLE_BIT))
		zpool_read_end(z->pool, h, (void *)mem);
}

static void zpool_peer_release(void *ctx, unsigned long h, size_t len)
{
	struct zpool_peer *z = ctx;
	uint64_t page = h & ~SIDE_HANDLE_BIT;

	(void)len;
	if (!(h & SIDE_HANDLE_BIT)) {
		zpool_free(z->pool, h);
		return;
	}
	zs_release(z->side + page * ZSB_PAGE_SIZE, ZSB_PAGE_SIZE);
	pthread_mutex_lock(&z->side_lock);
	if (z->side_nfree == z->side_cap) {
		size_t cap = z->side_cap ? z->side_cap * 2 : 1024;
		uint32_t *grown = realloc(z->side_free, cap * sizeof(*grown));

		if (!grown) { /* leak the page rather than fail the free */
			pthread_mutex_unlock(&z->side_lock);
			return;
		}
		z->side_free = grown;
		z->side_cap = cap;
	}
	z->side_free[z->side_nfree++] = (uint32_t)page;
	z->side_pages--;
	pthread_mutex_unlock(&z->side_lock);
}

static long zpool_peer_compact(void *ctx)
{
	struct zpool_peer *z = ctx;

	return zpool_can_compact(z->pool) ? (long)zpool_compact(z->pool) : 0;
}

static long zpool_peer_pool_pages(void *ctx)
{
	struct zpool_peer *z = ctx;

	return (long)zpool_total_pages(z->pool) + z->side_pages;
}

static void zpool_peer_close(void *ctx)
{
	struct zpool_peer *z = ctx;

	zpool_destroy(z->pool);
	if (z->side)
		munmap(z->side, SIDE_RESERVE);
	free(z->side_free);
	free(z);
}

static void add_part(struct zsb_breakdown *b, const char *key, const char *label,
		     enum zsb_part_group group, int64_t bytes)
{
	struct zsb_part *p;

	if (b->nparts == ZSB_MAX_PARTS)
		return;
	p = &b->part[b->nparts++];
	snprintf(p->key, sizeof(p->key), "%s", key);
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->group = group;
	p->bytes = bytes;
}

static void add_note(struct zsb_breakdown *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_note(struct zsb_breakdown *b, const char *fmt, ...)
{
	size_t used = strlen(b->note);
	va_list ap;

	if (used + 3 >= sizeof(b->note))
		return;
	if (used)
		used += (size_t)snprintf(b->note + used, sizeof(b->note) - used, "; ");
	va_start(ap, fmt);
	vsnprintf(b->note + used, sizeof(b->note) - used, fmt, ap);
	va_end(ap);
}

/*
 * The one place that reads struct zs_pool_memory, whose set of kinds may
 * still change: a renamed or added kind is a line here.  A kind added to the
 * total but not yet listed here still shows, as "other metadata", so the
 * parts keep adding up to what the pool says meanwhile.
 */
static void zsmalloc_breakdown(void *ctx, uint64_t payload, struct zsb_breakdown *b)
{
	struct zpool *pool = ((struct zpool_peer *)ctx)->pool;
	static const struct {
		const char *key, *label;
		size_t off;
	} meta[] = {
#define META(field, label) { #field, "meta: " label, offsetof(struct zs_pool_memory, field) }
		META(handle_table, "handle table"), META(zspage_headers, "zspage headers"),
		META(slot_maps, "slot maps"),	    META(zspage_index, "zspage index"),
		META(page_lists, "page lists"),	    META(pagemap, "pagemap"),
		META(pool, "pool, classes"),
#undef META
	};
	struct zs_pool_memory m;
	size_t listed = 0, i, pages;

	zpool_pool_memory(pool, &m);
	b->objects = m.objects;
	add_part(b, "class_rounding", "class rounding", ZSB_PART_PAGES,
		 (int64_t)m.object_bytes - (int64_t)payload);
	add_part(b, "free_slots", "free slots, partly filled zspages", ZSB_PART_PAGES,
		 (int64_t)m.free_slot_bytes);
	add_part(b, "tail_waste", "tail waste", ZSB_PART_PAGES, (int64_t)m.tail_bytes);
	add_part(b, "warm_pages", "warm pages", ZSB_PART_WARM, (int64_t)m.warm_bytes);
	for (i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
		size_t v = *(const size_t *)((const char *)&m + meta[i].off);

		add_part(b, meta[i].key, meta[i].label, ZSB_PART_METADATA, (int64_t)v);
		listed += v;
	}
	if (listed != m.metadata)
		add_part(b, "metadata_other", "meta: other (not listed)", ZSB_PART_METADATA,
			 (int64_t)m.metadata - (int64_t)listed);
	/* The pool's own figures must agree among themselves before they can
	 * be set against the measured memory. */
	pages = zpool_total_pages(pool) * zpool_page_size(pool);
	if (m.page_bytes != pages)
		add_note(b, "page_bytes %zu != zpool_total_pages() x page size %zu", m.page_bytes,
			 pages);
	if (m.object_bytes + m.tail_bytes > m.page_bytes)
		add_note(b, "object_bytes %zu + tail_bytes %zu > page_bytes %zu", m.object_bytes,
			 m.tail_bytes, m.page_bytes);
	if (m.object_bytes < payload)
		add_note(b, "object_bytes %zu < the payload stored %llu", m.object_bytes,
			 (unsigned long long)payload);
}
#define ZPOOL_PEER(backend, label, breakdown_op)                                                   \
	PEER(backend, label, zpool_peer_store, zpool_peer, zpool_peer_release, zpool_peer_compact, \
	     zpool_peer_pool_pages, breakdown_op, zpool_peer_close)
static const struct zsb_peer_ops zsmalloc_peer = ZPOOL_PEER(
	zsmalloc, "libzsmalloc: zs_malloc + zs_obj_write, zs_obj_read_begin/end, zs_compact",
	zsmalloc_breakdown);
static const struct zsb_peer_ops zbud_peer =
	ZPOOL_PEER(zbud, "zbud through zpool (objects above its max size: raw side pages)", NULL);
static const struct zsb_peer_ops z3fold_peer =
	ZPOOL_PEER(z3fold, "z3fold through zpool (objects above its max size: raw side pages)", NULL);

size_t zsb_zsmalloc_huge_size(void)
{
	struct zs_pool *pool = zs_create_pool("zsbench-probe");
	size_t huge;

	if (!pool)
		return 0;
	huge = zs_huge_class_size(pool);
	zs_destroy_pool(pool);
	return huge;
}

const struct zsb_peer_ops *const zsb_peers[] = {
	&glibc_peer, &jemalloc_peer, &mimalloc_peer, &zsmalloc_peer, &zbud_peer, &z3fold_peer,
};
const unsigned int zsb_npeers = sizeof(zsb_peers) / sizeof(zsb_peers[0]);

const struct zsb_peer_ops *zsb_peer_find(const char *name)
{
	unsigned int i;

	for (i = 0; i < zsb_npeers; i++)
		if (strcmp(zsb_peers[i]->name, name) == 0)
			return zsb_peers[i];
	return NULL;
}
