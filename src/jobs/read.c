/*
 * The read job: a file read on a worker thread, confined beneath a read
 * root by the kernel (fsroot.c). The worker opens, checks and reads the
 * file and writes the whole value as JSON text, so the loop only passes
 * the text on.
 *
 * States: RUNNING with work != NULL while the read is with the pool. A
 * cancel withdraws the work item, or abandons it to be freed when the
 * worker hands it back; either way the job is done at once.
 *
 * The type owns the [read] section (roots, max_bytes), and the roots of
 * each configuration snapshot: opened when the snapshot is made (load,
 * off the loop), closed when it is freed, so a reload never changes the
 * roots of a batch already parsed.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "batch.h"
#include "config.h"
#include "fsroot.h"
#include "jnum.h"
#include "job.h"
#include "job_work.h"
#include "jobs/read.h"
#include "jsonw.h"
#include "pool.h"
#include "roots.h"
#include "snapshot.h"
#include "utf8.h"
#include "xmalloc.h"

enum read_encoding {
	READ_UTF8,
	READ_BASE64,
};

struct read_work;

struct read_job {
	struct job		 job;
	struct read_work	*work;		/* with the pool, or NULL */
	char			*path;		/* owned: as requested */
	uint64_t		 offset;
	int64_t			 length;	/* < 0: to the end */
	uint8_t			 encoding;
};

/*
 * What a worker needs, copied so the job may go away while it runs; and
 * what it found. After job_work_submit only the worker touches the inputs
 * and outputs, until the result comes back on the loop.
 */
struct read_work {
	struct job_work		 jw;		/* its job, and the result */
	struct snapshot		*snap;		/* a reference, freed on the loop */
	int			 rootfd;	/* borrowed from snap's roots */
	char			*rel;		/* owned */
	char			*path;		/* owned, for messages */
	uint64_t		 offset;
	int64_t			 length;
	uint64_t		 max_bytes;
	uint8_t			 encoding;
};

static const char *const read_keys[] = {
	"path", "offset", "length", "encoding", NULL
};

static enum err_code
read_get_uint(json_t *obj, const char *path, const char *key, int64_t *out,
    char **cause)
{
	json_t	*v = json_object_get(obj, key);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return ERR_NONE;
	switch (jnum_integer(v, out)) {
	case JNUM_INT:
		if (*out >= 0)
			return ERR_NONE;
		break;
	case JNUM_INT_RANGE:
		*cause = xasprintf("%s.%s: integer out of range (a signed"
		    " 64-bit integer is expected)", path, key);
		return ERR_BAD_REQUEST;
	case JNUM_NOT_INT:
		break;
	}
	*cause = xasprintf("%s.%s: expected an integer >= 0", path, key);
	return ERR_BAD_REQUEST;
}

static enum err_code
read_parse(struct job *job, json_t *obj, const char *path,
    const struct config *cfg, char **cause)
{
	struct read_job	*r = (struct read_job *)job;
	json_t		*v;
	const char	*enc;
	int64_t		 offset;
	enum err_code	 err;

	(void)cfg;
	if ((v = job_require(obj, path, "path", cause)) == NULL)
		return ERR_BAD_REQUEST;
	if (jsonw_cstr(v) == NULL || *jsonw_cstr(v) == '\0') {
		*cause = xasprintf("%s.path: expected a non-empty string"
		    " without NUL", path);
		return ERR_BAD_REQUEST;
	}
	r->path = xstrdup(json_string_value(v));
	if ((err = read_get_uint(obj, path, "offset", &offset, cause)) != 0)
		return err;
	r->offset = offset < 0 ? 0 : (uint64_t)offset;
	if ((err = read_get_uint(obj, path, "length", &r->length, cause)) != 0)
		return err;
	r->encoding = READ_UTF8;
	v = json_object_get(obj, "encoding");
	if (v != NULL && !json_is_null(v)) {
		enc = jsonw_cstr(v) != NULL ? jsonw_cstr(v) : "";
		if (strcmp(enc, "base64") == 0)
			r->encoding = READ_BASE64;
		else if (strcmp(enc, "utf8") != 0) {
			*cause = xasprintf("%s.encoding: expected \"utf8\" or"
			    " \"base64\"", path);
			return ERR_BAD_REQUEST;
		}
	}
	return ERR_NONE;
}

