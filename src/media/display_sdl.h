/* SPDX-License-Identifier: MIT */
/*
 * display_sdl.h — the `framebus infer` window: shows annotated BGR24
 * pictures (drawn by src/detect/overlay.c) in an SDL2 window that keeps the
 * picture's aspect ratio when resized.
 */
#ifndef FBUS_DISPLAY_SDL_H
#define FBUS_DISPLAY_SDL_H

#include <stddef.h>
#include <stdint.h>

struct display;

/* Is there a display to open a window on ($DISPLAY or $WAYLAND_DISPLAY)? */
int display_available(void);

/*
 * Open a window of w x h (scaled down to fit 1280x720 when larger).
 * Returns 0, or FBUS_ENOTSUP (built without SDL2) / FBUS_EIO (SDL failed)
 * with a sentence in err.  Allocates.
 */
int display_open(struct display **out, const char *title, int w,
                      int h, char *err, size_t errlen);

/* Show a BGR24 picture (tightly packed).  Returns 0 or FBUS_EIO. */
int display_show(struct display *d, const uint8_t *bgr, int w,
                      int h);

/* Handle window events; returns 1 once the user closed the window or
 * pressed q/Escape, 0 otherwise.  Never blocks. */
int display_poll(struct display *d);

/* NULL is a no-op. */
void display_close(struct display *d);

#endif /* FBUS_DISPLAY_SDL_H */
