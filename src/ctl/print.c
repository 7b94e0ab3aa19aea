/*
 * gatherctl's printer. With --json, or when stdout is not a terminal, a
 * reply is printed as the daemon sent it, one line each. Otherwise it is
 * shown by its shape: a batch as a header line and a line per result, a
 * pong with its round trip, the status as labelled lines and tables, an
 * error on stderr. Text from the daemon reaches the terminal only through
 * print_clean(), so a value cannot carry escape sequences to it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "ctl/print.h"
#include "xmalloc.h"

#define PRINT_VALUE_MAX		100	/* bytes of a value shown as text */

/* Write a terminal's control sequence to fp and flush it out at once. */
void
print_control(FILE *fp, const char *seq)
{
	fputs(seq, fp);
	fflush(fp);
}

/*
 * Copy text from the daemon for a terminal: control characters (C0, DEL
 * and C1) become '?', and more than max bytes are cut at a character
 * boundary and end with an ellipsis. max 0 means no limit.
 */
char *
print_clean(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len, i, n;
	char			*out;

	len = strlen(s);
	if (max != 0 && len > max) {
		len = max;
		while (len > 0 && (p[len] & 0xc0) == 0x80)
			len--;
	}
	out = xmalloc(len + sizeof "\xe2\x80\xa6");
	for (i = n = 0; i < len; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			out[n++] = '?';
		else if (p[i] == 0xc2 && i + 1 < len &&
		    p[i + 1] >= 0x80 && p[i + 1] < 0xa0) {
			out[n++] = '?';
			i++;
		} else
			out[n++] = (char)p[i];
	}
	out[n] = '\0';
	if (len < strlen(s))
		strcpy(out + n, "\xe2\x80\xa6");
	return out;
}

/* Compact JSON of v for a terminal, cut after max bytes; "" for NULL. */
static char *
print_json_text(const json_t *v, size_t max)
{
	char	*s, *out;

	if (v == NULL)
		return xstrdup("");
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return xstrdup("?");
	out = print_clean(s, max);
	free(s);
	return out;
}

/* A usage error on one line, pointing at the help. */
void
print_usage_error(const char *who, const char *help, const char *fmt,
    va_list ap)
{
	fprintf(stderr, "%s: ", who);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see %s)\n", help);
}

/* Format a JSON scalar of the daemon's into buf; "-" when it is missing. */
static const char *
print_fmt(const json_t *v, char *buf, size_t size)
{
	char	*s;
	double	 d;

	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v)) {
		d = json_real_value(v);
		if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
			snprintf(buf, size, "%.0f", d);
		else
			snprintf(buf, size, "%.1f", d);
	} else if (v == NULL || json_is_null(v))
		snprintf(buf, size, "-");
	else {
		if (json_is_string(v))
			s = print_clean(json_string_value(v), size > 4 ?
			    size - 4 : 1);
		else
			s = print_json_text(v, size > 4 ? size - 4 : 1);
		snprintf(buf, size, "%s", s);
		free(s);
	}
	return buf;
}

/* Format a latency into buf: "0.05 ms", "1001.3 ms". */
const char *
print_fmt_ms(const json_t *v, char *buf, size_t size)
{
	if (!json_is_number(v))
		snprintf(buf, size, "-");
	else if (json_number_value(v) < 10.0)
		snprintf(buf, size, "%.2f ms", json_number_value(v));
	else
		snprintf(buf, size, "%.1f ms", json_number_value(v));
	return buf;
}

/* Format an age in milliseconds into buf: "123.4 ms", "12.3 s", "3m 2s". */
static const char *
print_fmt_age(const json_t *v, char *buf, size_t size)
{
	double	 ms;

	if (!json_is_number(v))
		snprintf(buf, size, "-");
	else if ((ms = json_number_value(v)) < 1000.0)
		snprintf(buf, size, "%.1f ms", ms);
	else if (ms < 60000.0)
		snprintf(buf, size, "%.1f s", ms / 1000.0);
	else
		snprintf(buf, size, "%lldm %llds", (long long)(ms / 60000.0),
		    (long long)(ms / 1000.0) % 60);
	return buf;
}

/* Format a byte count into buf: "512 B", "1.5 MiB", "1 GiB". */
const char *
print_fmt_bytes(double bytes, char *buf, size_t size)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	size_t	i;

	for (i = 0; bytes >= 1024 && i < 4; i++)
		bytes /= 1024;
	snprintf(buf, size, "%.*f %s", bytes == (double)(long long)bytes ?
	    0 : 1, bytes, units[i]);
	return buf;
}

