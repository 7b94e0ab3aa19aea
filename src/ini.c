/*
 * gatherd's INI reader. It owns the syntax of the configuration file, so
 * that config.c can name the file, line, section and key of every error
 * and config_print can write what reads back the same:
 *
 *   - Lines end with LF (a CR before it is blank space); a UTF-8 byte
 *     order mark may start the file. A line holds at most INI_LINE_MAX
 *     bytes, and no NUL: a longer line is refused, not cut in two.
 *   - A line whose first non-blank is ';' or '#', or that is blank, is a
 *     comment; it does not end a value being continued.
 *   - "[NAME]" starts a section; after the ']' only blanks or a comment
 *     starting with ';' may follow.
 *   - "NAME = VALUE" or "NAME: VALUE" is a key; blanks around the name and
 *     the value are dropped, and so is an inline comment: a ';' after a
 *     blank (never one right after '=').
 *   - After a key, an indented line continues its value (as Python's
 *     configparser has it), inline comment dropped. Its name is the text
 *     before an '=' or ':' in it, if there is one, so that config.c can
 *     refuse what looks like an indented key; it is NULL otherwise.
 *
 * This is the format inih read for gatherd before (a classifier mirrored
 * inih line by line to find its errors); now there is one reader.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "xmalloc.h"

/* Start reading f, from its first line. */
void
ini_open(struct ini *ini, FILE *f)
{
	memset(ini, 0, sizeof *ini);
	ini->f = f;
}

/* Free what the reader owns; the file is the caller's. */
void
ini_close(struct ini *ini)
{
	free(ini->buf);
	free(ini->more);
	ini->buf = ini->more = NULL;
}

/*
 * The length of s up to the first of chars, or up to an inline comment (a
 * ';' after a blank), or up to its end.
 */
static size_t
ini_span(const char *s, const char *chars)
{
	size_t	n;
	int	was_space = 0;

	for (n = 0; s[n] != '\0' && strchr(chars, s[n]) == NULL &&
	    !(was_space && s[n] == ';'); n++)
		was_space = isspace((unsigned char)s[n]);
	return n;
}

/*
 * Whether text s (a line without its leading blanks) names something with
 * '=' or ':' before any inline comment, as a key line does: then *len is
 * the length of the name, trailing blanks left out.
 */
int
ini_name(const char *s, size_t *len)
{
	size_t	n = ini_span(s, "=:");

	if (s[n] != '=' && s[n] != ':')
		return 0;
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	*len = n;
	return 1;
}

/* Drop the blanks at the end of s, which ends at end. */
static void
ini_rstrip(char *s, char *end)
{
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
}

/*
 * Read a line into ini->buf: 1, 0 at the end of the file, or -1 with
 * it->error and it->line (0 for an I/O error) set.
 */
static int
ini_read(struct ini *ini, struct ini_item *it)
{
	ssize_t	n;
	size_t	len;

	if ((n = getline(&ini->buf, &ini->bufsize, ini->f)) == -1) {
		if (!ferror(ini->f))
			return 0;
		snprintf(ini->error, sizeof ini->error, "cannot read: %s",
		    strerror(errno));
		it->line = 0;
		it->error = ini->error;
		return -1;
	}
	it->line = ++ini->line;
	len = (size_t)n;
	if (len > 0 && ini->buf[len - 1] == '\n')
		len--;
	if (len > INI_LINE_MAX) {
		snprintf(ini->error, sizeof ini->error,
		    "line too long (more than %d bytes)", INI_LINE_MAX);
		it->error = ini->error;
		return -1;
	}
	if (strlen(ini->buf) != (size_t)n) {
		it->error = "syntax error";
		return -1;
	}
	return 1;
}

/* A section header, s at its '['. */
static void
ini_section(struct ini *ini, char *s, struct ini_item *it)
{
	char	*end, *p;

	it->type = INI_SECTION;
	ini->after_key = 0;
	end = s + 1 + ini_span(s + 1, "]");
	if (*end == ']') {
		for (p = end + 1; isspace((unsigned char)*p); p++)
			/* nothing */;
		if (*p == '\0' || *p == ';') {
			*end = '\0';
			it->name = s + 1;
			return;
		}
	}
	it->error = "syntax error";
}

/* A key line, s at its name. */
static void
ini_key(struct ini *ini, char *s, struct ini_item *it)
{
	char	*end, *value;

	it->type = INI_KEY;
	end = s + ini_span(s, "=:");
	if ((*end != '=' && *end != ':') || end == s) {
		it->error = "syntax error";
		return;
	}
	ini->after_key = 1;
	value = end + 1;
	ini_rstrip(s, end);
	it->name = s;
	end = value + ini_span(value, "");
	while (isspace((unsigned char)*value))
		value++;
	ini_rstrip(value, end);
	it->value = value;
}

/* An indented line continuing a value, s at its first non-blank. */
static void
ini_more(struct ini *ini, char *s, struct ini_item *it)
{
	size_t	 len;

	it->type = INI_MORE;
	ini_rstrip(s, s + ini_span(s, ""));
	it->value = s;
	if (!ini_name(s, &len))
		return;
	if (ini->moresize < len + 1) {
		ini->moresize = len + 1;
		ini->more = xrealloc(ini->more, ini->moresize);
	}
	memcpy(ini->more, s, len);
	ini->more[len] = '\0';
	it->name = ini->more;
}

/*
 * The next statement of the file, INI_END at its end. Returns 0, or -1
 * with it->error and it->line (0 for a read error) when a line cannot be
 * read: too long, a NUL in it, or an I/O error.
 */
int
ini_next(struct ini *ini, struct ini_item *it)
{
	char	*start, *s;
	int	 rc;

	memset(it, 0, sizeof *it);
	for (;;) {
		if ((rc = ini_read(ini, it)) <= 0)
			return rc;
		start = ini->buf;
		if (ini->line == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
			start += 3;
		ini_rstrip(start, start + strlen(start));
		for (s = start; isspace((unsigned char)*s); s++)
			/* nothing */;
		if (*s != '\0' && *s != ';' && *s != '#')
			break;
	}
	if (ini->after_key && s > start)
		ini_more(ini, s, it);
	else if (*s == '[')
		ini_section(ini, s, it);
	else
		ini_key(ini, s, it);
	return 0;
}
