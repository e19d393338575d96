/*
 * zsbench.h - the types shared by zsbench's parts (internal to bench/).
 *
 * Layers, one file each:
 *   corpus.c    page sources (captured memory, any file), compression into
 *               objects, datasets (which pages a run stores)
 *   peers.c     the allocators compared: glibc malloc, jemalloc, mimalloc
 *               (dlopen'd), zsmalloc, and zbud/z3fold through zpool
 *   zram.c      the kernel's zram + zsmalloc, fed the same pages, through
 *   zram_dev.c  the kernel-zram driver (lock file, safety checks, reset),
 *               shared with the zsram tool
 *   workload.c  the workloads, each peer in a forked child of its own, and
 *               resident-memory accounting
 *   report.c    the table, the JSON file and the gnuplot plot
 *   main.c      options and the order of the runs
 */
#ifndef ZSBENCH_H
#define ZSBENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZSB_PAGE_SIZE 4096
#define ZSB_MAX_SOURCES 32
#define ZSB_MAX_DATASETS 48
#define ZSB_MAX_THREADS 64
#define ZSB_NAME_LEN 64
#define ZSB_REASON_LEN 256

/* ---- corpus ---- */

enum zsb_compressor { ZSB_LZ4, ZSB_ZSTD };

/* One page source: a page file, captured or any file. */
struct zsb_source {
	char name[ZSB_NAME_LEN]; /* file name without .pages */
	char path[4096];
	size_t first_page;	   /* index of its first page in the corpus */
	size_t npages;		   /* whole pages taken from the file */
	size_t same_filled;	   /* pages that are one repeated 8-byte word */
	size_t huge;		   /* pages stored raw (did not compress enough) */
	uint64_t compressed_bytes; /* sum of stored object sizes */
};

/* Every page of every source, compressed.  All arrays live in shared
 * mappings (memfd / MAP_SHARED), so that a forked child's anonymous resident
 * memory counts the allocator under test only. */
struct zsb_corpus {
	enum zsb_compressor compressor;
	int level;	       /* zstd level; lz4: acceleration 1 */
	size_t huge_threshold; /* compressed size >= this: stored raw */
	const char *huge_rule; /* where the threshold came from */
	struct zsb_source sources[ZSB_MAX_SOURCES];
	unsigned int nsources;
	size_t npages;
	const unsigned char **page_data; /* per page: its raw bytes (mapped file) */
	int64_t *page_obj;		 /* per page: its object index, -1 if same-filled */
	uint64_t *obj_offset;		 /* per object: offset into blob */
	uint32_t *obj_size;		 /* per object: stored size */
	size_t nobjs;
	unsigned char *blob; /* compressed objects back to back */
	uint64_t blob_len;
	double compress_seconds;
};

/* The pages one run stores, in order (a page may come back when a dataset is
 * larger than the corpus). */
struct zsb_dataset {
	char name[ZSB_NAME_LEN];
	unsigned int scale; /* a source's pages repeated this often; mixed: 1 */
	uint32_t *pages;    /* corpus page indexes (shared mapping) */
	size_t nslots;	    /* pages in the dataset */
	size_t nobjs;	    /* of which not same-filled */
	size_t same_filled;
	uint64_t payload; /* sum of the objects' stored sizes */
};

int zsb_corpus_load(struct zsb_corpus *c, char **paths, unsigned int npaths, enum zsb_compressor comp,
		    int level, size_t huge_threshold, const char *huge_rule, int progress);
/* A dataset of all pages of source i, repeated scale times (the same trace
 * again and again: "node-x10"), or of shuffled pages of every source until
 * the payload reaches target bytes (cycling through the corpus). */
#define ZSB_MAX_SCALE 1000
int zsb_dataset_source(const struct zsb_corpus *c, unsigned int i, unsigned int scale,
		       struct zsb_dataset *d);
int zsb_dataset_mixed(const struct zsb_corpus *c, uint64_t target, uint64_t seed,
		      struct zsb_dataset *d);