/* Format an uptime in seconds into buf: "3h 2m 5s". */
const char *
print_fmt_uptime(const json_t *v, char *buf, size_t size)
{
	long long	 s, d, h, m;

	if (!json_is_number(v) || json_number_value(v) < 0) {
		snprintf(buf, size, "-");
		return buf;
	}
	s = (long long)json_number_value(v);
	d = s / 86400;
	h = s / 3600 % 24;
	m = s / 60 % 60;
	s %= 60;
	if (d > 0)
		snprintf(buf, size, "%lldd %lldh %lldm %llds", d, h, m, s);
	else if (h > 0)
		snprintf(buf, size, "%lldh %lldm %llds", h, m, s);
	else if (m > 0)
		snprintf(buf, size, "%lldm %llds", m, s);
	else
		snprintf(buf, size, "%llds", s);
	return buf;
}

/*
 * An http job's value as a result line shows it: status, size, HTTP
 * version, redirects and final URL ("200  1.0 KiB  HTTP/2  https://...");
 * NULL if v is not such a value.
 */
static char *
print_http_value(const json_t *v)
{
	const json_t	*status = json_object_get(v, "status");
	const json_t	*bytes = json_object_get(v, "bytes");
	const json_t	*version = json_object_get(v, "http_version");
	const json_t	*url = json_object_get(v, "url");
	const json_t	*hops = json_object_get(v, "redirects");
	char		*u, *ver, *out, size[32], redirects[32] = "";
	double		 n;

	if (!json_is_integer(status) || !json_is_integer(bytes) ||
	    !json_is_string(version) || !json_is_string(url) ||
	    !json_is_object(json_object_get(v, "headers")))
		return NULL;
	n = (double)json_integer_value(bytes);
	if (n < 1024)
		snprintf(size, sizeof size, "%.0f B", n);
	else if (n < 1024 * 1024)
		snprintf(size, sizeof size, "%.1f KiB", n / 1024);
	else
		snprintf(size, sizeof size, "%.1f MiB", n / (1024 * 1024));
	if (json_is_integer(hops) && json_integer_value(hops) > 0)
		snprintf(redirects, sizeof redirects, " (%" JSON_INTEGER_FORMAT
		    " redirect%s)", json_integer_value(hops),
		    json_integer_value(hops) == 1 ? "" : "s");
	u = print_clean(json_string_value(url), PRINT_VALUE_MAX);
	ver = print_clean(json_string_value(version), 8);
	out = xasprintf("%" JSON_INTEGER_FORMAT "  %9s  HTTP/%s  %s%s",
	    json_integer_value(status), size, ver, u, redirects);
	free(u);
	free(ver);
	return out;
}

/*
 * What a result says beside its value: its name, its tries, whether it
 * won its batch or group; "" when nothing.
 */
static char *
print_result_notes(const json_t *result, int winner)
{
	const json_t	*name = json_object_get(result, "name");
	const json_t	*attempts = json_object_get(result, "attempts");
	char		*notes, *s, *clean;

	notes = xstrdup("");
	if (json_is_string(name)) {
		clean = print_clean(json_string_value(name), 40);
		s = xasprintf("%s, name %s", notes, clean);
		free(clean);
		free(notes);
		notes = s;
	}
	if (json_is_integer(attempts)) {
		s = xasprintf("%s, %" JSON_INTEGER_FORMAT " attempt%s", notes,
		    json_integer_value(attempts),
		    json_integer_value(attempts) == 1 ? "" : "s");
		free(notes);
		notes = s;
	}
	if (winner) {
		s = xasprintf("%s, winner", notes);
		free(notes);
		notes = s;
	}
	if (notes[0] == '\0')
		return notes;
	s = xasprintf("  (%s)", notes + 2);
	free(notes);
	return s;
}

/*
 * The jobs of job when it is a group or sequence whose result holds its
 * results (an array as long as its jobs), else NULL: only then is the
 * result shown as a tree.
 */
