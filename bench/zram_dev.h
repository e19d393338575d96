/*
 * zram_dev.h - the kernel's zram0, taken and given back safely: the one
 * kernel-zram driver of the tree, shared by zsbench (bench/zram.c) and the
 * zsram tool (--bench --kernel-zram).
 *
 * zram0 is used only when it is writable (root, the zram module loaded),
 * under an exclusive lock file (so that two runs never share it), and only
 * when nobody has set it up (initstate 0, not swap, not mounted).  Released,
 * it is always left reset.
 */
#ifndef ZRAM_DEV_H
#define ZRAM_DEV_H

#include <stddef.h>
#include <stdint.h>

#define ZRAM_DEV_SYS "/sys/block/zram0/"
#define ZRAM_DEV_PATH "/dev/zram0"
#define ZRAM_DEV_LOCK "/tmp/zsbench-zram0.lock"
#define ZRAM_DEV_BATCH (256u * 4096u) /* bytes of the write buffer */

enum zram_dev_status { ZRAM_DEV_OK, ZRAM_DEV_MISSING, ZRAM_DEV_BUSY, ZRAM_DEV_FAILED };

struct zram_dev {
	int lock_fd;	      /* the lock file, held from claim to release */
	int fd;		      /* /dev/zram0 once set up, else -1 */
	int direct;	      /* fd is O_DIRECT (else fsync before reading stats) */
	unsigned char *batch; /* ZRAM_DEV_BATCH bytes, page-aligned, for writes */
};

/* Takes zram0 (the checks above, then a reset), sets comp_algorithm
 * (MISSING when the kernel lacks it), algorithm_params when params is not
 * NULL (a note on stderr when refused) and disksize, and opens the device
 * with its write buffer.  Not OK: why says what ("missing: ...", "busy:
 * ...", ...) and nothing is held (zram0 reset if it was taken). */
enum zram_dev_status zram_dev_open(struct zram_dev *z, const char *algorithm, const char *params,
				   uint64_t disksize, char *why, size_t why_len);
/* Writes len bytes (<= ZRAM_DEV_BATCH) of z->batch at offset: 0 or -errno. */
int zram_dev_write_batch(struct zram_dev *z, size_t len, uint64_t offset);
/* Makes the writes visible in mm_stat (fsync unless O_DIRECT). */
void zram_dev_sync(struct zram_dev *z);
/* BLKDISCARD of [offset, offset+len): 0 or -errno. */
int zram_dev_discard(struct zram_dev *z, uint64_t offset, uint64_t len);
/* Writes 1 to compact: 0 or -errno. */
int zram_dev_compact(void);
/* mm_stat's nine numbers: 0, or -1 when unreadable. */
int zram_dev_mm_stat(uint64_t mm[9]);
/* Closes the device, resets zram0 (a warning on stderr naming prog when it
 * fails) and drops the lock; nothing when not held. */
void zram_dev_release(struct zram_dev *z, const char *prog);

#endif /* ZRAM_DEV_H */
