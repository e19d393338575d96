/*
 * stats.c - per-class statistics, the class table, and the page listing.
 *
 * Each class's figures are read under its lock, so one class's line is
 * consistent; the table as a whole is not a snapshot of one instant.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

ZS_API unsigned int zs_class_count(struct zs_pool *pool)
{
	(void)pool; /* every pool has as many; merged ones answer -ENOENT */
	return ZS_MAX_CLASSES;
}

ZS_API int zs_get_class_stats(struct zs_pool *pool, unsigned int index, struct zs_class_stats *stats)
{
	if (index >= ZS_MAX_CLASSES)
		return -EINVAL;
	if (pool->class_of_index[index] != index)
		return -ENOENT;
	struct size_class *c = &pool->classes[index];
	memset(stats, 0, sizeof(*stats));
	stats->index = index;
	stats->size = c->size;
	stats->pages_per_zspage = c->pages_per_zspage;
	stats->objs_per_zspage = c->objs_per_zspage;
	zs_mutex_lock(&c->lock);
	for (unsigned int g = 0; g < ZS_NR_GROUPS; g++)
		stats->zspages[g] = c->group_count[g];
	stats->obj_allocated = c->nr_zspages * c->objs_per_zspage;
	stats->obj_used = c->obj_used;
	stats->pages_used = c->pages_used;
	/* Compaction also packs zspages in place, so it can give back every
	 * page beyond the best layout of the live objects: full zspages, then
	 * one zspage filled from the front. */
	unsigned long full = c->obj_used / c->objs_per_zspage;
	size_t rest = (size_t)(c->obj_used % c->objs_per_zspage) * c->size;
	unsigned long need = full * c->pages_per_zspage +
			     (unsigned long)((rest + pool->page_size - 1) >> pool->page_shift);
	stats->freeable = c->pages_used > need ? c->pages_used - need : 0;
	zs_mutex_unlock(&c->lock);
	return 0;
}

