/*
 * validate_cli.c: run the payload decoder on files, for tests that compare
 * it with an independent validator (tests/integration/test_schema_examples.py).
 *
 *   validate_cli FILE...
 *
 * prints one line per file, in order: "valid" or "invalid: <reason>".
 * Exit 0 if every file is valid, 1 if any is invalid, 2 on a usage or I/O
 * error. Files are read whole (up to 1 MiB) so the size rule is exercised.
 */
#include "pt_codec.h"

#include <stdio.h>
#include <stdlib.h>

#define FILE_MAX (1024 * 1024)

static int
check_file(const char *path, char *buf)
{
	struct pt_reading r;
	char why[256];
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		return 2;
	}
	n = fread(buf, 1, FILE_MAX, fp);
	if (ferror(fp)) {
		perror(path);
		fclose(fp);
		return 2;
	}
	fclose(fp);
	if (pt_codec_decode(buf, n, &r, why, sizeof(why)) != 0) {
		printf("invalid: %s\n", why);
		return 1;
	}
	printf("valid\n");
	return 0;
}

int
main(int argc, char **argv)
{
	char *buf;
	int i, rc, worst = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: validate_cli FILE...\n");
		return 2;
	}
	if ((buf = malloc(FILE_MAX)) == NULL) {
		perror("malloc");
		return 2;
	}
	for (i = 1; i < argc; i++) {
		rc = check_file(argv[i], buf);
		if (rc == 2) {
			free(buf);
			return 2;
		}
		if (rc > worst)
			worst = rc;
	}
	free(buf);
	return worst;
}
