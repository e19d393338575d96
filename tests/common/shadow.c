/*
 * shadow.c - object access helpers that rotate through every access method,
 * the shadow model (a copy of every live object, checked byte by byte
 * against the pool), and page migration helpers.  A shadow belongs to one
 * thread; the pool functions it calls take the pool's own locks.
 */
#include "zs_test.h"

void tu_obj_store(struct zs_pool *pool, unsigned long handle, const void *data, size_t size,
		  enum tu_access how)
{
	bool rw = how == TU_ACCESS_MAP_RW;
	void *p;

	if (how == TU_ACCESS_OBJ) {
		zs_obj_write(pool, handle, (void *)data, size);
		return;
	}
	p = zs_map_object(pool, handle, rw ? ZS_MM_RW : ZS_MM_WO);
	CHECK(p != NULL, "zs_map_object(%s) returned NULL for handle %#lx", rw ? "RW" : "WO", handle);
	memcpy(p, data, size);
	zs_unmap_object(pool, handle);
}

void tu_obj_verify(struct zs_pool *pool, unsigned long handle, const void *expect, size_t size,
		   enum tu_access how, void *scratch, const char *where)
{
	bool rw = how == TU_ACCESS_MAP_RW;
	const void *p;
	size_t diff;

	if (how == TU_ACCESS_OBJ) {
		p = zs_obj_read_begin(pool, handle, scratch);
		CHECK(p != NULL, "%s: zs_obj_read_begin returned NULL", where);
		diff = tu_first_diff(p, expect, size);
		zs_obj_read_end(pool, handle, (void *)p);
	} else {
		p = zs_map_object(pool, handle, rw ? ZS_MM_RW : ZS_MM_RO);
		CHECK(p != NULL, "%s: zs_map_object(%s) returned NULL", where, rw ? "RW" : "RO");
		diff = tu_first_diff(p, expect, size);
		zs_unmap_object(pool, handle);
	}
	if (diff != size)
		tu_fail(__FILE__, __LINE__, "object bytes differ from the shadow",
			"%s: handle %#lx, size %zu, first difference at byte %zu", where, handle,
			size, diff);
}

void tu_shadow_init(struct tu_shadow *sh)
{
	memset(sh, 0, sizeof(*sh));
}

struct tu_obj *tu_shadow_add(struct tu_shadow *sh, unsigned long handle, const void *data, size_t size)
{
	struct tu_obj *o;

	if (sh->count == sh->cap) {
		sh->cap = sh->cap ? 2 * sh->cap : 256;
		sh->objs = realloc(sh->objs, sh->cap * sizeof(*sh->objs));
		CHECK(sh->objs != NULL, "out of memory in the shadow");
	}
	o = &sh->objs[sh->count++];
	o->handle = handle;
	o->size = size;
	o->data = malloc(size);
	CHECK(o->data != NULL, "out of memory in the shadow");
	memcpy(o->data, data, size);
	sh->bytes += size;
	return o;
}

void tu_shadow_remove(struct tu_shadow *sh, size_t i)
{
	sh->bytes -= sh->objs[i].size;
	free(sh->objs[i].data);
	sh->objs[i] = sh->objs[--sh->count];
}

unsigned long tu_shadow_alloc(struct zs_pool *pool, struct tu_shadow *sh, struct tu_rng *rng,
			      size_t size, enum tu_access how, void *scratch)
{
	unsigned long handle = zs_malloc(pool, size);
	int saved;

	if (!handle)
		return 0;
	saved = errno;
	CHECK(zs_obj_size(pool, handle) >= size, "zs_obj_size %zu < size asked %zu",
	      zs_obj_size(pool, handle), size);
	tu_fill_random(rng, scratch, size);
	tu_obj_store(pool, handle, scratch, size, how);
	tu_shadow_add(sh, handle, scratch, size);
	errno = saved;
	return handle;
}

void tu_shadow_rewrite(struct zs_pool *pool, struct tu_shadow *sh, struct tu_rng *rng, size_t i,
		       enum tu_access how)
{
	struct tu_obj *o = &sh->objs[i];

	tu_fill_random(rng, o->data, o->size);
	tu_obj_store(pool, o->handle, o->data, o->size, how);
}

void tu_shadow_free(struct zs_pool *pool, struct tu_shadow *sh, size_t i)
{
	zs_free(pool, sh->objs[i].handle);
	tu_shadow_remove(sh, i);
}

