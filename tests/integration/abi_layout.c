/* SPDX-License-Identifier: MIT */
/*
 * abi_layout.c — prints the size and field offsets of the public structs a
 * binding mirrors, as JSON, so that a binding's test compares its own
 * layout against what the compiler made of framebus.h.
 */
#include "framebus.h"

#include <stddef.h>
#include <stdio.h>

#define F(s, f) printf("%s\"%s\": %zu", first++ ? ", " : "", #f, offsetof(struct s, f))
#define S(s, ...)                                                             \
	do {                                                                  \
		int first = 0;                                                \
		printf("%s\"%s\": {\"sizeof\": %zu, \"fields\": {", n++ ? ", " : "", \
		       #s, sizeof(struct s));                                \
		__VA_ARGS__;                                                  \
		printf("}}");                                                 \
	} while (0)

int
main(void)
{
	int n = 0;

	printf("{");
	S(fbus_format, F(fbus_format, pixfmt); F(fbus_format, width);
	  F(fbus_format, height); F(fbus_format, nplanes);
	  F(fbus_format, stride); F(fbus_format, offset);
	  F(fbus_format, size));
	S(fbus_sub_opts, F(fbus_sub_opts, size); F(fbus_sub_opts, mode);
	  F(fbus_sub_opts, depth); F(fbus_sub_opts, full_policy);
	  F(fbus_sub_opts, block_ms); F(fbus_sub_opts, flags);
	  F(fbus_sub_opts, pixfmt); F(fbus_sub_opts, max_held);
	  F(fbus_sub_opts, max_frame_bytes));
	S(fbus_frame, F(fbus_frame, seq); F(fbus_frame, t_mono_ns);
	  F(fbus_frame, t_real_ns); F(fbus_frame, fmt); F(fbus_frame, data);
	  F(fbus_frame, payload_bytes); F(fbus_frame, meta_bytes);
	  F(fbus_frame, meta); F(fbus_frame, skipped); F(fbus_frame, _priv));
	printf("}\n");
	return 0;
}
