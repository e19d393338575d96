/*
 * death.c - death tests: a misuse runs in a forked child with its stderr
 * captured, and the parent checks how the child ended.  Single-threaded:
 * call from the main thread with no other threads running.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zs_test.h"

#define SURVIVED_EXIT 77 /* the child's code when the misuse went unnoticed */

/* Reads fd to the end, keeping the first len - 1 bytes (so the child never
 * blocks on a full pipe). */
static void read_all(int fd, char *out, size_t len)
{
	size_t got = 0;

	for (;;) {
		char chunk[4096];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < len - 1) {
			size_t keep = len - 1 - got;

			if ((size_t)n < keep)
				keep = (size_t)n;
			memcpy(out + got, chunk, keep);
			got += keep;
		}
	}
	out[got] = '\0';
}

bool tu_expect_death(const char *name, void (*setup)(void), void (*fn)(void *), void *arg,
		     const char *needle, bool strict)
{
	int fds[2], status;
	char err[8192];
	pid_t pid;
	bool signaled;
	int code;

	CHECK_EQ(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		if (setup)
			setup();
		fn(arg);
		_exit(SURVIVED_EXIT);
	}
	close(fds[1]);
	read_all(fds[0], err, sizeof(err));
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	signaled = WIFSIGNALED(status);
	code = signaled ? WTERMSIG(status) : WEXITSTATUS(status);

	if (!signaled && code == SURVIVED_EXIT) {
		fprintf(stderr, "FAIL: %s: the process went on normally\n", name);
		return false;
	}
	if (!signaled && code == TU_SETUP_FAILED) {
		fprintf(stderr, "FAIL: %s: the child could not set up the misuse\n", name);
		return false;
	}
	if (strict && !(signaled && code == SIGABRT && strstr(err, needle))) {
		fprintf(stderr,
			"FAIL: %s: expected SIGABRT and a message with \"%s\"; got "
			"%s %d, stderr:\n%s\n",
			name, needle, signaled ? "signal" : "exit code", code, err);
		return false;
	}
	printf("ok: %s: %s %d; %s\n", name, signaled ? "signal" : "exit code", code,
	       strstr(err, needle) ? "message as expected" : "(no message)");
	return true;
}

void tu_expect_deaths(const struct tu_death_case *cases, size_t n, void (*setup)(void), void *arg,
		      const char *needle, bool strict)
{
	size_t failed = 0;

	for (size_t i = 0; i < n; i++)
		if (!tu_expect_death(cases[i].name, setup, cases[i].fn,
				     cases[i].arg ? cases[i].arg : arg, needle, strict))
			failed++;
	if (failed)
		tu_fail(__FILE__, __LINE__, "death tests",
			"%zu of %zu misuses not stopped as required (%s)", failed, n,
			strict ? "strict" : "any abnormal end accepted");
}
