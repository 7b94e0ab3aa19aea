/*
 * nst/JSONTestSuite's test_parsing files (tests/jsontestsuite), each made
 * into a request line: {"jobs":[{"type":"sleep","ms":0,"value":FILE}]}.
 * A '\n' of a file becomes '\r', which JSON treats the same everywhere
 * (whitespace between tokens, a control character inside a string), so
 * that the line stays one line. Shared by test_proto and test_wire.
 */
#ifndef GATHERD_JSTS_H
#define GATHERD_JSTS_H

#include <stddef.h>

#include <jansson.h>

struct jsts_case {
	char	 name[128];
	char	 kind;		/* 'y' accept, 'n' refuse, 'i' either */
	char	*text;		/* the file, text_len bytes */
	size_t	 text_len;
	char	*line;		/* the request line, line_len bytes, no '\n' */
	size_t	 line_len;
	int	 accepted;	/* what gatherd does (README): 1 ok, 0 bad_json */
};

/* Every file, sorted by name; *n of them. Asserts they are there. */
struct jsts_case	*jsts_load(size_t *n);
void			 jsts_free(struct jsts_case *, size_t);
/*
 * The value a y_ file holds, as jansson reads it (without gatherd's
 * refusal of repeated keys), to compare what comes back; NULL when
 * jansson cannot read it. Caller decrefs.
 */
json_t			*jsts_value(const struct jsts_case *);
/* s (len bytes) for a message: printable ASCII, the rest as \xNN. */
const char		*jsts_shown(const char *s, size_t len);

#endif
