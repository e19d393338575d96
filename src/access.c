/*
 * access.c - reaching an object's bytes: map/unmap, read_begin/end, write.
 *
 * No lock is taken: the caller guards the object's zspage (a hazard slot
 * for read and write, a pin for map; see struct zspage in internal.h), which
 * keeps compaction and migration away from it until the guard is dropped.  An object whose bytes are contiguous in memory (any
 * object of a contiguous zspage; in a chained zspage, one that does not
 * cross a page boundary or whose two pages happen to be adjacent) is reached
 * in place.  Otherwise map copies it into a buffer of the calling thread
 * (RO/RW) and unmap copies it back (RW/WO); read_begin copies it into the
 * caller's buffer; write copies in two pieces.
 *
 * Each thread keeps a record of the mappings it holds (any number), so that
 * unmap finds the buffer and the zspage, and an unmap without a map is
 * caught.  Records and buffers are freed when the thread exits.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- Object location ---- */

static inline size_t obj_offset(const struct size_class *c, unsigned int slot)
{
	return (size_t)slot * c->size;
}

char *zs_obj_in_place(const struct zs_pool *pool, const struct size_class *c,
		      const struct zspage *z, unsigned int slot)
{
	size_t off = obj_offset(c, slot);
	if (zs_zspage_contiguous(z))
		return z->base + off;
	unsigned int i = (unsigned int)(off >> pool->page_shift);
	size_t in = off & (pool->page_size - 1);
	char *page = z->pages[i];
	if (in + c->size <= pool->page_size || (char *)z->pages[i + 1] == page + pool->page_size)
		return page + in;
	return NULL;
}

/* Copies len bytes of the object at slot of z out to buf (out) or in from
 * it: in one piece when the object is in place, else its bytes to the end
 * of their page, then the rest from the start of the next page. */
static inline void obj_copy(const struct zs_pool *pool, const struct size_class *c,
			    const struct zspage *z, unsigned int slot, char *buf, size_t len,
			    bool out)
{
	char *piece[2] = { zs_obj_in_place(pool, c, z, slot), NULL };
	size_t n[2] = { len, 0 };
	if (!piece[0]) {
		size_t off = obj_offset(c, slot);
		unsigned int i = (unsigned int)(off >> pool->page_shift);
		size_t in = off & (pool->page_size - 1);
		piece[0] = (char *)z->pages[i] + in;
		piece[1] = z->pages[i + 1];
		n[0] = pool->page_size - in < len ? pool->page_size - in : len;
		n[1] = len - n[0];
	}
	for (unsigned int k = 0; k < 2 && n[k]; buf += n[k], k++)
		memcpy(out ? buf : piece[k], out ? piece[k] : buf, n[k]);
}

void zs_obj_copy_out(const struct zs_pool *pool, const struct size_class *c, const struct zspage *z,
		     unsigned int slot, void *dst, size_t len)
{
	obj_copy(pool, c, z, slot, dst, len, true);
}

void zs_obj_copy_in(const struct zs_pool *pool, const struct size_class *c, const struct zspage *z,
		    unsigned int slot, const void *src, size_t len)
{
	obj_copy(pool, c, z, slot, (char *)src, len, false); /* only read */
}

/* ---- Guarding: a hazard slot (read, write) or a pin (map) ---- */

struct pinned {
	struct size_class *class;
	struct zspage *zspage;
	unsigned int slot;
	_Atomic(struct zspage *) *hazard; /* the slot that guards zspage; NULL: pinned */
};

/* Holds the zspage that holds handle's object against compaction and
 * migration: in a hazard slot of this thread when use_slot and one is free
 * (hazard.c), else by its pins counter.  Aborts on a dead handle. */
