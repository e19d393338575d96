/*
 * fuzz_pool.c - libFuzzer harness for libzsmalloc: the input bytes are a
 * pool configuration followed by a program of pool operations, run against a
 * shadow model that holds a copy of every live object's bytes.
 *
 * Input layout (see fuzz/README.md):
 *   byte 0   page size: 4096 << (b % 5); b >= 0xf0: a raw 16-bit value read
 *            next (mostly invalid: must fail with EINVAL)
 *   byte 1   max_pages_per_zspage: b % 20 (0 default, 1..16, 17..19 invalid)
 *   byte 2   page source: bits 0-1: 0 built-in arena, else the harness's own
 *            source (malloc'ed pages, so ASan sees every page boundary);
 *            bit 2: the source fails at random (rate and seed follow);
 *            bit 3: metadata allocations fail at random (rate follows);
 *            bit 4: fail the Nth metadata allocation of pool creation
 *   then     operations, one byte each plus their arguments, until the input
 *            ends; see run_op.
 *
 * After every operation: the objects it touched are compared with the
 * shadow, and after every operation that moves or may lose memory
 * (compaction, migration, a failed allocation, a free) all of them are; the
 * pool's page count must equal the pages the harness's source handed out;
 * at the end zs_pool_check must pass and every page must come back.  A
 * failure reported by the library (NULL, 0, -ENOMEM) is accepted only when a
 * failure was injected, and must leave everything intact.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz_common.h"
#include "internal.h"
#include "zsmalloc.h"

#define MAX_OBJS 2048		    /* live objects at once */
#define MAX_SHADOW_BYTES (6u << 20) /* and their bytes */
#define SOURCE_BYTES (24u << 20)    /* the harness's page source holds at most this */
#define MAX_MAPS 4		    /* mappings held at once by one thread */
#define SWEEP_PAGES 64		    /* pages one migration sweep moves */

/* ---- The harness's page source: malloc'ed pages, faults on demand ---- */

struct fz_source {
	size_t page_size;
	size_t max_pages;
	void **pages; /* pages handed out, unordered */
	size_t count;
	unsigned long calls, failed;
	unsigned long fail_nth; /* > 0: the call that brings it to 0 fails */
	unsigned int fail_rate; /* > 0: each call fails with odds 1/rate */
	uint64_t rng;
};

static void *source_alloc(void *ctx)
{
	struct fz_source *s = ctx;
	void *p;

	s->calls++;
	if (s->fail_nth && --s->fail_nth == 0)
		goto fail;
	if (s->fail_rate && fz_rand(&s->rng) % s->fail_rate == 0)
		goto fail;
	if (s->count >= s->max_pages)
		goto fail;
	p = aligned_alloc(s->page_size, s->page_size);
	FZ_CHECK(p != NULL, "out of memory in the harness");
	/* Garbage: the library must not rely on zeroed pages. */
	memset(p, 0xa5, s->page_size);
	s->pages[s->count++] = p;
	return p;
fail:
	s->failed++;
	return NULL;
}

static void source_free(void *ctx, void *page)
{
	struct fz_source *s = ctx;
	size_t i = s->count;

	while (i > 0 && s->pages[i - 1] != page)
		i--;
	FZ_CHECK(i > 0, "free_page(%p): not a page the source handed out, or freed twice", page);
	s->pages[i - 1] = s->pages[--s->count];
	free(page);
}

static const struct zs_page_ops source_ops = {
	.alloc_page = source_alloc,
	.free_page = source_free,
};

/* ---- The shadow model ---- */

struct object {
	unsigned long handle;
	size_t size; /* bytes asked; the shadow holds these */
	unsigned char *data;
};

struct harness {
	struct fz_input in;
	struct zs_pool *pool;
	struct fz_source *src; /* NULL: built-in arena */
	size_t page_size, huge;
	struct object objs[MAX_OBJS];
	size_t count;
	size_t shadow_bytes;	/* sum of the live objects' sizes */
	unsigned char *buf;	/* page_size bytes of scratch */
	unsigned int meta_rate; /* > 0: arm a metadata failure with odds 1/rate */
	uint64_t rng;
	unsigned long step;
};

