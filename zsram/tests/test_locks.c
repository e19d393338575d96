/*
 * test_locks.c - zsram's lock rules are checked (zsram_internal.h).
 *
 * Without an argument, in every build: the "_locked" functions run with
 * the slot's lock held by the caller.  With a case (debug builds; CTest
 * expects the abort message):
 *   unlocked     zsram_slot_free_locked on a slot nobody holds
 *   other        zsram_slot_read_locked on a slot another thread holds
 *   room         zsram_writeback_for_room for a slot nobody holds
 * each must abort with "internal error: ... not held at" (the abort is
 * caught and ends the process with status 0, for CTest's pattern match).
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <zsram.h>

#include "zs_test.h"
#include "../src/zsram_internal.h"

static void on_abort(int sig)
{
	(void)sig;
	_exit(0);
}

static void *lock_slot_0(void *arg)
{
	zsram_slot_lock(&((struct zsram *)arg)->slots, 0);
	return NULL; /* returns holding it */
}

int main(int argc, char **argv)
{
	struct zsram_config cfg;
	static unsigned char page[4096], back[4096];
	struct zsram *z;
	uint32_t flags;

	zsram_config_init(&cfg);
	cfg.nr_pages = 4;
	z = zsram_create(&cfg);
	CHECK(z != NULL);
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (unsigned char)(i * 7 + i / 100);
	if (argc > 1) {
		signal(SIGABRT, on_abort);
		if (strcmp(argv[1], "unlocked") == 0) {
			zsram_slot_free_locked(z, 1, 0);
		} else if (strcmp(argv[1], "other") == 0) {
			pthread_t t;

			CHECK_EQ(pthread_create(&t, NULL, lock_slot_0, z), 0);
			CHECK_EQ(pthread_join(t, NULL), 0);
			zsram_slot_read_locked(z, 0, 0, back);
		} else if (strcmp(argv[1], "room") == 0) {
			zsram_writeback_for_room(z, 2);
		} else {
			fprintf(stderr, "unknown case '%s' (unlocked, other, room)\n", argv[1]);
			return 2;
		}
		printf("test_locks: %s: survived a call without its lock\n", argv[1]);
		return 1;
	}
	flags = zsram_slot_lock(&z->slots, 3);
	CHECK_EQ(zsram_slot_store_locked(z, 3, &flags, page), 0);
	CHECK_EQ(zsram_slot_read_locked(z, 3, flags, back), 0);
	zsram_slot_unlock_set(&z->slots, 3, flags);
	CHECK(memcmp(page, back, sizeof(page)) == 0);
	CHECK_STORE(z);
	zsram_destroy(z);
	printf("test_locks: ok\n");
	return 0;
}
