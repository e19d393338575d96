/*
 * region.c - a region's life: configuration, creation, destruction, and the
 * per-thread error message.
 *
 * Creation maps the region and a small staging area (both MADV_DONTFORK and
 * MADV_NOHUGEPAGE, so a child never sees them and eviction works page by
 * page), opens a userfaultfd that also serves faults taken inside system
 * calls, registers both for missing-page faults, and starts the handler
 * thread.  Nothing is left mapped or open when it fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_abi.h"
#include "zsswap_internal.h"

static __thread char last_error[256] __attribute__((tls_model("initial-exec")));

void zsswap_set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	errno = err;
}

const char *zsswap_last_error(void)
{
	return last_error[0] ? last_error : "no error";
}

void zsswap_config_init(struct zsswap_config *config)
{
	memset(config, 0, sizeof(*config));
}

/* "NAME[:LEVEL]" -> codec config; 0 or -EINVAL. */
static int parse_algorithm(const char *spec, struct zsram_codec_config *cfg)
{
	char name[16];
	const char *colon;
	size_t len;

	memset(cfg, 0, sizeof(*cfg));
	if (!spec)
		spec = "lz4";
	colon = strchr(spec, ':');
	len = colon ? (size_t)(colon - spec) : strlen(spec);
	if (len == 0 || len >= sizeof(name))
		return -EINVAL;
	memcpy(name, spec, len);
	name[len] = '\0';
	if (zsram_algorithm_from_name(name, &cfg->algorithm))
		return -EINVAL;
	if (colon) {
		char *end;
		long level;

		errno = 0;
		level = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || level == 0 || level < -1000000 ||
		    level > 1000000)
			return -EINVAL;
		cfg->level = (int)level;
	}
	return 0;
}

/* A userfaultfd that serves kernel-mode faults too (system calls touching
 * the region), non-blocking, with UFFDIO_MOVE.  -1 with errno and message. */
static int open_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_MOVE | UFFD_FEATURE_POISON };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0 && errno == EPERM) {
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			close(dev);
		}
		if (fd < 0) {
			zsswap_set_error(EPERM, "zsswap: userfaultfd is not permitted for "
						"this process; enable it with sysctl "
						"vm.unprivileged_userfaultfd=1, give the process "
						"CAP_SYS_PTRACE, or grant it read-write access to "
						"/dev/userfaultfd");
			return -1;
		}
	}
	if (fd < 0) {
		zsswap_set_error(errno, "zsswap: userfaultfd: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		/* Before Linux 6.6 there is no POISON: ask for MOVE alone. */
		api = (struct uffdio_api){ .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
		if (ioctl(fd, UFFDIO_API, &api))
			api.features = 0;
	}
	if (!(api.features & UFFD_FEATURE_MOVE)) {
		close(fd);
		zsswap_set_error(ENOSYS, "zsswap: this kernel's userfaultfd lacks "
					 "UFFDIO_MOVE (Linux 6.8 or later is needed)");
		return -1;
	}
	return fd;
}

static void *map_registered(int uffd, size_t bytes)
{
	struct uffdio_register reg;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED) {
		zsswap_set_error(ENOMEM, "zsswap: cannot map %zu bytes", bytes);
		return NULL;
	}
	madvise(p, bytes, MADV_DONTFORK);
	madvise(p, bytes, MADV_NOHUGEPAGE);
	reg = (struct uffdio_register){
		.range = { .start = (unsigned long)p, .len = bytes },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		int err = errno;

		munmap(p, bytes);
		zsswap_set_error(err,
				 "zsswap: cannot register the region with "
				 "userfaultfd: %s",
				 strerror(err));
		return NULL;
	}
	return p;
}

static int check_config(const struct zsswap_config *c, size_t ps, struct zsram_codec_config *codec)
{
	if (!c || c->size == 0) {
		zsswap_set_error(EINVAL, "zsswap: size must be set (bytes of the region)");
		return -1;
	}
	if (c->size > ((size_t)UINT32_MAX - 1) * ps) {
		zsswap_set_error(EINVAL, "zsswap: size %zu is too large", c->size);
		return -1;
	}
	if (c->max_resident && c->max_resident < ps) {
		zsswap_set_error(EINVAL, "zsswap: max_resident %zu is below one page (%zu)",
				 c->max_resident, ps);
		return -1;
	}
	if (c->max_pool && c->max_pool < ps) {
		zsswap_set_error(EINVAL, "zsswap: max_pool %zu is below one page (%zu)",
				 c->max_pool, ps);
		return -1;
	}
	if (parse_algorithm(c->algorithm, codec)) {
		zsswap_set_error(EINVAL,
				 "zsswap: unknown algorithm '%s' (lz4, lz4hc or "
				 "zstd, with an optional :LEVEL)",
				 c->algorithm);
		return -1;
	}
	return 0;
}