/* Whether an injected failure may have fired since the marks were taken. */
struct fault_marks {
	unsigned long src_failed;
	bool meta_armed;
};

static struct fault_marks fault_mark(const struct harness *h)
{
	struct fault_marks m = {
		.src_failed = h->src ? h->src->failed : 0,
		.meta_armed = zs_test_meta_countdown() != 0,
	};
	return m;
}

static bool fault_fired(const struct harness *h, struct fault_marks m)
{
	if (h->src && h->src->failed > m.src_failed)
		return true;
	return m.meta_armed && zs_test_meta_countdown() == 0;
}

static void verify_object(struct harness *h, size_t i, const char *when)
{
	struct object *o = &h->objs[i];
	size_t osize = zs_obj_size(h->pool, o->handle);
	unsigned char *copy;
	const unsigned char *p;

	FZ_CHECK(osize >= o->size && osize <= h->page_size,
		 "step %lu (%s): zs_obj_size %zu for an object of %zu bytes", h->step, when, osize,
		 o->size);
	/* Exactly the object's room, so ASan sees a copy that overruns it. */
	copy = malloc(osize);
	FZ_CHECK(copy != NULL, "out of memory in the harness");
	p = zs_obj_read_begin(h->pool, o->handle, copy);
	FZ_CHECK(p != NULL, "step %lu (%s): zs_obj_read_begin returned NULL", h->step, when);
	if (memcmp(p, o->data, o->size) != 0) {
		size_t at = 0;

		while (p[at] == o->data[at])
			at++;
		FZ_CHECK(0,
			 "step %lu (%s): object %zu (handle %#lx, %zu bytes) differs "
			 "from the shadow at byte %zu: %#x, expected %#x",
			 h->step, when, i, o->handle, o->size, at, p[at], o->data[at]);
	}
	zs_obj_read_end(h->pool, o->handle, (void *)p);
	free(copy);
}

static void verify_all(struct harness *h, const char *when)
{
	for (size_t i = 0; i < h->count; i++)
		verify_object(h, i, when);
	if (h->src)
		FZ_CHECK(zs_get_total_pages(h->pool) == h->src->count,
			 "step %lu (%s): the pool counts %lu pages, it holds %zu from its "
			 "source",
			 h->step, when, zs_get_total_pages(h->pool), h->src->count);
}

static void check_pool(struct harness *h, const char *when)
{
	char why[256];

	FZ_CHECK(zs_pool_check(h->pool, why, sizeof(why)) == 0, "step %lu (%s): %s", h->step, when,
		 why);
}

/* ---- Operations ---- */

static size_t pick_size(struct harness *h)
{
	uint8_t b = fz_u8(&h->in);

	switch (b) {
	case 0: return 0;
	case 1: return 1;
	case 2: return h->huge - 1;
	case 3: return h->huge;
	case 4: return h->huge + 1;
	case 5: return h->page_size;
	case 6: return h->page_size + 1;
	case 7: return (size_t)-1;
	default:
		if (b < 128)
			return 1 + fz_u8(&h->in) % 256; /* small */
		return 1 + fz_u16(&h->in) % h->page_size;
	}
}

/* Allocates an object of size and fills it (kind: contents and the way
 * in); returns false when zs_malloc failed (as it may only by injection). */
