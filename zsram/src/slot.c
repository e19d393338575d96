/*
 * slot.c - the slot table: 12 bytes per page of disk size (an 8-byte value
 * array and a 4-byte flags array, see zsram_internal.h for the bits) and the
 * per-slot lock, a bit in the flags word.
 *
 * The lock bit is taken with an atomic fetch-or (acquire) and released with
 * a store (release), so the value and flags written under the lock are seen
 * by the next holder.  Debug builds record the holder of each slot, for
 * ZSRAM_ASSERT_SLOT_LOCKED.  Waiters spin briefly, then yield: slots are held for
 * one page's compression or decompression at most.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "zsram_internal.h"

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Debug builds: who holds slot i (see ZSRAM_ASSERT_SLOT_LOCKED). */
static inline void slot_set_owner(struct zsram_slots *s, uint64_t i, uintptr_t owner)
{
#ifdef ZS_DEBUG
	atomic_store_explicit(&s->owner[i], owner, memory_order_relaxed);
#else
	(void)s, (void)i, (void)owner;
#endif
}

int zsram_slots_init(struct zsram_slots *s, uint64_t nr)
{
	s->nr = nr;
	s->values = calloc(nr, sizeof(*s->values));
	s->flags = calloc(nr, sizeof(*s->flags));
#ifdef ZS_DEBUG
	s->owner = calloc(nr, sizeof(*s->owner));
	if (!s->owner) {
		zsram_slots_fini(s);
		return -ENOMEM;
	}
#endif
	if (!s->values || !s->flags) {
		zsram_slots_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void zsram_slots_fini(struct zsram_slots *s)
{
	free(s->atime);
	s->atime = NULL;
	free(s->values);
	free((void *)s->flags);
#ifdef ZS_DEBUG
	free((void *)s->owner);
	s->owner = NULL;
#endif
	s->values = NULL;
	s->flags = NULL;
}

uint32_t zsram_slot_lock(struct zsram_slots *s, uint64_t i)
{
	_Atomic uint32_t *f = &s->flags[i];
	unsigned int spins = 0;

	for (;;) {
		uint32_t old = atomic_fetch_or_explicit(f, SLOT_LOCK, memory_order_acquire);

		if (!(old & SLOT_LOCK)) {
			slot_set_owner(s, i, (uintptr_t)pthread_self());
			return old;
		}
		/* Wait for the holder without hammering the cache line. */
		while (atomic_load_explicit(f, memory_order_relaxed) & SLOT_LOCK) {
			if (++spins < 64)
				cpu_relax();
			else
				sched_yield();
		}
	}
}

bool zsram_slot_trylock(struct zsram_slots *s, uint64_t i, uint32_t *flags)
{
	uint32_t old = atomic_fetch_or_explicit(&s->flags[i], SLOT_LOCK, memory_order_acquire);

	if (old & SLOT_LOCK)
		return false;
	slot_set_owner(s, i, (uintptr_t)pthread_self());
	*flags = old;
	return true;
}

void zsram_slot_unlock_set(struct zsram_slots *s, uint64_t i, uint32_t flags)
{
	slot_set_owner(s, i, 0);
	atomic_store_explicit(&s->flags[i], flags & ~SLOT_LOCK, memory_order_release);
}
