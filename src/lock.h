/*
 * lock.h - the mutex of libzsmalloc and libzsram, with a checked "caller
 * holds" rule.
 *
 * struct zs_mutex is a pthread mutex.  In debug and sanitizer builds
 * (ZS_DEBUG) it also records which thread holds it, so that a function
 * whose rule is "caller holds L" starts with ZS_ASSERT_HELD(&L) and a call
 * without L aborts with the lock's name and the place.  In release builds
 * the owner field does not exist, zs_mutex_lock/unlock are the pthread
 * calls and ZS_ASSERT_HELD is nothing: the fast paths cost what they did.
 *
 * The owner is written by the holder only (after locking, before
 * unlocking), with relaxed atomics: a thread reads back its own identity
 * only if it holds the lock, whatever other threads are doing.
 */
#ifndef ZS_LOCK_H
#define ZS_LOCK_H

#include <pthread.h>
#include <stdint.h>
#ifdef ZS_DEBUG
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#endif

struct zs_mutex {
	pthread_mutex_t mutex;
#ifdef ZS_DEBUG
	_Atomic uintptr_t owner; /* (uintptr_t)pthread_self(); 0: none */
#endif
};

static inline int zs_mutex_init(struct zs_mutex *m)
{
#ifdef ZS_DEBUG
	atomic_init(&m->owner, 0);
#endif
	return pthread_mutex_init(&m->mutex, NULL);
}

static inline void zs_mutex_destroy(struct zs_mutex *m)
{
	pthread_mutex_destroy(&m->mutex);
}

static inline void zs_mutex_lock(struct zs_mutex *m)
{
	pthread_mutex_lock(&m->mutex);
#ifdef ZS_DEBUG
	atomic_store_explicit(&m->owner, (uintptr_t)pthread_self(), memory_order_relaxed);
#endif
}

static inline void zs_mutex_unlock(struct zs_mutex *m)
{
#ifdef ZS_DEBUG
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
#endif
	pthread_mutex_unlock(&m->mutex);
}

/* Waits on cond, releasing m meanwhile (pthread_cond_wait). */
static inline void zs_mutex_wait(struct zs_mutex *m, pthread_cond_t *cond)
{
#ifdef ZS_DEBUG
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
#endif
	pthread_cond_wait(cond, &m->mutex);
#ifdef ZS_DEBUG
	atomic_store_explicit(&m->owner, (uintptr_t)pthread_self(), memory_order_relaxed);
#endif
}

/* As zs_mutex_wait, until the CLOCK_REALTIME time at at the latest;
 * pthread_cond_timedwait's answer (ETIMEDOUT when it passed). */
static inline int zs_mutex_timedwait(struct zs_mutex *m, pthread_cond_t *cond,
				     const struct timespec *at)
{
	int err;

#ifdef ZS_DEBUG
	atomic_store_explicit(&m->owner, 0, memory_order_relaxed);
#endif
	err = pthread_cond_timedwait(cond, &m->mutex, at);
#ifdef ZS_DEBUG
	atomic_store_explicit(&m->owner, (uintptr_t)pthread_self(), memory_order_relaxed);
#endif
	return err;
}

#ifdef ZS_DEBUG
static inline bool zs_mutex_held(const struct zs_mutex *m)
{
	return atomic_load_explicit(&((struct zs_mutex *)m)->owner, memory_order_relaxed) ==
	       (uintptr_t)pthread_self();
}

__attribute__((noreturn, cold)) static inline void zs_lock_fatal(const char *what, const char *file,
								 int line)
{
	fprintf(stderr, "internal error: %s not held at %s:%d\n", what, file, line);
	abort();
}

/* A lock rule that is not an owned mutex (zsram's slot lock bits): aborts
 * unless held is true. */
#define ZS_ASSERT_LOCKED(held, what)                             \
	do {                                                     \
		if (__builtin_expect(!(held), 0))                \
			zs_lock_fatal(what, __FILE__, __LINE__); \
	} while (0)
#define ZS_ASSERT_HELD(m) ZS_ASSERT_LOCKED(zs_mutex_held(m), #m)
#else
#define ZS_ASSERT_LOCKED(held, what) ((void)0)
#define ZS_ASSERT_HELD(m) ((void)0)
#endif

#endif /* ZS_LOCK_H */
