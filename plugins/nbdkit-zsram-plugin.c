/*
 * nbdkit-zsram-plugin.c - an nbdkit plugin serving a libzsram store as an
 * NBD disk: a compressed RAM disk (issue 6).
 *
 * Owns: the plugin's parameters (size, algorithm, level, mem_limit,
 * page_size, dictionary, auto_dictionary, auto_dictionary_size, rest_level,
 * writeback, writeback_limit, recomp_algorithm, algorithm_params,
 * idle_recompress, allocator, stats), the one store shared by every connection, the mapping of NBD requests onto the store's
 * byte-range block view (which patches partial pages itself), extents from
 * the slot table, and the stats file.
 *
 * Every connection serves the same store (so can_multi_conn is true: a flush
 * on one connection covers writes made on all of them).  Requests run in
 * parallel; the store locks per page and the plugin takes no lock of its own
 * for I/O (stats_lock serialises only the stats file).
 */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idle_recompress.h"
#include "pages.h" /* common/: the page-size check */
#include "zsram.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#define PAGE_SIZE_MAX 65536u	   /* the store's largest page size */
#define DICT_MAX_BYTES (16u << 20) /* a larger dictionary file is a mistake */

/* ---- Configuration (set by .config, fixed after .config_complete) ---- */

static int64_t disk_size = -1; /* size=; required */
static enum zsram_algorithm algorithm = ZSRAM_ALG_LZ4;
static int level; /* 0: the algorithm's default */
static bool level_given;
static int64_t mem_limit; /* 0: none */
/* page_size=: the store's page; 0 until config_complete when not given:
 * then 32 KiB with zstd, 4 KiB otherwise (see README "Defaults"). */
static uint32_t page_size;
static char *dict_path;		/* dictionary= (absolute) */
static int auto_dict;		/* auto_dictionary=: 1 on, -1 off, 0 default */
static int64_t auto_dict_size;	/* auto_dictionary_size=; 0: the store's */
static int rest_level;		/* rest_level=; 0: the store's, -1: off */
static char *writeback_path;	/* writeback= (absolute) */
static int64_t writeback_limit; /* writeback_limit=, bytes; 0: none */
static struct zsram_codec_config recomp[ZSRAM_MAX_RECOMP]; /* recomp_algorithm= */
static unsigned int nr_recomp;
static unsigned int idle_recompress; /* idle_recompress=SECONDS; 0: off */
/* algorithm_params=, parsed at config_complete, their dictionaries read. */
static char *alg_params_text[ZSRAM_MAX_RECOMP + 1];
static struct zsram_algorithm_params alg_params[ZSRAM_MAX_RECOMP + 1];
static void *alg_params_dict[ZSRAM_MAX_RECOMP + 1];
static size_t alg_params_dict_size[ZSRAM_MAX_RECOMP + 1];
static unsigned int nr_alg_params;
static char *allocator_name; /* allocator= */
static char *stats_path;     /* stats= (absolute) */

/* ---- State ---- */

static struct zsram *store;
static void *dict_data;
static size_t dict_size;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static const unsigned char zero_page[PAGE_SIZE_MAX];

/* Parses a compression level into *out (and sets *given): an integer
 * (zstd's may be negative). */
static int parse_level(const char *key, const char *value, int *out, bool *given)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno || end == value || *end || v < INT_MIN || v > INT_MAX) {
		nbdkit_error("%s: bad level '%s' (an integer)", key, value);
		return -1;
	}
	*out = (int)v;
	*given = true;
	return 0;
}

/* Parses "NAME" or "NAME:LEVEL" for key (algorithm=, recomp_algorithm=)
 * into *alg and, with a level, *lvl and *lvl_given. */
