/*
 * options.c - the zsram tool's command line: usage, the parsers of numbers,
 * sizes and algorithm names, and the checks of options that go together.
 * Single-threaded (runs before anything else).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pages.h" /* common/: the page-size check */
#include "zsram_tool.h"

#define DEFAULT_DICT_SIZE (16 * 1024)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zsram [options] FILE...\n"
		"       zsram [options] --corpus DIR\n"
		"       zsram [options] --pid PID\n"
		"Loads the pages into a compressed store, verifies every page byte-exact and\n"
		"prints mm_stat (zram's nine numbers), io_stat, ratio, throughput, memory.\n"
		"  -a, --algorithm NAME      lz4 (default), lz4hc, zstd\n"
		"  -l, --level N             compression level (lz4: acceleration)\n"
		"      --dict FILE           zstd dictionary to use\n"
		"      --train-dict[=BYTES]  train a zstd dictionary on the input (16 KiB)\n"
		"      --no-auto-dict        zstd: no automatic dictionary (the store trains\n"
		"                            one from the pages it receives by default)\n"
		"      --auto-dict-size BYTES  its size, 256..1M (64K)\n"
		"      --rest-level N|off    zstd level of the dense pass at rest (6)\n"
		"      --recompress NAME[:LEVEL]  after loading, recompress pages of at least\n"
		"                            --recompress-threshold bytes (default 1024);\n"
		"                            up to 3 times: secondary algorithms by\n"
		"                            priority, each page kept in the first smaller\n"
		"      --recompress-threshold BYTES\n"
		"      --algorithm-params TEXT  as zram's algorithm_params: \"priority=N\"\n"
		"                            (1..3: a --recompress) or \"algo=NAME\", with\n"
		"                            \"level=N\" and/or \"dict=FILE\"; up to 4 times\n"
		"      --mem-limit SIZE      memory limit (K, M, G suffixes)\n"
		"      --writeback FILE      backing file for cold pages past the limit\n"
		"      --writeback-limit SIZE  at most this much written back (zram's\n"
		"                            writeback_limit; K, M, G suffixes)\n"
		"      --discard FRACTION    discard a random fraction of pages, compact,\n"
		"                            verify again\n"
		"      --seed N              random seed for --discard (1)\n"
		"  -t, --threads N           writer/reader threads (1)\n"
		"      --page-size N         4096 .. 65536 (default 32768 with zstd,\n"
		"                            4096 otherwise)\n"
		"      --allocator NAME      zsmalloc (default)%s\n"
		"      --class-stats         print the allocator's class table\n"
		"      --json                the report as one JSON object on stdout, for\n"
		"                            scripts (not with --bench or --class-stats)\n"
		"      --bench               bare lz4 vs store throughput, single thread\n"
		"      --kernel-zram         with --bench, as root: the kernel zram0's\n"
		"                            mem_used_total for the same pages\n"
		"  -h, --help                this text\n"
		"  -V, --version             the version\n"
		"A progress bar (bytes, rate, time left) is drawn on stderr when it is a\n"
		"terminal; ZS_PROGRESS=1 draws it anyway, ZS_PROGRESS=0 never.\n"
		"Exit status: 0 every page verified; 1 a run-time error or a page read back\n"
		"wrong; 2 a bad command line.\n",
#ifdef ZSRAM_TOOL_HAS_ZPOOL
		", zbud, z3fold"
#else
		""
#endif
	);
}

void tool_die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", TOOL_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'zsram --help'.\n");
	exit(2);
}