static bool malloc_object(struct harness *h, size_t size, unsigned int kind)
{
	struct fault_marks m = fault_mark(h);
	struct object *o;
	unsigned long handle;

	if (h->count == MAX_OBJS ||
	    (size <= h->page_size && h->shadow_bytes + size > MAX_SHADOW_BYTES))
		return false;
	errno = 0;
	handle = zs_malloc(h->pool, size);
	if (size == 0 || size > h->page_size) {
		FZ_CHECK(handle == 0 && errno == (size == 0 ? EINVAL : E2BIG),
			 "step %lu: zs_malloc(%zu) on %zu-byte pages gave %#lx, errno %d", h->step,
			 size, h->page_size, handle, errno);
		return false;
	}
	if (handle == 0) {
		FZ_CHECK(errno == ENOMEM, "step %lu: zs_malloc(%zu) failed with errno %d (%s)",
			 h->step, size, errno, strerror(errno));
		FZ_CHECK(fault_fired(h, m) || (h->src && h->src->count >= h->src->max_pages),
			 "step %lu: zs_malloc(%zu) failed with ENOMEM but no failure was "
			 "injected",
			 h->step, size);
		verify_all(h, "after a failed zs_malloc");
		return false;
	}
	for (size_t i = 0; i < h->count; i++)
		FZ_CHECK(h->objs[i].handle != handle,
			 "step %lu: zs_malloc returned live "
			 "handle %#lx again",
			 h->step, handle);
	o = &h->objs[h->count];
	o->handle = handle;
	o->size = size;
	o->data = malloc(size);
	FZ_CHECK(o->data != NULL, "out of memory in the harness");
	fz_fill(o->data, size, kind, h->rng ^ h->step);
	/* Fill it by one of the three ways in. */
	switch (kind % 3) {
	case 0: zs_obj_write(h->pool, handle, o->data, size); break;
	default: {
		enum zs_mapmode mode = kind % 3 == 1 ? ZS_MM_WO : ZS_MM_RW;
		void *p = zs_map_object(h->pool, handle, mode);

		FZ_CHECK(p != NULL, "step %lu: zs_map_object(%s) failed: %s", h->step,
			 mode == ZS_MM_WO ? "WO" : "RW", strerror(errno));
		memcpy(p, o->data, size);
		zs_unmap_object(h->pool, handle);
		break;
	}
	}
	h->count++;
	h->shadow_bytes += size;
	verify_object(h, h->count - 1, "after zs_malloc");
	return true;
}

static void op_malloc(struct harness *h)
{
	size_t size = pick_size(h);

	malloc_object(h, size, fz_u8(&h->in));
}

/* A run of objects of one size: several zspages of one class, which
 * compaction can then pack after a run of frees. */
static void op_malloc_run(struct harness *h)
{
	size_t size = pick_size(h), n = 1 + fz_u8(&h->in) * 2u;
	unsigned int kind = fz_u8(&h->in);

	for (size_t k = 0; k < n; k++)
		if (!malloc_object(h, size, kind + (unsigned int)k))
			break;
}

static void drop_object(struct harness *h, size_t i)
{
	zs_free(h->pool, h->objs[i].handle);
	h->shadow_bytes -= h->objs[i].size;
	free(h->objs[i].data);
	h->objs[i] = h->objs[--h->count];
}

static void op_free(struct harness *h)
{
	if (h->count == 0) {
		zs_free(h->pool, 0); /* a no-op */
		return;
	}
	drop_object(h, fz_below(&h->in, h->count));
}

