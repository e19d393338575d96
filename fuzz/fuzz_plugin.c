/*
 * fuzz_plugin.c - libFuzzer harness for the nbdkit zsram plugin's parameter
 * parsing and request handling, without nbdkit: the plugin's source is
 * compiled into this file, and the few nbdkit_* functions it calls are
 * provided here (errors are recorded, extents collected, sizes parsed).
 *
 * Input layout (see fuzz/README.md):
 *   byte 0     number of parameters (b % 8)
 *   each       key (b % 10: size, algorithm, level, mem_limit, page_size,
 *              allocator, writeback, dictionary, stats, an unknown key) and
 *              a value: a valid one chosen by a byte, or a string of input
 *              bytes
 *   then       requests as nbdkit would send them (inside the disk): pread,
 *              pwrite, zero (with or without may_trim), trim, flush, extents
 *              (with or without REQ_ONE), at any byte offset and length
 *
 * Checked: a parameter or configuration refused is reported with
 * nbdkit_error; requests answer 0 and the disk reads back as a shadow copy
 * says, or fail with ENOSPC only under a memory limit (then bytes outside
 * the request are unchanged); the plugin never reports a bug of its own
 * ("plugin bug": the store refused a request it built); extents cover the
 * range asked in order and claim zeros only where the shadow has zeros.
 */
#include "nbdkit-zsram-plugin.c"

#include "fuzz_common.h"

#define MAX_DISK (1u << 20) /* bigger disks are configured, not served */
#define MAX_REQ (3u * 65536u)

/* ---- What nbdkit would provide ---- */

static unsigned long errors_reported;
static int last_error;
static bool plugin_bug;

void nbdkit_error(const char *msg, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, msg);
	vsnprintf(text, sizeof(text), msg, ap);
	va_end(ap);
	errors_reported++;
	if (strstr(text, "plugin bug"))
		plugin_bug = true;
	if (getenv("FUZZ_PLUGIN_VERBOSE"))
		fprintf(stderr, "nbdkit_error: %s\n", text);
}

void nbdkit_debug(const char *msg, ...)
{
	(void)msg;
}

void nbdkit_set_error(int err)
{
	last_error = err;
}

/* Booleans as nbdkit takes them (a subset: on/off, yes/no, true/false,
 * 1/0).  -1 with an error. */
int nbdkit_parse_bool(const char *str)
{
	static const char *const yes[] = { "on", "yes", "true", "1" };
	static const char *const no[] = { "off", "no", "false", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(str, yes[i]) == 0)
			return 1;
		if (strcasecmp(str, no[i]) == 0)
			return 0;
	}
	nbdkit_error("could not decipher boolean (%s)", str);
	return -1;
}

/* Sizes as nbdkit takes them: a decimal number with an optional suffix
 * (b, k/K, m/M, g/G, t/T, p/P, e/E: powers of 1024).  -1 with an error. */
int64_t nbdkit_parse_size(const char *str)
{
	static const char suffixes[] = "bkmgtpe";
	char *end;
	long long v;
	int shift = 0;

	errno = 0;
	v = strtoll(str, &end, 10);
	if (errno || end == str || v < 0)
		goto bad;
	if (*end) {
		const char *s = strchr(suffixes, end[0] | 0x20);

		if (!s || end[1])
			goto bad;
		shift = 10 * (int)(s - suffixes);
	}
	if (shift && v > (INT64_MAX >> shift))
		goto bad;
	return (int64_t)v << shift;
bad:
	nbdkit_error("could not parse size string (%s)", str);
	return -1;
}

struct nbdkit_extents {
	uint64_t start, next; /* the range asked; the end so far */
	unsigned long count;
	const unsigned char *disk; /* the shadow, for zero claims */
	uint64_t disk_size;
	bool bad;
	char why[160];
};

