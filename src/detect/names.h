/* SPDX-License-Identifier: MIT */
/*
 * names.h — class names for the detector: a names file (one name a line,
 * as Darknet's coco.names) or COCO's 80 classes built in.
 */
#ifndef FBUS_NAMES_H
#define FBUS_NAMES_H

#include <stddef.h>

#define NAMES_COCO_COUNT 80

extern const char *const names_coco[NAMES_COCO_COUNT];

/*
 * Read `path`: one name a line, surrounding blanks and a final empty line
 * ignored, blank lines inside are an error (they shift every index after
 * them).  On success *names is an array of *n strings; free with
 * names_free().  Returns 0, or a negative FBUS_E* code with a sentence in
 * err.
 */
int names_load(const char *path, char ***names, int *n, char *err,
               size_t errlen);
void names_free(char **names, int n);

#endif /* FBUS_NAMES_H */