/* Maps one object and changes, checks or rewrites it by mode. */
static void op_map(struct harness *h, enum zs_mapmode mode)
{
	struct object *o;
	size_t i, osize, off, len;
	unsigned char *p;

	if (h->count == 0)
		return;
	i = fz_below(&h->in, h->count);
	o = &h->objs[i];
	osize = zs_obj_size(h->pool, o->handle);
	p = zs_map_object(h->pool, o->handle, mode);
	FZ_CHECK(p != NULL, "step %lu: zs_map_object failed: %s", h->step, strerror(errno));
	switch (mode) {
	case ZS_MM_RO:
		FZ_CHECK(memcmp(p, o->data, o->size) == 0,
			 "step %lu: object %zu differs from the shadow when mapped RO", h->step, i);
		/* The whole class size is readable. */
		memcpy(h->buf, p, osize);
		break;
	case ZS_MM_RW:
		FZ_CHECK(memcmp(p, o->data, o->size) == 0,
			 "step %lu: object %zu differs from the shadow when mapped RW", h->step, i);
		off = fz_below(&h->in, o->size);
		len = 1 + fz_below(&h->in, o->size - off);
		fz_fill(o->data + off, len, fz_u8(&h->in), h->step);
		memcpy(p + off, o->data + off, len);
		/* Bytes past the size asked are the object's too. */
		if (osize > o->size)
			p[osize - 1] ^= 0x5a;
		break;
	case ZS_MM_WO:
		/* Write-only: what is not written is undefined, so write it all. */
		fz_fill(o->data, o->size, fz_u8(&h->in), h->step);
		memcpy(p, o->data, o->size);
		break;
	}
	zs_unmap_object(h->pool, o->handle);
	verify_object(h, i, "after map/unmap");
}

static void op_write(struct harness *h)
{
	struct object *o;
	size_t i, len;

	if (h->count == 0)
		return;
	i = fz_below(&h->in, h->count);
	o = &h->objs[i];
	len = fz_below(&h->in, o->size + 1); /* 0 .. size */
	fz_fill(h->buf, len, fz_u8(&h->in), h->step * 31);
	memcpy(o->data, h->buf, len);
	zs_obj_write(h->pool, o->handle, h->buf, len);
	verify_object(h, i, "after zs_obj_write");
}

static void op_compact(struct harness *h)
{
	size_t before = h->src ? h->src->count : 0;
	unsigned long freed = zs_compact(h->pool);
	struct zs_pool_stats st;

	if (h->src)
		FZ_CHECK(before - h->src->count == freed,
			 "step %lu: zs_compact returned %lu but the pool went from %zu to %zu "
			 "pages",
			 h->step, freed, before, h->src->count);
	zs_pool_stats(h->pool, &st);
	verify_all(h, "after zs_compact");
}

/* Migrates page to a fresh page of the source; returns zs_page_migrate's
 * answer (or -ENOMEM when the source gave no page).  `busy` is whether some
 * object is mapped now, which makes -EAGAIN legitimate. */
static int migrate_page(struct harness *h, void *page, bool busy)
{
	struct fault_marks m = fault_mark(h);
	void *newpage;
	int rc;

	errno = 0;
	newpage = zs_page_source_alloc(h->pool);
	if (!newpage) {
		FZ_CHECK(errno == ENOMEM, "step %lu: zs_page_source_alloc: NULL with errno %d",
			 h->step, errno);
		FZ_CHECK(fault_fired(h, m) || (h->src && h->src->count >= h->src->max_pages),
			 "step %lu: zs_page_source_alloc failed but no failure was injected",
			 h->step);
		return -ENOMEM;
	}
	rc = zs_page_migrate(h->pool, page, newpage);
	if (rc == 0)
		zs_page_source_free(h->pool, page);
	else
		zs_page_source_free(h->pool, newpage);
	FZ_CHECK(rc == 0 || (rc == -EAGAIN && busy) || (rc == -ENOMEM && fault_fired(h, m)),
		 "step %lu: zs_page_migrate(%p) = %d (%s)%s", h->step, page, rc, strerror(-rc),
		 busy ? " with an object mapped"
		      : " with nothing mapped and no failure "
			"injected");
	return rc;
}