void tu_shadow_verify_all(struct zs_pool *pool, struct tu_shadow *sh, void *scratch, const char *where)
{
	for (size_t i = 0; i < sh->count; i++)
		tu_obj_verify(pool, sh->objs[i].handle, sh->objs[i].data, sh->objs[i].size,
			      (enum tu_access)(i % TU_ACCESS_COUNT), scratch, where);
}

void tu_shadow_free_all(struct zs_pool *pool, struct tu_shadow *sh)
{
	while (sh->count)
		tu_shadow_free(pool, sh, sh->count - 1);
}

void tu_shadow_destroy(struct tu_shadow *sh)
{
	for (size_t i = 0; i < sh->count; i++)
		free(sh->objs[i].data);
	free(sh->objs);
	memset(sh, 0, sizeof(*sh));
}

struct zs_pool *tu_create_pool(const char *name, const struct zs_pool_config *cfg)
{
	struct zs_pool *pool = cfg ? zs_create_pool_config(name, cfg) : zs_create_pool(name);

	CHECK(pool != NULL, "zs_create_pool_config(%s, page_size %zu, chain %u): %s", name,
	      cfg ? cfg->page_size : 0, cfg ? cfg->max_pages_per_zspage : 0, strerror(errno));
	return pool;
}

int tu_migrate_page(struct zs_pool *pool, void *page)
{
	void *newpage = zs_page_source_alloc(pool);
	int ret;

	if (!newpage) {
		CHECK(errno == ENOMEM, "zs_page_source_alloc: NULL with errno %d, not ENOMEM", errno);
		return -ENOMEM;
	}
	ret = zs_page_migrate(pool, page, newpage);
	if (ret == 0)
		zs_page_source_free(pool, page);
	else
		zs_page_source_free(pool, newpage);
	return ret;
}

unsigned long tu_migrate_random(struct zs_pool *pool, struct tu_rng *rng, unsigned long count,
				int flags)
{
	size_t room = zs_get_total_pages(pool) + 16, listed;
	void **pages;
	unsigned long moved = 0;

	pages = malloc(room * sizeof(*pages));
	CHECK(pages != NULL, "out of memory");
	listed = zs_list_pages(pool, pages, room);
	if (flags & TU_MIG_STRICT)
		CHECK_EQ(listed, zs_get_total_pages(pool), "zs_list_pages count");
	if (listed > room)
		listed = room;
	for (unsigned long i = 0; i < count && listed; i++) {
		size_t pick = tu_below(rng, listed);
		void *page = pages[pick];
		int ret = tu_migrate_page(pool, page);

		pages[pick] = pages[--listed];
		if (ret == 0)
			moved++;
		else if (ret == -ENOMEM && (flags & TU_MIG_ENOMEM))
			continue;
		else if (flags & TU_MIG_STRICT)
			tu_fail(__FILE__, __LINE__, "zs_page_migrate failed",
				"page %p of the pool, nothing mapped: returned %d", page, ret);
		else
			CHECK(ret == -EAGAIN || ret == -EINVAL, "zs_page_migrate(%p) = %d", page,
			      ret);
	}
	free(pages);
	return moved;
}

struct zs_pool *tu_ps_pool(struct tu_page_source *ps, const char *name, size_t page_size,
			   enum tu_page_layout layout, size_t slots, unsigned int chain)
{
	struct zs_pool_config cfg;

	tu_ps_init(ps, page_size, layout, slots);
	cfg = tu_ps_config(ps, chain);
	return tu_create_pool(name, &cfg);
}

void tu_pool_teardown(struct zs_pool *pool, struct tu_shadow *sh, struct tu_page_source *src,
		      void *scratch, const char *where)
{
	tu_shadow_verify_all(pool, sh, scratch, where);
	CHECK_POOL(pool, "%s", where);
	if (src)
		CHECK_EQ(zs_get_total_pages(pool), tu_ps_live(src),
			 "%s: pool pages vs pages held from the source", where);
	tu_shadow_free_all(pool, sh);
	CHECK_EQ(zs_get_total_pages(pool), 0, "%s: pages after freeing all", where);
	if (src)
		CHECK_EQ(tu_ps_live(src), 0, "%s: pages not given back to the source", where);
	CHECK_POOL(pool, "%s", where);
	zs_destroy_pool(pool);
	tu_shadow_destroy(sh);
	if (src)
		tu_ps_destroy(src);
}