static int parse_codec(const char *key, const char *value, enum zsram_algorithm *alg, int *lvl,
		       bool *lvl_given)
{
	char name[32];
	const char *colon = strchr(value, ':');
	size_t len = colon ? (size_t)(colon - value) : strlen(value);

	if (len == 0 || len >= sizeof(name)) {
		nbdkit_error("%s: unknown algorithm '%s' (lz4, lz4hc, zstd; "
			     "optionally NAME:LEVEL)",
			     key, value);
		return -1;
	}
	memcpy(name, value, len);
	name[len] = '\0';
	if (zsram_algorithm_from_name(name, alg) < 0) {
		nbdkit_error("%s: unknown algorithm '%s' (lz4, lz4hc, zstd; "
			     "optionally NAME:LEVEL)",
			     key, name);
		return -1;
	}
	return colon ? parse_level(key, colon + 1, lvl, lvl_given) : 0;
}

static int parse_recomp(const char *value)
{
	bool given = false;

	if (nr_recomp == ZSRAM_MAX_RECOMP) {
		nbdkit_error("recomp_algorithm: at most %d (priorities 1 to %d)", ZSRAM_MAX_RECOMP,
			     ZSRAM_MAX_RECOMP);
		return -1;
	}
	recomp[nr_recomp].level = 0;
	if (parse_codec("recomp_algorithm", value, &recomp[nr_recomp].algorithm,
			&recomp[nr_recomp].level, &given) < 0)
		return -1;
	nr_recomp++;
	return 0;
}

/* Stores an absolute copy of a path parameter; a parameter given twice is an
 * error (which one was meant is unclear). */
static int set_path(const char *key, const char *value, char **out)
{
	if (*out) {
		nbdkit_error("%s given more than once", key);
		return -1;
	}
	if (value[0] == '\0') {
		nbdkit_error("%s: empty path", key);
		return -1;
	}
	if (value[0] == '/') {
		*out = strdup(value);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd))) {
			nbdkit_error("%s: cannot resolve '%s': %m", key, value);
			return -1;
		}
		if (asprintf(out, "%s/%s", cwd, value) < 0)
			*out = NULL;
	}
	if (!*out) {
		nbdkit_error("%s: out of memory", key);
		return -1;
	}
	return 0;
}

static int zsram_plugin_config(const char *key, const char *value)
{
	if (strcmp(key, "size") == 0) {
		disk_size = nbdkit_parse_size(value);
		if (disk_size == -1)
			return -1;
		if (disk_size == 0) {
			nbdkit_error("size: must be more than 0");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "algorithm") == 0)
		return parse_codec(key, value, &algorithm, &level, &level_given);
	if (strcmp(key, "level") == 0)
		return parse_level(key, value, &level, &level_given);
	if (strcmp(key, "mem_limit") == 0) {
		mem_limit = nbdkit_parse_size(value); /* 0: no limit */
		return mem_limit == -1 ? -1 : 0;
	}
	if (strcmp(key, "page_size") == 0) {
		int64_t v = nbdkit_parse_size(value);

		if (v == -1)
			return -1;
		if (v < 0 || !zs_page_size_valid((size_t)v)) {
			nbdkit_error("page_size: %s is not a power of two from 4K "
				     "to 64K",
				     value);
			return -1;
		}
		page_size = (uint32_t)v;
		return 0;
	}
	if (strcmp(key, "dictionary") == 0)
		return set_path(key, value, &dict_path);
	if (strcmp(key, "auto_dictionary") == 0) {
		int on = nbdkit_parse_bool(value);

		if (on == -1)
			return -1;
		auto_dict = on ? 1 : -1;
		return 0;
	}
	if (strcmp(key, "auto_dictionary_size") == 0) {
		auto_dict_size = nbdkit_parse_size(value);
		if (auto_dict_size == -1)
			return -1;
		if (auto_dict_size < 256 || auto_dict_size > (1 << 20)) {
			nbdkit_error("auto_dictionary_size: %s is out of range (256 to 1M)", value);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "rest_level") == 0) {
		char *end;
		long v;

		if (strcmp(value, "off") == 0) {
			rest_level = -1;
			return 0;
		}
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < 1 || v > 22) {
			nbdkit_error("rest_level: '%s' is not a zstd level 1 .. 22 or off", value);
			return -1;
		}
		rest_level = (int)v;
		return 0;
	}
	if (strcmp(key, "writeback") == 0)
		return set_path(key, value, &writeback_path);
	if (strcmp(key, "recomp_algorithm") == 0)
		return parse_recomp(value);
	if (strcmp(key, "algorithm_params") == 0) {
		if (nr_alg_params == ZSRAM_MAX_RECOMP + 1) {
			nbdkit_error("algorithm_params: at most %d", ZSRAM_MAX_RECOMP + 1);
			return -1;
		}
		alg_params_text[nr_alg_params] = strdup(value);
		if (!alg_params_text[nr_alg_params]) {
			nbdkit_error("algorithm_params: out of memory");
			return -1;
		}
		nr_alg_params++;
		return 0;
	}
	if (strcmp(key, "idle_recompress") == 0) {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < 1 || v > 86400) {
			nbdkit_error("idle_recompress: '%s' is not a number of seconds, "
				     "1 .. 86400",
				     value);
			return -1;
		}
		idle_recompress = (unsigned int)v;
		return 0;
	}
	if (strcmp(key, "writeback_limit") == 0) {
		writeback_limit = nbdkit_parse_size(value);
		if (writeback_limit == -1)
			return -1;
		if (writeback_limit == 0) {
			nbdkit_error("writeback_limit: must be more than 0 (leave it out for "
				     "no limit)");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "stats") == 0)
		return set_path(key, value, &stats_path);
	if (strcmp(key, "allocator") == 0) {
		const char *names[8];
		size_t n = zsram_allocators(names, 8);

		for (size_t i = 0; i < n && i < 8; i++) {
			if (strcmp(value, names[i]) == 0) {
				free(allocator_name);
				allocator_name = strdup(value);
				if (!allocator_name) {
					nbdkit_error("allocator: out of memory");
					return -1;
				}
				return 0;
			}
		}
		nbdkit_error("allocator: unknown or unavailable allocator '%s' "
			     "(this build has %s%s%s%s%s)",
			     value, n > 0 ? names[0] : "", n > 1 ? ", " : "", n > 1 ? names[1] : "",
			     n > 2 ? ", " : "", n > 2 ? names[2] : "");
		return -1;
	}
	nbdkit_error("unknown parameter '%s' (see nbdkit zsram --help)", key);
	return -1;
}