/* Migrates one page, or a sweep of pages, of the pool. */
static void op_migrate(struct harness *h, bool every, bool busy)
{
	size_t n = zs_list_pages(h->pool, NULL, 0), got, first, last;
	void **pages;

	if (n == 0)
		return;
	pages = malloc(n * sizeof(*pages));
	FZ_CHECK(pages != NULL, "out of memory in the harness");
	got = zs_list_pages(h->pool, pages, n);
	FZ_CHECK(got == n, "step %lu: zs_list_pages said %zu pages, then %zu", h->step, n, got);
	/* A sweep moves up to SWEEP_PAGES pages from a place the input picks
	 * (each move of a built-in arena page costs a system call). */
	first = fz_below(&h->in, n);
	last = every ? first + (n < SWEEP_PAGES ? n : SWEEP_PAGES) : first + 1;
	for (size_t i = first; i < last; i++)
		migrate_page(h, pages[i % n], busy);
	/* A page that is not the pool's, a NULL newpage, and a pool page as
	 * the new page are refused. */
	if (!every && n >= 3 && !busy) {
		void *a = pages[(first + 1) % n], *b = pages[(first + 2) % n];

		FZ_CHECK(zs_page_migrate(h->pool, h->buf, a) == -EINVAL,
			 "step %lu: migrating a page that is not the pool's", h->step);
		FZ_CHECK(zs_page_migrate(h->pool, a, b) == -EINVAL,
			 "step %lu: migrating into a page the pool uses", h->step);
		FZ_CHECK(zs_page_migrate(h->pool, a, NULL) == -EINVAL,
			 "step %lu: migrating into NULL", h->step);
	}
	free(pages);
	if (!busy)
		verify_all(h, "after migration");
}

/* Holds up to MAX_MAPS mappings of different objects at once, some by
 * read_begin, writes some, and ends them in an order from the input.  With
 * `move`, compaction and a migration sweep run while they are held. */
static void op_multi_map(struct harness *h, bool move)
{
	struct held {
		size_t obj;
		bool read; /* read_begin, not map */
		unsigned char *p, *copy;
	} held[MAX_MAPS];
	size_t n = 0, want;

	if (h->count == 0)
		return;
	want = 1 + fz_below(&h->in, MAX_MAPS);
	for (size_t k = 0; k < want && n < h->count; k++) {
		size_t i = fz_below(&h->in, h->count);
		uint8_t how = fz_u8(&h->in);
		struct object *o = &h->objs[i];
		bool dup = false;

		for (size_t j = 0; j < n; j++)
			dup |= held[j].obj == i;
		if (dup)
			continue;
		held[n].obj = i;
		held[n].read = how % 3 == 0;
		held[n].copy = NULL;
		if (held[n].read) {
			held[n].copy = malloc(zs_obj_size(h->pool, o->handle));
			FZ_CHECK(held[n].copy != NULL, "out of memory in the harness");
			held[n].p = zs_obj_read_begin(h->pool, o->handle, held[n].copy);
		} else {
			held[n].p = zs_map_object(h->pool, o->handle,
						  how % 3 == 1 ? ZS_MM_RO : ZS_MM_RW);
		}
		FZ_CHECK(held[n].p != NULL, "step %lu: mapping %zu of object %zu failed", h->step,
			 n, i);
		FZ_CHECK(memcmp(held[n].p, o->data, o->size) == 0,
			 "step %lu: object %zu differs from the shadow in mapping %zu", h->step, i,
			 n);
		if (how % 3 == 2) {
			fz_fill(o->data, o->size, how, h->step + n);
			memcpy(held[n].p, o->data, o->size);
		}
		n++;
	}
	if (move) {
		zs_compact(h->pool);
		op_migrate(h, true, true);
		for (size_t j = 0; j < n; j++)
			FZ_CHECK(memcmp(held[j].p, h->objs[held[j].obj].data,
					h->objs[held[j].obj].size) == 0,
				 "step %lu: mapped object %zu changed under compaction or "
				 "migration",
				 h->step, held[j].obj);
	}
	while (n > 0) {
		size_t j = fz_below(&h->in, n);
		unsigned long handle = h->objs[held[j].obj].handle;

		if (held[j].read)
			zs_obj_read_end(h->pool, handle, held[j].p);
		else
			zs_unmap_object(h->pool, handle);
		free(held[j].copy);
		held[j] = held[--n];
	}
	verify_all(h, "after several mappings");
}

