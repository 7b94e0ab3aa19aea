/*
 * The URLs an http job may name: parsed by libcurl's URL API (CURLU) and
 * normalised once, so that what the destination policy matches is what
 * libcurl is then given, and nothing between the two can read the URL
 * another way.
 *
 * A URL must be absolute, http:// or https://, with a host and without
 * user information; the host must be ASCII (an internationalised name
 * is written in punycode: a name libidn2 maps would otherwise pass a
 * deny rule written for what it maps to). Normalised (protocol.md): the
 * scheme and host in lower case, a trailing dot of the host dropped, the
 * default port written out, percent-encoded unreserved characters
 * decoded (and other escapes' hex digits in upper case), dot segments
 * resolved, the fragment dropped (it is never sent).
 *
 * Pure functions of their arguments: safe on the parse thread.
 */
#ifndef GATHERD_HTTP_URL_H
#define GATHERD_HTTP_URL_H

struct http_url {
	char		*text;		/* owned: for libcurl, and the value's url */
	char		*norm;		/* owned: scheme://host:port/path[?query] */
	char		*host;		/* owned: lower case; an IPv6 one in [] */
	unsigned	 port;
	int		 https;
};

/* What http_url_parse found wrong. */
#define HTTP_URL_BAD	-1		/* not a URL a job may name */
#define HTTP_URL_SCHEME	-2		/* a scheme other than http and https */

int	 http_url_parse(const char *, struct http_url *, char **);
int	 http_url_same_origin(const struct http_url *,
	    const struct http_url *);
void	 http_url_free(struct http_url *);

#endif
