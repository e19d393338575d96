/*
 * test_writeback.c - writeback to NBD exports served by real nbdkit
 * servers: nbdkit's memory plugin and the project's zsram plugin, both on a
 * Unix socket.  Pages written back read back byte for byte; a server that
 * dies mid-run leaves every page still in the pool or resident intact (the
 * budget yields, pool_limit_hit counts), and a page that was in the dead
 * server faults with SIGBUS rather than reading wrong data; an export too
 * small or absent fails at create with a clear error.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "zsswap_test.h"

#define PAGES 1024

static char dir[] = "/tmp/zsswap-nbd-XXXXXX";

/* Starts nbdkit serving `plugin args` on dir/NAME.sock; returns its pid
 * once it accepts connections (it writes its pid file then). */
static pid_t start_nbdkit(const char *name, const char *plugin, const char *size_arg, char *uri,
			  size_t uri_len)
{
	char sock[128], pidfile[128];
	pid_t pid;
	int status;

	snprintf(sock, sizeof(sock), "%s/%s.sock", dir, name);
	snprintf(pidfile, sizeof(pidfile), "%s/%s.pid", dir, name);
	snprintf(uri, uri_len, "nbd+unix:///?socket=%s", sock);
	unlink(pidfile);
	unlink(sock); /* a killed server leaves its socket */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		execlp("nbdkit", "nbdkit", "-U", sock, "-P", pidfile, plugin, size_arg, (char *)NULL);
		_exit(127);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid); /* it forks into the background */
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(pidfile, "r");
		int server = 0;

		if (f && fscanf(f, "%d", &server) == 1 && server > 0) {
			fclose(f);
			return server;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	fprintf(stderr, "nbdkit %s did not start\n", plugin);
	exit(1);
}

/* Kills the server and waits until it is dead (gone, or a zombie: it ran
 * in the background, so its parent is not us). */
static void stop_nbdkit(pid_t pid)
{
	char path[64];

	kill(pid, SIGKILL);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		char state = 'Z';

		if (f) {
			if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
				state = 'Z';
			fclose(f);
		}
		if (state == 'Z')
			return;
		usleep(10000);
	}
}

static struct zsswap *create_wb(const char *uri)
{
	return test_create_pool(PAGES * PAGE, 64 * PAGE, 96 * PAGE, uri);
}

static void round_trip(const char *plugin, const char *size_arg)
{
	unsigned char *shadow = malloc(PAGES * PAGE);
	char uri[256];
	pid_t server = start_nbdkit("rt", plugin, size_arg, uri, sizeof(uri));
	struct zsswap *z = create_wb(uri);
	unsigned char *r = zsswap_base(z);
	struct zsswap_stats s;

	test_fill_real(shadow, PAGES, 21);
	memcpy(r, shadow, PAGES * PAGE);
	zsswap_get_stats(z, &s);
	CHECK(s.written_back_pages > 0);
	CHECK(s.resident_pages <= 64 + ZSSWAP_RESIDENT_SLACK);
	for (int pass = 0; pass < 2; pass++)
		CHECK(memcmp(r, shadow, PAGES * PAGE) == 0);
	zsswap_destroy(z);
	stop_nbdkit(server);
	free(shadow);
}

static sigjmp_buf on_sigbus;

static void sigbus_handler(int sig)
{
	(void)sig;
	siglongjmp(on_sigbus, 1);
}

/* 1: the page reads as expected; 0: other bytes; -1: SIGBUS. */
static int probe_page(const unsigned char *p, const unsigned char *expect)
{
	if (sigsetjmp(on_sigbus, 1))
		return -1;
	return memcmp(p, expect, PAGE) == 0;
}

static void server_dies(void)
{
	unsigned char *shadow = malloc(PAGES * PAGE);
	char uri[256];
	pid_t server = start_nbdkit("dies", "memory", "size=8M", uri, sizeof(uri));
	struct zsswap *z = create_wb(uri);
	unsigned char *r = zsswap_base(z);
	struct zsswap_stats s, after;
	size_t half = PAGES / 2, lost = 0;

	test_fill_real(shadow, PAGES, 33);
	memcpy(r, shadow, half * PAGE);
	zsswap_get_stats(z, &s);
	CHECK(s.written_back_pages > 0);
	stop_nbdkit(server);
	/* The baseline once the server is gone: until then the handler may
	 * still have written pages back, reclaiming ahead between faults. */
	zsswap_get_stats(z, &s);
	/* Writes go on: written-back pages cannot be, the pool is full, so the
	 * budget yields and nothing in the pool or resident is lost. */
	memcpy(r + half * PAGE, shadow + half * PAGE, (PAGES - half) * PAGE);
	zsswap_get_stats(z, &after);
	CHECK(after.pool_limit_hit > s.pool_limit_hit);
	CHECK_EQ(after.written_back_pages, s.written_back_pages);
	CHECK(after.resident_pages > 64);
	CHECK(memcmp(r + half * PAGE, shadow + half * PAGE, (PAGES - half) * PAGE) == 0);
	/* Pages that were in the dead server: SIGBUS, never other bytes.
	 * The sanitizers take SIGBUS for themselves, so only without them. */
	if (tu_state.config == TU_RELEASE) {
		struct sigaction sa = { .sa_handler = sigbus_handler }, old;

		sigaction(SIGBUS, &sa, &old);
		for (size_t i = 0; i < half; i++) {
			int ok = probe_page(r + i * PAGE, shadow + i * PAGE);

			CHECK(ok != 0);
			lost += ok < 0;
		}
		sigaction(SIGBUS, &old, NULL);
		printf("server died: %zu pages gone with it (%llu were written back)\n", lost,
		       (unsigned long long)s.written_back_pages);
		CHECK(lost > 0 && lost <= after.written_back_pages);
	}
	zsswap_destroy(z);
	free(shadow);
}

static void bad_targets(void)
{
	struct zsswap_config c;
	char uri[256];
	pid_t server;

	zsswap_config_init(&c);
	c.size = PAGES * PAGE;
	c.max_pool = 96 * PAGE;
	snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s/none.sock", dir);
	c.writeback = uri;
	CHECK(zsswap_create(&c) == NULL);
	CHECK(errno != 0);
	CHECK(strstr(zsswap_last_error(), "none.sock") != NULL);
	server = start_nbdkit("small", "memory", "size=1M", uri, sizeof(uri));
	c.writeback = uri;
	CHECK(zsswap_create(&c) == NULL);
	CHECK_EQ(errno, ENOSPC);
	CHECK(strstr(zsswap_last_error(), "hold") != NULL);
	stop_nbdkit(server);
}

int main(void)
{
	tu_init("zsswap_writeback", 1);
	if (system("command -v nbdkit >/dev/null 2>&1") != 0) {
		fprintf(stderr, "skipped: nbdkit is not installed\n");
		return 77;
	}
	CHECK(mkdtemp(dir));
	round_trip("memory", "size=8M");
#ifdef ZSRAM_PLUGIN
	round_trip(ZSRAM_PLUGIN, "size=8M");
#endif
	server_dies();
	bad_targets();
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	printf("zsswap writeback: ok\n");
	return 0;
}
