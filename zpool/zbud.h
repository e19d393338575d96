/*
 * zbud.h - the zbud backend of libzpool (internal; zpool.c and the tests use
 * it, users reach it through <zpool.h> as backend "zbud").
 *
 * At most two objects ("buddies") per page: the first placed right after the
 * page header, the last ending at the page end.  See zbud.c for the design.
 * A zbud pool is a struct zpool (zpool_internal.h): these functions are the
 * entries of zbud_backend, zpool's table, as they are.  What zbud shares with
 * z3fold (destroy, max and huge size, total pages, the checker) is
 * zpool_paged's and reached as zpool_destroy, zpool_max_size, ... .
 */
#ifndef ZPOOL_ZBUD_H
#define ZPOOL_ZBUD_H

#include <stddef.h>
#include <stdio.h>
#include <zpool.h>

#include "zpool_internal.h"

#define ZBUD_CHUNK_SIZE 64 /* allocation granule, and the header's size */
/* In every page header while the page is in use (tests find it there). */
#define ZBUD_MAGIC 0x7a627564u /* "zbud" */

struct zbud_stats {
	unsigned long pages;		 /* pages held from the page source */
	unsigned long objects;		 /* live objects */
	unsigned long buddied_pages;	 /* pages holding two objects */
	unsigned long unbuddied_pages;	 /* pages holding one object */
	unsigned long long stored_bytes; /* sum of the live objects' sizes */
	unsigned long long chunk_bytes;	 /* bytes the live objects' chunks take */
};

/* NULL with errno EINVAL (bad page size) or ENOMEM; zpool_destroy frees it. */
struct zpool *zbud_create(const char *name, const struct zpool_config *config);

/* Sizes 1..zpool_max_size(); 0 with errno EINVAL, E2BIG, ENOSPC (page limit)
 * or ENOMEM. */
unsigned long zbud_alloc(struct zpool *pool, size_t size);
void zbud_free(struct zpool *pool, unsigned long handle);

/* Pointer to the object's bytes in its page; objects never move, so every
 * mode is the same and there is nothing to unmap. */
void *zbud_map(struct zpool *pool, unsigned long handle, enum zs_mapmode mm);
/* Copies len bytes (at most the object's size) into the object. */
void zbud_write(struct zpool *pool, unsigned long handle, const void *mem, size_t len);
/* The size given to zbud_alloc. */
size_t zbud_obj_size(struct zpool *pool, unsigned long handle);

void zbud_get_stats(struct zpool *pool, struct zbud_stats *stats);
int zbud_print_stats(struct zpool *pool, FILE *out);

/* For tests: how many objects share the page of handle (1 or 2). */
unsigned int zbud_objects_in_page(struct zpool *pool, unsigned long handle);

extern const struct zpool_backend zbud_backend;

#endif /* ZPOOL_ZBUD_H */
