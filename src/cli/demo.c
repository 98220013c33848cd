/* SPDX-License-Identifier: MIT */
/* demo.c — TEMPORARY scaffolding until its issue's work replaces this file. */
#include "cli.h"

int
cmd_demo(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_die(1, "not implemented yet");
}