static const json_t *
print_nested_jobs(const json_t *job, const json_t *result)
{
	const json_t	*jobs = json_object_get(job, "jobs");
	const json_t	*value = json_object_get(result, "value");
	const char	*type;

	type = json_string_value(json_object_get(job, "type"));
	if (type == NULL || (strcmp(type, "group") != 0 &&
	    strcmp(type, "sequence") != 0) || !json_is_array(jobs) ||
	    !json_is_array(value) ||
	    json_array_size(value) != json_array_size(jobs))
		return NULL;
	return jobs;
}

/* The width of the indexes of n results: 1 for up to 10. */
static int
print_index_width(size_t n)
{
	int	width;

	for (width = 1, n = n > 0 ? n - 1 : 0; n >= 10; n /= 10)
		width++;
	return width;
}

static void	print_results(int, const json_t *, const json_t *,
		    const json_t *);

/*
 * Print one job result, indent columns in: "  [0] ok  1000.4 ms  "Hi!"",
 * with its notes (name, attempts, winner). job is what was asked for it
 * (NULL when unknown): a group or sequence is a line saying so, and its
 * results below, further in.
 */
static void
print_result(int indent, json_int_t index, int width, const json_t *result,
    const json_t *job, int winner)
{
	const json_t	*ms, *error, *nested;
	const char	*code, *mode;
	char		*what, *text, *notes, *clean, msbuf[32];

	ms = json_object_get(result, "ms");
	if (json_is_number(ms))
		snprintf(msbuf, sizeof msbuf, "%.1f", json_number_value(ms));
	else
		snprintf(msbuf, sizeof msbuf, "-");
	nested = print_nested_jobs(job, result);
	if (json_is_true(json_object_get(result, "ok"))) {
		what = xstrdup("ok");
		if (nested != NULL) {
			mode = json_string_value(json_object_get(job, "mode"));
			clean = print_clean(mode != NULL ? mode : "", 16);
			text = xasprintf("%s%s%s%s",
			    json_string_value(json_object_get(job, "type")),
			    mode != NULL ? " (" : "", clean,
			    mode != NULL ? ")" : "");
			free(clean);
		} else if ((text = print_http_value(json_object_get(result,
		    "value"))) == NULL)
			text = print_json_text(json_object_get(result,
			    "value"), PRINT_VALUE_MAX);
	} else {
		error = json_object_get(result, "error");
		code = json_string_value(json_object_get(error, "code"));
		what = print_clean(code != NULL ? code : "failed", 32);
		code = json_string_value(json_object_get(error, "message"));
		text = print_clean(code != NULL ? code : "", 0);
	}
	notes = print_result_notes(result, winner);
	printf("%*s[%*" JSON_INTEGER_FORMAT "] %-9s %6s ms  %s%s\n", indent,
	    "", width, index, what, msbuf, text, notes);
	free(what);
	free(text);
	free(notes);
	if (nested != NULL)
		print_results(indent + 4, json_object_get(result, "value"),
		    nested, json_object_get(result, "winner"));
}

/* Print results (of jobs, NULL when unknown), marking the winner's. */
static void
print_results(int indent, const json_t *results, const json_t *jobs,
    const json_t *winner)
{
	const json_t	*r;
	size_t		 i;
	int		 width;

	width = print_index_width(json_array_size(results));
	json_array_foreach(results, i, r)
		print_result(indent, (json_int_t)i, width, r,
		    json_array_get(jobs, i), json_is_integer(winner) &&
		    json_integer_value(winner) == (json_int_t)i);
}

/* The number in obj[key] if there is one, else fallback. */
static double
print_number_or(const json_t *obj, const char *key, double fallback)
{
	const json_t	*v = json_object_get(obj, key);

	return json_is_number(v) ? json_number_value(v) : fallback;
}

static void	print_final(const struct print *, const json_t *,
		    const json_t *);

/*
 * Print a final batch reply: a header line, then one line per result
 * unless streamed (each was printed as it came), a group's or sequence's
 * results below its own (jobs: the batch's, NULL when unknown).
 */
