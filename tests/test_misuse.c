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
#include "test_util.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define SURVIVED_EXIT 77	/* the child's code when the misuse went unnoticed */

struct fixture {
	struct zs_pool *pool;
	unsigned long live;	/* a live object */
	unsigned long neighbour;	/* another live object of the same class */
	unsigned long freed;	/* a handle freed already */
	unsigned long other_pool_handle;	/* live in another pool */
	struct zs_pool *other;
	unsigned char buf[65536];
};

static struct fixture fx;

static void setup(void)
{
	fx.pool = zs_create_pool("misuse");
	fx.other = zs_create_pool("other");
	if (!fx.pool || !fx.other)
		_exit(3);
	fx.live = zs_malloc(fx.pool, 200);
	fx.neighbour = zs_malloc(fx.pool, 200);
	fx.freed = zs_malloc(fx.pool, 200);
	fx.other_pool_handle = zs_malloc(fx.other, 200);
	if (!fx.live || !fx.neighbour || !fx.freed || !fx.other_pool_handle)
		_exit(3);
	memset(fx.buf, 0x11, sizeof(fx.buf));
	zs_obj_write(fx.pool, fx.live, fx.buf, 200);
	zs_free(fx.pool, fx.freed);
}

/* ---- The misuses, each run in a child after setup() ---- */

static void double_free(void)
{
	zs_free(fx.pool, fx.freed);
}

static void double_free_last_object(void)
{
	/* The only object of its class: its zspage went away with it. */
	unsigned long h = zs_malloc(fx.pool, 3000);

	zs_free(fx.pool, h);
	zs_free(fx.pool, h);
}

static void map_freed(void)
{
	void *p = zs_map_object(fx.pool, fx.freed, ZS_MM_RO);

	zs_unmap_object(fx.pool, fx.freed);
	(void)p;
}

static void read_freed(void)
{
	void *p = zs_obj_read_begin(fx.pool, fx.freed, fx.buf);

	zs_obj_read_end(fx.pool, fx.freed, p);
}

static void write_freed(void)
{
	zs_obj_write(fx.pool, fx.freed, fx.buf, 100);
}

static void read_forged(unsigned long handle)
{
	void *p = zs_obj_read_begin(fx.pool, handle, fx.buf);

	zs_obj_read_end(fx.pool, handle, p);
}

static void read_random_number(void)
{
	read_forged(0x5a17c0de1234567UL);
}

static void read_small_number(void)
{
	read_forged(8);
}

static void read_flipped_low_bit(void)
{
	read_forged(fx.live ^ 1UL);
}

static void read_flipped_bit_4(void)
{
	read_forged(fx.live ^ (1UL << 4));
}

static void read_flipped_bit_12(void)
{
	read_forged(fx.live ^ (1UL << 12));
}

static void read_flipped_high_bit(void)
{
	read_forged(fx.live ^ (1UL << 45));
}

static void read_flipped_bit_33(void)
{
	read_forged(fx.live ^ (1UL << 33));
}

static void free_flipped_bit_41(void)
{
	zs_free(fx.pool, fx.live ^ (1UL << 41));
}

static void map_forged(void)
{
	void *p = zs_map_object(fx.pool, fx.live ^ (1UL << 5), ZS_MM_RW);

	zs_unmap_object(fx.pool, fx.live ^ (1UL << 5));
	(void)p;
}

static void free_forged(void)
{
	zs_free(fx.pool, fx.live + 4096 * 64);
}

static void free_foreign(void)
{
	zs_free(fx.pool, fx.other_pool_handle);
}

static void map_foreign(void)
{
	void *p = zs_map_object(fx.pool, fx.other_pool_handle, ZS_MM_RO);

	zs_unmap_object(fx.pool, fx.other_pool_handle);
	(void)p;
}

static void read_foreign(void)
{
	void *p = zs_obj_read_begin(fx.pool, fx.other_pool_handle, fx.buf);

	zs_obj_read_end(fx.pool, fx.other_pool_handle, p);
}

static void unmap_without_map(void)
{
	zs_unmap_object(fx.pool, fx.live);
}

static void write_too_long(void)
{
	zs_obj_write(fx.pool, fx.live, fx.buf, zs_obj_size(fx.pool, fx.live) + 1);
}