/* An integer in [min, max]; with suffixes, K, M or G (and "iB" or "B"). */
static long long parse_number(const char *s, const char *what, long long min, long long max,
			      bool suffixes)
{
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (suffixes && end != s) {
		switch (*end) {
		case 'k':
		case 'K':
			shift = 10;
			end++;
			break;
		case 'm':
		case 'M':
			shift = 20;
			end++;
			break;
		case 'g':
		case 'G':
			shift = 30;
			end++;
			break;
		default: break;
		}
		if (*end == 'i' || *end == 'B')
			end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	}
	if (errno || end == s || *end || v < min || v > (max >> shift)) {
		if (suffixes)
			tool_die_usage("bad %s '%s'", what, s);
		tool_die_usage("bad %s '%s' (%lld..%lld)", what, s, min, max);
	}
	return v << shift;
}

static uint64_t parse_size(const char *s, const char *what)
{
	return (uint64_t)parse_number(s, what, 0, LLONG_MAX, true);
}

static void parse_codec(const char *arg, struct zsram_codec_config *c)
{
	char name[32];
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);

	if (len >= sizeof(name))
		tool_die_usage("unknown algorithm '%s' (lz4, lz4hc, zstd)", arg);
	memcpy(name, arg, len);
	name[len] = 0;
	if (zsram_algorithm_from_name(name, &c->algorithm))
		tool_die_usage("unknown algorithm '%s' (lz4, lz4hc, zstd)", name);
	if (colon)
		c->level = (int)parse_number(colon + 1, "level", -100, 100000, false);
}

static void check_allocator(const char *name)
{
	const char *names[8];
	size_t n = zsram_allocators(names, 8);

	for (size_t i = 0; i < n && i < 8; i++)
		if (strcmp(names[i], name) == 0)
			return;
	tool_die_usage("unknown or unavailable allocator '%s'", name);
}

static void check_combinations(const struct options *o)
{
	size_t ps = o->cfg.page_size;

	if (!o->nr_files && !o->corpus_dir && !o->pid)
		tool_die_usage("no input: give FILE..., --corpus DIR or --pid PID");
	if ((o->nr_files != 0) + (o->corpus_dir != NULL) + (o->pid != 0) > 1)
		tool_die_usage("give only one kind of input: FILE..., --corpus or --pid");
	if ((o->dict_file || o->train_dict) && o->cfg.codec.algorithm != ZSRAM_ALG_ZSTD)
		tool_die_usage("a dictionary needs --algorithm zstd");
	if (o->auto_dict_size_set && (o->cfg.codec.algorithm != ZSRAM_ALG_ZSTD || o->dict_file ||
				      o->train_dict || o->cfg.auto_dict < 0))
		tool_die_usage("--auto-dict-size needs --algorithm zstd, without --dict, "
			       "--train-dict or --no-auto-dict");
	if (o->rest_level_set && (o->cfg.codec.algorithm != ZSRAM_ALG_ZSTD || o->dict_file ||
				  o->train_dict || o->cfg.auto_dict < 0))
		tool_die_usage("--rest-level needs --algorithm zstd, without --dict, "
			       "--train-dict or --no-auto-dict");
	if (o->kernel_zram && !o->bench)
		tool_die_usage("--kernel-zram goes with --bench");
	if (o->writeback_limit && !o->cfg.backing_file)
		tool_die_usage("--writeback-limit goes with --writeback");
	if (o->writeback_limit && o->writeback_limit < ps)
		tool_die_usage("--writeback-limit is less than a page (%zu bytes)", ps);
	if (o->cfg.backing_file && !o->cfg.mem_limit)
		tool_die_usage("--writeback needs --mem-limit (pages go back when it is reached)");
	if (o->json && (o->bench || o->class_stats))
		tool_die_usage("--json goes without --bench and --class-stats");
	if (!zs_page_size_valid(ps))
		tool_die_usage("page size must be a power of two, 4096..65536");
}

/* One --algorithm-params, on the codec it names (after all the options:
 * the --recompress algorithms are known). */