static int setup_store(struct zsswap *z, const struct zsswap_config *c,
		       const struct zsram_codec_config *codec)
{
	int err = zsram_codec_init(&z->codec, codec, z->page_size);

	if (err) {
		zsswap_set_error(-err, "zsswap: algorithm '%s': bad level", c->algorithm);
		return -1;
	}
	z->ctx = zsram_codec_get(&z->codec);
	z->pool = zs_create_pool("zsswap");
	z->buf = malloc(z->page_size);
	if (!z->ctx || !z->pool || !z->buf) {
		zsswap_set_error(ENOMEM, "zsswap: out of memory for the pool");
		return -1;
	}
	z->huge_size = zs_huge_class_size(z->pool);
	if (c->max_pool)
		zs_set_max_pages(z->pool, c->max_pool / zs_page_size(z->pool));
	return zsswap_target_open(&z->target, c->writeback, z->size);
}

struct zsswap *zsswap_create(const struct zsswap_config *config)
{
	struct zsram_codec_config codec;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct zsswap *z;

	last_error[0] = '\0';
	if (check_config(config, ps, &codec))
		return NULL;
	z = calloc(1, sizeof(*z));
	if (!z) {
		zsswap_set_error(ENOMEM, "zsswap: out of memory");
		return NULL;
	}
	z->uffd = z->stop_fd = z->target.fd = -1;
	z->page_size = ps;
	z->size = (config->size + ps - 1) / ps * ps;
	z->nr_pages = (uint32_t)(z->size / ps);
	z->max_resident_pages = config->max_resident / ps;
	pthread_mutex_init(&z->lock, NULL);
	for (int l = 0; l < ZSSWAP_NR_LISTS; l++)
		z->lists[l] = (struct zsswap_fifo){ ZSSWAP_NONE, ZSSWAP_NONE, 0 };
	/* Mapped, not calloc'ed: the C library may memset a calloc'ed block
	 * (when it comes from its heap), and a 24 GiB region's table is 148
	 * MB, of which only the entries of pages in use need to be resident.
	 * Accounted (no MAP_NORESERVE): a table the machine could never hold
	 * fails here, with ENOMEM. */
	z->pages = mmap(NULL, zsswap_page_table_bytes(z), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (z->pages == MAP_FAILED) {
		z->pages = NULL;
		zsswap_set_error(ENOMEM, "zsswap: out of memory for the page table");
		goto fail;
	}
	if (setup_store(z, config, &codec))
		goto fail;
	z->uffd = open_uffd();
	if (z->uffd < 0)
		goto fail;
	z->base = map_registered(z->uffd, z->size);
	if (!z->base)
		goto fail;
	z->staging = map_registered(z->uffd, ZSSWAP_STAGING_PAGES * ps);
	if (!z->staging)
		goto fail;
	z->zeros = mmap(NULL, ZSSWAP_ZERO_RUN * ps, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (z->zeros == MAP_FAILED) {
		z->zeros = NULL;
		zsswap_set_error(errno, "zsswap: mmap: %s", strerror(errno));
		goto fail;
	}
	if (zsswap_handler_start(z))
		goto fail;
	return z;
fail : {
	int err = errno;

	zsswap_destroy(z);
	errno = err;
	return NULL;
}
}

void zsswap_destroy(struct zsswap *z)
{
	if (!z)
		return;
	zsswap_handler_stop(z);
	if (z->base)
		munmap(z->base, z->size);
	if (z->staging)
		munmap(z->staging, ZSSWAP_STAGING_PAGES * z->page_size);
	if (z->zeros)
		munmap(z->zeros, ZSSWAP_ZERO_RUN * z->page_size);
	if (z->uffd >= 0)
		close(z->uffd);
	zsswap_target_close(&z->target);
	if (z->pool)
		zs_destroy_pool(z->pool);
	if (z->ctx)
		zsram_codec_put(&z->codec, z->ctx);
	if (z->codec.max_ctx)
		zsram_codec_fini(&z->codec);
	free(z->buf);
	if (z->pages)
		munmap(z->pages, zsswap_page_table_bytes(z));
	pthread_mutex_destroy(&z->lock);
	free(z);
}

void *zsswap_base(const struct zsswap *z)
{
	return z->base;
}

size_t zsswap_size(const struct zsswap *z)
{
	return z->size;
}
