/*
 * bench.c - zsram --bench: bare lz4 and the store on the same pages, and
 * with --kernel-zram the kernel's zram0 (through the shared kernel-zram
 * driver, bench/zram_dev.c: lock file, initstate/swap/mount checks, always
 * left reset) for the same pages.  Single thread.
 *
 * Bare lz4 and the store run interleaved in batches of BENCH_BATCH pages
 * (bare batch, then the same batch through the store) so that both see the
 * same machine load; each side's time is summed over the batches, and the
 * best of BENCH_ROUNDS rounds is kept.  The store's write is measured
 * twice: into a fresh store (which includes getting its memory from the
 * system) and rewriting the same pages into the filled store (steady state:
 * memory is reused).  Times are the thread's CPU time (user and system, so
 * page faults count), not wall time.
 *
 * Bare lz4 writes into a buffer made resident beforehand, so the fresh store
 * also pays for memory bare lz4 never asks for.  A third peer shows that
 * price alone: bare lz4 packing its output into fresh memory, made resident
 * BENCH_POPULATE bytes at a time ahead of the output (the cheapest way to get
 * new memory from the kernel), which is the least any store filling fresh
 * memory can cost.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lz4.h>

#include "zram_dev.h"
#include "zsram_tool.h"

#define BENCH_BATCH 32
#define BENCH_ROUNDS 5
#define BENCH_POPULATE (1u << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Bare lz4 into fresh memory: compresses pages [b, e) to *out, packed,
 * populating the region ahead of the output. */
struct fresh_out {
	unsigned char *mem;
	size_t cap, used, populated;
};

static void compress_into_fresh(struct fresh_out *f, void *state, const unsigned char *pages,
				uint64_t b, uint64_t e, size_t ps, int bound, int accel)
{
	for (uint64_t i = b; i < e; i++) {
		if (f->used + (size_t)bound > f->populated && f->populated < f->cap) {
			size_t step = f->cap - f->populated < BENCH_POPULATE ? f->cap - f->populated
									     : BENCH_POPULATE;

			(void)madvise(f->mem + f->populated, step, MADV_POPULATE_WRITE);
			f->populated += step;
		}
		f->used += (size_t)LZ4_compress_fast_extState(state, (const char *)pages + i * ps,
							      (char *)f->mem + f->used, (int)ps,
							      bound, accel);
	}
}

/* Writes the pages to zram0 (lz4) and reads its mm_stat; 0, or -1 with a
 * message. */
static int kernel_zram_mem_used(const struct input *in, size_t ps, uint64_t *mem_used, uint64_t *compr)
{
	uint64_t total = in->nr_pages * ps, mm[9];
	struct zram_dev z;
	char why[256];
	int err = -1;

	if (ps != (size_t)sysconf(_SC_PAGESIZE)) {
		fprintf(stderr, "%s: kernel zram: page size differs from the kernel's\n", TOOL_PROG);
		return -1;
	}
	if (zram_dev_open(&z, "lz4", NULL, total, why, sizeof(why)) != ZRAM_DEV_OK) {
		fprintf(stderr, "%s: kernel zram: %s; skipped\n", TOOL_PROG, why);
		return -1;
	}
	for (uint64_t off = 0; off < total; off += ZRAM_DEV_BATCH) {
		size_t len = total - off < ZRAM_DEV_BATCH ? (size_t)(total - off) : ZRAM_DEV_BATCH;
		int werr;

		memcpy(z.batch, in->pages + off, len);
		werr = zram_dev_write_batch(&z, len, off);
		if (werr) {
			fprintf(stderr, "%s: kernel zram: write failed: %s\n", TOOL_PROG,
				strerror(-werr));
			goto out;
		}
	}
	zram_dev_sync(&z);
	if (zram_dev_mm_stat(mm) == 0) {
		*compr = mm[1];
		*mem_used = mm[2];
		err = 0;
	}
out:
	zram_dev_release(&z, TOOL_PROG);
	return err;
}

