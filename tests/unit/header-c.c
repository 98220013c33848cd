/* header-c.c — framebus.h compiles alone as C11 (built, never run). */
#include "framebus.h"
int fbus_header_c_test(void);
int fbus_header_c_test(void) { return FBUS_PIXFMT_BGR24; }
