/*
 * The INI syntax of gatherd's configuration file, read a statement at a
 * time: what each line is, never what it means (that is config.c's).
 */
#ifndef GATHERD_INI_H
#define GATHERD_INI_H

#include <stddef.h>
#include <stdio.h>

/* The longest line, in bytes without its newline. */
#define INI_LINE_MAX	198

/* What a line holds; comments and blank lines are skipped. */
enum ini_type {
	INI_END,	/* the end of the file */
	INI_SECTION,	/* [NAME] */
	INI_KEY,	/* NAME = VALUE, or NAME: VALUE */
	INI_MORE,	/* an indented line after a key: more of its value */
};

/*
 * One statement. The strings live in the reader until its next call. A
 * header or key line that is malformed still comes back, with its type
 * and error set: it ends the statement before it all the same.
 */
struct ini_item {
	enum ini_type	 type;
	int		 line;		/* 1 for the first */
	const char	*name;		/* SECTION, KEY; MORE: see ini.c */
	const char	*value;		/* KEY, MORE */
	const char	*error;		/* "syntax error", or NULL */
};

/* A file being read. */
struct ini {
	FILE		*f;		/* borrowed */
	char		*buf;		/* owned: the line read */
	size_t		 bufsize;
	char		*more;		/* owned: MORE's name */
	size_t		 moresize;
	int		 line;
	int		 after_key;	/* an indented line continues a value */
	char		 error[64];	/* a line that cannot be read */
};

void	ini_open(struct ini *, FILE *);
int	ini_next(struct ini *, struct ini_item *);
void	ini_close(struct ini *);

/*
 * Whether a line starting with this text reads as NAME = ... (or NAME:),
 * and the length of NAME: what writing a file must know of the syntax.
 */
int	ini_name(const char *, size_t *);

#endif