static inline __attribute__((always_inline)) void guard_object(struct zs_pool *pool,
							       unsigned long handle, const char *what,
							       bool use_slot, struct pinned *out)
{
	struct zs_handle_parts h;
	zs_handle_decode(pool, handle, what, &h);
	struct size_class *c = h.class;
	for (;;) {
		uint32_t e = atomic_load_explicit(h.entry, memory_order_acquire);
		if (zs_unlikely(!(e & ZS_ENTRY_USED) ||
				atomic_load_explicit(h.entry_gen, memory_order_relaxed) != h.gen))
			zs_handle_check_entry(pool, handle, what, &h, e); /* aborts */
		uint32_t number = zs_entry_number(c, e);
		struct zspage *z = zs_dir_lookup(&c->dir, number);
		if (zs_unlikely(!z)) {
			/* The object moved and its old zspage went between the
			 * two loads, or the entry is corrupt: under the class
			 * lock the entry and the directory agree, so tell. */
			zs_mutex_lock(&c->lock);
			zs_handle_check_entry(pool, handle, what, &h, atomic_load(h.entry));
			zs_mutex_unlock(&c->lock);
			continue;
		}
		_Atomic(struct zspage *) *hazard = use_slot ? zs_hazard_set(z, handle) : NULL;
		if (!hazard)
			atomic_fetch_add(&z->pins, 1);
		/* Guarded, not moving, and still where the entry and the
		 * directory say: then nothing can move it until released. */
		if (zs_likely(atomic_load(&z->moving) == 0 && atomic_load(h.entry) == e &&
			      zs_dir_lookup(&c->dir, number) == z)) {
			if (zs_unlikely(z->class_index != c->index))
				zs_handle_check_entry(pool, handle, what, &h, e); /* aborts */
			out->class = c;
			out->zspage = z;
			out->slot = zs_entry_slot(c, e);
			out->hazard = hazard;
			return;
		}
		if (hazard)
			atomic_store_explicit(hazard, NULL, memory_order_release);
		else
			atomic_fetch_sub(&z->pins, 1);
		/* Compaction or migration is moving this zspage: a few
		 * microseconds at most; let it finish. */
		while (atomic_load(&z->moving) && atomic_load(h.entry) == e)
			sched_yield();
	}
}

static inline void unpin(struct zs_pool *pool, struct zspage *z, unsigned long handle)
{
	uint32_t before = atomic_fetch_sub_explicit(&z->pins, 1, memory_order_release);
	if (zs_unlikely(before == 0))
		zs_fatal(pool, "handle %#lx: released more often than mapped or read", handle);
}

/* ---- Per-thread mapping records ---- */

struct mapping {
	struct zs_pool *pool;
	unsigned long handle;
	struct zspage *zspage;
	unsigned int slot;
	enum zs_mapmode mode;
	char *copy; /* the thread's buffer, or NULL when in place */
	size_t copy_size;
};

struct thread_maps {
	struct mapping *maps;
	unsigned int count, cap;
	/* Spare copy buffers, kept for the next map. */
	char *spare[4];
	size_t spare_size[4];
};

static __thread struct thread_maps *tls_maps __attribute__((tls_model("initial-exec")));
static pthread_key_t maps_key;
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static void thread_maps_free(void *p)
{
	struct thread_maps *tm = p;
	for (unsigned int i = 0; i < tm->count; i++)
		free(tm->maps[i].copy);
	for (unsigned int i = 0; i < 4; i++)
		free(tm->spare[i]);
	free(tm->maps);
	free(tm);
}

static void maps_key_create(void)
{
	pthread_key_create(&maps_key, thread_maps_free);
}

static struct thread_maps *thread_maps(void)
{
	struct thread_maps *tm = tls_maps;
	if (zs_likely(tm))
		return tm;
	pthread_once(&maps_once, maps_key_create);
	tm = calloc(1, sizeof(*tm));
	if (!tm)
		return NULL;
	tls_maps = tm;
	pthread_setspecific(maps_key, tm);
	return tm;
}

static char *buffer_get(struct thread_maps *tm, size_t size)
{
	for (unsigned int i = 0; i < 4; i++)
		if (tm->spare[i] && tm->spare_size[i] >= size) {
			char *b = tm->spare[i];
			tm->spare[i] = NULL;
			return b;
		}
	return malloc(size);
}

static void buffer_put(struct thread_maps *tm, char *b, size_t size)
{
	for (unsigned int i = 0; i < 4; i++)
		if (!tm->spare[i]) {
			tm->spare[i] = b;
			tm->spare_size[i] = size;
			return;
		}
	free(b);
}