int nbdkit_add_extent(struct nbdkit_extents *e, uint64_t offset, uint64_t length, uint32_t type)
{
	if (offset != e->next || length == 0 || offset + length > e->disk_size) {
		snprintf(e->why, sizeof(e->why), "extent %lu at %lu+%lu, expected at %lu", e->count,
			 (unsigned long)offset, (unsigned long)length, (unsigned long)e->next);
		e->bad = true;
	} else if (type & NBDKIT_EXTENT_ZERO) {
		for (uint64_t i = offset; i < offset + length; i++)
			if (e->disk[i]) {
				snprintf(e->why, sizeof(e->why),
					 "extent at %lu+%lu claims zeros; "
					 "byte %lu is %#x",
					 (unsigned long)offset, (unsigned long)length,
					 (unsigned long)i, e->disk[i]);
				e->bad = true;
				break;
			}
	}
	e->next = offset + length;
	e->count++;
	return 0;
}

/* ---- The harness ---- */

struct harness {
	struct fz_input in;
	unsigned long step;
	uint64_t size;	     /* disk_size */
	unsigned char *disk; /* shadow */
	unsigned char *buf;  /* MAX_REQ bytes */
};

static void reset_plugin(void)
{
	zsram_plugin_cleanup();
	free(dict_data);
	free(dict_path);
	free(writeback_path);
	free(allocator_name);
	free(stats_path);
	dict_data = NULL;
	dict_size = 0;
	dict_path = writeback_path = allocator_name = stats_path = NULL;
	disk_size = -1;
	algorithm = ZSRAM_ALG_LZ4;
	level = 0;
	level_given = false;
	mem_limit = 0;
	page_size = 4096;
}

static void pick_value(struct harness *h, unsigned int key, char *value, size_t cap)
{
	static const char *const sizes[] = { "1",  "512", "4k", "4096", "64K", "100000", "1M",
					     "1m", "0",	  "-1", "4G",	"1T",  "3x",	 "" };
	static const char *const algs[] = { "lz4",     "lz4hc",	   "zstd",   "zstd:3", "lz4:9",
					    "zstd:-5", "lz4hc:20", "zstd:x", ":",      "gzip" };
	static const char *const allocs[] = { "zsmalloc", "zbud", "z3fold", "slab", "" };
	uint8_t b = fz_u8(&h->in);
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (b >= 0xe0) {
		/* Raw bytes from the input. */
		size_t n = fz_below(&h->in, cap);

		for (size_t i = 0; i < n; i++)
			value[i] = (char)(fz_u8(&h->in) | 1); /* no NUL inside */
		value[n] = '\0';
		return;
	}
	switch (key) {
	case 0:
	case 3:
	case 4:
		snprintf(value, cap, "%s", sizes[b % (sizeof(sizes) / sizeof(sizes[0]))]);
		if (key == 4 && b % 3 == 0)
			snprintf(value, cap, "%u", 4096u << (b / 3 % 5));
		break;
	case 1: snprintf(value, cap, "%s", algs[b % (sizeof(algs) / sizeof(algs[0]))]); break;
	case 2: snprintf(value, cap, "%d", (int)(int8_t)fz_u8(&h->in) / 4); break;
	case 5: snprintf(value, cap, "%s", allocs[b % (sizeof(allocs) / sizeof(allocs[0]))]); break;
	case 6: snprintf(value, cap, "/tmp/fuzz_plugin.%s.wb", pid); break;
	case 7: snprintf(value, cap, b & 1 ? "/nonexistent/dict" : "/dev/null"); break;
	case 8: snprintf(value, cap, "/tmp/fuzz_plugin.%s.stats", pid); break;
	default: snprintf(value, cap, "x"); break;
	}
}

/* Configures the plugin from the input; false if it was refused (as it
 * must be then, with an error) or the disk is too big to serve here. */
