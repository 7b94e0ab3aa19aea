/*
 * A small JSON writer onto a libevent evbuffer, so replies are written as
 * text without first building a jansson tree of every result.
 */
#ifndef GATHERD_JSONW_H
#define GATHERD_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct evbuffer;

/* The largest duration jsonw_ms writes, in milliseconds. */
#define JSONW_MS_MAX	1e15
/* The most bytes of a client's string a message quotes (jsonw_quote). */
#define JSONW_QUOTE_MAX	128

void	jsonw_raw(struct evbuffer *, const char *);
void	jsonw_string(struct evbuffer *, const char *, size_t);
void	jsonw_cstring(struct evbuffer *, const char *);
void	jsonw_text(struct evbuffer *, const char *, size_t);
void	jsonw_ctext(struct evbuffer *, const char *);
char	*jsonw_quote(const json_t *);
void	jsonw_base64(struct evbuffer *, const void *, size_t);
void	jsonw_ms(struct evbuffer *, double);
void	jsonw_uint(struct evbuffer *, uint64_t);
void	jsonw_int(struct evbuffer *, int64_t);
void	jsonw_value(struct evbuffer *, const json_t *);
void	jsonw_value_precision(struct evbuffer *, const json_t *, int);
char	*jsonw_dump(const json_t *);
char	*jsonw_take(struct evbuffer *, size_t *);
const char *jsonw_cstr(const json_t *);

#endif
