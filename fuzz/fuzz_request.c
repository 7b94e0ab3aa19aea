/*
 * libFuzzer target for the request path: one request line in, as conn.c
 * hands it over (no newline), through proto_parse (JSON, validation, the
 * batch and its jobs built), its first reply checked (UTF-8 and JSON
 * whatever the line held), then everything freed. Nothing is started:
 * parsing needs no event base, no pool and no database connection, only a
 * configuration that names the databases a query job may ask for.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "batch.h"
#include "config.h"
#include "jnum.h"
#include "proto.h"
#include "snapshot.h"
#include "utf8.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A read root, a [db.default] SQLite and a [db.pg] PostgreSQL database. */
static const char fuzz_conf[] =
    "[read]\n"
    "roots = /nonexistent/gatherd-fuzz/files /nonexistent/other\n"
    "max_bytes = 1048576\n"
    "[limits]\n"
    "max_jobs_per_batch = 1000\n"
    "[db.default]\n"
    "driver = sqlite\n"
    "path = /nonexistent/gatherd-fuzz/default.sqlite3\n"
    "[db.pg]\n"
    "driver = postgres\n"
    "conninfo = host=/nonexistent dbname=fuzz\n"
    "pool = 2\n";

/* Never freed: parsing only takes and drops references. */
static struct snapshot	fuzz_snap = { .refs = 1 };

/* Load fuzz_conf through config_load, the way the daemon gets its config. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	 path[64];
	char	*cause = NULL;
	int	 fd;

	(void)argc;
	(void)argv;
	if ((fd = memfd_create("gatherd-fuzz.conf", 0)) == -1 ||
	    write(fd, fuzz_conf, sizeof fuzz_conf - 1) !=
	    (ssize_t)(sizeof fuzz_conf - 1)) {
		perror("fuzz_request: memfd");
		exit(1);
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	config_defaults(&fuzz_snap.cfg);
	if (config_load(&fuzz_snap.cfg, path, 1, &cause) != 0) {
		fprintf(stderr, "fuzz_request: %s\n", cause);
		exit(1);
	}
	close(fd);
	return 0;
}

/*
 * The reply conn.c would write first (the error, or a pong for the id) is
 * valid UTF-8 and JSON (jnum_loadb: jansson alone refuses big ids).
 */
static void
fuzz_check_reply(const struct request *req, enum err_code err,
    const char *cause)
{
	struct evbuffer	*evb;
	json_error_t	 jerr;
	json_t		*v;
	unsigned char	*p;
	size_t		 len;

	if ((evb = evbuffer_new()) == NULL)
		abort();
	if (err != ERR_NONE)
		proto_write_error(evb, req->id_text, err, cause);
	else
		proto_write_pong(evb, req->id_text);
	len = evbuffer_get_length(evb);
	p = evbuffer_pullup(evb, -1);
	if (len == 0 || p[len - 1] != '\n' || !utf8_valid(p, len, NULL))
		abort();
	v = jnum_loadb((const char *)p, len - 1, JSON_ALLOW_NUL, &jerr);
	jnum_clear();
	if (v == NULL)
		abort();
	json_decref(v);
	evbuffer_free(evb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request	 req;
	char		*cause = NULL;
	enum err_code	 err;

	err = proto_parse((const char *)data, size, &fuzz_snap, 0, &req,
	    &cause);
	fuzz_check_reply(&req, err, cause);

	/* What conn.c relies on: a message exactly when refused. */
	if ((err == ERR_NONE) != (cause == NULL))
		abort();
	if (err != ERR_NONE && req.batch != NULL)
		abort();
	if (err == ERR_NONE && req.op == OP_BATCH && req.batch == NULL)
		abort();
	free(cause);
	proto_request_clear(&req);
	/* Every batch dropped the reference it took. */
	if (fuzz_snap.refs != 1)
		abort();
	return 0;
}
