/*
 * idle_recompress.c - the plugin's idle_recompress= thread: what a zram
 * user's cron job does with the idle and recompress files.  Every SECONDS
 * it marks idle the pages not accessed for SECONDS (zsram_mark_idle_age)
 * and recompresses those with the secondary algorithms by priority
 * (zsram_recompress).  Started after nbdkit forks (threads do not survive
 * the fork), stopped before the store goes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <nbdkit-plugin.h>
#include <zsram.h>

#include "idle_recompress.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool running, stopping;
static struct zsram *idle_store;
static unsigned int idle_seconds;

static void *idle_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec at;
		long marked, done;

		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += idle_seconds;
		while (!stopping && pthread_cond_timedwait(&wake, &lock, &at) != ETIMEDOUT)
			;
		if (stopping)
			break;
		pthread_mutex_unlock(&lock);
		marked = zsram_mark_idle_age(idle_store, idle_seconds);
		done = marked > 0 ? zsram_recompress(idle_store, ZSRAM_SEL_IDLE, 0) : 0;
		nbdkit_debug("zsram: idle_recompress: %ld pages idle, %ld recompressed", marked,
			     done);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int idle_recompress_start(struct zsram *store, unsigned int seconds)
{
	int err;

	idle_store = store;
	idle_seconds = seconds;
	stopping = false;
	err = pthread_create(&thread, NULL, idle_thread, NULL);
	if (err) {
		nbdkit_error("idle_recompress: cannot start its thread: %s", strerror(err));
		return -1;
	}
	running = true;
	return 0;
}

void idle_recompress_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
}