static bool configure(struct harness *h)
{
	static const char *const keys[] = { "size",	 "algorithm", "level",	   "mem_limit",
					    "page_size", "allocator", "writeback", "dictionary",
					    "stats",	 "colour" };
	unsigned int n = fz_u8(&h->in) % 8;
	bool have_size = false;

	for (unsigned int i = 0; i < n; i++) {
		unsigned int key = fz_u8(&h->in) % 10;
		char value[64];
		unsigned long before = errors_reported;
		int rc;

		pick_value(h, key, value, sizeof(value));
		rc = zsram_plugin_config(keys[key], value);
		FZ_CHECK(rc == 0 || (rc == -1 && errors_reported > before),
			 "config %s=%s returned %d without an error message", keys[key], value, rc);
		if (rc != 0)
			return false; /* nbdkit stops at the first refusal */
		have_size |= key == 0;
	}
	if (!have_size) {
		FZ_CHECK(zsram_plugin_config("size", "64k") == 0, "config size=64k refused");
	}
	{
		unsigned long before = errors_reported;

		if (zsram_plugin_config_complete() != 0) {
			FZ_CHECK(errors_reported > before, "config_complete failed silently");
			return false;
		}
	}
	if (disk_size > (int64_t)MAX_DISK)
		return false;
	{
		unsigned long before = errors_reported;

		if (zsram_plugin_get_ready() != 0) {
			FZ_CHECK(errors_reported > before, "get_ready failed silently");
			return false;
		}
	}
	FZ_CHECK(store != NULL, "get_ready succeeded without a store");
	return true;
}

static void pick_request(struct harness *h, uint64_t *offset, uint32_t *count)
{
	uint64_t max = h->size < MAX_REQ ? h->size : MAX_REQ;

	*count = (uint32_t)(1 + (fz_u32(&h->in) % max));
	*offset = fz_u32(&h->in) % (h->size - *count + 1);
	if (fz_u8(&h->in) & 1)
		*offset -= *offset % 512; /* aligned ones are common too */
}

static void check_failure(struct harness *h, int rc, const char *what)
{
	FZ_CHECK(!plugin_bug, "step %lu: %s: the plugin reported a bug of its own", h->step, what);
	FZ_CHECK(rc == 0 || (rc == -1 && last_error == ENOSPC && mem_limit > 0),
		 "step %lu: %s returned %d, error %d (%s)", h->step, what, rc, last_error,
		 strerror(last_error));
}

static void verify_range(struct harness *h, uint64_t offset, uint64_t count, const char *when)
{
	while (count > 0) {
		uint32_t n = count < MAX_REQ ? (uint32_t)count : MAX_REQ;
		int rc = zsram_plugin_pread(store, h->buf, n, offset, 0);

		FZ_CHECK(rc == 0, "step %lu (%s): pread(%lu, %u) = %d, error %d", h->step, when,
			 (unsigned long)offset, n, rc, last_error);
		if (memcmp(h->buf, h->disk + offset, n) != 0) {
			size_t at = 0;

			while (h->buf[at] == h->disk[offset + at])
				at++;
			FZ_CHECK(0, "step %lu (%s): byte %lu reads %#x, expected %#x", h->step, when,
				 (unsigned long)(offset + at), h->buf[at], h->disk[offset + at]);
		}
		offset += n;
		count -= n;
	}
}

/* After a failed write, zero or trim of [offset, offset+count): the bytes
 * outside are unchanged; inside, the shadow takes what the disk holds. */
static void settle_failure(struct harness *h, uint64_t offset, uint32_t count)
{
	verify_range(h, 0, offset, "before a failed request");
	verify_range(h, offset + count, h->size - offset - count, "after a failed request");
	FZ_CHECK(zsram_plugin_pread(store, h->disk + offset, count, offset, 0) == 0,
		 "step %lu: pread after a failed request", h->step);
}