/* Reads the whole dictionary file into dict_data. */
/* Reads the dictionary file path into *data (malloc'ed), *size; key names
 * the parameter in messages. */
static int load_dictionary(const char *key, const char *path, void **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	long len;

	if (!f) {
		nbdkit_error("%s: cannot open '%s': %m", key, path);
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		nbdkit_error("%s: cannot read '%s': %m", key, path);
		fclose(f);
		return -1;
	}
	if (len == 0 || (unsigned long)len > DICT_MAX_BYTES) {
		nbdkit_error("%s: '%s' is %ld bytes (expected 1..%u)", key, path, len,
			     DICT_MAX_BYTES);
		fclose(f);
		return -1;
	}
	*data = malloc((size_t)len);
	if (!*data) {
		nbdkit_error("%s: out of memory", key);
		fclose(f);
		return -1;
	}
	if (fread(*data, 1, (size_t)len, f) != (size_t)len) {
		nbdkit_error("%s: short read from '%s'", key, path);
		fclose(f);
		return -1;
	}
	fclose(f);
	*size = (size_t)len;
	return 0;
}

/* Parses each algorithm_params= and reads its dictionary. */
static int load_algorithm_params(void)
{
	for (unsigned int i = 0; i < nr_alg_params; i++) {
		struct zsram_algorithm_params *p = &alg_params[i];
		int err = zsram_parse_algorithm_params(alg_params_text[i], p);

		if (err) {
			nbdkit_error("algorithm_params: '%s': %s (priority=N or algo=NAME, with "
				     "level=N and/or dict=FILE)",
				     alg_params_text[i],
				     err == -ENAMETOOLONG ? "path too long" : "bad syntax");
			return -1;
		}
		if (!p->by_algorithm && p->priority == 0) {
			nbdkit_error("algorithm_params: '%s': for the primary algorithm, use "
				     "level= and dictionary=",
				     alg_params_text[i]);
			return -1;
		}
		if (p->dict[0] && load_dictionary("algorithm_params", p->dict, &alg_params_dict[i],
						  &alg_params_dict_size[i]) < 0)
			return -1;
	}
	return 0;
}

