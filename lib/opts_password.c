/*
 * opts_password.c: where the MQTT password comes from (pt_opts_password,
 * see pt_opts.h): -P, --password-file or PITEMP_PASSWORD. Apart from the
 * option table in opts.c because it reads a file and the environment.
 */
#include "pt_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int
pt_opts_password(const struct pt_opts *o, char **out, char *err, size_t err_cap)
{
	const char *env = getenv("PITEMP_PASSWORD");
	char *line = NULL;
	size_t n = 0;
	ssize_t len;
	FILE *f;

	*out = NULL;
	if (o->password != NULL && o->password_file != NULL) {
		snprintf(err, err_cap, "options --password and --password-file: "
		    "give one of them");
		return -EINVAL;
	}
	if (o->password != NULL)
		return (*out = strdup(o->password)) == NULL ? -ENOMEM : 0;
	if (o->password_file == NULL) {
		if (env != NULL && (*out = strdup(env)) == NULL)
			return -ENOMEM;
		return 0;
	}
	if ((f = fopen(o->password_file, "r")) == NULL) {
		int e = errno;

		snprintf(err, err_cap, "option --password-file: cannot open '%s': %s",
		    o->password_file, strerror(e));
		return -e;
	}
	len = getline(&line, &n, f);
	fclose(f);
	if (len <= 0) {
		free(line);
		snprintf(err, err_cap, "option --password-file: '%s' is empty",
		    o->password_file);
		return -EINVAL;
	}
	line[strcspn(line, "\r\n")] = '\0';
	*out = line;
	return 0;
}