static void run_request(struct harness *h)
{
	uint8_t op = fz_u8(&h->in);
	uint64_t offset;
	uint32_t count;
	int rc;

	pick_request(h, &offset, &count);
	last_error = 0;
	switch (op % 8) {
	case 0:
	case 1:
		rc = zsram_plugin_pread(store, h->buf, count, offset, 0);
		FZ_CHECK(rc == 0, "step %lu: pread(%lu, %u) = %d", h->step, (unsigned long)offset,
			 count, rc);
		FZ_CHECK(memcmp(h->buf, h->disk + offset, count) == 0,
			 "step %lu: pread(%lu, %u) differs from the shadow", h->step,
			 (unsigned long)offset, count);
		return;
	case 2:
	case 3: {
		unsigned char *data = malloc(count);

		FZ_CHECK(data != NULL, "out of memory in the harness");
		fz_fill(data, count, fz_u8(&h->in), h->step);
		rc = zsram_plugin_pwrite(store, data, count, offset, 0);
		check_failure(h, rc, "pwrite");
		if (rc == 0)
			memcpy(h->disk + offset, data, count);
		else
			settle_failure(h, offset, count);
		free(data);
		break;
	}
	case 4:
	case 5:
		rc = op % 8 == 4 ? zsram_plugin_zero(store, count, offset,
						     op & 0x80 ? NBDKIT_FLAG_MAY_TRIM : 0)
				 : zsram_plugin_trim(store, count, offset, 0);
		check_failure(h, rc, op % 8 == 4 ? "zero" : "trim");
		if (rc == 0)
			memset(h->disk + offset, 0, count);
		else
			settle_failure(h, offset, count);
		break;
	case 6: FZ_CHECK(zsram_plugin_flush(store, 0) == 0, "step %lu: flush", h->step); return;
	default: {
		struct nbdkit_extents e = {
			.start = offset, .next = offset, .disk = h->disk, .disk_size = h->size
		};
		uint32_t flags = op & 0x80 ? NBDKIT_FLAG_REQ_ONE : 0;

		rc = zsram_plugin_extents(store, count, offset, flags, &e);
		FZ_CHECK(rc == 0, "step %lu: extents = %d", h->step, rc);
		FZ_CHECK(!e.bad, "step %lu: extents(%lu, %u): %s", h->step, (unsigned long)offset,
			 count, e.why);
		FZ_CHECK(e.count > 0 && (flags || e.next >= offset + count),
			 "step %lu: extents(%lu, %u) covered up to %lu in %lu extents", h->step,
			 (unsigned long)offset, count, (unsigned long)e.next, e.count);
		return;
	}
	}
	verify_range(h, offset, count, "after a request");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness hs, *h = &hs;
	char path[64];

	memset(h, 0, sizeof(*h));
	fz_input_init(&h->in, data, size);
	plugin_bug = false;
	reset_plugin();
	if (!configure(h))
		goto out;
	h->size = (uint64_t)zsram_plugin_get_size(store);
	FZ_CHECK(h->size == (uint64_t)disk_size && h->size > 0, "get_size %lu",
		 (unsigned long)h->size);
	{
		uint32_t mn, pref, mx;

		FZ_CHECK(zsram_plugin_block_size(store, &mn, &pref, &mx) == 0 && mn == 1 &&
				 pref == page_size,
			 "block_size");
	}
	h->disk = calloc(1, h->size);
	h->buf = malloc(MAX_REQ);
	FZ_CHECK(h->disk && h->buf, "out of memory in the harness");
	while (!fz_done(&h->in)) {
		h->step++;
		run_request(h);
	}
	verify_range(h, 0, h->size, "at the end");
	free(h->disk);
	free(h->buf);
out:
	reset_plugin();
	snprintf(path, sizeof(path), "/tmp/fuzz_plugin.%d.wb", (int)getpid());
	unlink(path);
	snprintf(path, sizeof(path), "/tmp/fuzz_plugin.%d.stats", (int)getpid());
	unlink(path);
	return 0;
}
