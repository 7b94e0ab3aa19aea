/*
 * JSONTestSuite's parsing tests as request lines (jsts.h). What gatherd
 * does is written here once, as the README says it: every y_ file is
 * accepted but the three below, every n_ file is bad_json, and of the i_
 * files those below are accepted, the rest bad_json.
 */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "jsts.h"

#ifndef JSONTESTSUITE_DIR
#error "JSONTESTSUITE_DIR must name tests/jsontestsuite/test_parsing"
#endif

/* Valid JSON that gatherd refuses, and why. */
static const char *const jsts_refused_y[] = {
	"y_object_duplicated_key.json",		/* which value counts? */
	"y_object_duplicated_key_and_value.json",
	"y_object_escaped_null_in_key.json",	/* jansson: no NUL in keys */
	NULL
};

/* Of the files a parser may take or leave, those gatherd takes. */
static const char *const jsts_accepted_i[] = {
	"i_number_double_huge_neg_exp.json",	/* underflow: 0 */
	"i_number_real_underflow.json",
	"i_number_too_big_neg_int.json",	/* beyond 64 bits: a double */
	"i_number_too_big_pos_int.json",
	"i_number_very_big_negative_int.json",
	"i_structure_500_nested_arrays.json",	/* jansson nests to 2048 */
	NULL
};

static const char	jsts_prefix[] =
    "{\"jobs\":[{\"type\":\"sleep\",\"ms\":0,\"value\":";
static const char	jsts_suffix[] = "}]}";

static int
jsts_listed(const char *const *list, const char *name)
{
	for (; *list != NULL; list++) {
		if (strcmp(*list, name) == 0)
			return 1;
	}
	return 0;
}

static int
jsts_cmp(const void *a, const void *b)
{
	return strcmp(((const struct jsts_case *)a)->name,
	    ((const struct jsts_case *)b)->name);
}

/* Read the file name of the directory into c. */
static void
jsts_read(struct jsts_case *c, const char *name)
{
	char	 path[1024];
	FILE	*f;
	size_t	 cap = 4096, i, pre = sizeof jsts_prefix - 1;
	size_t	 suf = sizeof jsts_suffix - 1;

	cr_assert_lt(strlen(name), sizeof c->name);
	snprintf(c->name, sizeof c->name, "%s", name);
	c->kind = name[0];
	snprintf(path, sizeof path, "%s/%s", JSONTESTSUITE_DIR, name);
	cr_assert_not_null(f = fopen(path, "rb"), "cannot open %s", path);
	cr_assert_not_null(c->text = malloc(cap));
	while ((i = fread(c->text + c->text_len, 1, cap - c->text_len, f)) > 0) {
		c->text_len += i;
		if (c->text_len == cap)
			cr_assert_not_null(c->text = realloc(c->text,
			    cap *= 2));
	}
	fclose(f);
	c->line_len = pre + c->text_len + suf;
	cr_assert_not_null(c->line = malloc(c->line_len + 1));
	memcpy(c->line, jsts_prefix, pre);
	memcpy(c->line + pre, c->text, c->text_len);
	memcpy(c->line + pre + c->text_len, jsts_suffix, suf + 1);
	for (i = pre; i < pre + c->text_len; i++) {
		if (c->line[i] == '\n')
			c->line[i] = '\r';
	}
	if (c->kind == 'y')
		c->accepted = !jsts_listed(jsts_refused_y, name);
	else if (c->kind == 'i')
		c->accepted = jsts_listed(jsts_accepted_i, name);
	else
		c->accepted = 0;
}

struct jsts_case *
jsts_load(size_t *n)
{
	struct jsts_case	*cases = NULL;
	struct dirent		*e;
	DIR			*dir;
	size_t			 cap = 0;

	*n = 0;
	cr_assert_not_null(dir = opendir(JSONTESTSUITE_DIR), "no %s",
	    JSONTESTSUITE_DIR);
	while ((e = readdir(dir)) != NULL) {
		if (strchr("yni", e->d_name[0]) == NULL ||
		    e->d_name[1] != '_')
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 512 : cap * 2;
			cr_assert_not_null(cases = realloc(cases,
			    cap * sizeof *cases));
		}
		memset(&cases[*n], 0, sizeof cases[*n]);
		jsts_read(&cases[(*n)++], e->d_name);
	}
	closedir(dir);
	cr_assert_gt(*n, 300, "only %zu files in %s", *n, JSONTESTSUITE_DIR);
	qsort(cases, *n, sizeof *cases, jsts_cmp);
	return cases;
}

void
jsts_free(struct jsts_case *cases, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(cases[i].text);
		free(cases[i].line);
	}
	free(cases);
}

json_t *
jsts_value(const struct jsts_case *c)
{
	return json_loadb(c->text, c->text_len, JSON_DECODE_ANY |
	    JSON_ALLOW_NUL, NULL);
}

const char *
jsts_shown(const char *s, size_t len)
{
	static char	buf[4][512];
	static int	which;
	char		*b = buf[which++ % 4];
	size_t		i, o = 0;
	unsigned char	c;

	for (i = 0; i < len && o + 8 < sizeof buf[0]; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			b[o++] = (char)c;
		else
			o += (size_t)snprintf(b + o, sizeof buf[0] - o,
			    "\\x%02x", c);
	}
	if (i < len)
		o += (size_t)snprintf(b + o, sizeof buf[0] - o, "...");
	b[o] = '\0';
	return b;
}
