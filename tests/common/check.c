/*
 * check.c - the run's configuration (seed, ZS_TEST_SEED, ZS_TEST_CONFIG),
 * the work scale, and the failure reports the CHECK macros print: what
 * failed, where, and the seed and configuration that replay it.  tu_state is
 * written once by tu_init before any thread starts; failures may come from
 * any thread (they exit the process).
 */
#include "zs_test.h"

#ifndef ZS_TEST_BUILD_CONFIG
#define ZS_TEST_BUILD_CONFIG "release"
#endif

struct tu_state tu_state;

static const char *config_name(enum tu_config c)
{
	return c == TU_ASAN ? "asan" : c == TU_TSAN ? "tsan" : "release";
}

__attribute__((noreturn)) static void vfail(const char *file, int line, const char *what,
					    const char *fmt, va_list ap)
{
	fprintf(stderr, "FAIL %s: %s:%d: %s", tu_state.name ? tu_state.name : "test", file, line,
		what);
	/* The CHECK macros pass " " followed by the caller's format. */
	if (fmt && fmt[0] && strcmp(fmt, " ") != 0) {
		fputs(fmt[0] == ' ' ? ":" : ": ", stderr);
		vfprintf(stderr, fmt, ap);
	}
	fprintf(stderr, "\n  (seed %" PRIu64 ", config %s; replay with ZS_TEST_SEED=%" PRIu64 ")\n",
		tu_state.seed, config_name(tu_state.config), tu_state.seed);
	fflush(stderr);
	exit(1);
}

void tu_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(file, line, what, fmt, ap);
}

void tu_fail_eq(const char *file, int line, const char *a, const char *b, long long va,
		long long vb, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	snprintf(what, sizeof(what), "CHECK_EQ(%s, %s) failed: %lld != %lld", a, b, va, vb);
	va_start(ap, fmt);
	vfail(file, line, what, fmt, ap);
}

void tu_fail_check(const char *file, int line, const char *checker, const char *why,
		   const char *fmt, ...)
{
	char what[700];
	va_list ap;

	snprintf(what, sizeof(what), "%s failed: \"%s\"", checker, why);
	va_start(ap, fmt);
	vfail(file, line, what, fmt, ap);
}

static uint64_t parse_seed(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "ZS_TEST_SEED='%s' is not a number\n", s);
		exit(2);
	}
	return v;
}

void tu_init(const char *name, uint64_t default_seed)
{
	const char *seed = getenv("ZS_TEST_SEED");
	const char *config = getenv("ZS_TEST_CONFIG");

	tu_state.name = name;
	tu_state.seed = seed && *seed ? parse_seed(seed) : default_seed;
	if (!config || !*config)
		config = ZS_TEST_BUILD_CONFIG;
	if (strcmp(config, "asan") == 0)
		tu_state.config = TU_ASAN;
	else if (strcmp(config, "tsan") == 0)
		tu_state.config = TU_TSAN;
	else if (strcmp(config, "release") == 0)
		tu_state.config = TU_RELEASE;
	else {
		fprintf(stderr, "ZS_TEST_CONFIG='%s': expected release, asan or tsan\n", config);
		exit(2);
	}
	printf("%s: seed %" PRIu64 ", config %s\n", name, tu_state.seed, config);
	fflush(stdout);
}

unsigned int tu_scale_divisor(void)
{
	return tu_state.config == TU_ASAN ? 3 : tu_state.config == TU_TSAN ? 10 : 1;
}

unsigned long tu_scale(unsigned long n)
{
	return n / tu_scale_divisor() ? n / tu_scale_divisor() : 1;
}

unsigned long tu_stride(unsigned long n)
{
	return n * tu_scale_divisor();
}