static void apply_algorithm_params(struct options *o, unsigned int i)
{
	const char *text = o->alg_params[i];
	struct zsram_algorithm_params p;
	void *dict = NULL;
	size_t dict_size = 0;
	int err = zsram_parse_algorithm_params(text, &p);

	if (err)
		tool_die_usage("--algorithm-params '%s': %s (priority=N or algo=NAME, with "
			       "level=N and/or dict=FILE)",
			       text, err == -ENAMETOOLONG ? "path too long" : "bad syntax");
	if (!p.by_algorithm && p.priority == 0)
		tool_die_usage("--algorithm-params '%s': for the primary algorithm, use --level "
			       "and --dict",
			       text);
	if (p.dict[0])
		dict = o->alg_params_dict[i] = tool_read_dict(p.dict, &dict_size);
	err = zsram_config_set_algorithm_params(&o->cfg, &p, dict, dict_size);
	if (err == -ENOENT)
		tool_die_usage("--algorithm-params '%s': no such algorithm (give --recompress "
			       "first)",
			       text);
	if (err)
		tool_die_usage("--algorithm-params '%s': a dictionary is for zstd", text);
}

void tool_parse_options(int argc, char **argv, struct options *o)
{
	enum {
		O_DICT = 256,
		O_TRAIN,
		O_RECOMP,
		O_RECOMP_T,
		O_LIMIT,
		O_WB,
		O_DISCARD,
		O_SEED,
		O_PS,
		O_ALLOC,
		O_CLASS,
		O_BENCH,
		O_KZRAM,
		O_CORPUS,
		O_PID,
		O_JSON,
		O_NO_AUTO,
		O_AUTO_SIZE,
		O_REST,
		O_WB_LIMIT,
		O_ALG_PARAMS
	};
	static const struct option longopts[] = {
		{ "algorithm", required_argument, NULL, 'a' },
		{ "level", required_argument, NULL, 'l' },
		{ "dict", required_argument, NULL, O_DICT },
		{ "train-dict", optional_argument, NULL, O_TRAIN },
		{ "no-auto-dict", no_argument, NULL, O_NO_AUTO },
		{ "auto-dict-size", required_argument, NULL, O_AUTO_SIZE },
		{ "rest-level", required_argument, NULL, O_REST },
		{ "writeback-limit", required_argument, NULL, O_WB_LIMIT },
		{ "algorithm-params", required_argument, NULL, O_ALG_PARAMS },
		{ "recompress", required_argument, NULL, O_RECOMP },
		{ "recompress-threshold", required_argument, NULL, O_RECOMP_T },
		{ "mem-limit", required_argument, NULL, O_LIMIT },
		{ "writeback", required_argument, NULL, O_WB },
		{ "discard", required_argument, NULL, O_DISCARD },
		{ "seed", required_argument, NULL, O_SEED },
		{ "threads", required_argument, NULL, 't' },
		{ "page-size", required_argument, NULL, O_PS },
		{ "allocator", required_argument, NULL, O_ALLOC },
		{ "class-stats", no_argument, NULL, O_CLASS },
		{ "bench", no_argument, NULL, O_BENCH },
		{ "kernel-zram", no_argument, NULL, O_KZRAM },
		{ "corpus", required_argument, NULL, O_CORPUS },
		{ "pid", required_argument, NULL, O_PID },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	char *end;

	zsram_config_init(&o->cfg);
	o->cfg.page_size = 0; /* until the algorithm is known */
	o->threads = 1;
	o->seed = 1;
	o->recomp_threshold = 1024;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":a:l:t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (zsram_algorithm_from_name(optarg, &o->cfg.codec.algorithm))
				tool_die_usage("unknown algorithm '%s' (lz4, lz4hc, zstd)", optarg);
			break;
		case 'l':
			o->cfg.codec.level = (int)parse_number(optarg, "level", -100, 100000, false);
			break;
		case O_DICT: o->dict_file = optarg; break;
		case O_TRAIN:
			o->train_dict =
				optarg ? parse_size(optarg, "dictionary size") : DEFAULT_DICT_SIZE;
			if (o->train_dict < 256 || o->train_dict > (1u << 20))
				tool_die_usage("dictionary size %s out of range (256..1M)",
					       optarg ? optarg : "");
			break;
		case O_NO_AUTO: o->cfg.auto_dict = -1; break;
		case O_AUTO_SIZE:
			o->cfg.auto_dict_size = parse_size(optarg, "dictionary size");
			if (o->cfg.auto_dict_size < 256 || o->cfg.auto_dict_size > (1u << 20))
				tool_die_usage("dictionary size %s out of range (256..1M)", optarg);
			o->auto_dict_size_set = true;
			break;
		case O_REST:
			o->cfg.auto_dict_rest_level =
				strcmp(optarg, "off") == 0
					? -1
					: (int)parse_number(optarg, "rest level", 1, 22, false);
			o->rest_level_set = true;
			break;
		case O_RECOMP:
			if (o->cfg.nr_recomp == ZSRAM_MAX_RECOMP)
				tool_die_usage("--recompress at most %d times", ZSRAM_MAX_RECOMP);
			parse_codec(optarg, &o->cfg.recomp[o->cfg.nr_recomp++]);
			o->recompress = true;
			break;
		case O_RECOMP_T:
			o->recomp_threshold = parse_size(optarg, "recompress threshold");
			break;
		case O_LIMIT: o->cfg.mem_limit = parse_size(optarg, "memory limit"); break;
		case O_WB: o->cfg.backing_file = optarg; break;
		case O_ALG_PARAMS:
			if (o->nr_alg_params == ZSRAM_MAX_RECOMP + 1)
				tool_die_usage("--algorithm-params at most %d times",
					       ZSRAM_MAX_RECOMP + 1);
			o->alg_params[o->nr_alg_params++] = optarg;
			break;
		case O_WB_LIMIT:
			o->writeback_limit = parse_size(optarg, "writeback limit");
			if (!o->writeback_limit)
				tool_die_usage("bad writeback limit '%s' (more than 0)", optarg);
			break;
		case O_DISCARD:
			errno = 0;
			o->discard = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->discard >= 0 && o->discard <= 1))
				tool_die_usage("bad discard fraction '%s' (0..1)", optarg);
			break;
		case O_SEED: o->seed = parse_size(optarg, "seed"); break;
		case 't':
			o->threads =
				(unsigned int)parse_number(optarg, "thread count", 1, 256, false);
			break;
		case O_PS:
			o->cfg.page_size = parse_size(optarg, "page size");
			if (!zs_page_size_valid(o->cfg.page_size))
				tool_die_usage("page size must be a power of two, 4096..65536");
			break;
		case O_ALLOC:
			check_allocator(optarg);
			o->cfg.allocator = optarg;
			break;
		case O_CLASS: o->class_stats = true; break;
		case O_JSON: o->json = true; break;
		case O_BENCH: o->bench = true; break;
		case O_KZRAM: o->kernel_zram = true; break;
		case O_CORPUS: o->corpus_dir = optarg; break;
		case O_PID:
			o->pid = (long)parse_number(optarg, "process id", 1, INT_MAX, false);
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': zs_cli_print_version(TOOL_PROG); exit(0);
		case ':': tool_die_usage("option '%s' needs an argument", argv[optind - 1]);
		default: tool_die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	o->files = argv + optind;
	o->nr_files = argc - optind;
	/* zstd compresses 32 KiB pages 8-10% smaller than 4 KiB ones, at a
	 * higher speed (zsram/README.md, "Defaults"). */
	if (!o->cfg.page_size)
		o->cfg.page_size = o->cfg.codec.algorithm == ZSRAM_ALG_ZSTD ? 32768 : 4096;
	check_combinations(o);
	o->cfg.writeback_limit = o->writeback_limit / o->cfg.page_size;
	for (unsigned int i = 0; i < o->nr_alg_params; i++)
		apply_algorithm_params(o, i);
}
