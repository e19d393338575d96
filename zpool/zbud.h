/*
 * zbud.h - the zbud backend of libzpool (internal; zpool.c and the tests use
 * it, users reach it through <zpool.h> as backend "zbud").
 *
 * At most two objects ("buddies") per page: the first placed right after the
 * page header, the last ending at the page end.  See zbud.c for the design.
 */
#ifndef ZPOOL_ZBUD_H
#define ZPOOL_ZBUD_H

#include <stddef.h>
#include <stdio.h>
#include <zpool.h>

#include "zpool_internal.h"

#define ZBUD_CHUNK_SIZE 64	/* allocation granule, and the header's size */

struct zbud_pool;

struct zbud_stats {
	unsigned long pages;		/* pages held from the page source */
	unsigned long objects;		/* live objects */
	unsigned long buddied_pages;	/* pages holding two objects */
	unsigned long unbuddied_pages;	/* pages holding one object */
	unsigned long long stored_bytes;	/* sum of the live objects' sizes */
	unsigned long long chunk_bytes;	/* bytes the live objects' chunks take */
};

/* NULL with errno EINVAL (bad page size) or ENOMEM. */
struct zbud_pool *zbud_create(const char *name, const struct zpool_config *config);
void zbud_destroy(struct zbud_pool *pool);

/* Sizes 1..zbud_max_size(); 0 with errno EINVAL, E2BIG or ENOMEM. */
unsigned long zbud_alloc(struct zbud_pool *pool, size_t size);
void zbud_free(struct zbud_pool *pool, unsigned long handle);

/* Pointer to the object's bytes in its page; objects never move. */
void *zbud_map(struct zbud_pool *pool, unsigned long handle);
/* The size given to zbud_alloc. */
size_t zbud_obj_size(struct zbud_pool *pool, unsigned long handle);

size_t zbud_max_size(struct zbud_pool *pool);
size_t zbud_huge_size(struct zbud_pool *pool);
unsigned long zbud_total_pages(struct zbud_pool *pool);
void zbud_get_stats(struct zbud_pool *pool, struct zbud_stats *stats);
int zbud_print_stats(struct zbud_pool *pool, FILE *out);

/* For tests: how many objects share the page of handle (1 or 2). */
unsigned int zbud_objects_in_page(struct zbud_pool *pool, unsigned long handle);
/* Walks every page list and checks headers, list placement and counters
 * against each other.  0 when consistent, else -1 and a reason in why. */
int zbud_check(struct zbud_pool *pool, char *why, size_t why_len);

extern const struct zpool_backend zbud_backend;

#endif /* ZPOOL_ZBUD_H */