static void op_stats(struct harness *h)
{
	unsigned int classes = zs_class_count(h->pool);
	unsigned long pages = 0, objs = 0;
	char *text = NULL;
	size_t text_len = 0;
	FILE *out;

	for (unsigned int i = 0; i <= classes; i++) {
		struct zs_class_stats cs;
		int rc = zs_get_class_stats(h->pool, i, &cs);

		if (i == classes) {
			FZ_CHECK(rc == -EINVAL, "step %lu: class %u of %u gave %d", h->step, i,
				 classes, rc);
			break;
		}
		FZ_CHECK(rc == 0 || rc == -ENOENT, "step %lu: zs_get_class_stats(%u) = %d", h->step,
			 i, rc);
		if (rc == 0) {
			pages += cs.pages_used;
			objs += cs.obj_used;
			FZ_CHECK(cs.obj_used <= cs.obj_allocated,
				 "step %lu: class %u uses %lu "
				 "of %lu slots",
				 h->step, i, cs.obj_used, cs.obj_allocated);
		}
	}
	FZ_CHECK(pages == zs_get_total_pages(h->pool) && objs == h->count,
		 "step %lu: classes hold %lu pages and %lu objects; the pool %lu pages, "
		 "the shadow %zu objects",
		 h->step, pages, objs, zs_get_total_pages(h->pool), h->count);
	FZ_CHECK(zs_lookup_class_index(h->pool, 1) < classes, "step %lu: class of size 1", h->step);
	out = open_memstream(&text, &text_len);
	FZ_CHECK(out != NULL, "out of memory in the harness");
	FZ_CHECK(zs_print_class_stats(h->pool, out) == 0, "step %lu: zs_print_class_stats", h->step);
	fclose(out);
	FZ_CHECK(text_len > 0 && strstr(text, "Total") != NULL,
		 "step %lu: the class table has no Total line", h->step);
	free(text);
	check_pool(h, "stats");
}

static void op_inject(struct harness *h)
{
	uint8_t b = fz_u8(&h->in);
	unsigned long nth = 1 + fz_u8(&h->in) % 16;

	if (b & 1) {
		if (h->src)
			h->src->fail_nth = nth;
	} else {
		zs_test_fail_meta_alloc(b & 2 ? 0 : nth, false);
	}
}

static void op_free_all(struct harness *h)
{
	while (h->count > 0)
		drop_object(h, h->count - 1);
	FZ_CHECK(zs_get_total_pages(h->pool) == 0,
		 "step %lu: every object freed, the pool still counts %lu pages", h->step,
		 zs_get_total_pages(h->pool));
	if (h->src)
		FZ_CHECK(h->src->count == 0,
			 "step %lu: every object freed, the source still "
			 "has %zu pages out",
			 h->step, h->src->count);
}

static void run_op(struct harness *h)
{
	uint8_t op = fz_u8(&h->in);

	fz_maybe_fail_meta(&h->rng, h->meta_rate, 8);

	switch (op % 20) {
	case 0:
	case 1:
	case 2: op_malloc(h); break;
	case 3: op_malloc_run(h); break;
	case 4:
	case 5: op_free(h); break;
	case 6: op_map(h, ZS_MM_RW); break;
	case 7: op_map(h, ZS_MM_RO); break;
	case 8: op_map(h, ZS_MM_WO); break;
	case 9:
		if (h->count)
			verify_object(h, fz_below(&h->in, h->count), "read");
		break;
	case 10: op_write(h); break;
	case 11: op_compact(h); break;
	case 12: op_migrate(h, false, false); break;
	case 13: op_migrate(h, true, false); break;
	case 14: op_multi_map(h, false); break;
	case 15: op_multi_map(h, true); break;
	case 16: op_stats(h); break;
	case 17: op_inject(h); break;
	case 18:
		if (op & 0x80)
			op_free_all(h);
		else
			check_pool(h, "check");
		break;
	default:
		/* Free a run of objects: sparse zspages for compaction. */
		for (size_t k = 0, n = fz_below(&h->in, 512); k < n && h->count; k++)
			drop_object(h, (size_t)(fz_rand(&h->rng) % h->count));
		verify_all(h, "after freeing a run");
		break;
	}
}