static void
print_batch(const json_t *reply, const json_t *jobs, int streamed)
{
	const json_t	*results, *stats, *r, *id, *winner;
	const char	*code;
	double		 ok = 0, failed = 0, cancelled = 0, timed_out = 0;
	double		 sum = 0;
	size_t		 i, n;
	char		*idtext, elapsed[32], won[48];

	results = json_object_get(reply, "results");
	stats = json_object_get(reply, "stats");
	n = json_array_size(results);
	json_array_foreach(results, i, r) {
		code = json_string_value(json_object_get(json_object_get(r,
		    "error"), "code"));
		if (json_is_true(json_object_get(r, "ok")))
			ok++;
		else if (code != NULL && strcmp(code, "cancelled") == 0)
			cancelled++;
		else if (code != NULL && strcmp(code, "timeout") == 0)
			timed_out++;
		else
			failed++;
		sum += print_number_or(r, "ms", 0);
	}

	id = json_object_get(reply, "id");
	idtext = id == NULL || json_is_null(id) ? xstrdup("") :
	    print_json_text(id, 40);
	snprintf(elapsed, sizeof elapsed, "%.1f ms",
	    print_number_or(reply, "elapsed_ms", 0));
	winner = json_object_get(reply, "winner");
	if (json_is_integer(winner))
		snprintf(won, sizeof won, ", winner [%" JSON_INTEGER_FORMAT
		    "]", json_integer_value(winner));
	else
		snprintf(won, sizeof won, "%s", winner != NULL ?
		    ", no winner" : "");
	printf("batch%s%s: %s%s, %.0f job%s in %s (%.0f ok, %.0f failed, "
	    "%.0f cancelled, %.0f timed out; sum %.1f ms)\n",
	    idtext[0] != '\0' ? " " : "", idtext,
	    json_is_true(json_object_get(reply, "ok")) ? "ok" : "failed", won,
	    print_number_or(stats, "jobs", (double)n),
	    print_number_or(stats, "jobs", (double)n) == 1 ? "" : "s",
	    json_is_number(json_object_get(reply, "elapsed_ms")) ?
	    elapsed : "-",
	    print_number_or(stats, "ok", ok),
	    print_number_or(stats, "failed", failed),
	    print_number_or(stats, "cancelled", cancelled),
	    print_number_or(stats, "timed_out", timed_out),
	    print_number_or(stats, "sum_ms", sum));
	free(idtext);
	if (!streamed)
		print_results(2, results, jobs, winner);
}

/*
 * -r: a result's value alone on stdout, a string as its text (as jq -r
 * does), anything else as compact JSON; a failed job's error on stderr.
 * On a terminal, control characters but newline and tab are shown as '?'.
 */
static void
print_raw(const struct print *pr, json_int_t index, const json_t *result)
{
	const json_t	*v = json_object_get(result, "value");
	const json_t	*error = json_object_get(result, "error");
	const char	*code, *msg;
	char		*text, *p;
	size_t		 len;

	if (!json_is_true(json_object_get(result, "ok"))) {
		code = json_string_value(json_object_get(error, "code"));
		msg = json_string_value(json_object_get(error, "message"));
		text = print_clean(msg != NULL ? msg : "", 0);
		p = print_clean(code != NULL ? code : "failed", 32);
		fflush(stdout);
		fprintf(stderr, "jobs[%" JSON_INTEGER_FORMAT "]: %s: %s\n",
		    index, p, text);
		free(p);
		free(text);
		return;
	}
	if (json_is_string(v)) {
		len = json_string_length(v);
		text = xmalloc(len + 1);
		memcpy(text, json_string_value(v), len + 1);
	} else {
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL)
			text = xstrdup("null");
		len = strlen(text);
	}
	for (p = text; pr->tty && p < text + len; p++) {
		if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') ||
		    *p == 0x7f)
			*p = '?';
	}
	fwrite(text, 1, len, stdout);
	putchar('\n');
	free(text);
}

/* -r: print a reply or event by its values; other replies as they are. */
static void
print_reply_raw(const struct print *pr, const json_t *msg, const char *line,
    size_t len)
{
	const json_t	*results = json_object_get(msg, "results");
	const json_t	*r;
	size_t		 i;

	if (json_object_get(msg, "event") != NULL) {
		r = json_object_get(msg, "result");
		if (r != NULL)
			print_raw(pr, json_integer_value(json_object_get(msg,
			    "index")), r);
		return;
	}
	if (json_is_array(results)) {
		if (!pr->streamed) {
			json_array_foreach(results, i, r)
				print_raw(pr, (json_int_t)i, r);
		}
		return;
	}
	if (json_object_get(msg, "error") != NULL) {
		print_final(pr, NULL, msg);
		return;
	}
	fwrite(line, 1, len, stdout);
	putchar('\n');
}