static void write_page_plus_one(void)
{
	unsigned long h = zs_malloc(fx.pool, 4096);

	zs_obj_write(fx.pool, h, fx.buf, 4097);
}

struct death_case {
	const char *name;
	void (*misuse)(void);
};

static const struct death_case cases[] = {
	{ "double zs_free", double_free },
	{ "double zs_free of a class's only object", double_free_last_object },
	{ "zs_map_object of a freed handle", map_freed },
	{ "zs_obj_read_begin of a freed handle", read_freed },
	{ "zs_obj_write to a freed handle", write_freed },
	{ "zs_obj_read_begin of a random number", read_random_number },
	{ "zs_obj_read_begin of handle 8", read_small_number },
	{ "zs_obj_read_begin of a handle with bit 0 flipped", read_flipped_low_bit },
	{ "zs_obj_read_begin of a handle with bit 4 flipped", read_flipped_bit_4 },
	{ "zs_obj_read_begin of a handle with bit 12 flipped", read_flipped_bit_12 },
	{ "zs_obj_read_begin of a handle with bit 33 flipped", read_flipped_bit_33 },
	{ "zs_obj_read_begin of a handle with bit 45 flipped", read_flipped_high_bit },
	{ "zs_free of a handle with bit 41 flipped", free_flipped_bit_41 },
	{ "zs_map_object of a handle with bit 5 flipped", map_forged },
	{ "zs_free of a forged handle", free_forged },
	{ "zs_free of another pool's handle", free_foreign },
	{ "zs_map_object of another pool's handle", map_foreign },
	{ "zs_obj_read_begin of another pool's handle", read_foreign },
	{ "zs_unmap_object without a map", unmap_without_map },
	{ "zs_obj_write of zs_obj_size() + 1 bytes", write_too_long },
	{ "zs_obj_write of page_size + 1 bytes", write_page_plus_one },
};

/* Runs one case in a child; returns true when it died as required. */
static bool run_case(const struct death_case *c, bool strict)
{
	int fds[2], status;
	char err[8192];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	CHECK_EQ(pipe(fds), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		setup();
		c->misuse();
		_exit(SURVIVED_EXIT);
	}
	close(fds[1]);
	/* Read to the end (keeping the start) so the child never blocks. */
	for (;;) {
		char chunk[4096];

		n = read(fds[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len < sizeof(err) - 1) {
			size_t keep = sizeof(err) - 1 - len;

			if ((size_t)n < keep)
				keep = (size_t)n;
			memcpy(err + len, chunk, keep);
			len += keep;
		}
	}
	err[len] = '\0';
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);

	if (WIFEXITED(status) && WEXITSTATUS(status) == SURVIVED_EXIT) {
		fprintf(stderr, "FAIL: %s: the process went on normally\n", c->name);
		return false;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
		fprintf(stderr, "FAIL: %s: the child could not set up its pool\n", c->name);
		return false;
	}
	if (strict) {
		bool aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
		bool message = strstr(err, "zsmalloc") != NULL;

		if (!aborted || !message) {
			fprintf(stderr, "FAIL: %s: expected SIGABRT and a message with "
				"\"zsmalloc\"; got %s %d, stderr:\n%s\n", c->name,
				WIFSIGNALED(status) ? "signal" : "exit code",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
				err);
			return false;
		}
	}
	printf("ok: %s: %s %d; %s\n", c->name,
	       WIFSIGNALED(status) ? "signal" : "exit code",
	       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
	       strstr(err, "zsmalloc") ? "message names zsmalloc" : "(no zsmalloc message)");
	return true;
}

int main(void)
{
	bool strict;
	int failed = 0;
	size_t ncases = sizeof(cases) / sizeof(cases[0]);

	tu_init("test_misuse", 0x5eed0006);
	/* ASan may report the misuse itself before the library's check. */
	strict = tu_state.config != TU_ASAN;
	for (size_t i = 0; i < ncases; i++)
		if (!run_case(&cases[i], strict))
			failed++;
	if (failed) {
		fprintf(stderr, "FAIL test_misuse: %d of %zu misuses not stopped as required "
			"(config %s)\n", failed, ncases, strict ? "strict" : "asan");
		return 1;
	}
	printf("test_misuse: all %zu misuses stopped the process\n", ncases);
	return 0;
}
