/*
 * test_basic.c - zsswap regions from one thread: bad configurations, byte
 * exact round trips of real page contents through a small budget (the budget
 * checked after every page), system calls on dropped pages, discard, fork,
 * the pool limit with and without writeback, a failing writeback target,
 * and the reclaimer's choice of cold pages.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zsswap_test.h"

static void check_stats_consistent(struct zsswap *z)
{
	struct zsswap_stats s;

	zsswap_get_stats(z, &s);
	CHECK(s.same_filled_pages + s.incompressible_pages <= s.stored_pages);
	CHECK(s.resident_pages + s.stored_pages + s.written_back_pages <= zsswap_size(z) / PAGE);
}

static void expect_create_fails(struct zsswap_config *c, int err, const char *what)
{
	struct zsswap *z = zsswap_create(c);

	if (!z && errno == EPERM)
		return; /* without userfaultfd every create fails so */
	CHECK(z == NULL);
	CHECK_EQ(errno, err);
	CHECK(strstr(zsswap_last_error(), what) != NULL);
}

static void test_bad_config(void)
{
	struct zsswap_config c;

	zsswap_config_init(&c);
	expect_create_fails(&c, EINVAL, "size");
	expect_create_fails(NULL, EINVAL, "size");
	c.size = 1 << 20;
	c.max_resident = 100;
	expect_create_fails(&c, EINVAL, "max_resident");
	c.max_resident = 0;
	c.max_pool = PAGE - 1;
	expect_create_fails(&c, EINVAL, "max_pool");
	c.max_pool = 0;
	const char *bad_algs[] = { "lz5",      "zstd:", "zstd:abc", "zstd:99",
				   "lz4hc:40", ":3",	"",	    "zstd:3x" };
	for (unsigned int i = 0; i < sizeof(bad_algs) / sizeof(bad_algs[0]); i++) {
		c.algorithm = bad_algs[i];
		expect_create_fails(&c, EINVAL, "algorithm");
	}
	c.algorithm = "zstd:19";
	c.writeback = "/nonexistent-dir/wb";
	expect_create_fails(&c, ENOENT, "writeback");
	c.writeback = "nbd+unix:///?socket=/nonexistent.sock";
	expect_create_fails(&c, ENOENT, "nonexistent.sock");
}

/* Without permission for userfaultfd, create fails with EPERM and a
 * message that names what to enable.  Run as an unprivileged user in a
 * child, when this machine forbids unprivileged userfaultfd (root only). */
static void test_not_permitted(void)
{
	FILE *f = fopen("/proc/sys/vm/unprivileged_userfaultfd", "r");
	int allowed = 1, status;
	pid_t pid;

	if (f) {
		if (fscanf(f, "%d", &allowed) != 1)
			allowed = 1;
		fclose(f);
	}
	if (geteuid() != 0 || allowed) {
		printf("not-permitted case skipped (needs root and "
		       "vm.unprivileged_userfaultfd=0)\n");
		return;
	}
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct zsswap_config c;

		if (setgid(65534) || setuid(65534))
			_exit(5);
		zsswap_config_init(&c);
		c.size = 1 << 20;
		if (zsswap_create(&c) || errno != EPERM)
			_exit(6);
		_exit(strstr(zsswap_last_error(), "vm.unprivileged_userfaultfd=1") &&
				      strstr(zsswap_last_error(), "CAP_SYS_PTRACE")
			      ? 0
			      : 7);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* Writes real contents page by page through a budget of 1/8 of the region,
 * checks the budget after each page, then every byte, twice over. */
static void test_round_trip(const char *algorithm)
{
	const size_t pages = 2048, budget = pages / 8;
	unsigned char *shadow = malloc(pages * PAGE);
	struct zsswap *z = test_create(pages * PAGE, budget * PAGE, algorithm);
	unsigned char *r = zsswap_base(z);
	struct zsswap_stats s;

	CHECK(shadow);
	test_fill_real(shadow, pages, 7);
	for (size_t i = 0; i < pages; i++) {
		memcpy(r + i * PAGE, shadow + i * PAGE, PAGE);
		zsswap_get_stats(z, &s);
		CHECK(s.resident_pages <= budget + ZSSWAP_RESIDENT_SLACK);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < pages; i++) {
			CHECK(memcmp(r + i * PAGE, shadow + i * PAGE, PAGE) == 0);
			zsswap_get_stats(z, &s);
			CHECK(s.resident_pages <= budget + ZSSWAP_RESIDENT_SLACK);
		}
	}
	zsswap_get_stats(z, &s);
	CHECK(s.stores >= pages - budget);
	CHECK(s.loads >= pages - budget);
	CHECK(s.same_filled_pages > 0);
	CHECK(s.incompressible_pages > 0);
	CHECK(s.stored_pages > s.same_filled_pages + s.incompressible_pages);
	/* Compressed: the pool holds the stored pages in less than their size. */
	CHECK(s.pool_total_size < (s.stored_pages - s.same_filled_pages) * PAGE);
	check_stats_consistent(z);
	zsswap_destroy(z);
	free(shadow);
}