/* The PostgreSQL pools of status.databases, a line each. */
static void
print_databases(const json_t *dbs)
{
	const char	*name;
	json_t		*v;
	char		 a[32], x[32], y[32], z[32], *clean;

	json_object_foreach((json_t *)dbs, name, v) {
		if (json_object_get(v, "open") == NULL)
			continue;
		clean = print_clean(name, 24);
		printf("  Database %s: %s, %s of %s connections open,"
		    " %s busy, %s cancelling\n", clean,
		    json_is_false(json_object_get(v, "up")) ? "down" : "up",
		    print_fmt(json_object_get(v, "open"), a, sizeof a),
		    print_fmt(json_object_get(v, "pool"), x, sizeof x),
		    print_fmt(json_object_get(v, "busy"), y, sizeof y),
		    print_fmt(json_object_get(v, "cancelling"), z, sizeof z));
		free(clean);
	}
}

/* One of the counts on a status line: a value, the words after it. */
struct print_count {
	const char	*key;
	const char	*words;
};

/*
 * Print "  LABEL" padded to a column, then for each count (ended by a
 * NULL key) obj's value at its key and its words.
 */
static void
print_counts(const char *label, const json_t *obj,
    const struct print_count *counts)
{
	char	a[64];

	printf("  %-13s", label);
	for (; counts->key != NULL; counts++)
		printf("%s%s", print_fmt(json_object_get(obj, counts->key), a,
		    sizeof a), counts->words);
}

/* A column of a status table: a value of each row's, formatted. */
struct print_col {
	const char	*key;
	int		 gap;	/* spaces before it */
	int		 width;	/* right-aligned; negative: left */
	const char	*(*fmt)(const json_t *, char *, size_t);
};

/* Print row's cells, one per column (ended by a NULL key). */
static void
print_cells(const json_t *row, const struct print_col *cols)
{
	char	a[64];

	for (; cols->key != NULL; cols++)
		printf("%*s%*s", cols->gap, "", cols->width,
		    cols->fmt(json_object_get(row, cols->key), a, sizeof a));
}

/* The length of obj's longest key, at least min, at most max. */
static size_t
print_key_width(const json_t *obj, size_t min, size_t max)
{
	const char	*key;
	const json_t	*v;
	size_t		 w = min;

	json_object_foreach((json_t *)obj, key, v) {
		if (strlen(key) > w)
			w = strlen(key) > max ? max : strlen(key);
	}
	return w;
}

/* A batch's id as JSON text, cut short, into buf. */
static const char *
print_fmt_id(const json_t *v, char *buf, size_t size)
{
	char	*s = print_json_text(v, 17);

	snprintf(buf, size, "%s", s);
	free(s);
	return buf;
}

