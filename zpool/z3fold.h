/*
 * z3fold.h - the z3fold backend of libzpool (internal; zpool.c and the tests
 * use it, users reach it through <zpool.h> as backend "z3fold").
 *
 * Up to three objects per page (first, middle, last) with in-page
 * rearrangement, reached through indirect handles.  See z3fold.c.  A z3fold
 * pool is a struct zpool (zpool_internal.h): these functions are the entries
 * of z3fold_backend, zpool's table, as they are.  What z3fold shares with
 * zbud (destroy, max and huge size, total pages, the checker) is
 * zpool_paged's and reached as zpool_destroy, zpool_max_size, ... .
 */
#ifndef ZPOOL_Z3FOLD_H
#define ZPOOL_Z3FOLD_H

#include <stddef.h>
#include <stdio.h>
#include <zpool.h>

#include "zpool_internal.h"

#define Z3FOLD_CHUNK_SIZE 16 /* allocation granule */
/* In every page header while the page is in use (tests find it there). */
#define Z3FOLD_MAGIC 0x7a33666du /* "z3fm" */

struct z3fold_stats {
	unsigned long pages;		   /* pages held from the page source */
	unsigned long objects;		   /* live objects */
	unsigned long pages_by_objects[4]; /* [n]: pages holding n objects (n = 1..3) */
	unsigned long long stored_bytes;   /* sum of the live objects' sizes */
	unsigned long long rearrangements; /* middle buddies moved, ever */
	unsigned long long deferred;	   /* rearrangements put off because mapped */
};

/* NULL with errno EINVAL (bad page size) or ENOMEM; zpool_destroy frees it. */
struct zpool *z3fold_create(const char *name, const struct zpool_config *config);

/* Sizes 1..zpool_max_size(); 0 with errno EINVAL, E2BIG, ENOSPC (page
 * limit) or ENOMEM. */
unsigned long z3fold_alloc(struct zpool *pool, size_t size);
void z3fold_free(struct zpool *pool, unsigned long handle);

/* Pins the object in place (no rearrangement of its page) until unmap. */
void *z3fold_map(struct zpool *pool, unsigned long handle, enum zs_mapmode mm);
void z3fold_unmap(struct zpool *pool, unsigned long handle);
/* Copies len bytes (at most the object's size) into the object. */
void z3fold_write(struct zpool *pool, unsigned long handle, const void *mem, size_t len);
size_t z3fold_obj_size(struct zpool *pool, unsigned long handle);

void z3fold_get_stats(struct zpool *pool, struct z3fold_stats *stats);
int z3fold_print_stats(struct zpool *pool, FILE *out);

/* For tests: which buddy the handle is now (1 first, 2 middle, 3 last), its
 * byte offset in its page, and how many objects share its page. */
unsigned int z3fold_handle_buddy(struct zpool *pool, unsigned long handle);
size_t z3fold_handle_offset(struct zpool *pool, unsigned long handle);
unsigned int z3fold_objects_in_page(struct zpool *pool, unsigned long handle);

extern const struct zpool_backend z3fold_backend;

#endif /* ZPOOL_Z3FOLD_H */