/* Pages never written read as zeros, dropped or not. */
static void test_zero_pages(void)
{
	struct zsswap *z = test_create(64 * PAGE, 4 * PAGE, NULL);
	unsigned char *r = zsswap_base(z);

	for (size_t i = 0; i < 64 * PAGE; i += 511)
		CHECK(r[i] == 0);
	zsswap_reclaim(z, 64 * PAGE);
	for (size_t i = 0; i < 64 * PAGE; i += 509)
		CHECK(r[i] == 0);
	zsswap_destroy(z);
}

/* write(2) from dropped pages and read(2) into dropped pages. */
static void test_syscalls(void)
{
	const size_t pages = 64;
	struct zsswap *z = test_create(pages * PAGE, 0, NULL);
	unsigned char *r = zsswap_base(z);
	unsigned char *shadow = malloc(pages * PAGE), *back = malloc(pages * PAGE);
	char path[] = "/tmp/zsswap-test-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0 && shadow && back);
	unlink(path);
	test_fill_real(shadow, pages, 11);
	memcpy(r, shadow, pages * PAGE);
	CHECK_EQ(zsswap_reclaim(z, pages * PAGE), pages * PAGE);
	CHECK_EQ(write(fd, r, pages * PAGE), (ssize_t)(pages * PAGE));
	CHECK_EQ(pread(fd, back, pages * PAGE, 0), (ssize_t)(pages * PAGE));
	CHECK(memcmp(back, shadow, pages * PAGE) == 0);
	/* Now the other way: the file's bytes reversed, read into dropped pages. */
	for (size_t i = 0; i < pages; i++)
		memcpy(back + i * PAGE, shadow + (pages - 1 - i) * PAGE, PAGE);
	CHECK_EQ(pwrite(fd, back, pages * PAGE, 0), (ssize_t)(pages * PAGE));
	zsswap_reclaim(z, pages * PAGE);
	CHECK_EQ(pread(fd, r, pages * PAGE, 0), (ssize_t)(pages * PAGE));
	zsswap_reclaim(z, pages * PAGE);
	CHECK(memcmp(r, back, pages * PAGE) == 0);
	close(fd);
	free(shadow);
	free(back);
	zsswap_destroy(z);
}

static void test_discard(void)
{
	const size_t pages = 32;
	struct zsswap *z = test_create(pages * PAGE, 0, NULL);
	unsigned char *r = zsswap_base(z);
	struct zsswap_stats before, after;

	test_fill_real(r, pages, 3);
	zsswap_reclaim(z, pages / 2 * PAGE);
	zsswap_get_stats(z, &before);
	/* Bad ranges: refused, nothing changes. */
	CHECK_EQ(zsswap_discard(z, r + 1, PAGE), -EINVAL);
	CHECK_EQ(zsswap_discard(z, r, PAGE + 1), -EINVAL);
	CHECK_EQ(zsswap_discard(z, r - PAGE, PAGE), -EINVAL);
	CHECK_EQ(zsswap_discard(z, r + (pages - 1) * PAGE, 2 * PAGE), -EINVAL);
	CHECK_EQ(zsswap_discard(z, &before, PAGE), -EINVAL);
	zsswap_get_stats(z, &after);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	/* A range over dropped and resident pages reads as zeros after. */
	CHECK_EQ(zsswap_discard(z, r + 8 * PAGE, 16 * PAGE), 0);
	for (size_t i = 8 * PAGE; i < 24 * PAGE; i++)
		CHECK(r[i] == 0);
	zsswap_get_stats(z, &after);
	CHECK(after.stored_pages < before.stored_pages);
	CHECK_EQ(zsswap_discard(z, r, 0), 0);
	zsswap_destroy(z);
}

