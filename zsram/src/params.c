/*
 * params.c - zram's algorithm_params, as text and as configuration: the
 * syntax "priority=N" or "algo=NAME", with "level=N" and/or "dict=PATH",
 * separated by spaces or commas, parsed (zsram_parse_algorithm_params),
 * and its level and dictionary set on the codec it names in a
 * zsram_config (zsram_config_set_algorithm_params).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "zsram_internal.h"

/* An integer of exactly len characters, within [min, max]. */
static int parse_int(const char *s, size_t len, long min, long max, long *out)
{
	char buf[24], *end;
	long v;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool key_is(const char *s, size_t len, const char *key)
{
	return len == strlen(key) && memcmp(s, key, len) == 0;
}

/* One "key=value" of len characters into *p; sets *settings for level and
 * dict.  0 or -EINVAL / -ENAMETOOLONG. */
static int parse_one(const char *s, size_t len, struct zsram_algorithm_params *p,
		     unsigned int *settings)
{
	const char *eq = memchr(s, '=', len);
	size_t klen, vlen;
	const char *val;
	char name[16];
	long v;

	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - s);
	val = eq + 1;
	vlen = len - klen - 1;
	if (key_is(s, klen, "priority")) {
		if (parse_int(val, vlen, 0, ZSRAM_MAX_RECOMP, &v))
			return -EINVAL;
		p->priority = (int)v;
		p->by_algorithm = 0;
	} else if (key_is(s, klen, "algo")) {
		if (vlen == 0 || vlen >= sizeof(name))
			return -EINVAL;
		memcpy(name, val, vlen);
		name[vlen] = '\0';
		if (zsram_algorithm_from_name(name, &p->algorithm))
			return -EINVAL;
		p->by_algorithm = 1;
	} else if (key_is(s, klen, "level")) {
		if (parse_int(val, vlen, INT_MIN, INT_MAX, &v))
			return -EINVAL;
		p->level = (int)v;
		p->has_level = 1;
		(*settings)++;
	} else if (key_is(s, klen, "dict")) {
		if (vlen == 0)
			return -EINVAL;
		if (vlen >= sizeof(p->dict))
			return -ENAMETOOLONG;
		memcpy(p->dict, val, vlen);
		p->dict[vlen] = '\0';
		(*settings)++;
	} else {
		return -EINVAL;
	}
	return 0;
}

int zsram_parse_algorithm_params(const char *text, struct zsram_algorithm_params *p)
{
	unsigned int settings = 0;

	memset(p, 0, sizeof(*p));
	if (!text)
		return -EINVAL;
	for (const char *s = text; *s;) {
		size_t len;
		int err;

		s += strspn(s, " ,");
		if (!*s)
			break;
		len = strcspn(s, " ,");
		err = parse_one(s, len, p, &settings);
		if (err)
			return err;
		s += len;
	}
	return settings ? 0 : -EINVAL;
}

int zsram_config_set_algorithm_params(struct zsram_config *cfg,
				      const struct zsram_algorithm_params *p, const void *dict,
				      size_t dict_size)
{
	struct zsram_codec_config *c = NULL;

	if (p->by_algorithm) {
		if (cfg->codec.algorithm == p->algorithm)
			c = &cfg->codec;
		for (unsigned int i = 0; !c && i < cfg->nr_recomp; i++)
			if (cfg->recomp[i].algorithm == p->algorithm)
				c = &cfg->recomp[i];
	} else if (p->priority == 0) {
		c = &cfg->codec;
	} else if (p->priority > 0 && (unsigned int)p->priority <= cfg->nr_recomp) {
		c = &cfg->recomp[p->priority - 1];
	}
	if (!c)
		return -ENOENT;
	if (dict && c->algorithm != ZSRAM_ALG_ZSTD)
		return -EINVAL;
	if (p->has_level)
		c->level = p->level;
	if (dict) {
		c->dict = dict;
		c->dict_size = dict_size;
	}
	return 0;
}