ZS_API void *zs_map_object(struct zs_pool *pool, unsigned long handle, enum zs_mapmode mm)
{
	struct thread_maps *tm = thread_maps();
	if (!tm || (tm->count == tm->cap && tm->cap >= 1u << 20))
		goto nomem;
	if (tm->count == tm->cap) {
		unsigned int cap = tm->cap ? tm->cap * 2 : 8;
		struct mapping *m = realloc(tm->maps, cap * sizeof(*m));
		if (!m)
			goto nomem;
		tm->maps = m;
		tm->cap = cap;
	}
	struct pinned pin;
	guard_object(pool, handle, "zs_map_object", false, &pin);
	struct mapping *m = &tm->maps[tm->count];
	*m = (struct mapping){
		.pool = pool, .handle = handle, .zspage = pin.zspage, .slot = pin.slot, .mode = mm
	};
	char *p = zs_obj_in_place(pool, pin.class, pin.zspage, pin.slot);
	if (!p) {
		m->copy = buffer_get(tm, pool->page_size);
		if (!m->copy) {
			unpin(pool, pin.zspage, handle);
			goto nomem;
		}
		m->copy_size = pool->page_size;
		if (mm != ZS_MM_WO)
			zs_obj_copy_out(pool, pin.class, pin.zspage, pin.slot, m->copy,
					pin.class->size);
		p = m->copy;
	}
	tm->count++;
	return p;
nomem:
	errno = ENOMEM;
	return NULL;
}

ZS_API void zs_unmap_object(struct zs_pool *pool, unsigned long handle)
{
	struct thread_maps *tm = tls_maps;
	unsigned int i = tm ? tm->count : 0;
	while (i > 0 && !(tm->maps[i - 1].pool == pool && tm->maps[i - 1].handle == handle))
		i--;
	if (zs_unlikely(i == 0))
		zs_fatal(pool, "zs_unmap_object: handle %#lx is not mapped by this thread", handle);
	struct mapping m = tm->maps[i - 1];
	memmove(&tm->maps[i - 1], &tm->maps[i], (tm->count - i) * sizeof(*tm->maps));
	tm->count--;
	if (m.copy) {
		if (m.mode != ZS_MM_RO) {
			const struct size_class *c = &pool->classes[m.zspage->class_index];
			zs_obj_copy_in(pool, c, m.zspage, m.slot, m.copy, c->size);
		}
		buffer_put(tm, m.copy, m.copy_size);
	}
	unpin(pool, m.zspage, handle);
}

ZS_API void *zs_obj_read_begin(struct zs_pool *pool, unsigned long handle, void *local_copy)
{
	struct pinned pin;
	guard_object(pool, handle, "zs_obj_read_begin", true, &pin);
	char *p = zs_obj_in_place(pool, pin.class, pin.zspage, pin.slot);
	if (p)
		return p;
	zs_obj_copy_out(pool, pin.class, pin.zspage, pin.slot, local_copy, pin.class->size);
	return local_copy;
}

ZS_API void zs_obj_read_end(struct zs_pool *pool, unsigned long handle, void *handle_mem)
{
	(void)handle_mem;
	struct zs_handle_parts h;
	zs_handle_decode(pool, handle, "zs_obj_read_end", &h);
	/* Guarded: the entry cannot change under us, unless freed meanwhile. */
	uint32_t e = atomic_load_explicit(h.entry, memory_order_acquire);
	if (zs_unlikely(!(e & ZS_ENTRY_USED) ||
			atomic_load_explicit(h.entry_gen, memory_order_relaxed) != h.gen))
		zs_handle_check_entry(pool, handle, "zs_obj_read_end", &h, e); /* aborts */
	if (zs_likely(zs_hazard_clear(handle)))
		return;
	/* Pinned (no hazard slot was free), or never begun. */
	unpin(pool, zs_handle_check_entry(pool, handle, "zs_obj_read_end", &h, e), handle);
}

ZS_API void zs_obj_write(struct zs_pool *pool, unsigned long handle, void *handle_mem, size_t mem_len)
{
	struct pinned pin;
	guard_object(pool, handle, "zs_obj_write", true, &pin);
	if (zs_unlikely(mem_len > pin.class->size))
		zs_fatal(pool, "zs_obj_write: handle %#lx: %zu bytes do not fit its %u-byte object",
			 handle, mem_len, pin.class->size);
	zs_obj_copy_in(pool, pin.class, pin.zspage, pin.slot, handle_mem, mem_len);
	if (pin.hazard)
		atomic_store_explicit(pin.hazard, NULL, memory_order_release);
	else
		unpin(pool, pin.zspage, handle);
}
