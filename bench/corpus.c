/*
 * corpus.c - zsbench's page corpus: page sources, compression, datasets.
 *
 * A page source is any file, read as whole 4 KiB pages (a trailing partial
 * page is left out): the page files zs-capture writes from real programs'
 * memory, or a VM image, a core dump, a binary.  Every page is compressed
 * once, with the real liblz4 or libzstd, the way zram does it:
 *   - a page that is one 8-byte word repeated is "same-filled": zram keeps
 *     the word in its slot table and allocates nothing, so it is counted
 *     apart and given to no allocator;
 *   - a page whose compressed size is >= the huge threshold (by default
 *     zs_huge_class_size() of a default zsmalloc pool) is stored raw, as a
 *     whole page, as zram does; every peer gets the same object sizes.
 * All arrays are in shared mappings, so that a forked child's anonymous
 * resident memory counts the allocator under test and nothing of ours.
 */
#define _GNU_SOURCE
#include "zsbench.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "cli.h"   /* tools/cli: the progress bar */
#include "pages.h" /* common/: the same-filled check */

void *zsb_shared_alloc(size_t bytes)
{
	void *p;

	if (bytes == 0)
		bytes = 1;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "zsbench: cannot map %zu bytes of shared memory: %s\n", bytes,
			strerror(errno));
		exit(1);
	}
	return p;
}

void zsb_shared_free(void *p, size_t bytes)
{
	if (p)
		munmap(p, bytes ? bytes : 1);
}

static void source_name_from_path(char *name, size_t len, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	snprintf(name, len, "%s", base);
	n = strlen(name);
	if (n > 6 && strcmp(name + n - 6, ".pages") == 0)
		name[n - 6] = '\0';
}

/* Maps one source file; returns its page count, or -1 with a message. */
static long map_source(const char *path, const unsigned char **data)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fprintf(stderr, "zsbench: cannot open page source '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "zsbench: page source '%s' is not a regular file\n", path);
		close(fd);
		return -1;
	}
	if (st.st_size < ZSB_PAGE_SIZE) {
		fprintf(stderr,
			"zsbench: page source '%s' holds no whole %d-byte page (%lld bytes)\n",
			path, ZSB_PAGE_SIZE, (long long)st.st_size);
		close(fd);
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		fprintf(stderr, "zsbench: cannot map '%s': %s\n", path, strerror(errno));
		return -1;
	}
	*data = map;
	return (long)(st.st_size / ZSB_PAGE_SIZE);
}

int zsb_corpus_load(struct zsb_corpus *c, char **paths, unsigned int npaths, enum zsb_compressor comp,
		    int level, size_t huge_threshold, const char *huge_rule, int progress)
{
	const unsigned char *maps[ZSB_MAX_SOURCES];
	unsigned char out[ZSB_PAGE_SIZE * 2];
	ZSTD_CCtx *zctx = NULL;
	size_t total = 0, page, obj = 0;
	unsigned int i;
	double start;

	memset(c, 0, sizeof(*c));
	c->compressor = comp;
	c->level = level;
	c->huge_threshold = huge_threshold;
	c->huge_rule = huge_rule;
	if (npaths == 0 || npaths > ZSB_MAX_SOURCES) {
		fprintf(stderr, "zsbench: need 1..%d page sources, got %u\n", ZSB_MAX_SOURCES,
			npaths);
		return -1;
	}
	for (i = 0; i < npaths; i++) {
		struct zsb_source *s = &c->sources[i];
		long n = map_source(paths[i], &maps[i]);

		if (n < 0)
			return -1;
		source_name_from_path(s->name, sizeof(s->name), paths[i]);
		snprintf(s->path, sizeof(s->path), "%s", paths[i]);
		s->first_page = total;
		s->npages = (size_t)n;
		total += (size_t)n;
	}
	c->nsources = npaths;
	c->npages = total;
	c->page_data = zsb_shared_alloc(total * sizeof(*c->page_data));
	c->page_obj = zsb_shared_alloc(total * sizeof(*c->page_obj));
	c->obj_offset = zsb_shared_alloc(total * sizeof(*c->obj_offset));
	c->obj_size = zsb_shared_alloc(total * sizeof(*c->obj_size));
	c->blob = zsb_shared_alloc(total * (size_t)ZSB_PAGE_SIZE);
	if (comp == ZSB_ZSTD) {
		zctx = ZSTD_createCCtx();
		if (!zctx) {
			fprintf(stderr, "zsbench: ZSTD_createCCtx failed\n");
			return -1;
		}
	}

	start = zsb_now();
	for (i = 0; i < npaths; i++) {
		struct zsb_source *s = &c->sources[i];
		struct zs_progress bar;
		char label[128];

		snprintf(label, sizeof(label), "zsbench: compressing %s with %s", s->name,
			 comp == ZSB_LZ4 ? "lz4" : "zstd");
		zs_progress_begin(&bar, label, (uint64_t)s->npages * ZSB_PAGE_SIZE, progress);
		if (progress && !bar.on)
			fprintf(stderr, "zsbench: compressing %s (%zu pages, %.1f MB) with %s\n",
				s->name, s->npages, s->npages * (double)ZSB_PAGE_SIZE / 1e6,
				comp == ZSB_LZ4 ? "lz4" : "zstd");
		for (page = 0; page < s->npages; page++) {
			const unsigned char *src = maps[i] + page * ZSB_PAGE_SIZE;
			size_t gi = s->first_page + page, len;

			if ((page & 255) == 255)
				zs_progress_add(&bar, 256 * ZSB_PAGE_SIZE);

			c->page_data[gi] = src;
			if (zs_page_same_filled(src, ZSB_PAGE_SIZE, NULL)) {
				c->page_obj[gi] = -1;
				s->same_filled++;
				continue;
			}
			if (comp == ZSB_LZ4) {
				int n = LZ4_compress_default((const char *)src, (char *)out,
							     ZSB_PAGE_SIZE, (int)sizeof(out));
				len = n > 0 ? (size_t)n : SIZE_MAX;
			} else {
				len = ZSTD_compressCCtx(zctx, out, sizeof(out), src, ZSB_PAGE_SIZE,
							level);
				if (ZSTD_isError(len))
					len = SIZE_MAX;
			}
			if (len >= huge_threshold) {
				/* Stored raw, one whole page, as zram does. */
				len = ZSB_PAGE_SIZE;
				memcpy(c->blob + c->blob_len, src, len);
				s->huge++;
			} else {
				memcpy(c->blob + c->blob_len, out, len);
			}
			c->page_obj[gi] = (int64_t)obj;
			c->obj_offset[obj] = c->blob_len;
			c->obj_size[obj] = (uint32_t)len;
			c->blob_len += len;
			s->compressed_bytes += len;
			obj++;
		}
		zs_progress_add(&bar, (s->npages & 255) * ZSB_PAGE_SIZE);
		zs_progress_end(&bar);
	}
	c->nobjs = obj;
	c->compress_seconds = zsb_now() - start;
	ZSTD_freeCCtx(zctx);
	if (obj == 0) {
		fprintf(stderr,
			"zsbench: every page of the corpus is same-filled: nothing to store\n");
		return -1;
	}
	return 0;
}

