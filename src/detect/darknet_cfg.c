/* SPDX-License-Identifier: MIT */
/*
 * darknet_cfg.c — reads a Darknet .cfg far enough to count the floats its
 * .weights must hold: convolutional layers (biases, batch-norm scale, mean
 * and variance, kernels) with their input channels followed through route,
 * shortcut, reorg, pooling and upsample layers.
 */
#define _POSIX_C_SOURCE 200809L
#include "darknet_cfg.h"

#include "framebus.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum sect { S_NONE, S_NET, S_CONV, S_SAME, S_ROUTE, S_REORG, S_UNSIZED };

struct layer {
	int type;
	int filters, size, groups, bn, stride;
	int route_groups;
	char route[256];
};

static int
sect_type(const char *name)
{
	static const char *const same[] = {
		"maxpool", "avgpool", "upsample", "shortcut", "yolo", "region",
		"dropout", "softmax", "cost", "scale_channels", "sam",
		"detection", "Gaussian_yolo",
	};

	if (!strcmp(name, "net") || !strcmp(name, "network"))
		return S_NET;
	if (!strcmp(name, "convolutional") || !strcmp(name, "conv"))
		return S_CONV;
	if (!strcmp(name, "route"))
		return S_ROUTE;
	if (!strcmp(name, "reorg"))
		return S_REORG;
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
		if (!strcmp(name, same[i]))
			return S_SAME;
	return S_UNSIZED;
}

/* Close the layer just read: compute its output channels. */
static int
finish(struct darknet_cfg *cfg, struct layer *l, int *chans, int *nl,
       char *err, size_t errlen, const char *path)
{
	int in = *nl ? chans[*nl - 1] : cfg->channels;
	int out = in;

	switch (l->type) {
	case S_NONE:
	case S_NET:
		return 0;
	case S_CONV:
		if (l->filters < 1 || l->size < 1 || l->groups < 1 ||
		    in % l->groups) {
			snprintf(err, errlen,
			         "%s: convolutional layer %d has invalid "
			         "filters/size/groups",
			         path, *nl);
			return FBUS_EINVAL;
		}
		if (cfg->nconv < DARKNET_MAX_LAYERS) {
			struct darknet_conv *c = &cfg->conv[cfg->nconv++];

			c->filters = l->filters;
			c->fan_in = in / l->groups * l->size * l->size;
			c->batch_norm = l->bn;
			cfg->nfloats += (uint64_t)l->filters *
			                (1 + (l->bn ? 3 : 0) + (uint64_t)c->fan_in);
		}
		out = l->filters;
		break;
	case S_ROUTE: {
		char *save = NULL, *tok;
		int sum = 0;

		for (tok = strtok_r(l->route, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			int idx = atoi(tok);

			if (idx < 0)
				idx += *nl;
			if (idx < 0 || idx >= *nl) {
				snprintf(err, errlen,
				         "%s: route layer %d refers to layer "
				         "%s, which does not exist",
				         path, *nl, tok);
				return FBUS_EINVAL;
			}
			sum += chans[idx];
		}
		out = sum / (l->route_groups > 0 ? l->route_groups : 1);
		break;
	}
	case S_REORG:
		out = in * l->stride * l->stride;
		break;
	case S_SAME:
		break;
	default:
		cfg->sized = 0;
		break;
	}
	if (*nl >= DARKNET_MAX_LAYERS) {
		snprintf(err, errlen, "%s: more than %d layers", path,
		         DARKNET_MAX_LAYERS);
		return FBUS_EINVAL;
	}
	chans[(*nl)++] = out;
	return 0;
}

int
darknet_cfg_parse(const char *path, struct darknet_cfg *cfg, char *err,
                  size_t errlen)
{
	FILE *f = fopen(path, "r");
	static const struct layer blank = { .filters = 1, .size = 1,
		                            .groups = 1, .stride = 1 };
	struct layer l = blank;
	int *chans, nl = 0, rc = 0, saw_net = 0;
	char *line = NULL;
	size_t cap = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	chans = calloc(DARKNET_MAX_LAYERS, sizeof *chans);
	if (!chans) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return FBUS_ENOMEM;
	}
	memset(cfg, 0, sizeof *cfg);
	cfg->channels = 3;
	cfg->sized = 1;
	l.type = S_NONE;

	while (getline(&line, &cap, f) >= 0) {
		char *s = line, *e, *eq, *key, *val;

		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close) {
				snprintf(err, errlen, "%s: bad section line '%s'",
				         path, s);
				rc = FBUS_EINVAL;
				goto out;
			}
			*close = '\0';
			rc = finish(cfg, &l, chans, &nl, err, errlen, path);
			if (rc)
				goto out;
			l = blank;
			l.type = sect_type(s + 1);
			if (l.type == S_NET)
				saw_net = 1;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = '\0';
		key = s;
		val = eq + 1;
		for (e = eq; e > key && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		while (isspace((unsigned char)*val))
			val++;
		if (l.type == S_NET) {
			if (!strcmp(key, "width"))
				cfg->width = atoi(val);
			else if (!strcmp(key, "height"))
				cfg->height = atoi(val);
			else if (!strcmp(key, "channels"))
				cfg->channels = atoi(val);
		} else if (!strcmp(key, "filters")) {
			l.filters = atoi(val);
		} else if (!strcmp(key, "size")) {
			l.size = atoi(val);
		} else if (!strcmp(key, "groups")) {
			l.groups = atoi(val);
			l.route_groups = atoi(val);
		} else if (!strcmp(key, "batch_normalize")) {
			l.bn = atoi(val) != 0;
		} else if (!strcmp(key, "stride")) {
			l.stride = atoi(val);
		} else if (!strcmp(key, "layers")) {
			snprintf(l.route, sizeof l.route, "%s", val);
		}
	}
	rc = finish(cfg, &l, chans, &nl, err, errlen, path);
	if (rc)
		goto out;
	if (!saw_net || cfg->width <= 0 || cfg->height <= 0 ||
	    cfg->channels <= 0) {
		snprintf(err, errlen,
		         "%s: not a Darknet cfg (no [net] section with width, "
		         "height)",
		         path);
		rc = FBUS_EINVAL;
		goto out;
	}
	if (cfg->nconv == 0) {
		snprintf(err, errlen, "%s: no convolutional layers", path);
		rc = FBUS_EINVAL;
	}
out:
	free(line);
	free(chans);
	fclose(f);
	return rc;
}

size_t
darknet_weights_header_bytes(const unsigned char hdr[12])
{
	int32_t major, minor, rev;

	memcpy(&major, hdr, 4);
	memcpy(&minor, hdr + 4, 4);
	memcpy(&rev, hdr + 8, 4);
	if (major < 0 || minor < 0 || rev < 0 || major > 1000 || minor > 1000)
		return 0;
	/* "seen" grew from int to size_t in version 0.2 (darknet parser.c
	 * load_weights_upto). */
	return (major * 10 + minor >= 2) ? 12 + 8 : 12 + 4;
}
