/*
 * slot.c - the slot table: 12 bytes per page of disk size (an 8-byte value
 * array and a 4-byte flags array, see zsram_internal.h for the bits) and the
 * per-slot lock, a bit in the flags word.
 *
 * The lock bit is taken with an atomic fetch-or (acquire) and released with
 * a store (release), so the value and flags written under the lock are seen
 * by the next holder.  Waiters spin briefly, then yield: slots are held for
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

int zsram_slots_init(struct zsram_slots *s, uint64_t nr)
{
	s->nr = nr;
	s->values = calloc(nr, sizeof(*s->values));
	s->flags = calloc(nr, sizeof(*s->flags));
	if (!s->values || !s->flags) {
		zsram_slots_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void zsram_slots_fini(struct zsram_slots *s)
{
	free(s->values);
	free((void *)s->flags);
	s->values = NULL;
	s->flags = NULL;
}

uint32_t zsram_slot_lock(struct zsram_slots *s, uint64_t i)
{
	_Atomic uint32_t *f = &s->flags[i];
	unsigned int spins = 0;

	for (;;) {
		uint32_t old = atomic_fetch_or_explicit(f, SLOT_LOCK, memory_order_acquire);

		if (!(old & SLOT_LOCK))
			return old;
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
	uint32_t old = atomic_fetch_or_explicit(&s->flags[i], SLOT_LOCK,
						memory_order_acquire);

	if (old & SLOT_LOCK)
		return false;
	*flags = old;
	return true;
}

void zsram_slot_unlock_set(struct zsram_slots *s, uint64_t i, uint32_t flags)
{
	atomic_store_explicit(&s->flags[i], flags & ~SLOT_LOCK, memory_order_release);
}