/* Shared, zero-filled memory that a forked child sees and that does not count
 * as its anonymous memory.  Aborts with a message on failure. */
void *zsb_shared_alloc(size_t bytes);
void zsb_shared_free(void *p, size_t bytes);

/* ---- peers ---- */

struct zsb_breakdown;

struct zsb_peer_ops {
	const char *name;
	const char *what;
	/* Sets up the allocator in the current (child) process.  Returns the
	 * peer's context, or NULL with why filled ("missing: ..."). */
	void *(*open)(char *why, size_t why_len);
	/* Allocates len bytes and copies data in: the handle, 0 on failure. */
	unsigned long (*store)(void *ctx, const void *data, size_t len);
	/* Returns a pointer to the object's bytes: in place or copied into buf
	 * (one page). */
	const void *(*read_begin)(void *ctx, unsigned long h, void *buf, size_t len);
	void (*read_end)(void *ctx, unsigned long h, const void *mem);
	void (*release)(void *ctx, unsigned long h, size_t len);
	/* The allocator's way to give memory back.  Returns pages it reports
	 * freed, or -1 when it reports none (the resident memory tells). */
	long (*compact)(void *ctx);
	/* Pages the pool holds, -1 when the allocator has no such count. */
	long (*pool_pages)(void *ctx);
	/* Optional (NULL: none): where the allocator says its memory is,
	 * beyond the payload bytes stored (see struct zsb_breakdown). */
	void (*breakdown)(void *ctx, uint64_t payload, struct zsb_breakdown *b);
	void (*close)(void *ctx);
};

extern const struct zsb_peer_ops *const zsb_peers[];
extern const unsigned int zsb_npeers;
const struct zsb_peer_ops *zsb_peer_find(const char *name);
/* zs_huge_class_size() of a default zsmalloc pool. */
size_t zsb_zsmalloc_huge_size(void);

/* ---- results ---- */

enum zsb_status { ZSB_OK, ZSB_MISSING, ZSB_FAILED, ZSB_BUSY, ZSB_SKIPPED, ZSB_TIMEOUT };

struct zsb_phase {
	int valid;
	double seconds;	    /* of the timed operations, wall clock */
	double cpu_seconds; /* the same, CPU time of the process */
	uint64_t ops;
	int64_t anon_bytes;  /* resident anonymous memory over the baseline */
	uint64_t payload;    /* live stored bytes */
	int64_t pool_pages;  /* the allocator's own count, -1 none */
	uint64_t page_bytes; /* uncompressed page bytes the ops carried */
};

/*
 * An allocator's own account of its memory after a phase, to set against the
 * resident growth measured: payload + the parts should be that growth.  The
 * parts are named by the peer (peers.c), so that the report and the JSON
 * follow whatever kinds the allocator reports without knowing them.
 */
#define ZSB_MAX_PARTS 20

enum zsb_part_group { ZSB_PART_PAGES, ZSB_PART_WARM, ZSB_PART_METADATA };

struct zsb_part {
	char key[24];		   /* JSON name, e.g. "class_rounding" */
	char label[36];		   /* table row */
	enum zsb_part_group group; /* in the pool's pages, warm pages, or metadata */
	int64_t bytes;		   /* signed: a wrong figure shows, not wraps */
};

struct zsb_breakdown {
	int valid;
	uint64_t payload; /* live stored bytes */
	uint64_t objects; /* live objects, the allocator's count */
	int64_t measured; /* resident growth after the phase, -1 unknown */
	unsigned int nparts;
	struct zsb_part part[ZSB_MAX_PARTS];
	char note[ZSB_REASON_LEN]; /* the allocator's figures disagree among themselves */
};