ZS_API int zs_print_class_stats(struct zs_pool *pool, FILE *out)
{
	static const char *const group_names[ZS_NR_FULLNESS_GROUPS] = { "10%", "20%", "30%", "40%",
									"50%", "60%", "70%", "80%",
									"90%", "99%", "100%" };
	unsigned long total_groups[ZS_NR_FULLNESS_GROUPS] = { 0 };
	unsigned long total_alloc = 0, total_used = 0, total_pages = 0, total_freeable = 0;

	fprintf(out, "%5s %5s", "class", "size");
	for (unsigned int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
		fprintf(out, " %9s", group_names[g]);
	fprintf(out, " %13s %10s %10s %16s %8s\n", "obj_allocated", "obj_used", "pages_used",
		"pages_per_zspage", "freeable");

	for (unsigned int i = 0; i < ZS_MAX_CLASSES; i++) {
		struct zs_class_stats s;
		if (zs_get_class_stats(pool, i, &s) || s.obj_allocated == 0)
			continue; /* merged into another class, or holding nothing */
		fprintf(out, "%5u %5u", s.index, s.size);
		for (unsigned int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++) {
			fprintf(out, " %9lu", s.zspages[g]);
			total_groups[g] += s.zspages[g];
		}
		fprintf(out, " %13lu %10lu %10lu %16u %8lu\n", s.obj_allocated, s.obj_used,
			s.pages_used, s.pages_per_zspage, s.freeable);
		total_alloc += s.obj_allocated;
		total_used += s.obj_used;
		total_pages += s.pages_used;
		total_freeable += s.freeable;
	}
	fprintf(out, "\n%5s %5s", "Total", "");
	for (unsigned int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++)
		fprintf(out, " %9lu", total_groups[g]);
	fprintf(out, " %13lu %10lu %10lu %16s %8lu\n", total_alloc, total_used, total_pages, "",
		total_freeable);
	if (fflush(out) == EOF || ferror(out))
		return -1;
	return 0;
}

ZS_API size_t zs_list_pages(struct zs_pool *pool, void **pages, size_t max)
{
	size_t n = 0;
	zs_for_each_class (pool, c) {
		zs_mutex_lock(&c->lock);
		for (unsigned int g = 0; g < ZS_NR_GROUPS; g++)
			for (struct zspage *z = c->groups[g]; z; z = z->next)
				for (unsigned int p = 0; p < z->backed; p++, n++)
					if (n < max)
						pages[n] = zs_zspage_page(pool, z, p);
		zs_mutex_unlock(&c->lock);
	}
	return n;
}

/* Resident bytes of n bytes of a lazily touched mapping, in whole pages. */
static size_t touched_pages_bytes(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

ZS_API void zs_pool_memory(struct zs_pool *pool, struct zs_pool_memory *mem)
{
	memset(mem, 0, sizeof(*mem));
	zs_for_each_class (pool, c) {
		size_t zspage_bytes = (size_t)c->pages_per_zspage << pool->page_shift;
		size_t tail = zspage_bytes - (size_t)c->objs_per_zspage * c->size;
		zs_mutex_lock(&c->lock);
		for (unsigned int g = 0; g < ZS_NR_GROUPS; g++)
			for (struct zspage *z = c->groups[g]; z; z = z->next) {
				if (z->backed == c->pages_per_zspage)
					mem->tail_bytes += tail;
				if (!zs_zspage_contiguous(z))
					mem->page_lists += zs_meta_usable_size(z->pages);
			}
		mem->page_bytes += (size_t)c->pages_used << pool->page_shift;
		mem->object_bytes += (size_t)c->obj_used * c->size;
		mem->objects += c->obj_used;
		mem->zspages += c->nr_zspages;
		mem->zspage_index += zs_dir_bytes(&c->dir) + zs_meta_usable_size(c->batches);
		zs_mutex_unlock(&c->lock);
	}
	mem->free_slot_bytes = mem->page_bytes - mem->object_bytes - mem->tail_bytes;

	zs_mutex_lock(&pool->source.lock);
	mem->warm_bytes = (size_t)pool->source.nr_warm * pool->page_size;
	for (struct zs_arena_chunk *ch = pool->source.chunks; ch; ch = ch->next)
		mem->pool += sizeof(*ch) + (ch->npages + 63) / 64 * sizeof(uint64_t);
	zs_mutex_unlock(&pool->source.lock);

	/* Entries are handed out in order, so the table's blocks are resident
	 * up to the last entry handed out; the directory is touched as blocks
	 * are added. */
	uint32_t entries = atomic_load(&pool->handles.next_index);
	uint32_t full_blocks = entries >> ZS_ENTRY_BLOCK_SHIFT;
	uint32_t last = entries & (ZS_ENTRY_BLOCK - 1);
	mem->handle_table = (size_t)full_blocks * ZS_ENTRY_BLOCK_BYTES +
			    touched_pages_bytes((size_t)last * sizeof(uint32_t)) +
			    touched_pages_bytes(last) +
			    touched_pages_bytes(((size_t)full_blocks + 1) * sizeof(void *));

	zs_mutex_lock(&pool->header_lock);
	for (struct zs_header_chunk *h = pool->header_chunks; h; h = h->next)
		mem->zspage_headers += 64 * (ZS_HEADERS_PER_CHUNK + 1);
	zs_mutex_unlock(&pool->header_lock);

	zs_mutex_lock(&pool->pagemap.lock);
	mem->pagemap = pool->pagemap.capacity * sizeof(struct zs_pagemap_slot);
	zs_mutex_unlock(&pool->pagemap.lock);

	mem->pool += sizeof(*pool) + strlen(pool->name) + 1 +
		     (size_t)ZS_MAX_CLASSES * (sizeof(*pool->classes) + sizeof(uint16_t));
	mem->metadata = mem->handle_table + mem->zspage_headers + mem->slot_maps +
			mem->zspage_index + mem->page_lists + mem->pagemap + mem->pool;
}
