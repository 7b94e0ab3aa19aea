/*
 * libFuzzer target for the configuration parser: the input is the file.
 * config_load reads a path, so each input is written to a memfd that
 * config_load opens as /proc/self/fd/N: no file system, no clean-up.
 *
 * With FUZZ_CONFIG_ROUNDTRIP=1 in the environment, a file that loads must
 * also round-trip: config_print promises an INI file that config_load reads
 * back to the same settings. The inputs fuzz/corpus/config/roundtrip-*
 * each broke that once; with the syntax in one place (ini.c, which
 * config_print asks too) it held for a million executions in 420 s.
 * It stays off by default, for scripts/test: one case is known not to
 * hold, a piece of some 196 bytes ending one continuation line, a key
 * name (say "pool") alone on the next and "=..." on the one after: the
 * printer cannot break before "pool =", and the piece and "pool" no
 * longer fit one line.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "jobs/read.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_fd[2] = { -1, -1 };
static char	fuzz_path[2][64];
static int	fuzz_roundtrip;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	i;

	(void)argc;
	(void)argv;
	fuzz_roundtrip = getenv("FUZZ_CONFIG_ROUNDTRIP") != NULL &&
	    strcmp(getenv("FUZZ_CONFIG_ROUNDTRIP"), "1") == 0;
	for (i = 0; i < 2; i++) {
		if ((fuzz_fd[i] = memfd_create("gatherd-fuzz.conf", 0)) == -1) {
			perror("fuzz_config: memfd_create");
			exit(1);
		}
		snprintf(fuzz_path[i], sizeof fuzz_path[i], "/proc/self/fd/%d",
		    fuzz_fd[i]);
	}
	return 0;
}

/* Make file i hold exactly len bytes of data. */
static void
fuzz_put(int i, const void *data, size_t len)
{
	if (ftruncate(fuzz_fd[i], 0) == -1 ||
	    pwrite(fuzz_fd[i], data, len, 0) != (ssize_t)len) {
		perror("fuzz_config: memfd");
		abort();
	}
}

/* config_print's text without its first line (which names the file). */
static char *
fuzz_print(const struct config *cfg, size_t *len)
{
	FILE	*fp;
	char	*text = NULL, *nl;
	size_t	 size = 0;

	if ((fp = open_memstream(&text, &size)) == NULL)
		abort();
	config_print(cfg, fp);
	fclose(fp);
	if ((nl = strchr(text, '\n')) != NULL)
		memmove(text, nl + 1, strlen(nl + 1) + 1);
	*len = strlen(text);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg, again;
	char		*cause = NULL, *text, *text2;
	size_t		 len, len2;
	int		 rc;

	fuzz_put(0, data, size);
	config_defaults(&cfg);
	rc = config_load(&cfg, fuzz_path[0], 1, &cause);

	/* An error always says what; a success leaves a usable config. */
	if ((rc != 0) != (cause != NULL))
		abort();
	if (rc != 0) {
		free(cause);
		config_free(&cfg);
		return 0;
	}
	if (((const struct read_settings *)config_settings(&cfg,
	    &read_section))->roots.n == 0 || cfg.threads == 0)
		abort();

	if (!fuzz_roundtrip) {
		config_free(&cfg);
		return 0;
	}
	text = fuzz_print(&cfg, &len);
	fuzz_put(1, text, len);
	config_defaults(&again);
	if (config_load(&again, fuzz_path[1], 1, &cause) != 0) {
		fprintf(stderr, "config_print's output does not load: %s\n"
		    "----\n%s----\n", cause, text);
		abort();
	}
	text2 = fuzz_print(&again, &len2);
	if (len != len2 || memcmp(text, text2, len) != 0) {
		fprintf(stderr, "config_print's output loads as other"
		    " settings:\n----\n%s----\n%s----\n", text, text2);
		abort();
	}
	free(text);
	free(text2);
	config_free(&again);
	config_free(&cfg);
	return 0;
}
