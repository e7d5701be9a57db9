/*
 * fuzz_config.c: libFuzzer target for --config files (lib/opts.c, and the
 * checks of lib/optcheck.c), read by both programs. Whatever the file
 * holds, parsing must end in a result or in one error message: not empty,
 * one line, no raw control character but a tab (it is printed to a
 * terminal or the journal). What parses is freed without a leak (ASan).
 *
 *   make fuzz-replay                      replay the corpora (the test run)
 *   build/fuzz/fuzz_config -max_total_time=600 tests/fuzz/corpus-config
 */
#include "pt_opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(const char *err)
{
	if (err[0] == '\0')
		abort();
	for (const unsigned char *p = (const unsigned char *)err; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			abort();
}

static void
parse_as(enum pt_prog prog, const char *path)
{
	char *argv[] = { (char *)"pitemp", (char *)"--config", (char *)path, NULL };
	char err[512];
	struct pt_opts o;
	int rc;

	err[0] = '\0';
	rc = pt_opts_parse(&o, prog, 3, argv, err, sizeof(err));
	if (rc < 0) {
		if (rc != -EINVAL && rc != -ENOMEM)
			abort();
		check_message(err);
		if (rc == -EINVAL && strstr(err, "config") == NULL &&
		    strstr(err, "option") == NULL)
			abort();
	} else {
		err[0] = '\0';
		if (pt_opts_check(&o, err, sizeof(err)) < 0)
			check_message(err);
	}
	pt_opts_free(&o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = memfd_create("config", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	parse_as(PT_PROG_SENSOR, path);
	parse_as(PT_PROG_SINK, path);
	close(fd);
	return 0;
}