static const char *
read_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a regular file";
}

static void
read_fail(struct read_work *w, enum err_code code, char *message)
{
	w->jw.code = code;
	w->jw.text = message;
}

/* The open errors with a code and words of their own, after the path. */
static const struct {
	int		 error;
	enum err_code	 code;
	const char	*what;
} read_open_errors[] = {
	{ ENOENT, ERR_NOT_FOUND, "no such file" },
	{ ENOTDIR, ERR_NOT_FOUND, "no such file (a component of the path is"
	    " not a directory)" },
	{ EXDEV, ERR_FORBIDDEN, "escapes the read root (\"..\" above it, or a"
	    " symbolic link that is absolute or leads outside)" },
	/* What open(2) says of a socket, or a device without driver. */
	{ ENXIO, ERR_IO_ERROR, "is a socket (or a device with no driver), not"
	    " a regular file" },
	{ EACCES, ERR_FORBIDDEN, "permission denied" },
	{ EPERM, ERR_FORBIDDEN, "permission denied" },
};

/* Map an open error to the protocol's codes, with a readable message. */
static void
read_open_failed(struct read_work *w, int error)
{
	size_t	i;

	for (i = 0; i < sizeof read_open_errors / sizeof read_open_errors[0];
	    i++) {
		if (read_open_errors[i].error == error) {
			read_fail(w, read_open_errors[i].code, xasprintf(
			    "%s: %s", w->path, read_open_errors[i].what));
			return;
		}
	}
	read_fail(w, ERR_IO_ERROR, xasprintf("%s: cannot open: %s", w->path,
	    strerror(error)));
}