int tool_run_bench(const struct options *o, const struct input *in)
{
	size_t ps = o->cfg.page_size;
	uint64_t n = in->nr_pages;
	int bound = LZ4_compressBound((int)ps);
	unsigned char *comp = malloc((size_t)n * (size_t)bound);
	int *clen = malloc(n * sizeof(int));
	unsigned char *out = malloc(ps);
	void *state = malloc((size_t)LZ4_sizeofState());
	int accel = o->cfg.codec.level ? o->cfg.codec.level : 1;
	double best[6] = { 1e30, 1e30, 1e30, 1e30, 1e30, 1e30 }; /* c, d, w, rw, r, cf */
	uint64_t bytes = n * ps;
	struct zsram_mm_stat mm = { 0 };
	uint64_t store_rss = 0;

	if (!comp || !clen || !out || !state) {
		fprintf(stderr, "%s: out of memory for the benchmark\n", TOOL_PROG);
		return 1;
	}
	if (o->cfg.codec.algorithm != ZSRAM_ALG_LZ4) {
		fprintf(stderr, "%s: --bench compares with bare lz4: use --algorithm lz4\n",
			TOOL_PROG);
		return 2;
	}
	/* Make the bare side's buffers resident now, so that the first
	 * round's resident-memory delta is the store's alone. */
	memset(comp, 0, (size_t)n * (size_t)bound);
	memset(clen, 0, n * sizeof(int));
	memset(out, 0, ps);
	for (int r = 0; r < BENCH_ROUNDS; r++) {
		struct zsram_config cfg = o->cfg;
		struct zsram *store;
		double t[6] = { 0 }, t0;
		uint64_t rss0;
		struct fresh_out fresh = { .cap = (size_t)n * (size_t)bound };

		cfg.nr_pages = n;
		rss0 = tool_rss_anon();
		store = zsram_create(&cfg);
		if (!store) {
			fprintf(stderr, "%s: cannot create the store: %s\n", TOOL_PROG,
				strerror(errno));
			return 1;
		}
		/* Compress / fresh write, then rewrite.  The fresh-memory peer
		 * is mapped after the store's memory is measured (round 0) */
		if (r > 0) {
			fresh.mem = mmap(NULL, fresh.cap, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (fresh.mem == MAP_FAILED)
				fresh.mem = NULL;
		}
		for (int pass = 0; pass < 2; pass++) {
			for (uint64_t b = 0; b < n; b += BENCH_BATCH) {
				uint64_t e = b + BENCH_BATCH < n ? b + BENCH_BATCH : n;

				t0 = tool_thread_cpu();
				for (uint64_t i = b; i < e; i++)
					clen[i] = LZ4_compress_fast_extState(
						state, (const char *)in->pages + i * ps,
						(char *)comp + i * (size_t)bound, (int)ps, bound,
						accel);
				t[0] += tool_thread_cpu() - t0;
				t0 = tool_thread_cpu();
				for (uint64_t i = b; i < e; i++)
					if (zsram_write_page(store, i, in->pages + i * ps)) {
						fprintf(stderr, "%s: store write failed\n",
							TOOL_PROG);
						return 1;
					}
				t[pass ? 3 : 2] += tool_thread_cpu() - t0;
				if (pass == 0 && fresh.mem) {
					t0 = tool_thread_cpu();
					compress_into_fresh(&fresh, state, in->pages, b, e, ps,
							    bound, accel);
					t[5] += tool_thread_cpu() - t0;
				}
			}
			/* Memory: from the first round only, when nothing a
			 * destroyed store freed can be reused unseen. */
			if (pass == 0 && r == 0) {
				store_rss = tool_rss_anon() - rss0;
				zsram_get_mm_stat(store, &mm);
			}
		}
		/* Decompress / read. */
		for (uint64_t b = 0; b < n; b += BENCH_BATCH) {
			uint64_t e = b + BENCH_BATCH < n ? b + BENCH_BATCH : n;

			t0 = tool_thread_cpu();
			for (uint64_t i = b; i < e; i++)
				if (LZ4_decompress_safe((const char *)comp + i * (size_t)bound,
							(char *)out, clen[i], (int)ps) != (int)ps) {
					fprintf(stderr, "%s: bare lz4 failed on page %" PRIu64 "\n",
						TOOL_PROG, i);
					return 1;
				}
			t[1] += tool_thread_cpu() - t0;
			t0 = tool_thread_cpu();
			for (uint64_t i = b; i < e; i++)
				if (zsram_read_page(store, i, out)) {
					fprintf(stderr, "%s: store read failed\n", TOOL_PROG);
					return 1;
				}
			t[4] += tool_thread_cpu() - t0;
		}
		t[0] /= 2; /* compressed twice: once per write pass */
		for (int k = 0; k < 6; k++)
			if (t[k] < best[k] && (k != 5 || fresh.mem))
				best[k] = t[k];
		if (fresh.mem)
			munmap(fresh.mem, fresh.cap);
		zsram_destroy(store);
	}
	printf("bench: %" PRIu64 " pages, %.1f MiB, lz4 acceleration %d, single thread, "
	       "thread CPU time, best of %d\n",
	       n, tool_mib(bytes), accel, BENCH_ROUNDS);
	printf("bare lz4: compress %.1f MB/s, decompress %.1f MB/s\n",
	       (double)bytes / best[0] / 1e6, (double)bytes / best[1] / 1e6);
	printf("zsram: write (fresh store) %.1f MB/s, write (rewrite) %.1f MB/s, read %.1f MB/s\n",
	       (double)bytes / best[2] / 1e6, (double)bytes / best[3] / 1e6,
	       (double)bytes / best[4] / 1e6);
	printf("store/bare: write fresh %.1f%%, rewrite %.1f%%, read %.1f%%\n",
	       100.0 * best[0] / best[2], 100.0 * best[0] / best[3], 100.0 * best[1] / best[4]);
	if (best[5] < 1e30)
		printf("bare lz4 into fresh memory: %.1f MB/s (%.1f%% of bare lz4); "
		       "store write fresh / this: %.1f%%\n",
		       (double)bytes / best[5] / 1e6, 100.0 * best[0] / best[5],
		       100.0 * best[5] / best[2]);
	printf("memory: store mem_used_total %" PRIu64 " (%.2f MiB), store resident "
	       "(RssAnon delta) %" PRIu64 " (%.2f MiB), compr_data_size %" PRIu64 "\n",
	       mm.mem_used_total, tool_mib(mm.mem_used_total), store_rss, tool_mib(store_rss),
	       mm.compr_data_size);
	tool_print_mm_stat(&mm, "mm_stat:");
	if (o->kernel_zram) {
		uint64_t kused = 0, kcompr = 0;

		if (kernel_zram_mem_used(in, ps, &kused, &kcompr) == 0) {
			printf("kernel zram0 (lz4): mem_used_total %" PRIu64 " (%.2f MiB), "
			       "compr_data_size %" PRIu64 "\n",
			       kused, tool_mib(kused), kcompr);
			printf("store resident / kernel mem_used_total: %.3f; "
			       "store mem_used_total / kernel: %.3f\n",
			       (double)store_rss / (double)kused,
			       (double)mm.mem_used_total / (double)kused);
		}
	}
	free(comp);
	free(clen);
	free(out);
	free(state);
	return 0;
}
