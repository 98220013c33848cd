/* media_placeholder.c — TEMPORARY: keeps the library non-empty until src/media lands. */
int fbus_media_placeholder(void);
int fbus_media_placeholder(void) { return 0; }