/* The region is absent in a child: the kernel finds no memory there (a
 * system call gets EFAULT, an access would be SIGSEGV), never data.  The
 * parent's region is untouched. */
static void test_fork(void)
{
	struct zsswap *z = test_create(16 * PAGE, 0, NULL);
	unsigned char *r = zsswap_base(z);
	int status, fds[2];
	pid_t pid;

	CHECK(pipe(fds) == 0);
	memset(r, 0x5a, 16 * PAGE);
	zsswap_reclaim(z, 8 * PAGE);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		ssize_t dropped = write(fds[1], r, 1);
		int e1 = errno;
		ssize_t resident = write(fds[1], r + 15 * PAGE, 1);
		int e2 = errno;

		_exit(dropped == -1 && e1 == EFAULT && resident == -1 && e2 == EFAULT ? 0 : 3);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t i = 0; i < 16 * PAGE; i++)
		CHECK(r[i] == 0x5a);
	close(fds[0]);
	close(fds[1]);
	zsswap_destroy(z);
}

/* A pool at max_pool with no writeback keeps pages resident: the budget
 * yields, nothing is lost.  With a writeback file the coldest compressed
 * pages go there and come back; with a failing one they stay in the pool. */
static void test_pool_limit(const char *writeback)
{
	const size_t pages = 1024, max_pool = 128 * PAGE;
	struct zsswap_stats s;
	unsigned char *shadow = malloc(pages * PAGE);
	struct zsswap *z = test_create_pool(pages * PAGE, 64 * PAGE, max_pool, writeback);
	unsigned char *r = zsswap_base(z);
	test_fill_real(shadow, pages, 5);
	memcpy(r, shadow, pages * PAGE);
	zsswap_get_stats(z, &s);
	CHECK(s.pool_limit_hit > 0);
	CHECK(s.pool_total_size <= max_pool);
	if (writeback && strcmp(writeback, "/dev/full") != 0) {
		CHECK(s.written_back_pages > 0);
		CHECK(s.resident_pages <= 64 + ZSSWAP_RESIDENT_SLACK);
	} else {
		CHECK_EQ(s.written_back_pages, 0);
		CHECK(s.resident_pages > 64); /* the budget yielded */
	}
	CHECK(memcmp(r, shadow, pages * PAGE) == 0);
	check_stats_consistent(z);
	/* With no access, the handler soon stops trying a pool that refused
	 * (a retry loop would raise the count thousands of times a second). */
	uint64_t hits = 0;

	for (int i = 0; i < 50; i++) {
		zsswap_get_stats(z, &s);
		if (i && s.pool_limit_hit == hits)
			break;
		hits = s.pool_limit_hit;
		usleep(10000);
	}
	usleep(100000);
	zsswap_get_stats(z, &s);
	CHECK_EQ(s.pool_limit_hit, hits);
	zsswap_destroy(z);
	free(shadow);
}

/* After warm-up, a hot set that fits the budget stays resident: the faults
 * are the cold accesses (and few more), not refaults of hot pages. */
