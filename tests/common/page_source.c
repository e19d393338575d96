/*
 * page_source.c - the counting page source for zs_page_ops (zsmalloc pools
 * and zpool's backends): pages from one reserved arena with guard gaps or
 * adjacent, garbage-filled when handed out, optionally made inaccessible
 * when given back, counted, and failed on demand.  One source per pool aims
 * the faults at that pool.  ps->lock protects every field; the pool calls
 * the callbacks from any thread.
 */
#include <sys/mman.h>

#include "zs_test.h"

#define TU_PS_MAGIC 0x7a73707375726365ULL

static void *ps_alloc_page(void *ctx)
{
	struct tu_page_source *ps = ctx;
	unsigned char *page;
	size_t slot;

	if (!ps || ps->magic != TU_PS_MAGIC)
		tu_fail(__FILE__, __LINE__, "page source", "alloc_page got a wrong ctx %p", ctx);
	pthread_mutex_lock(&ps->lock);
	ps->alloc_calls++;
	if (ps->fail_countdown && --ps->fail_countdown == 0) {
		ps->dry = ps->fail_sticky;
		ps->alloc_failed++;
		pthread_mutex_unlock(&ps->lock);
		return NULL;
	}
	if (ps->dry || ps->nr_free == 0) {
		ps->alloc_failed++;
		pthread_mutex_unlock(&ps->lock);
		return NULL;
	}
	slot = ps->free_slots[--ps->nr_free];
	ps->in_use[slot] = 1;
	ps->live++;
	if (ps->live > ps->peak)
		ps->peak = ps->live;
	page = ps->base + slot * ps->stride;
	if (!ps->mapped[slot]) {
		if (mprotect(page, ps->page_size, PROT_READ | PROT_WRITE) != 0)
			tu_fail(__FILE__, __LINE__, "page source", "mprotect: %s", strerror(errno));
		ps->mapped[slot] = 1;
	}
	/* Garbage, so that the library cannot rely on zeroed pages. */
	memset(page, 0xa5, ps->page_size);
	pthread_mutex_unlock(&ps->lock);
	return page;
}

/* Slot of a page address handed out by ps, or (size_t)-1. */
static size_t ps_slot_of(struct tu_page_source *ps, const void *page)
{
	const unsigned char *p = page;
	size_t off;

	if (p < ps->base || p >= ps->base + ps->slots * ps->stride)
		return (size_t)-1;
	off = (size_t)(p - ps->base);
	if (off % ps->stride)
		return (size_t)-1;
	return off / ps->stride;
}

static void ps_free_page(void *ctx, void *page)
{
	struct tu_page_source *ps = ctx;
	size_t slot;

	if (!ps || ps->magic != TU_PS_MAGIC)
		tu_fail(__FILE__, __LINE__, "page source", "free_page got a wrong ctx %p", ctx);
	pthread_mutex_lock(&ps->lock);
	slot = ps_slot_of(ps, page);
	if (slot == (size_t)-1 || !ps->in_use[slot])
		tu_fail(__FILE__, __LINE__, "page source",
			"free_page(%p): not a page this source handed out, or freed twice", page);
	/* Make the page inaccessible again if asked (mprotect is slow). */
	if (ps->protect_freed) {
		if (mprotect(page, ps->page_size, PROT_NONE) != 0)
			tu_fail(__FILE__, __LINE__, "page source", "mprotect: %s", strerror(errno));
		ps->mapped[slot] = 0;
	}
	ps->in_use[slot] = 0;
	ps->free_slots[ps->nr_free++] = slot;
	ps->live--;
	ps->frees++;
	pthread_mutex_unlock(&ps->lock);
}

const struct zs_page_ops tu_page_ops = {
	.alloc_page = ps_alloc_page,
	.free_page = ps_free_page,
};

void tu_ps_init(struct tu_page_source *ps, size_t page_size, enum tu_page_layout layout, size_t slots)
{
	uintptr_t start;

	memset(ps, 0, sizeof(*ps));
	ps->magic = TU_PS_MAGIC;
	pthread_mutex_init(&ps->lock, NULL);
	ps->page_size = page_size;
	ps->layout = layout;
	ps->stride = layout == TU_PAGES_GAPPED ? 2 * page_size : page_size;
	ps->slots = slots;
	ps->mapping_len = slots * ps->stride + page_size;
	ps->mapping = mmap(NULL, ps->mapping_len, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(ps->mapping != MAP_FAILED, "page source: mmap of %zu bytes: %s", ps->mapping_len,
	      strerror(errno));
	start = ((uintptr_t)ps->mapping + page_size - 1) & ~(uintptr_t)(page_size - 1);
	ps->base = (unsigned char *)start;
	ps->in_use = calloc(slots, 1);
	ps->mapped = calloc(slots, 1);
	ps->free_slots = malloc(slots * sizeof(*ps->free_slots));
	CHECK(ps->in_use && ps->mapped && ps->free_slots, "page source: out of memory");
	/* Lowest slot on top: consecutive allocations get ascending addresses. */
	for (size_t i = 0; i < slots; i++)
		ps->free_slots[i] = slots - 1 - i;
	ps->nr_free = slots;
}

void tu_ps_destroy(struct tu_page_source *ps)
{
	munmap(ps->mapping, ps->mapping_len);
	free(ps->in_use);
	free(ps->mapped);
	free(ps->free_slots);
	pthread_mutex_destroy(&ps->lock);
	ps->magic = 0;
}

long tu_ps_live(struct tu_page_source *ps)
{
	long live;

	pthread_mutex_lock(&ps->lock);
	live = ps->live;
	pthread_mutex_unlock(&ps->lock);
	return live;
}

void tu_ps_fail_nth(struct tu_page_source *ps, unsigned long n, bool sticky)
{
	pthread_mutex_lock(&ps->lock);
	ps->fail_countdown = n;
	ps->fail_sticky = sticky;
	pthread_mutex_unlock(&ps->lock);
}

void tu_ps_set_dry(struct tu_page_source *ps, bool dry)
{
	pthread_mutex_lock(&ps->lock);
	ps->dry = dry;
	pthread_mutex_unlock(&ps->lock);
}

bool tu_ps_in_one_page(struct tu_page_source *ps, const void *p, size_t len)
{
	const unsigned char *c = p;
	uintptr_t page = (uintptr_t)c & ~(uintptr_t)(ps->page_size - 1);
	size_t slot;
	bool ok;

	if (len == 0 || (uintptr_t)c + len - 1 >= page + ps->page_size)
		return false;
	pthread_mutex_lock(&ps->lock);
	slot = ps_slot_of(ps, (void *)page);
	ok = slot != (size_t)-1 && ps->in_use[slot];
	pthread_mutex_unlock(&ps->lock);
	return ok;
}

bool tu_ps_owns_page(struct tu_page_source *ps, const void *page)
{
	size_t slot;
	bool ok;

	pthread_mutex_lock(&ps->lock);
	slot = ps_slot_of(ps, page);
	ok = slot != (size_t)-1 && ps->in_use[slot];
	pthread_mutex_unlock(&ps->lock);
	return ok;
}

struct zs_pool_config tu_ps_config(struct tu_page_source *ps, unsigned int chain)
{
	struct zs_pool_config cfg = {
		.page_size = ps->page_size,
		.max_pages_per_zspage = chain,
		.page_ops = &tu_page_ops,
		.page_ctx = ps,
	};
	return cfg;
}
