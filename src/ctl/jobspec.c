/*
 * Job shorthands: what "gatherctl run" and "gatherctl bench --job" take
 * for a job. A shorthand is TYPE:ARGUMENTS, TYPE naming an entry of
 * jobspec_types[] (with @QUALIFIER where the entry takes one, as
 * query@DB), or a JSON job object given whole. Adding a shorthand is one
 * function and one line in the table; the help and the error for an
 * unknown type list the table. A type may also take options that follow
 * its job on the command line (query's -p, read's --offset), each an
 * entry of its own small table.
 *
 * An entry that nests (group, sequence) is written TYPE[ or
 * TYPE:ARGUMENTS[, a word of its own, and the jobs that follow, up to a
 * word "]", are its own: "group:any[ sleep:100 read:a ]". Only a list of
 * words (jobspec_parse_list, for run) nests; one word alone
 * (jobspec_parse, for bench --job) is one job.
 *
 * Nothing here checks a job the way the daemon does: a shorthand only
 * spares the user the JSON, and the daemon's reply says what is wrong.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ctl/jobspec.h"
#include "xmalloc.h"

/*
 * How deep run's words may nest; the daemon's own limit is 16, and a
 * deeper request is sent for it to refuse. This one only bounds the
 * stack.
 */
#define JOBSPEC_MAX_DEPTH	64

/* The line width the help wraps the shorthands at. */
#define JOBSPEC_HELP_WIDTH	79

/* An option of a job type: run's -p VALUE after a query job, say. */
struct jobspec_opt {
	const char	*name;		/* as gatherctl spells it: "-p" */
	/* Add it to job (arg NULL for a flag): 0, or -1 with *cause set. */
	int		(*apply)(json_t *job, const char *arg, char **cause);
};

struct jobspec_type {
	const char	*name;
	const char	*synopsis;	/* for the help and errors */
	int		 qualified;	/* takes NAME@QUALIFIER */
	const struct jobspec_opt *opts;	/* NULL-ended, or NULL */
	const char	*nests;		/* opens a job of this type, or NULL */

	/*
	 * Add the type's fields to job (its "type" is set) from rest, the
	 * text after the first ':'; qual is the text after '@', or NULL.
	 * Returns 0, or -1 with *cause set.
	 */
	int		(*parse)(json_t *job, const char *qual,
			    const char *rest, char **cause);
};

static int	jobspec_sleep(json_t *, const char *, const char *, char **);
static int	jobspec_read(json_t *, const char *, const char *, char **);
static int	jobspec_query(json_t *, const char *, const char *, char **);
static int	jobspec_group(json_t *, const char *, const char *, char **);
static int	jobspec_http(json_t *, const char *, const char *, char **);

static int	jobspec_param(json_t *, const char *, char **);
static int	jobspec_offset(json_t *, const char *, char **);
static int	jobspec_length(json_t *, const char *, char **);
static int	jobspec_base64(json_t *, const char *, char **);

static const struct jobspec_opt jobspec_read_opts[] = {
	{ "--offset", jobspec_offset },
	{ "--length", jobspec_length },
	{ "--base64", jobspec_base64 },
	{ NULL, NULL },
};

static const struct jobspec_opt jobspec_query_opts[] = {
	{ "-p", jobspec_param },
	{ NULL, NULL },
};

static const struct jobspec_type jobspec_types[] = {
	{ .name = "sleep", .synopsis = "sleep:MS[:VALUE]",
	  .parse = jobspec_sleep },
	{ .name = "read",
	  .synopsis = "read:PATH [--offset N] [--length N] [--base64]",
	  .opts = jobspec_read_opts, .parse = jobspec_read },
	{ .name = "query", .synopsis = "query[@DB]:SQL [-p VALUE]...",
	  .qualified = 1, .opts = jobspec_query_opts, .parse = jobspec_query },
	{ .name = "http", .synopsis = "http:[METHOD:]URL",
	  .parse = jobspec_http },
	{ .name = "group", .synopsis = "group[ JOB... ]  group:MODE[ JOB... ]",
	  .nests = "group", .parse = jobspec_group },
	{ .name = "sequence", .synopsis = "sequence[ JOB... ]",
	  .nests = "sequence", .parse = jobspec_group },
};
#define JOBSPEC_NTYPES	(sizeof jobspec_types / sizeof jobspec_types[0])

/* A JSON text of any kind, or else the text as a string. */
json_t *
jobspec_value(const char *s)
{
	json_t	*v;

	if ((v = json_loads(s, JSON_DECODE_ANY, NULL)) != NULL)
		return v;
	return json_string(s);	/* NULL if s is not UTF-8 */
}