struct zsb_result {
	char dataset[ZSB_NAME_LEN];
	char peer[ZSB_NAME_LEN];
	enum zsb_status status;
	char reason[ZSB_REASON_LEN];
	int rss_honest; /* 0 under sanitizers: shadow memory counted */
	struct zsb_phase fill, read, read_hot, read_inplace, read_spanning, free, compact, churn;
	int64_t compact_pages_reported; /* the allocator's count, -1 none */
	uint64_t verify_errors, verified;
	unsigned int nthreads; /* thread counts run: 1..nthreads */
	double thread_ops_per_sec[ZSB_MAX_THREADS + 1];
	/* zram only: mm_stat after fill, after discard, after compact */
	uint64_t mm_stat[3][9];
	/* peers with a breakdown op (zsmalloc): after fill, after compact */
	struct zsb_breakdown mem_fill, mem_compact;
};

struct zsb_options {
	uint64_t seed;
	double free_fraction;
	uint64_t churn_ops;  /* 0: as many as objects */
	uint64_t read_ops;   /* 0: twice the objects */
	uint64_t thread_ops; /* per thread */
	unsigned int max_threads;
	int verify_all;	     /* check every object's bytes after fill */
	double peer_timeout; /* seconds a peer may take on a dataset */
	int progress;
};

/* Runs one peer on one dataset in a forked child; fills *r. */
void zsb_run_peer(const struct zsb_peer_ops *peer, const struct zsb_corpus *c,
		  const struct zsb_dataset *d, const struct zsb_options *o, struct zsb_result *r);
/* The kernel's zram on /sys/block/zram0 (needs root). */
void zsb_run_zram(const struct zsb_corpus *c, const struct zsb_dataset *d,
		  const struct zsb_options *o, struct zsb_result *r);
int zsb_running_under_sanitizer(void);

/* ---- output ---- */

struct zsb_run_info {
	const char *command_line;
	const char *json_path;
	const char *plot_path;
	double total_seconds;
	const char *sanitizer; /* "" or the sanitizer built in */
	double page_fault_ns;  /* one first-touch fault, measured at start */
	double load_average;   /* 1-minute load average at start */
};

void zsb_print_corpus(FILE *out, const struct zsb_corpus *c);
/* Per dataset: memory, speed, and the breakdown of peers that give one. */
void zsb_print_table(FILE *out, const struct zsb_result *r, size_t n, const struct zsb_dataset *d,
		     size_t nd);
/* The allocator core's goals: zsmalloc against zram and glibc. */
void zsb_print_goals(FILE *out, const struct zsb_result *r, size_t n, const struct zsb_dataset *d,
		     size_t nd);
/* Resident growth minus payload and parts; how far it may be from 0. */
int64_t zsb_breakdown_difference(const struct zsb_breakdown *b);
int64_t zsb_breakdown_tolerance(const struct zsb_breakdown *b);
/* Reports on err every breakdown off by more than its tolerance (results with
 * honest resident figures only): returns how many. */
size_t zsb_check_breakdowns(FILE *err, const struct zsb_result *r, size_t n);
int zsb_write_json(const char *path, const struct zsb_run_info *info, const struct zsb_corpus *c,
		   const struct zsb_dataset *d, size_t nd, const struct zsb_result *r, size_t n,
		   const struct zsb_options *o);
/* Returns 0 when drawn, 1 when gnuplot is missing, -1 on failure. */
int zsb_write_plot(const char *png_path, const struct zsb_result *r, size_t n,
		   const struct zsb_dataset *d, size_t nd, char *why, size_t why_len);

/* ---- helpers ---- */

double zsb_now(void);
double zsb_cpu_now(void); /* CPU time of this process */
/* Deterministic generator (splitmix64). */
uint64_t zsb_rand(uint64_t *state);
/* Shuffles v[0..n) with zsb_rand seeded by seed (the same order for every
 * peer: which objects are freed, which pages a mixed dataset takes). */
void zsb_shuffle(uint32_t *v, size_t n, uint64_t seed);
const char *zsb_status_name(enum zsb_status s);

#endif /* ZSBENCH_H */
