/* SPDX-License-Identifier: MIT */
/*
 * main.c — `framebus <command>`: dispatch to one subcommand per source file.
 */
#include "cli.h"
#include "framebus.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} cmds[] = {
	{ "source", cmd_source, "publish video/camera/synthetic frames (program A)" },
	{ "infer", cmd_infer, "run YOLO on a bus and show/report (program B)" },
	{ "demo", cmd_demo, "source + infer together on the bundled model" },
	{ "bench", cmd_bench, "measure transports: latency, frames/s, CPU" },
	{ "ls", cmd_ls, "list live buses" },
	{ "model-info", cmd_model_info,
	  "what infer sees in a model file, and whether it runs" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: framebus <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'framebus <command> --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		uint32_t v = fbus_version();
		printf("framebus %u.%u.%u\n", v >> 16, (v >> 8) & 0xff,
		       v & 0xff);
		return 0;
	}
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(argv[1], cmds[i].name) == 0) {
			cli_cmd_name = cmds[i].name;
			return cmds[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "framebus: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