/* Print the status object as labelled lines and tables. */
static void
print_status(const struct print *pr, const json_t *st)
{
	static const struct print_col	 type_cols[] = {
		{ "done", 1, 8, print_fmt }, { "failed", 1, 8, print_fmt },
		{ "ms_p50", 1, 10, print_fmt_ms },
		{ "ms_p99", 1, 10, print_fmt_ms },
		{ "ms_max", 1, 10, print_fmt_ms }, { NULL, 0, 0, NULL },
	};
	static const struct print_col	 conn_cols[] = {
		{ "conn", 2, 6, print_fmt }, { "pid", 2, 8, print_fmt },
		{ "uid", 1, 8, print_fmt }, { "batches", 1, 8, print_fmt },
		{ "age_ms", 1, 10, print_fmt_age }, { NULL, 0, 0, NULL },
	};
	static const struct print_col	 batch_cols[] = {
		{ "conn", 2, 6, print_fmt }, { "id", 2, -20, print_fmt_id },
		{ "jobs", 1, 8, print_fmt }, { "done", 1, 8, print_fmt },
		{ "age_ms", 1, 10, print_fmt_age }, { NULL, 0, 0, NULL },
	};
	const json_t	*c, *b, *j, *types, *limits, *list, *v, *e, *m;
	const json_t	*recent;
	const char	*key;
	char		 a[64], x[64], *name, *s;
	size_t		 w, i;
	double		 bytes;

	if (!json_is_object(st)) {
		s = print_json_text(st, 0);
		printf("status: %s\n", s);
		free(s);
		return;
	}
	c = json_object_get(st, "connections");
	b = json_object_get(st, "batches");
	j = json_object_get(st, "jobs");
	s = print_clean(pr->sock, 0);
	printf("gatherd %s at %s\n", print_fmt(json_object_get(st, "version"),
	    a, sizeof a), s);
	free(s);
	print_counts("PID:", st, (const struct print_count[]){
	    { "pid", "\n" }, { NULL, NULL } });
	printf("  %-13s%s\n", "Uptime:",
	    print_fmt_uptime(json_object_get(st, "uptime_s"), a, sizeof a));
	print_counts("Connections:", c, (const struct print_count[]){
	    { "open", " open, " }, { "total", " total\n" }, { NULL, NULL } });
	print_counts("Batches:", b, (const struct print_count[]){
	    { "in_flight", " in flight, " }, { "done", " done, " },
	    { "failed", " failed\n" }, { NULL, NULL } });
	print_counts("Jobs:", j, (const struct print_count[]){
	    { "in_flight", " running, " }, { "waiting", " waiting, " },
	    { "retrying", " retrying\n" }, { NULL, NULL } });
	print_counts("", j, (const struct print_count[]){
	    { "done", " done, " }, { "failed", " failed (" },
	    { "timed_out", " of them timed out, " },
	    { "cancelled", " cancelled)\n" }, { NULL, NULL } });
	print_counts("Pool:", json_object_get(st, "pool"),
	    (const struct print_count[]){ { "threads", " threads, " },
	    { "busy", " busy, " }, { "queued", " queued\n" }, { NULL, NULL } });
	if ((v = json_object_get(st, "http")) != NULL)
		print_counts("HTTP:", v, (const struct print_count[]){
		    { "connections", " connections, " },
		    { "requests", " requests, " }, { "queued", " queued\n" },
		    { NULL, NULL } });
	m = json_object_get(st, "memory");
	if (json_is_number(json_object_get(m, "held_bytes")))
		printf("  %-13s%s held of %s\n", "Memory:",
		    print_fmt_bytes(json_number_value(json_object_get(m,
		    "held_bytes")), a, sizeof a),
		    print_fmt_bytes(json_number_value(json_object_get(m,
		    "max_memory_bytes")), x, sizeof x));
	recent = json_object_get(st, "recent");
	if (json_is_number(json_object_get(recent, "window_s"))) {
		printf("  %-13s%s batches (%s failed),", "Recent:",
		    print_fmt(json_object_get(json_object_get(recent,
		    "batches"), "done"), a, sizeof a),
		    print_fmt(json_object_get(json_object_get(recent,
		    "batches"), "failed"), x, sizeof x));
		printf(" %s jobs (%s failed) in the last %.0f s\n",
		    print_fmt(json_object_get(json_object_get(recent, "jobs"),
		    "done"), a, sizeof a),
		    print_fmt(json_object_get(json_object_get(recent, "jobs"),
		    "failed"), x, sizeof x),
		    json_number_value(json_object_get(recent, "window_s")));
	}
	print_databases(json_object_get(st, "databases"));
	if (json_is_string(json_object_get(json_object_get(st, "metrics"),
	    "listen"))) {
		s = print_clean(json_string_value(json_object_get(
		    json_object_get(st, "metrics"), "listen")), 64);
		printf("  %-13shttp://%s/metrics\n", "Metrics:", s);
		free(s);
	}

	types = json_object_get(j, "by_type");
	if (json_object_size(types) > 0) {
		w = print_key_width(types, 4, 24);
		printf("\nJobs by type:\n  %-*s %8s %8s %10s %10s %10s\n",
		    (int)w, "TYPE", "DONE", "FAILED", "P50", "P99", "MAX");
		json_object_foreach((json_t *)types, key, v) {
			name = print_clean(key, 24);
			printf("  %-*s", (int)w, name);
			print_cells(v, type_cols);
			putchar('\n');
			free(name);
		}
	}

	limits = json_object_get(st, "limits");
	if (json_object_size(limits) > 0) {
		w = print_key_width(limits, 0, 32);
		printf("\nLimits:\n");
		json_object_foreach((json_t *)limits, key, v) {
			name = print_clean(key, 32);
			printf("  %-*s  %s", (int)w, name,
			    print_fmt(v, a, sizeof a));
			bytes = json_is_number(v) ? json_number_value(v) : 0;
			if (strlen(key) > 6 &&
			    strcmp(key + strlen(key) - 6, "_bytes") == 0 &&
			    bytes >= 1024)
				printf(" (%s)", print_fmt_bytes(bytes, a,
				    sizeof a));
			putchar('\n');
			free(name);
		}
	}

	if (!pr->detail)
		return;
	list = json_object_get(c, "list");
	if (json_is_array(list) && json_array_size(list) > 0) {
		printf("\nConnections:\n  %6s  %8s %8s %8s %10s\n", "CONN",
		    "PID", "UID", "BATCHES", "AGE");
		json_array_foreach(list, i, e) {
			print_cells(e, conn_cols);
			putchar('\n');
		}
	}
	list = json_object_get(b, "list");
	if (!json_is_array(list))
		printf("\nBatches in flight: not reported\n");
	else if (json_array_size(list) == 0)
		printf("\nBatches in flight: none\n");
	else {
		printf("\nBatches in flight:\n  %6s  %-20s %8s %8s %10s\n",
		    "CONN", "ID", "JOBS", "DONE", "AGE");
		json_array_foreach(list, i, e) {
			print_cells(e, batch_cols);
			putchar('\n');
		}
	}
}

