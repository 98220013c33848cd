/* SPDX-License-Identifier: MIT */
/*
 * darknet_cfg.h — just enough of a Darknet .cfg reader to know the network's
 * input size and how many floats its .weights file must hold, so that a
 * cfg/weights mismatch is reported as such instead of as a crash or as
 * garbage detections.
 */
#ifndef FBUS_DARKNET_CFG_H
#define FBUS_DARKNET_CFG_H

#include <stddef.h>
#include <stdint.h>

#define DARKNET_MAX_LAYERS 1024

struct darknet_conv {
	int filters;     /* output channels */
	int fan_in;      /* input channels / groups * size * size */
	int batch_norm;
};

struct darknet_cfg {
	int width, height, channels; /* [net] */
	int nconv;
	struct darknet_conv conv[DARKNET_MAX_LAYERS];
	/* 0 when a layer type we cannot size (connected, rnn...) appears:
	 * the weights size is then left for OpenCV to judge. */
	int sized;
	uint64_t nfloats; /* floats in the weights file after its header */
};

/* Returns 0 or a negative FBUS_E* code with a sentence in err. */
int darknet_cfg_parse(const char *path, struct darknet_cfg *cfg, char *err,
                      size_t errlen);

/*
 * Size in bytes of a .weights header (version and "images seen"), from its
 * first 12 bytes; 0 if they do not look like one.
 */
size_t darknet_weights_header_bytes(const unsigned char hdr[12]);

#endif /* FBUS_DARKNET_CFG_H */
