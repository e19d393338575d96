/*
 * test_misuse.c - death tests: a freed, forged or foreign handle passed to
 * zs_free, zs_map_object or zs_obj_read_begin, a double free, an unmap
 * without a map and an oversized zs_obj_write must stop the process with a
 * clear message instead of corrupting memory.  Each case runs in a forked
 * child; the parent expects the child to die.  The library checks handles in
 * every build type, so in the release (and tsan) configuration the child must
 * die by SIGABRT and print a message containing "zsmalloc"; under ASan the
 * sanitizer may catch the misuse first, so any abnormal end is accepted
 * there, but returning normally never is.
 */
#include "zs_test.h"

struct fixture {
	struct zs_pool *pool;
	unsigned long live;		 /* a live object */
	unsigned long neighbour;	 /* another live object of the same class */
	unsigned long freed;		 /* a handle freed already */
	unsigned long other_pool_handle; /* live in another pool */
	struct zs_pool *other;
	unsigned char buf[65536];
};

static struct fixture fx;

/* Runs in the child before each misuse (the death runner calls it). */
static void setup(void)
{
	fx.pool = zs_create_pool("misuse");
	fx.other = zs_create_pool("other");
	if (!fx.pool || !fx.other)
		_exit(TU_SETUP_FAILED);
	fx.live = zs_malloc(fx.pool, 200);
	fx.neighbour = zs_malloc(fx.pool, 200);
	fx.freed = zs_malloc(fx.pool, 200);
	fx.other_pool_handle = zs_malloc(fx.other, 200);
	if (!fx.live || !fx.neighbour || !fx.freed || !fx.other_pool_handle)
		_exit(TU_SETUP_FAILED);
	memset(fx.buf, 0x11, sizeof(fx.buf));
	zs_obj_write(fx.pool, fx.live, fx.buf, 200);
	zs_free(fx.pool, fx.freed);
}

/* The bad handle a misuse passes: one of the fixture's handles (after
 * setup) with bits flipped or an offset added, or a number. */
struct bad_handle {
	const unsigned long *of; /* NULL: `raw` */
	unsigned long flip, add, raw;
};

static unsigned long bad_handle(const void *arg)
{
	const struct bad_handle *b = arg;

	return b->of ? (*b->of ^ b->flip) + b->add : b->raw;
}

/* ---- The misuses, each run in a child ---- */

static void free_handle(void *arg)
{
	zs_free(fx.pool, bad_handle(arg));
}

static void map_handle(void *arg)
{
	unsigned long h = bad_handle(arg);
	void *p = zs_map_object(fx.pool, h, ZS_MM_RO);

	zs_unmap_object(fx.pool, h);
	(void)p;
}

static void map_rw_handle(void *arg)
{
	unsigned long h = bad_handle(arg);
	void *p = zs_map_object(fx.pool, h, ZS_MM_RW);

	zs_unmap_object(fx.pool, h);
	(void)p;
}

static void read_handle(void *arg)
{
	unsigned long h = bad_handle(arg);
	void *p = zs_obj_read_begin(fx.pool, h, fx.buf);

	zs_obj_read_end(fx.pool, h, p);
}

static void write_handle(void *arg)
{
	zs_obj_write(fx.pool, bad_handle(arg), fx.buf, 100);
}

static void double_free_last_object(void *arg TU_UNUSED)
{
	/* The only object of its class: its zspage went away with it. */
	unsigned long h = zs_malloc(fx.pool, 3000);

	zs_free(fx.pool, h);
	zs_free(fx.pool, h);
}

static void unmap_without_map(void *arg TU_UNUSED)
{
	zs_unmap_object(fx.pool, fx.live);
}

static void write_too_long(void *arg TU_UNUSED)
{
	zs_obj_write(fx.pool, fx.live, fx.buf, zs_obj_size(fx.pool, fx.live) + 1);
}

static void write_page_plus_one(void *arg TU_UNUSED)
{
	unsigned long h = zs_malloc(fx.pool, 4096);

	zs_obj_write(fx.pool, h, fx.buf, 4097);
}

#define BAD(...) (&(struct bad_handle){ __VA_ARGS__ })
#define READ_FLIPPED(bit)                                                               \
	{                                                                               \
		"zs_obj_read_begin of a handle with bit " #bit " flipped", read_handle, \
			BAD(.of = &fx.live, .flip = 1UL << (bit))                       \
	}

int main(void)
{
	const struct tu_death_case cases[] = {
		{ "double zs_free", free_handle, BAD(.of = &fx.freed) },
		{ "double zs_free of a class's only object", double_free_last_object, NULL },
		{ "zs_map_object of a freed handle", map_handle, BAD(.of = &fx.freed) },
		{ "zs_obj_read_begin of a freed handle", read_handle, BAD(.of = &fx.freed) },
		{ "zs_obj_write to a freed handle", write_handle, BAD(.of = &fx.freed) },
		{ "zs_obj_read_begin of a random number", read_handle,
		  BAD(.raw = 0x5a17c0de1234567UL) },
		{ "zs_obj_read_begin of handle 8", read_handle, BAD(.raw = 8) },
		READ_FLIPPED(0),
		READ_FLIPPED(4),
		READ_FLIPPED(12),
		READ_FLIPPED(33),
		READ_FLIPPED(45),
		{ "zs_free of a handle with bit 41 flipped", free_handle,
		  BAD(.of = &fx.live, .flip = 1UL << 41) },
		{ "zs_map_object of a handle with bit 5 flipped", map_rw_handle,
		  BAD(.of = &fx.live, .flip = 1UL << 5) },
		{ "zs_free of a forged handle", free_handle, BAD(.of = &fx.live, .add = 4096 * 64) },
		{ "zs_free of another pool's handle", free_handle, BAD(.of = &fx.other_pool_handle) },
		{ "zs_map_object of another pool's handle", map_handle,
		  BAD(.of = &fx.other_pool_handle) },
		{ "zs_obj_read_begin of another pool's handle", read_handle,
		  BAD(.of = &fx.other_pool_handle) },
		{ "zs_unmap_object without a map", unmap_without_map, NULL },
		{ "zs_obj_write of zs_obj_size() + 1 bytes", write_too_long, NULL },
		{ "zs_obj_write of page_size + 1 bytes", write_page_plus_one, NULL },
	};

	tu_init("test_misuse", 0x5eed0006);
	/* ASan may report the misuse itself before the library's check. */
	tu_expect_deaths(cases, TU_ARRAY_SIZE(cases), setup, NULL, "zsmalloc",
			 tu_state.config != TU_ASAN);
	printf("test_misuse: all %zu misuses stopped the process\n", TU_ARRAY_SIZE(cases));
	return 0;
}