static int zsram_plugin_config_complete(void)
{
	if (disk_size == -1) {
		nbdkit_error("size= is required (e.g. size=4G)");
		return -1;
	}
	if (dict_path && algorithm != ZSRAM_ALG_ZSTD) {
		nbdkit_error("dictionary= needs algorithm=zstd");
		return -1;
	}
	if (auto_dict > 0 && (algorithm != ZSRAM_ALG_ZSTD || dict_path)) {
		nbdkit_error("auto_dictionary=on needs algorithm=zstd without dictionary=");
		return -1;
	}
	if (auto_dict_size && (algorithm != ZSRAM_ALG_ZSTD || dict_path || auto_dict < 0)) {
		nbdkit_error("auto_dictionary_size= needs algorithm=zstd with the automatic "
			     "dictionary (no dictionary=, no auto_dictionary=off)");
		return -1;
	}
	if (rest_level && (algorithm != ZSRAM_ALG_ZSTD || dict_path || auto_dict < 0)) {
		nbdkit_error("rest_level= needs algorithm=zstd with the automatic dictionary "
			     "(no dictionary=, no auto_dictionary=off)");
		return -1;
	}
	if (!page_size)
		page_size = algorithm == ZSRAM_ALG_ZSTD ? 32768 : 4096;
	if (dict_path && load_dictionary("dictionary", dict_path, &dict_data, &dict_size) == -1)
		return -1;
	if (load_algorithm_params() < 0)
		return -1;
	if (idle_recompress && !nr_recomp) {
		nbdkit_error("idle_recompress= needs recomp_algorithm=");
		return -1;
	}
	if (writeback_limit && !writeback_path) {
		nbdkit_error("writeback_limit= needs writeback=");
		return -1;
	}
	if (writeback_path && mem_limit == 0) {
		nbdkit_error("writeback= needs mem_limit= (pages are written back "
			     "when the limit is reached)");
		return -1;
	}
	return 0;
}

/* Creates the store before nbdkit starts serving, so that a bad level, a bad
 * dictionary or an unwritable backing file fails at start. */
static int write_stats(void);

static int zsram_plugin_get_ready(void)
{
	struct zsram_config cfg;
	uint64_t nr_pages = ((uint64_t)disk_size + page_size - 1) / page_size;

	zsram_config_init(&cfg);
	cfg.nr_pages = nr_pages;
	cfg.page_size = page_size;
	cfg.codec.algorithm = algorithm;
	cfg.codec.level = level_given ? level : 0;
	cfg.codec.dict = dict_data;
	cfg.codec.dict_size = dict_size;
	cfg.auto_dict = auto_dict;
	cfg.auto_dict_size = (size_t)auto_dict_size;
	cfg.auto_dict_rest_level = rest_level;
	cfg.mem_limit = (uint64_t)mem_limit;
	cfg.backing_file = writeback_path;
	/* zram's writeback_limit counts pages: whole pages of this store. */
	cfg.writeback_limit = (uint64_t)writeback_limit / page_size;
	if (writeback_limit && !cfg.writeback_limit) {
		nbdkit_error("writeback_limit: less than one page (%" PRIu32 " bytes)", page_size);
		return -1;
	}
	cfg.nr_recomp = nr_recomp;
	for (unsigned int p = 0; p < nr_recomp; p++)
		cfg.recomp[p] = recomp[p];
	cfg.track_access_time = idle_recompress != 0;
	for (unsigned int i = 0; i < nr_alg_params; i++) {
		int err = zsram_config_set_algorithm_params(&cfg, &alg_params[i], alg_params_dict[i],
							    alg_params_dict_size[i]);

		if (err) {
			nbdkit_error("algorithm_params: '%s': %s", alg_params_text[i],
				     err == -ENOENT ? "no such algorithm (give recomp_algorithm=)"
						    : "a dictionary is for zstd");
			return -1;
		}
	}
	cfg.allocator = allocator_name;
	cfg.name = "nbdkit-zsram";
	store = zsram_create(&cfg);
	if (!store) {
		int err = errno;

		if (err == EINVAL && level_given)
			nbdkit_error("cannot create the store: invalid configuration "
				     "(level %d out of range for %s: lz4 1.., "
				     "lz4hc 1..12, zstd -7..22%s)",
				     level, zsram_algorithm_name(algorithm),
				     dict_path ? "; or a bad dictionary" : "");
		else if (err == EINVAL && nr_recomp)
			nbdkit_error("cannot create the store: invalid configuration "
				     "(a recomp_algorithm level out of range: lz4 1.., "
				     "lz4hc 1..12, zstd -7..22)");
		else if (err == EINVAL && dict_path)
			nbdkit_error("cannot create the store: '%s' is not a usable "
				     "zstd dictionary",
				     dict_path);
		else if (err == EINVAL)
			nbdkit_error("cannot create the store: invalid configuration "
				     "(size %" PRId64 " too large?)",
				     disk_size);
		else if (writeback_path && err != ENOMEM)
			nbdkit_error("cannot create the store: writeback file '%s': "
				     "%s",
				     writeback_path, strerror(err));
		else
			nbdkit_error("cannot create the store: %s", strerror(err));
		return -1;
	}
	/* A stats= path that cannot be written is a bad parameter: refuse to
	 * start (with write_stats' message) rather than fail every flush. */
	if (write_stats() < 0) {
		zsram_destroy(store);
		store = NULL;
		return -1;
	}
	nbdkit_debug("zsram: %" PRIu64 " pages, %s level %d, mem_limit %" PRId64, nr_pages,
		     zsram_algorithm_name(algorithm), level, mem_limit);
	return 0;
}

