/*
 * unit_lock_held.c - the core's lock rules are checked (src/lock.h).
 *
 * Without an argument, in every build: in release builds struct zs_mutex is
 * a bare pthread mutex (the check costs nothing there); in debug builds
 * zs_mutex_held is true only for the thread that holds the lock, and a
 * "caller holds" function called with its lock runs.
 * With a case (debug builds; CTest expects the abort message):
 *   pagemap   zs_pagemap_insert without pool->pagemap.lock
 *   class     zs_group_insert without the class lock
 * each must abort with "internal error: ... not held at" (the abort is
 * caught and ends the process with status 0, for CTest's pattern match).
 */
#include "zs_test.h"
#include "internal.h"

#include <signal.h>

static void on_abort(int sig)
{
	(void)sig;
	_exit(0);
}

#ifdef ZS_DEBUG
static pthread_barrier_t held, checked;

/* Holds the lock while main checks that it is not main's. */
static void *hold_while_checked(void *arg)
{
	zs_mutex_lock(arg);
	pthread_barrier_wait(&held);
	pthread_barrier_wait(&checked);
	zs_mutex_unlock(arg);
	return NULL;
}
#endif

int main(int argc, char **argv)
{
	tu_init("unit_lock_held", 1);
	struct size_class c = { .objs_per_zspage = 4, .pages_per_zspage = 1 };
	struct zs_pool pool = { .page_size = 4096, .page_shift = 12, .max_chain = 1, .classes = &c };
	struct zspage z = { .inuse = 1 };
	CHECK_EQ(zs_mutex_init(&c.lock), 0);
	CHECK_EQ(zs_mutex_init(&pool.pagemap.lock), 0);

	if (argc > 1) {
		signal(SIGABRT, on_abort);
		if (strcmp(argv[1], "pagemap") == 0)
			zs_pagemap_insert(&pool.pagemap, (void *)0x100000000ull, &z, false);
		else if (strcmp(argv[1], "class") == 0)
			zs_group_insert(&c, &z);
		else
			CHECK(false, "unknown case '%s' (pagemap, class)", argv[1]);
		printf("unit_lock_held: %s: survived a call without its lock\n", argv[1]);
		return 1;
	}
#ifdef ZS_DEBUG
	CHECK(!zs_mutex_held(&c.lock), "held before it was locked");
	zs_mutex_lock(&c.lock);
	CHECK(zs_mutex_held(&c.lock), "not held while locked");
	zs_group_insert(&c, &z);
	zs_group_remove(&c, &z);
	zs_mutex_unlock(&c.lock);
	CHECK(!zs_mutex_held(&c.lock), "held after it was unlocked");
	pthread_t t;
	CHECK_EQ(pthread_barrier_init(&held, NULL, 2), 0);
	CHECK_EQ(pthread_barrier_init(&checked, NULL, 2), 0);
	CHECK_EQ(pthread_create(&t, NULL, hold_while_checked, &c.lock), 0);
	pthread_barrier_wait(&held);
	bool mine = zs_mutex_held(&c.lock);
	pthread_barrier_wait(&checked);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK(!mine, "held by this thread while another one holds it");
	zs_mutex_lock(&pool.pagemap.lock);
	CHECK_EQ(zs_pagemap_insert(&pool.pagemap, (void *)0x100000000ull, &z, false), 0);
	zs_pagemap_destroy(&pool.pagemap);
	zs_mutex_unlock(&pool.pagemap.lock);
	printf("unit_lock_held: debug build: the owner is checked\n");
#else
	CHECK_EQ(sizeof(struct zs_mutex), sizeof(pthread_mutex_t));
	printf("unit_lock_held: release build: struct zs_mutex is a pthread mutex\n");
#endif
	zs_mutex_destroy(&pool.pagemap.lock);
	zs_mutex_destroy(&c.lock);
	return 0;
}