/* ---- Pool creation from the input's first bytes ---- */

static bool page_size_valid(size_t ps)
{
	return ps == 0 || (ps >= 4096 && ps <= 65536 && (ps & (ps - 1)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct harness hs;
	struct harness *h = &hs;
	struct zs_pool_config cfg;
	struct fz_source src;
	uint8_t b0, mode;
	size_t ps;
	unsigned int chain;
	bool valid;

	memset(h, 0, sizeof(*h));
	memset(&src, 0, sizeof(src));
	fz_input_init(&h->in, data, size);
	zs_test_fail_meta_alloc(0, false);

	b0 = fz_u8(&h->in);
	ps = b0 >= 0xf0 ? fz_u16(&h->in) : (size_t)4096 << (b0 % 5);
	chain = fz_u8(&h->in) % 20;
	mode = fz_u8(&h->in);
	valid = page_size_valid(ps) && chain <= 16;

	memset(&cfg, 0, sizeof(cfg));
	cfg.page_size = ps;
	cfg.max_pages_per_zspage = chain;
	h->page_size = ps ? ps : 4096;
	if (mode & 3) {
		src.page_size = h->page_size;
		src.max_pages = SOURCE_BYTES / h->page_size;
		src.pages = calloc(src.max_pages, sizeof(void *));
		FZ_CHECK(src.pages != NULL, "out of memory in the harness");
		cfg.page_ops = &source_ops;
		cfg.page_ctx = &src;
		h->src = &src;
	}
	if (mode & 4) {
		src.fail_rate = 2 + fz_u8(&h->in) % 64;
		src.rng = fz_u32(&h->in);
	}
	if (mode & 8)
		h->meta_rate = 2 + fz_u8(&h->in) % 64;
	h->rng = fz_u64(&h->in);
	if (mode & 16)
		zs_test_fail_meta_alloc(1 + fz_u8(&h->in) % 32, false);

	errno = 0;
	h->pool = zs_create_pool_config(mode & 32 ? NULL : "fuzz", &cfg);
	if (!valid) {
		FZ_CHECK(h->pool == NULL && errno == EINVAL,
			 "zs_create_pool_config(page_size %zu, chain %u) gave %p, errno %d", ps,
			 chain, (void *)h->pool, errno);
		goto out;
	}
	if (!h->pool) {
		FZ_CHECK(errno == ENOMEM && (mode & 16),
			 "zs_create_pool_config(page_size %zu, chain %u) failed: %s", ps, chain,
			 strerror(errno));
		goto out;
	}
	zs_test_fail_meta_alloc(0, false);
	FZ_CHECK(zs_page_size(h->pool) == h->page_size, "page size %zu, asked %zu",
		 zs_page_size(h->pool), h->page_size);
	h->huge = zs_huge_class_size(h->pool);
	FZ_CHECK(h->huge > 0 && h->huge <= h->page_size, "huge class size %zu", h->huge);
	h->buf = malloc(h->page_size);
	FZ_CHECK(h->buf != NULL, "out of memory in the harness");

	while (!fz_done(&h->in)) {
		h->step++;
		run_op(h);
	}

	/* The end: no more faults; everything intact, consistent, given back. */
	zs_test_fail_meta_alloc(0, false);
	src.fail_nth = 0;
	src.fail_rate = 0;
	verify_all(h, "at the end");
	check_pool(h, "at the end");
	op_free_all(h);
	check_pool(h, "after freeing everything");
	zs_destroy_pool(h->pool);
	free(h->buf);
out:
	zs_test_fail_meta_alloc(0, false);
	FZ_CHECK(src.count == 0, "the pool was destroyed with %zu pages of its source out",
		 src.count);
	free(src.pages);
	return 0;
}
