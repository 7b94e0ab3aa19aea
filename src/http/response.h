/*
 * One HTTP response as an http job receives it: its header lines (from
 * CURLOPT_HEADERFUNCTION) and its body (from CURLOPT_WRITEFUNCTION, after
 * libcurl's decompression), and the job's value made of them:
 *
 *	{"status":200,"headers":{"content-type":"text/plain",...},
 *	 "body":"...","bytes":N,"url":"...","redirects":N,"http_version":"2"}
 *
 * Header names are written in lower case, the values of a repeated name
 * joined with ", " in the order they came; a value that is not UTF-8 has
 * each bad byte written as U+FFFD. A status line starts a response over
 * (an interim 100 Continue, a redirect followed); lines after the blank
 * line that ends the header block are trailers, and not kept.
 *
 * The struct holds no pointer into libcurl or the loop, so a worker may
 * encode a large value (http_response_value) while the loop goes on.
 */
#ifndef GATHERD_HTTP_RESPONSE_H
#define GATHERD_HTTP_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A header line's place in the response's header text. */
struct http_header {
	size_t		 name;		/* offsets into text */
	size_t		 name_len;
	size_t		 value;
	size_t		 value_len;
};

struct http_response {
	char		*text;		/* owned: names and values, lower-cased names */
	size_t		 text_len, text_cap;
	struct http_header *headers;	/* owned */
	size_t		 nheaders, headers_cap;
	uint64_t	 header_bytes;	/* of this response's header block */
	int		 headers_done;	/* the blank line came */
	int		 has_location;
	unsigned char	*body;		/* owned */
	size_t		 len, cap;
};

/* What the value says besides the response itself. */
struct http_value_info {
	long		 status;
	int		 base64;	/* "encoding":"base64" */
	const char	*url;
	unsigned	 redirects;
	const char	*version;	/* "1.1", "2"... */
	uint64_t	 max_bytes;	/* max_result_bytes */
};

void	 http_response_reset(struct http_response *);
void	 http_response_free(struct http_response *);
int	 http_response_header(struct http_response *, const char *, size_t);
char	*http_response_field(const struct http_response *, const char *);
void	 http_response_body(struct http_response *, const void *, size_t,
	    size_t);
enum err_code http_response_value(const struct http_response *,
	    const struct http_value_info *, char **, size_t *);

#endif