/* Writes the mm_stat line (zram's layout) and the class table to stats=,
 * through a temporary file renamed over it, so a reader never sees half. */
static int write_stats(void)
{
	char *tmp = NULL;
	FILE *f;
	int ret = -1;

	if (!stats_path || !store)
		return 0;
	pthread_mutex_lock(&stats_lock);
	if (asprintf(&tmp, "%s.tmp", stats_path) < 0) {
		tmp = NULL;
		nbdkit_error("stats: out of memory");
		goto out;
	}
	f = fopen(tmp, "w");
	if (!f) {
		nbdkit_error("stats: cannot write '%s': %m", tmp);
		goto out;
	}
	if (zsram_print_mm_stat(store, f) < 0 || zsram_print_class_stats(store, f) < 0 ||
	    fputs("auto_dictionary: ", f) < 0 || zsram_print_dict_stat(store, f) < 0) {
		nbdkit_error("stats: write to '%s' failed: %m", tmp);
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0) {
		nbdkit_error("stats: write to '%s' failed: %m", tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, stats_path) != 0) {
		nbdkit_error("stats: cannot rename '%s' to '%s': %m", tmp, stats_path);
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	pthread_mutex_unlock(&stats_lock);
	return ret;
}

/* After the last connection: the final statistics, then the store goes. */
/* Threads do not survive nbdkit's fork into the background: this one starts
 * in the process that serves. */
static int zsram_plugin_after_fork(void)
{
	return idle_recompress ? idle_recompress_start(store, idle_recompress) : 0;
}

static void zsram_plugin_cleanup(void)
{
	idle_recompress_stop();
	write_stats();
	if (store) {
		zsram_destroy(store);
		store = NULL;
	}
}

static void zsram_plugin_unload(void)
{
	zsram_plugin_cleanup(); /* in case nbdkit never called .cleanup */
	free(dict_data);
	free(dict_path);
	for (unsigned int i = 0; i < nr_alg_params; i++) {
		free(alg_params_text[i]);
		free(alg_params_dict[i]);
	}
	free(writeback_path);
	free(allocator_name);
	free(stats_path);
}

static void zsram_plugin_dump_plugin(void)
{
	const char *names[8];
	size_t n = zsram_allocators(names, 8);

	printf("zsram_algorithms=lz4 lz4hc zstd\n");
	printf("zsram_allocators=");
	for (size_t i = 0; i < n && i < 8; i++)
		printf("%s%s", i ? " " : "", names[i]);
	printf("\n");
}

/* Every connection gets the one store. */
static void *zsram_plugin_open(int readonly)
{
	(void)readonly;
	return store;
}

static int64_t zsram_plugin_get_size(void *handle)
{
	(void)handle;
	return disk_size;
}

static int zsram_plugin_block_size(void *handle, uint32_t *minimum, uint32_t *preferred,
				   uint32_t *maximum)
{
	(void)handle;
	*minimum = 1;		/* any byte range is served exactly */
	*preferred = page_size; /* no read-modify-write below this */
	*maximum = 0xffffffff;
	return 0;
}

static int zsram_plugin_true(void *handle)
{
	(void)handle;
	return 1;
}

static int zsram_plugin_can_fua(void *handle)
{
	(void)handle;
	return NBDKIT_FUA_NATIVE; /* the store is as durable as it gets at once */
}

/* A store error as the NBD error the client sees.  Requests are range-checked
 * by nbdkit and the store takes any byte range inside the disk, so -EINVAL
 * from the store is a bug of ours: reported as EIO, loudly. */
static int fail(int ret, const char *what, uint64_t offset, uint64_t count)
{
	int err = -ret;

	if (err == EINVAL) {
		nbdkit_error("zsram: %s of %" PRIu64 " bytes at %" PRIu64
			     " refused by the store (plugin bug)",
			     what, count, offset);
		err = EIO;
	} else if (err != ENOSPC && err != ENOMEM) {
		err = EIO;
		nbdkit_error("zsram: %s of %" PRIu64 " bytes at %" PRIu64 " failed: %s", what,
			     count, offset, strerror(-ret));
	}
	nbdkit_set_error(err);
	return -1;
}

/* The client's byte range goes to the store as it is: the store cuts it at
 * page boundaries and patches partial pages under the page's lock. */
static int zsram_plugin_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	int ret = zsram_bdev_read(handle, offset, buf, count);

	(void)flags;
	return ret < 0 ? fail(ret, "read", offset, count) : 0;
}