/* Counts what the pages of d (already in place) hold. */
static void dataset_count(struct zsb_dataset *d, const struct zsb_corpus *c)
{
	size_t i;

	d->nobjs = d->same_filled = 0;
	d->payload = 0;
	for (i = 0; i < d->nslots; i++) {
		int64_t o = c->page_obj[d->pages[i]];

		if (o < 0) {
			d->same_filled++;
		} else {
			d->nobjs++;
			d->payload += c->obj_size[o];
		}
	}
}

static struct zsb_dataset *dataset_fill(struct zsb_dataset *d, const struct zsb_corpus *c,
					const uint32_t *pages, size_t n)
{
	d->pages = zsb_shared_alloc(n * sizeof(*d->pages));
	memcpy(d->pages, pages, n * sizeof(*pages));
	d->nslots = n;
	dataset_count(d, c);
	return d;
}

int zsb_dataset_source(const struct zsb_corpus *c, unsigned int i, unsigned int scale,
		       struct zsb_dataset *d)
{
	const struct zsb_source *s = &c->sources[i];
	size_t k, r;

	memset(d, 0, sizeof(*d));
	/* The child keeps slot numbers in 32 bits (its live list). */
	if (scale == 0 || s->npages > UINT32_MAX / scale) {
		fprintf(stderr, "zsbench: %s repeated %u times is more than %u pages\n", s->name,
			scale, UINT32_MAX);
		return -1;
	}
	if (scale > 1) {
		if (snprintf(d->name, sizeof(d->name), "%s-x%u", s->name, scale) >=
		    (int)sizeof(d->name))
			fprintf(stderr, "zsbench: dataset name cut to '%s'\n", d->name);
	} else {
		snprintf(d->name, sizeof(d->name), "%s", s->name);
	}
	d->scale = scale;
	d->nslots = s->npages * scale;
	/* Written straight into the shared mapping: at --scale 10 the list is
	 * megabytes, and no copy of it is left in the parent's heap, which a
	 * child would inherit. */
	d->pages = zsb_shared_alloc(d->nslots * sizeof(*d->pages));
	for (r = 0; r < scale; r++)
		for (k = 0; k < s->npages; k++)
			d->pages[r * s->npages + k] = (uint32_t)(s->first_page + k);
	dataset_count(d, c);
	if (d->nobjs == 0) { /* all same-filled: nothing to store, no dataset */
		zsb_shared_free(d->pages, d->nslots * sizeof(*d->pages));
		d->pages = NULL;
		return -1;
	}
	return 0;
}

static void format_size(char *buf, size_t len, uint64_t bytes)
{
	if (bytes >= (1ULL << 30) && bytes % (1ULL << 30) == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(bytes >> 30));
	else if (bytes >= (1ULL << 20) && bytes % (1ULL << 20) == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(bytes >> 20));
	else if (bytes >= 1024 && bytes % 1024 == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(bytes >> 10));
	else
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

int zsb_dataset_mixed(const struct zsb_corpus *c, uint64_t target, uint64_t seed,
		      struct zsb_dataset *d)
{
	uint32_t *order = malloc(c->npages * sizeof(*order));
	uint32_t *pages = NULL;
	size_t n = 0, cap = 0, k;
	uint64_t payload = 0;
	char size[32];

	if (!order || c->nobjs == 0) {
		free(order);
		return -1;
	}
	for (k = 0; k < c->npages; k++)
		order[k] = (uint32_t)k;
	zsb_shuffle(order, c->npages, seed);
	for (k = 0; payload < target; k = (k + 1) % c->npages) {
		int64_t o = c->page_obj[order[k]];

		if (n == cap) {
			uint32_t *grown;

			cap = cap ? cap * 2 : 4096;
			grown = realloc(pages, cap * sizeof(*pages));
			if (!grown) {
				free(pages);
				free(order);
				return -1;
			}
			pages = grown;
		}
		pages[n++] = order[k];
		if (o >= 0)
			payload += c->obj_size[o];
	}
	memset(d, 0, sizeof(*d));
	d->scale = 1;
	format_size(size, sizeof(size), target);
	snprintf(d->name, sizeof(d->name), "mix-%s", size);
	dataset_fill(d, c, pages, n);
	free(pages);
	free(order);
	return 0;
}