static void test_policy(void)
{
	const size_t pages = 4096, budget = 512, hot = 128, accesses = 40000;
	struct zsswap *z = test_create(pages * PAGE, budget * PAGE, NULL);
	unsigned char *r = zsswap_base(z);
	struct tu_rng seed = tu_rng_from(9);
	uint64_t cold = 0, before = 0;
	struct zsswap_stats s;

	for (size_t i = 0; i < pages; i++)
		memset(r + i * PAGE, (int)(i % 251) + 1, 64);
	for (size_t a = 0; a < 2 * accesses; a++) {
		uint64_t x = tu_rand(&seed);
		size_t page = x % 10 ? (x >> 8) % hot : (x >> 8) % pages;

		if (a == accesses) { /* warm-up done */
			zsswap_get_stats(z, &s);
			before = s.loads;
		}
		if (a >= accesses && !(x % 10))
			cold++;
		CHECK(r[page * PAGE] == (unsigned char)(page % 251 + 1));
		if (x % 4 == 0)
			r[page * PAGE + 100] = (unsigned char)x;
	}
	zsswap_get_stats(z, &s);
	printf("policy: %llu loads for %llu cold accesses after warm-up\n",
	       (unsigned long long)(s.loads - before), (unsigned long long)cold);
	CHECK(s.loads - before <= cold + cold / 10);
	zsswap_destroy(z);
}

static long rss_anon_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

/* Destroy gives back the region's pages and the pool's. */
static void test_destroy_frees(void)
{
	const size_t pages = 8192;
	long before = rss_anon_kb(), during, after;
	struct zsswap *z = test_create(pages * PAGE, 0, NULL);
	unsigned char *r = zsswap_base(z);

	test_fill_real(r, pages, 17);
	zsswap_reclaim(z, pages / 2 * PAGE);
	during = rss_anon_kb();
	zsswap_destroy(z);
	after = rss_anon_kb();
	printf("RssAnon: %ld kB before, %ld with the region, %ld after destroy\n", before, during,
	       after);
	CHECK(during - before > 16 * 1024);
	/* Under TSan, its shadow of the region is not all given back at
	 * munmap; allow 1/16 of the growth there. */
	CHECK(after - before < 1024 ||
	      (tu_state.config == TU_TSAN && after - before < (during - before) / 16));
}

/* zsswap_memory's parts add up to what the process holds: in a 1 GiB
 * region (a 6 MB page table) of which 1,024 pages are used, the table
 * counts its resident part only, and the growth of RssAnon is the total. */
static void test_memory_adds_up(void)
{
	const size_t pages = 262144, used = 1024;
	long before = rss_anon_kb(), growth;
	struct zsswap *z = test_create(pages * PAGE, 0, NULL);
	unsigned char *r = zsswap_base(z);
	struct zsswap_memory m;

	test_fill_real(r, used, 23);
	zsswap_reclaim(z, used / 2 * PAGE);
	zsswap_memory(z, &m);
	growth = rss_anon_kb() - before;
	printf("memory: resident %zu + pool %zu + metadata %zu + page table %zu + buffers %zu "
	       "= %zu kB; RssAnon grew %ld kB\n",
	       m.resident >> 10, m.pool_pages >> 10, m.pool_metadata >> 10, m.page_table >> 10,
	       m.buffers >> 10, m.total >> 10, growth);
	CHECK(m.page_table > 0 && m.page_table < pages * 24 / 16);
	CHECK(m.resident == (used - used / 2) * PAGE);
	CHECK_EQ(m.total, m.resident + m.pool_pages + m.pool_metadata + m.page_table + m.buffers);
	/* The sanitizers' shadow memory grows RssAnon too. */
	if (tu_state.config == TU_RELEASE)
		CHECK(labs(growth - (long)(m.total >> 10)) < (long)(m.total >> 10) / 10 + 512);
	zsswap_destroy(z);
}

int main(void)
{
	tu_init("zsswap_basic", 1);
	char wb[] = "/tmp/zsswap-wb-XXXXXX";
	int fd = mkstemp(wb);

	CHECK(fd >= 0);
	close(fd);
	test_bad_config();
	test_not_permitted();
	test_round_trip(NULL);
	test_round_trip("zstd:3");
	test_round_trip("lz4hc:9");
	test_zero_pages();
	test_syscalls();
	test_discard();
	test_fork();
	test_pool_limit(NULL);
	test_pool_limit(wb);
	test_pool_limit("/dev/full");
	test_policy();
	test_destroy_frees();
	test_memory_adds_up();
	unlink(wb);
	printf("zsswap basic: ok\n");
	return 0;
}