/* Parse a non-negative JSON number (ms, timeout_ms), or NULL. */
static json_t *
jobspec_ms(const char *s)
{
	json_t	*v;

	if ((v = json_loads(s, JSON_DECODE_ANY, NULL)) == NULL)
		return NULL;
	if (!json_is_number(v) || json_number_value(v) < 0) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* sleep:MS[:VALUE], VALUE as JSON or else as a string. */
static int
jobspec_sleep(json_t *job, const char *qual, const char *rest, char **cause)
{
	const char	*sep;
	json_t		*v;
	char		*ms;

	(void)qual;
	sep = strchr(rest, ':');
	ms = sep != NULL ? xstrndup(rest, (size_t)(sep - rest)) :
	    xstrdup(rest);
	v = jobspec_ms(ms);
	if (v == NULL)
		*cause = xasprintf("sleep: '%s' is not a non-negative "
		    "number of milliseconds", ms);
	free(ms);
	if (v == NULL)
		return -1;
	json_object_set_new(job, "ms", v);
	if (sep != NULL) {
		if ((v = jobspec_value(sep + 1)) == NULL) {
			*cause = xstrdup("sleep: value is not UTF-8");
			return -1;
		}
		json_object_set_new(job, "value", v);
	}
	return 0;
}

/*
 * The rest of a type's spec that names what it works on (what: PATH,
 * SQL), which must be there, as a string; NULL, with *cause, if it is
 * empty or not UTF-8. head is the spec up to its colon.
 */
static json_t *
jobspec_subject(const char *type, const char *head, const char *what,
    const char *rest, char **cause)
{
	json_t	*v;

	if (*rest == '\0') {
		*cause = xasprintf("%s: no %s after '%s:'", type, what, head);
		return NULL;
	}
	if ((v = json_string(rest)) == NULL)
		*cause = xasprintf("%s: %s is not UTF-8", type, what);
	return v;
}

/* read:PATH. */
static int
jobspec_read(json_t *job, const char *qual, const char *rest, char **cause)
{
	json_t	*v;

	(void)qual;
	if ((v = jobspec_subject("read", "read", "PATH", rest, cause)) == NULL)
		return -1;
	json_object_set_new(job, "path", v);
	return 0;
}

/* query[@DB]:SQL. */
static int
jobspec_query(json_t *job, const char *qual, const char *rest, char **cause)
{
	json_t	*sql, *db = NULL;

	if (qual != NULL && *qual == '\0') {
		*cause = xstrdup("query@DB: empty database name");
		return -1;
	}
	if ((sql = jobspec_subject("query", qual != NULL ? "query@DB" :
	    "query", "SQL", rest, cause)) == NULL)
		return -1;
	if (qual != NULL && (db = json_string(qual)) == NULL) {
		json_decref(sql);
		*cause = xstrdup("query@DB: DB is not UTF-8");
		return -1;
	}
	if (db != NULL)
		json_object_set_new(job, "db", db);
	json_object_set_new(job, "sql", sql);
	return 0;
}

/* group[ or group:MODE[ (a mode the daemon checks); sequence[ takes none. */
static int
jobspec_group(json_t *job, const char *qual, const char *rest, char **cause)
{
	json_t	*mode;

	(void)qual;
	if (*rest != '\0') {
		if (strcmp(json_string_value(json_object_get(job, "type")),
		    "group") != 0 || (mode = json_string(rest)) == NULL) {
			*cause = xasprintf("'%s' is not for this job", rest);
			return -1;
		}
		json_object_set_new(job, "mode", mode);
	}
	json_object_set_new(job, "jobs", json_array());
	return 0;
}

/* Whether arg opens a nested job (group[, sequence[) that "]" closes. */
static int
jobspec_opens(const char *arg)
{
	size_t	len = strlen(arg);

	return arg[0] != '{' && len > 0 && arg[len - 1] == '[';
}

/* Whether arg closes the nested job opened last. */
static int
jobspec_closes(const char *arg)
{
	return strcmp(arg, "]") == 0;
}

/*
 * http:URL or http:METHOD:URL. A METHOD is one the protocol names, in any
 * case, so http:https://... is a URL, never a method "https".
 */
static int
jobspec_http(json_t *job, const char *qual, const char *rest, char **cause)
{
	static const char *const methods[] = {
		"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
	};
	const char *const	*m;
	const char		*colon = strchr(rest, ':');
	json_t			*url;
	size_t			 len;

	(void)qual;
	for (m = methods; colon != NULL && *m != NULL; m++) {
		len = strlen(*m);
		if ((size_t)(colon - rest) == len &&
		    strncasecmp(rest, *m, len) == 0) {
			json_object_set_new(job, "method", json_string(*m));
			rest = colon + 1;
			break;
		}
	}
	if (*rest == '\0' || (url = json_string(rest)) == NULL) {
		*cause = xstrdup("http: expected [METHOD:]URL");
		return -1;
	}
	json_object_set_new(job, "url", url);
	return 0;
}

/* -p VALUE: one more parameter, JSON if it parses, else text. */
static int
jobspec_param(json_t *job, const char *arg, char **cause)
{
	json_t	*params = json_object_get(job, "params"), *v;

	if ((v = jobspec_value(arg)) == NULL) {
		*cause = xstrdup("VALUE is not UTF-8");
		return -1;
	}
	if (!json_is_array(params)) {
		params = json_array();
		json_object_set_new(job, "params", params);
	}
	json_array_append_new(params, v);
	return 0;
}

/* An integer >= 0 for a read's offset or length. */
static int
jobspec_count(json_t *job, const char *key, const char *arg, char **cause)
{
	json_t	*v = json_loads(arg, JSON_DECODE_ANY, NULL);

	if (v == NULL || !json_is_integer(v) || json_integer_value(v) < 0) {
		json_decref(v);
		*cause = xasprintf("'%s' is not an integer >= 0", arg);
		return -1;
	}
	json_object_set_new(job, key, v);
	return 0;
}

/* --offset N. */
static int
jobspec_offset(json_t *job, const char *arg, char **cause)
{
	return jobspec_count(job, "offset", arg, cause);
}

/* --length N. */
static int
jobspec_length(json_t *job, const char *arg, char **cause)
{
	return jobspec_count(job, "length", arg, cause);
}

/* --base64: the data comes back base64-encoded (any bytes). */
static int
jobspec_base64(json_t *job, const char *arg, char **cause)
{
	(void)arg;
	(void)cause;
	json_object_set_new(job, "encoding", json_string("base64"));
	return 0;
}

/*
 * Apply an option given after a job (name as gatherctl spells it, arg
 * NULL for a flag) to that job. 0, or -1 with *cause set when the job's
 * type has no such option.
 */
int
jobspec_option(json_t *job, const char *name, const char *arg, char **cause)
{
	const char		*type;
	const struct jobspec_opt *o;
	size_t			 i;

	type = json_string_value(json_object_get(job, "type"));
	for (i = 0; type != NULL && i < JOBSPEC_NTYPES; i++) {
		if (strcmp(jobspec_types[i].name, type) != 0)
			continue;
		for (o = jobspec_types[i].opts; o != NULL && o->name != NULL;
		    o++) {
			if (strcmp(o->name, name) == 0)
				return o->apply(job, arg, cause);
		}
	}
	*cause = xasprintf("not an option of %s jobs", type != NULL ? type :
	    "this kind of");
	return -1;
}

/* The entry for type (the text before ':'), and its qualifier in *qual. */
static const struct jobspec_type *
jobspec_find(const char *type, const char **qual)
{
	const struct jobspec_type	*t;
	size_t				 i, len;

	for (i = 0; i < JOBSPEC_NTYPES; i++) {
		t = &jobspec_types[i];
		len = strlen(t->name);
		if (strncmp(type, t->name, len) != 0)
			continue;
		if (type[len] == '\0') {
			*qual = NULL;
			return t;
		}
		if (t->qualified && type[len] == '@') {
			*qual = type + len + 1;
			return t;
		}
	}
	return NULL;
}

/* "unknown job type", listing the shorthands. */
static char *
jobspec_unknown(const char *type)
{
	char	*list, *s;
	size_t	 i;

	list = xstrdup("");
	for (i = 0; i < JOBSPEC_NTYPES; i++) {
		s = xasprintf("%s%s%s", list, i > 0 ? ", " : "",
		    jobspec_types[i].synopsis);
		free(list);
		list = s;
	}
	s = xasprintf("unknown job type '%s' (expected %s or a JSON object)",
	    type, list);
	free(list);
	return s;
}

/*
 * Build a job object from its shorthand, or from a JSON object; a word
 * that opens a nested job gives it with an empty "jobs" array. NULL with
 * *cause set when malformed.
 */
static json_t *
jobspec_parse_word(const char *arg, char **cause)
{
	const struct jobspec_type	*t;
	json_t				*job;
	json_error_t			 error;
	const char			*colon, *qual;
	char				*type, *word, *rest;
	int				 opens = jobspec_opens(arg);

	if (arg[0] == '{') {
		if ((job = json_loads(arg, 0, &error)) == NULL) {
			*cause = xasprintf("bad JSON: %s", error.text);
			return NULL;
		}
		return job;
	}
	/* group[ and group:MODE[: the word without its '['. */
	word = opens ? xstrndup(arg, strlen(arg) - 1) : xstrdup(arg);
	if ((colon = strchr(word, ':')) == NULL && !opens) {
		free(word);
		*cause = xstrdup("expected TYPE:ARGUMENTS");
		return NULL;
	}
	type = colon != NULL ? xstrndup(word, (size_t)(colon - word)) :
	    xstrdup(word);
	rest = colon != NULL ? xstrdup(colon + 1) : xstrdup("");
	free(word);
	if ((t = jobspec_find(type, &qual)) == NULL ||
	    (t->nests != NULL) != opens) {
		*cause = t == NULL ? jobspec_unknown(type) : xasprintf(opens ?
		    "%s does not nest: write %s:..." : "%s nests: write %s[ JOB"
		    "... ]", type, type);
		free(type);
		free(rest);
		return NULL;
	}
	job = json_object();
	json_object_set_new(job, "type", json_string(t->nests != NULL ?
	    t->nests : t->name));
	if (t->parse(job, qual, rest, cause) != 0) {
		json_decref(job);
		job = NULL;
	}
	free(type);
	free(rest);
	return job;
}

/* Build one job from one word (bench --job); a nesting word is an error. */
json_t *
jobspec_parse(const char *arg, char **cause)
{
	if (jobspec_opens(arg)) {
		*cause = xstrdup("a group or sequence is written here as a "
		    "JSON object");
		return NULL;
	}
	return jobspec_parse_word(arg, cause);
}

/*
 * Build the jobs array of run from its words, groups and sequences nested
 * by TYPE[ ... ], calling each with every job made and the index of its
 * word (for the options that follow it). NULL with *cause set (naming the
 * word) when malformed or when each fails.
 */
json_t *
jobspec_parse_list(char **args, size_t nargs,
    int (*each)(json_t *, size_t, void *, char **), void *arg, char **cause)
{
	json_t	*stack[JOBSPEC_MAX_DEPTH + 1], *job;
	size_t	 i, depth = 0;
	char	*why;

	stack[0] = json_array();
	for (i = 0; i < nargs; i++) {
		if (jobspec_closes(args[i])) {
			if (depth == 0) {
				*cause = xstrdup("']' closes no group");
				goto fail;
			}
			depth--;
			continue;
		}
		if ((job = jobspec_parse_word(args[i], &why)) == NULL) {
			*cause = xasprintf("bad job '%s': %s", args[i], why);
			free(why);
			goto fail;
		}
		json_array_append_new(stack[depth], job);
		if (each(job, i, arg, &why) != 0) {
			*cause = xasprintf("after '%s': %s", args[i], why);
			free(why);
			goto fail;
		}
		if (!jobspec_opens(args[i]))
			continue;
		if (depth == JOBSPEC_MAX_DEPTH) {
			*cause = xasprintf("'%s': more than %d levels of "
			    "nesting", args[i], JOBSPEC_MAX_DEPTH);
			goto fail;
		}
		stack[++depth] = json_object_get(job, "jobs");
	}
	if (depth > 0) {
		*cause = xasprintf("%zu group%s not closed: end %s with ']'",
		    depth, depth == 1 ? "" : "s", depth == 1 ? "it" : "each");
		goto fail;
	}
	return stack[0];

fail:
	json_decref(stack[0]);
	return NULL;
}

/* Print the shorthands as the help lists them, wrapped at 79 columns. */
void
jobspec_help(FILE *f, const char *indent)
{
	const char	*item;
	size_t		 i, col, len;

	col = (size_t)fprintf(f, "%s", indent);
	for (i = 0; i <= JOBSPEC_NTYPES; i++) {
		item = i < JOBSPEC_NTYPES ? jobspec_types[i].synopsis :
		    "or a JSON job object";
		len = strlen(item);
		if (i > 0 && col + 3 + len > JOBSPEC_HELP_WIDTH)
			col = (size_t)fprintf(f, "\n%s", indent) - 1;
		else if (i > 0)
			col += (size_t)fprintf(f, "   ");
		col += (size_t)fprintf(f, "%s", item);
	}
	fputc('\n', f);
}
