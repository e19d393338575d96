/*
 * nbd_lib.c - libnbd, loaded the first time a region writes back to an NBD
 * export.
 *
 * libnbd brings sixteen libraries with it (GnuTLS, libxml2, ICU,
 * libstdc++, ...): about 0.6 MB of resident memory and their relocations
 * in every process that links libzsswap, and in every program that
 * zsswap-run wraps.  Only regions with an nbd:// target need it, so it is
 * opened with dlopen(3) then, once per process, and never closed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include <libnbd.h> /* for the types only: nothing links against it */

#include "zsswap_internal.h"

#define LIBNBD_SONAME "libnbd.so.0"

static struct zsswap_nbd_api api;
static const char *load_error;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#define NBD_SYMBOLS(X) \
	X(create)      \
	X(close)       \
	X(get_error)   \
	X(get_errno)   \
	X(connect_uri) X(get_size) X(is_read_only) X(can_trim) X(pread) X(pwrite) X(trim)

/* Each pointer has the type of libnbd's own function. */
#define CHECK_TYPE(name)                                                                    \
	_Static_assert(__builtin_types_compatible_p(typeof(api.name), typeof(&nbd_##name)), \
		       "nbd_" #name " has another type");
NBD_SYMBOLS(CHECK_TYPE)
#undef CHECK_TYPE

static void load(void)
{
	void *lib = dlopen(LIBNBD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		load_error = dlerror();
		return;
	}
#define LOAD_SYMBOL(name)                                            \
	*(void **)&api.name = dlsym(lib, "nbd_" #name);              \
	if (!api.name) {                                             \
		load_error = "a symbol is missing (libnbd too old)"; \
		return;                                              \
	}
	NBD_SYMBOLS(LOAD_SYMBOL)
#undef LOAD_SYMBOL
	api.loaded = true;
}

const struct zsswap_nbd_api *zsswap_nbd_api(const char *uri)
{
	pthread_once(&once, load);
	if (api.loaded)
		return &api;
	zsswap_set_error(ENOSYS, "zsswap: writeback %s needs %s (Debian package libnbd0): %s", uri,
			 LIBNBD_SONAME, load_error ? load_error : "cannot be loaded");
	return NULL;
}