static int zsram_plugin_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
			       uint32_t flags)
{
	int ret = zsram_bdev_write(handle, offset, buf, count);

	(void)flags;
	return ret < 0 ? fail(ret, "write", offset, count) : 0;
}

/* Zero: whole pages are discarded (may_trim: they become empty) or become
 * same-filled zero pages (nothing allocated); partial pages are patched. */
static int zsram_plugin_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
	int ret = (flags & NBDKIT_FLAG_MAY_TRIM) ? zsram_bdev_discard(handle, offset, count)
						 : zsram_bdev_zero(handle, offset, count);

	return ret < 0 ? fail(ret, "zero", offset, count) : 0;
}

/* Trim frees whole pages and zeroes the partial ones, so a trimmed range
 * always reads back as zeros (NBD allows any content; zeros are simplest). */
static int zsram_plugin_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
	int ret = zsram_bdev_discard(handle, offset, count);

	(void)flags;
	return ret < 0 ? fail(ret, "trim", offset, count) : 0;
}

static int zsram_plugin_flush(void *handle, uint32_t flags)
{
	(void)handle;
	(void)flags;
	if (write_stats() < 0) {
		nbdkit_set_error(EIO);
		return -1;
	}
	return 0;
}

/* Empty pages are holes; same-filled pages of zero words read as zeros. */
static int zsram_plugin_extents(void *handle, uint32_t count, uint64_t offset, uint32_t flags,
				struct nbdkit_extents *extents)
{
	struct zsram *z = handle;
	uint64_t end = offset + count;
	uint64_t page = offset / page_size;
	unsigned char *buf = NULL;

