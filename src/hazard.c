/*
 * hazard.c - read guards: how read_begin/read_end and write keep compaction
 * and migration off a zspage without an atomic read-modify-write per read.
 *
 * Each thread has a record of ZS_HAZARD_SLOTS zspage pointers on one
 * process-wide list (records are never freed; a record whose thread exited
 * is taken by the next new thread).  A reader stores the zspage it is about
 * to read into a free slot of its own record, then checks that the zspage
 * is not moving; a mover (compaction, migration) sets moving, then looks for
 * the zspage in every record, and in the zspage's pins counter, which
 * map/unmap and readers whose slots are all taken still use.
 *
 * The reader's store and its load of moving must not be reordered (store
 * then load is the one reordering x86 does).  Instead of a fence on every
 * read, the mover pays: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) makes
 * every running thread of the process execute a full barrier before it
 * returns, so either the mover's scan sees the reader's slot, or the
 * reader's load sees moving.  Where the kernel refuses membarrier (before
 * Linux 4.14, or a seccomp filter), and in TSan builds (TSan does not know
 * membarrier), the reader's store is sequentially consistent instead: an
 * exchange, which costs what a pin did.
 *
 * Memory: 128 bytes a thread that ever read, for the life of the process.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

_Atomic(struct zs_hazard_record *) zs_hazard_records;
__thread struct zs_hazard_record *zs_hazard_mine __attribute__((tls_model("initial-exec")));
bool zs_hazard_asymmetric;

static pthread_once_t hazard_once = PTHREAD_ONCE_INIT;
static pthread_key_t hazard_key;

#if defined(__SANITIZE_THREAD__)
#define ZS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ZS_TSAN 1
#endif
#endif

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

/* A thread that exits gives its record to the next new thread.  Slots it
 * left set (reads never ended) are cleared: nothing can end them now.  The
 * thread forgets the record, so that a read in another thread-exit
 * destructor takes a record of its own instead of one now shared. */
static void record_release(void *p)
{
	struct zs_hazard_record *r = p;
	zs_hazard_mine = NULL;
	for (unsigned int i = 0; i < ZS_HAZARD_SLOTS; i++)
		atomic_store_explicit(&r->slot[i], NULL, memory_order_release);
	atomic_store_explicit(&r->taken, false, memory_order_release);
}

static void hazard_setup(void)
{
	pthread_key_create(&hazard_key, record_release);
#ifndef ZS_TSAN
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);
	if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
		zs_hazard_asymmetric = true;
#endif
}

void zs_hazard_init(void)
{
	pthread_once(&hazard_once, hazard_setup);
}

struct zs_hazard_record *zs_hazard_record_get(void)
{
	zs_hazard_init();
	struct zs_hazard_record *r;
	for (r = atomic_load(&zs_hazard_records); r; r = r->next) {
		bool free_one = false;
		if (!atomic_load(&r->taken) &&
		    atomic_compare_exchange_strong(&r->taken, &free_one, true))
			break;
	}
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL; /* the caller pins instead */
		atomic_store(&r->taken, true);
		struct zs_hazard_record *head = atomic_load(&zs_hazard_records);
		do
			r->next = head;
		while (!atomic_compare_exchange_weak(&zs_hazard_records, &head, r));
	}
	pthread_setspecific(hazard_key, r);
	zs_hazard_mine = r;
	return r;
}

bool zs_hazard_claim(struct zspage *z)
{
	ZS_ASSERT(atomic_load(&z->moving));
	if (zs_hazard_asymmetric)
		membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
	if (atomic_load(&z->pins) != 0)
		return false;
	for (struct zs_hazard_record *r = atomic_load(&zs_hazard_records); r; r = r->next)
		for (unsigned int i = 0; i < ZS_HAZARD_SLOTS; i++)
			if (atomic_load(&r->slot[i]) == z)
				return false;
	return true;
}