/* Print a final reply for a terminal, by its shape (jobs: see print_batch). */
static void
print_final(const struct print *pr, const json_t *jobs, const json_t *reply)
{
	const json_t	*error;
	const char	*text;
	char		*code, *msg, *id, *s, a[64], x[64];

	error = json_object_get(reply, "error");
	if (json_object_get(reply, "results") != NULL)
		print_batch(reply, jobs, pr->streamed);
	else if (error != NULL) {
		text = json_string_value(json_object_get(error, "code"));
		code = print_clean(text != NULL ? text : "unknown", 32);
		text = json_string_value(json_object_get(error, "message"));
		msg = print_clean(text != NULL ? text : "", 0);
		fflush(stdout);
		if (pr->nreqs > 1 &&
		    !json_is_null(json_object_get(reply, "id"))) {
			id = print_json_text(json_object_get(reply, "id"), 40);
			fprintf(stderr, "error: %s: %s (id %s)\n", code, msg,
			    id);
			free(id);
		} else
			fprintf(stderr, "error: %s: %s\n", code, msg);
		free(code);
		free(msg);
	} else if (json_object_get(reply, "pong") != NULL) {
		printf("PONG from gatherd %s (protocol %s) in %.3f ms\n",
		    print_fmt(json_object_get(reply, "version"), a, sizeof a),
		    print_fmt(json_object_get(reply, "protocol"), x, sizeof x),
		    clock_ms(pr->started, clock_ns()));
	} else if (json_object_get(reply, "status") != NULL)
		print_status(pr, json_object_get(reply, "status"));
	else if (json_is_string(json_object_get(reply, "metrics")))
		fwrite(json_string_value(json_object_get(reply, "metrics")), 1,
		    json_string_length(json_object_get(reply, "metrics")),
		    stdout);
	else if (json_object_get(reply, "cancelled") != NULL) {
		printf("cancelled %s batch(es)\n",
		    print_fmt(json_object_get(reply, "cancelled"), a, sizeof a));
	} else {
		s = print_json_text(reply, 0);
		printf("%s\n", s);
		free(s);
	}
	fflush(stdout);
}


/* Print a stream event for a terminal: a result line, or the event as is. */
static void
print_event(const struct print *pr, const json_t *jobs, const json_t *msg)
{
	const json_t	*result = json_object_get(msg, "result");
	json_int_t	 index;
	char		*s;

	if (result != NULL && json_is_integer(json_object_get(msg, "index"))) {
		s = pr->nreqs > 1 ? print_json_text(json_object_get(msg,
		    "id"), 40) : NULL;
		if (s != NULL)
			printf("batch %s ", s);
		free(s);
		index = json_integer_value(json_object_get(msg, "index"));
		print_result(0, index, 0, result, index >= 0 ?
		    json_array_get(jobs, (size_t)index) : NULL, 0);
	} else {
		s = print_json_text(msg, 0);
		printf("%s\n", s);
		free(s);
	}
}

/* Print one reply line, verbatim or for a terminal, and flush it out. */
void
print_reply(const struct print *pr, const json_t *jobs, const json_t *msg,
    const char *line, size_t len)
{
	if (pr->raw)
		print_reply_raw(pr, msg, line, len);
	else if (pr->json) {
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else if (json_object_get(msg, "event") != NULL)
		print_event(pr, jobs, msg);
	else
		print_final(pr, jobs, msg);
	fflush(stdout);
}