	if (end > (uint64_t)disk_size)
		end = (uint64_t)disk_size;
	while (offset < end) {
		struct zsram_slot_info info;
		uint64_t page_end = (page + 1) * page_size;
		uint32_t type = 0;
		int ret = zsram_slot_info(z, page, &info);

		if (ret < 0) {
			free(buf);
			return fail(ret, "extents", offset, count);
		}
		if (info.kind == ZSRAM_SLOT_EMPTY) {
			type = NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO;
		} else if (info.kind == ZSRAM_SLOT_SAME) {
			/* reading a same-filled page only fills the buffer */
			if (!buf && !(buf = malloc(page_size))) {
				nbdkit_set_error(ENOMEM);
				return -1;
			}
			if (zsram_read_page(z, page, buf) == 0 &&
			    memcmp(buf, zero_page, page_size) == 0)
				type = NBDKIT_EXTENT_ZERO;
		}
		if (page_end > end)
			page_end = end;
		if (nbdkit_add_extent(extents, offset, page_end - offset, type) == -1) {
			free(buf);
			return -1;
		}
		if (flags & NBDKIT_FLAG_REQ_ONE)
			break;
		offset = page_end;
		page++;
	}
	free(buf);
	return 0;
}

static struct nbdkit_plugin plugin = {
	.name = "zsram",
	.longname = "nbdkit zsram plugin: a compressed RAM disk (libzsram)",
	.version = "1.0",
	.description = "A RAM disk whose pages are kept compressed in a libzsram "
		       "store on libzsmalloc.",
	.unload = zsram_plugin_unload,
	.config = zsram_plugin_config,
	.config_complete = zsram_plugin_config_complete,
	.config_help = "size=<SIZE>        (required) disk size (K, M, G, T suffixes)\n"
		       "algorithm=NAME[:LEVEL]  lz4 (default), lz4hc or zstd\n"
		       "level=N            compression level (lz4: acceleration)\n"
		       "mem_limit=<SIZE>   compressed memory limit; writes past it fail\n"
		       "                   with ENOSPC (0: none)\n"
		       "page_size=<SIZE>   the store's page, compressed as one unit:\n"
		       "                   4K .. 64K, a power of two (default 32K\n"
		       "                   with zstd, 4K otherwise)\n"
		       "dictionary=FILE    zstd dictionary (algorithm=zstd)\n"
		       "auto_dictionary=on|off  zstd: train a dictionary from the pages\n"
		       "                   written (on by default without dictionary=)\n"
		       "auto_dictionary_size=<SIZE>  its size, 256 .. 1M (64K)\n"
		       "rest_level=N|off   zstd level of the dense pass at rest (6)\n"
		       "writeback=FILE     backing file for cold pages at mem_limit\n"
		       "writeback_limit=<SIZE>  at most this much written back in all\n"
		       "recomp_algorithm=NAME[:LEVEL]  a secondary algorithm, up to 3 by\n"
		       "                   priority (the order given)\n"
		       "algorithm_params=TEXT  as zram's: \"priority=N level=L dict=FILE\"\n"
		       "                   (or algo=NAME) for a recomp_algorithm\n"
		       "idle_recompress=SECONDS  every SECONDS, recompress the pages not\n"
		       "                   accessed for that long\n"
		       "allocator=NAME     zsmalloc (default), zbud, z3fold if built\n"
		       "stats=PATH         write mm_stat and the class table to PATH on\n"
		       "                   every flush and at exit",
	.magic_config_key = "size",
	.get_ready = zsram_plugin_get_ready,
	.after_fork = zsram_plugin_after_fork,
	.cleanup = zsram_plugin_cleanup,
	.dump_plugin = zsram_plugin_dump_plugin,
	.open = zsram_plugin_open,
	.get_size = zsram_plugin_get_size,
	.block_size = zsram_plugin_block_size,
	/* can_write, can_flush, can_trim, can_zero and can_extents default to
	 * true because their callbacks exist; is_rotational to false. */
	.can_fast_zero = zsram_plugin_true,
	.can_fua = zsram_plugin_can_fua,
	.can_multi_conn = zsram_plugin_true,
	.pread = zsram_plugin_pread,
	.pwrite = zsram_plugin_pwrite,
	.zero = zsram_plugin_zero,
	.trim = zsram_plugin_trim,
	.flush = zsram_plugin_flush,
	.extents = zsram_plugin_extents,
	.errno_is_preserved = 0,
};

/* Declared for -Wmissing-prototypes (clang warns inside the macro). */
struct nbdkit_plugin *plugin_init(void);
NBDKIT_REGISTER_PLUGIN(plugin)