/* Format the value {"data":...,"bytes":N,"size":S} into w's text. */
static void
read_value(struct read_work *w, const unsigned char *data, size_t n,
    uint64_t size)
{
	struct evbuffer	*evb;
	size_t		 bad;

	if (w->encoding == READ_UTF8 && !utf8_valid(data, n, &bad)) {
		read_fail(w, ERR_BAD_ENCODING, xasprintf("%s: not valid UTF-8"
		    " at byte %zu of the data read; use \"encoding\":"
		    "\"base64\"", w->path, bad));
		return;
	}
	if ((evb = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	jsonw_raw(evb, "{\"data\":");
	if (w->encoding == READ_UTF8)
		jsonw_string(evb, (const char *)data, n);
	else
		jsonw_base64(evb, data, n);
	jsonw_raw(evb, ",\"bytes\":");
	jsonw_uint(evb, n);
	jsonw_raw(evb, ",\"size\":");
	jsonw_uint(evb, size);
	jsonw_raw(evb, "}");
	w->jw.text = jsonw_take(evb, &w->jw.len);
	evbuffer_free(evb);
}

/* On a worker: open beneath the root, check, read, encode. */
static void
read_run(struct pool_work *pw)
{
	struct read_work	*w = (struct read_work *)pw;
	struct stat		 sb;
	unsigned char		*buf = NULL;
	uint64_t		 size, want;
	size_t			 got = 0;
	ssize_t			 n;
	int			 fd;

	if ((fd = fsroot_openat(w->rootfd, w->rel, FSROOT_AUTO)) == -1) {
		read_open_failed(w, errno);
		return;
	}
	if (fstat(fd, &sb) == -1) {
		read_fail(w, ERR_IO_ERROR, xasprintf("%s: fstat: %s", w->path,
		    strerror(errno)));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		read_fail(w, ERR_IO_ERROR, xasprintf("%s: is %s, not a regular"
		    " file", w->path, read_file_kind(sb.st_mode)));
		goto out;
	}
	size = (uint64_t)sb.st_size;
	want = w->offset >= size ? 0 : size - w->offset;
	if (w->length >= 0 && (uint64_t)w->length < want)
		want = (uint64_t)w->length;
	if (want > w->max_bytes) {
		read_fail(w, ERR_TOO_LARGE, xasprintf("%s: %llu bytes to read"
		    " exceed read max_bytes (%llu); ask for less with offset"
		    " and length", w->path, (unsigned long long)want,
		    (unsigned long long)w->max_bytes));
		goto out;
	}
	buf = xmalloc((size_t)want);
	while (got < want) {
		n = pread(fd, buf + got, (size_t)want - got,
		    (off_t)(w->offset + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			read_fail(w, ERR_IO_ERROR, xasprintf("%s: read: %s",
			    w->path, strerror(errno)));
			goto out;
		}
		if (n == 0)
			break;		/* the file shrank: what is there */
		got += (size_t)n;
	}
	read_value(w, buf, got, size);
out:
	free(buf);
	close(fd);
}

static void
read_work_free(struct job_work *jw)
{
	struct read_work	*w = (struct read_work *)jw;

	snapshot_unref(w->snap);
	free(w->rel);
	free(w->path);
}

/* The job's read is done: it has no work with the pool now. */
static void
read_detach(struct job *job)
{
	((struct read_job *)job)->work = NULL;
}

static void
read_start(struct job *job)
{
	struct read_job		*r = (struct read_job *)job;
	const struct read_root	*root;
	struct read_work	*w;
	const char		*rel;
	char			*cause;
	enum err_code		 err;

	if ((err = roots_resolve(snapshot_state(job->batch->snap, job->type),
	    r->path, &root, &rel, &cause)) != ERR_NONE) {
		job_finish_error(job, err, cause);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->jw.pw.run = read_run;
	w->jw.detach = read_detach;
	w->jw.free = read_work_free;
	w->snap = snapshot_ref(job->batch->snap);
	w->rootfd = root->fd;
	w->rel = xstrdup(*rel != '\0' ? rel : ".");
	w->path = xstrdup(r->path);
	w->offset = r->offset;
	w->length = r->length;
	w->max_bytes = ((const struct read_settings *)config_settings(
	    &job->batch->snap->cfg, &read_section))->max_bytes;
	w->encoding = r->encoding;
	r->work = w;
	job_work_submit(&w->jw, job);
}

static void
read_cancel(struct job *job)
{
	struct read_job		*r = (struct read_job *)job;

	if (r->work != NULL)
		job_work_cancel(&r->work->jw);
}

static void
read_free(struct job *job)
{
	struct read_job	*r = (struct read_job *)job;

	free(r->path);
}

/* A snapshot is made: open its roots (blocking; a failure is logged). */
static void *
read_load(const struct config *cfg)
{
	const struct read_settings	*s = config_settings(cfg, &read_section);

	return roots_open(&s->roots);
}

/*
 * --check-config: every root the file names exists and is a directory
 * (the built-in default need not: a machine may never read).
 */
static int
read_check_files(const struct config *cfg, char **cause)
{
	const struct read_settings	*s = config_settings(cfg, &read_section);
	struct stat			 sb;
	size_t				 i;

	if (config_key_line(cfg, "read", "roots") == 0)
		return 0;
	for (i = 0; i < s->roots.n; i++) {
		if (stat(s->roots.v[i], &sb) == -1) {
			*cause = config_key_message(cfg, "read", "roots",
			    "%s: %s", s->roots.v[i], errno == ENOENT ?
			    "no such directory" : strerror(errno));
			return -1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			*cause = config_key_message(cfg, "read", "roots",
			    "%s: not a directory", s->roots.v[i]);
			return -1;
		}
	}
	return 0;
}

/* The snapshot is freed: close its roots. */
static void
read_unload(void *state)
{
	roots_free(state);
}

/* limits.read_max_bytes: the most a read returns. */
static void
read_status(const struct config *cfg, json_t *st)
{
	const struct read_settings	*s = config_settings(cfg, &read_section);

	json_object_set_new(json_object_get(st, "limits"), "read_max_bytes",
	    json_integer((json_int_t)s->max_bytes));
}

static const struct config_key read_settings_keys[] = {
	{ "roots", &config_paths, offsetof(struct read_settings, roots), 0, 0,
	    "/var/lib/gatherd/files", 0 },
	{ "max_bytes", &config_u64, offsetof(struct read_settings, max_bytes),
	    1, CONFIG_INT_MAX, "16777216", 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

const struct config_section read_section = {
	"read", read_settings_keys, sizeof(struct read_settings)
};

const struct job_type job_type_read = {
	JOB_TYPE_COMMON(read),
	.free = read_free,
	.section = &read_section,
	.load = read_load,
	.unload = read_unload,
	.status = read_status,
	.check_files = read_check_files,
};
