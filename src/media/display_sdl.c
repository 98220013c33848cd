/* SPDX-License-Identifier: MIT */
/*
 * display_sdl.c — SDL2 window for annotated frames: one streaming BGR24
 * texture, re-created when the picture size changes, drawn with the
 * renderer's logical size so the aspect ratio survives resizing.
 */
#include "display_sdl.h"

#include "framebus.h"

#include <stdio.h>
#include <stdlib.h>

int
display_available(void)
{
	const char *x = getenv("DISPLAY"), *wl = getenv("WAYLAND_DISPLAY");

	return (x && *x) || (wl && *wl);
}

#ifdef FBUS_HAVE_SDL2
#include <SDL.h>

struct display {
	SDL_Window *win;
	SDL_Renderer *ren;
	SDL_Texture *tex;
	int tw, th;
	int closed;
};

int
display_open(struct display **out, const char *title, int w, int h,
                  char *err, size_t errlen)
{
	struct display *d;
	int ww = w, wh = h;

	*out = NULL;
	if (w <= 0 || h <= 0) {
		snprintf(err, errlen, "window size %dx%d", w, h);
		return FBUS_EINVAL;
	}
	/* Fit large pictures on an ordinary screen; the texture keeps its
	 * full resolution. */
	if (ww > 1280 || wh > 720) {
		double s = 1280.0 / ww < 720.0 / wh ? 1280.0 / ww : 720.0 / wh;

		ww = (int)(ww * s);
		wh = (int)(wh * s);
	}
	d = calloc(1, sizeof *d);
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return FBUS_ENOMEM;
	}
	if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
		snprintf(err, errlen, "SDL video: %s", SDL_GetError());
		free(d);
		return FBUS_EIO;
	}
	SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "1");
	d->win = SDL_CreateWindow(title, SDL_WINDOWPOS_UNDEFINED,
	                          SDL_WINDOWPOS_UNDEFINED, ww, wh,
	                          SDL_WINDOW_RESIZABLE);
	if (!d->win)
		goto fail;
	d->ren = SDL_CreateRenderer(d->win, -1, 0);
	if (!d->ren)
		goto fail;
	*out = d;
	return 0;

fail:
	snprintf(err, errlen, "SDL window: %s", SDL_GetError());
	display_close(d);
	return FBUS_EIO;
}

int
display_show(struct display *d, const uint8_t *bgr, int w, int h)
{
	if (!d->tex || d->tw != w || d->th != h) {
		if (d->tex)
			SDL_DestroyTexture(d->tex);
		d->tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_BGR24,
		                           SDL_TEXTUREACCESS_STREAMING, w, h);
		if (!d->tex)
			return FBUS_EIO;
		d->tw = w;
		d->th = h;
		SDL_RenderSetLogicalSize(d->ren, w, h);
	}
	if (SDL_UpdateTexture(d->tex, NULL, bgr, w * 3) != 0)
		return FBUS_EIO;
	SDL_SetRenderDrawColor(d->ren, 0, 0, 0, 255);
	SDL_RenderClear(d->ren);
	SDL_RenderCopy(d->ren, d->tex, NULL, NULL);
	SDL_RenderPresent(d->ren);
	return 0;
}

int
display_poll(struct display *d)
{
	SDL_Event ev;

	while (SDL_PollEvent(&ev)) {
		if (ev.type == SDL_QUIT)
			d->closed = 1;
		else if (ev.type == SDL_WINDOWEVENT &&
		         ev.window.event == SDL_WINDOWEVENT_CLOSE)
			d->closed = 1;
		else if (ev.type == SDL_KEYDOWN &&
		         (ev.key.keysym.sym == SDLK_q ||
		          ev.key.keysym.sym == SDLK_ESCAPE))
			d->closed = 1;
	}
	return d->closed;
}

void
display_close(struct display *d)
{
	if (!d)
		return;
	if (d->tex)
		SDL_DestroyTexture(d->tex);
	if (d->ren)
		SDL_DestroyRenderer(d->ren);
	if (d->win)
		SDL_DestroyWindow(d->win);
	SDL_QuitSubSystem(SDL_INIT_VIDEO);
	SDL_Quit();
	free(d);
}

#else /* !FBUS_HAVE_SDL2 */

int
display_open(struct display **out, const char *title, int w, int h,
                  char *err, size_t errlen)
{
	(void)title, (void)w, (void)h;
	*out = NULL;
	snprintf(err, errlen,
	         "built without SDL2: install libsdl2-dev and rebuild to get "
	         "a window");
	return FBUS_ENOTSUP;
}

int
display_show(struct display *d, const uint8_t *bgr, int w, int h)
{
	(void)d, (void)bgr, (void)w, (void)h;
	return FBUS_ENOTSUP;
}

int
display_poll(struct display *d)
{
	(void)d;
	return 0;
}

void
display_close(struct display *d)
{
	(void)d;
}

#endif /* FBUS_HAVE_SDL2 */
