/*
 * URLs of http jobs, requests and redirects alike, and of the [http]
 * allow and deny prefixes: one parser and one normal form (url.h).
 *
 * The text is checked before libcurl sees it for what libcurl forgives:
 * "http:/x" and "http:///x" (libcurl takes x for the host), user
 * information, a scheme it knows but jobs may not use. Percent-escapes of
 * unreserved characters are decoded before libcurl parses, so its
 * removal of dot segments sees "%2e%2e" as ".."; no such character is a
 * delimiter, so decoding cannot change where the parts begin and end.
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http/url.h"
#include "log.h"
#include "xmalloc.h"

/* Whether c is unreserved (RFC 3986): never needs escaping. */
static int
http_url_unreserved(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int
http_url_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Append s (the path, query and fragment) to out, with escapes of
 * unreserved characters decoded and the others' hex digits upper-cased.
 */
static void
http_url_unescape(const char *s, char *out)
{
	static const char	 hex[] = "0123456789ABCDEF";
	int			 hi, lo, c;

	while (*s != '\0') {
		if (s[0] == '%' && (hi = http_url_hex((unsigned char)s[1])) >= 0 &&
		    (lo = http_url_hex((unsigned char)s[2])) >= 0) {
			c = hi << 4 | lo;
			if (http_url_unreserved(c))
				*out++ = (char)c;
			else {
				*out++ = '%';
				*out++ = hex[hi];
				*out++ = hex[lo];
			}
			s += 3;
		} else
			*out++ = *s++;
	}
	*out = '\0';
}

/*
 * Check the text's form before libcurl reads it: a scheme, "//", and an
 * authority that is not empty and has no user information. On success
 * *https is set and *rest points after the authority.
 */
static int
http_url_form(const char *raw, int *https, const char **rest, char **why)
{
	const char	*p, *auth;
	size_t		 n;

	for (p = raw; isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	    *p == '.'; p++)
		/* nothing */;
	n = (size_t)(p - raw);
	if (*p != ':' || n == 0 || !isalpha((unsigned char)raw[0])) {
		*why = xstrdup("expected an absolute http:// or https:// URL");
		return HTTP_URL_BAD;
	}
	if (n == 4 && strncasecmp(raw, "http", 4) == 0)
		*https = 0;
	else if (n == 5 && strncasecmp(raw, "https", 5) == 0)
		*https = 1;
	else {
		*why = xasprintf("the scheme \"%.*s\" is not http or https",
		    n > 32 ? 32 : (int)n, raw);
		return HTTP_URL_SCHEME;
	}
	if (strncmp(p + 1, "//", 2) != 0) {
		*why = xstrdup("expected \"//\" and a host after the scheme");
		return HTTP_URL_BAD;
	}
	auth = p + 3;
	n = strcspn(auth, "/?#");
	if (n == 0) {
		*why = xstrdup("the URL has no host");
		return HTTP_URL_BAD;
	}
	if (memchr(auth, '@', n) != NULL) {
		*why = xstrdup("the URL has user information (user:pass@):"
		    " send credentials in a header");
		return HTTP_URL_BAD;
	}
	*rest = auth + n;
	return 0;
}

/* A part of h as libcurl gives it, in memory of ours; NULL if absent. */
static char *
http_url_part(CURLU *h, CURLUPart what, unsigned flags)
{
	char	*s = NULL, *copy;

	if (curl_url_get(h, what, &s, flags) != CURLUE_OK || s == NULL)
		return NULL;
	copy = xstrdup(s);
	curl_free(s);
	return copy;
}

/*
 * Parse and normalise raw into u (url.h). Returns 0, or HTTP_URL_BAD or
 * HTTP_URL_SCHEME with *why saying what is wrong (u is then empty).
 */
int
http_url_parse(const char *raw, struct http_url *u, char **why)
{
	CURLU		*h = NULL;
	CURLUcode	 rc;
	const char	*rest;
	char		*text = NULL, *host = NULL, *s, *path = NULL;
	char		*query = NULL, *port = NULL;
	size_t		 len;
	int		 ret;
	long		 n;

	memset(u, 0, sizeof *u);
	if ((ret = http_url_form(raw, &u->https, &rest, why)) != 0)
		return ret;
	ret = HTTP_URL_BAD;
	/* The scheme in lower case, the authority, the rest unescaped. */
	len = (size_t)(rest - raw);
	text = xmalloc(len + strlen(rest) + 1);
	memcpy(text, u->https ? "https" : "http", u->https ? 5 : 4);
	memcpy(text + (u->https ? 5 : 4), raw + (u->https ? 5 : 4),
	    len - (u->https ? 5 : 4));
	http_url_unescape(rest, text + len);

	if ((h = curl_url()) == NULL)
		fatalx("%s: curl_url failed", __func__);
	if ((rc = curl_url_set(h, CURLUPART_URL, text, 0)) != CURLUE_OK) {
		*why = xasprintf("not a valid URL: %s", curl_url_strerror(rc));
		goto out;
	}
	if ((s = http_url_part(h, CURLUPART_ZONEID, 0)) != NULL) {
		free(s);
		*why = xstrdup("an IPv6 zone id is not allowed in a URL");
		goto out;
	}
	if ((host = http_url_part(h, CURLUPART_HOST, 0)) == NULL ||
	    *host == '\0') {
		*why = xstrdup("the URL has no host");
		goto out;
	}
	for (s = host; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80) {
			*why = xstrdup("the host is not ASCII: write an"
			    " internationalised name in punycode (xn--...)");
			goto out;
		}
		*s = (char)tolower((unsigned char)*s);
	}
	len = strlen(host);
	if (len > 1 && host[len - 1] == '.' && host[0] != '[')
		host[--len] = '\0';
	if ((rc = curl_url_set(h, CURLUPART_HOST, host, 0)) != CURLUE_OK ||
	    (rc = curl_url_set(h, CURLUPART_FRAGMENT, NULL, 0)) != CURLUE_OK) {
		*why = xasprintf("not a valid URL: %s", curl_url_strerror(rc));
		goto out;
	}
	port = http_url_part(h, CURLUPART_PORT, CURLU_DEFAULT_PORT);
	n = port != NULL ? strtol(port, NULL, 10) : 0;
	if (n <= 0 || n > 65535) {
		*why = xasprintf("port %s is not one to connect to",
		    port != NULL ? port : "(none)");
		goto out;
	}
	u->port = (unsigned)n;
	path = http_url_part(h, CURLUPART_PATH, 0);
	query = http_url_part(h, CURLUPART_QUERY, 0);
	free(text);
	if ((text = http_url_part(h, CURLUPART_URL, CURLU_NO_DEFAULT_PORT)) ==
	    NULL) {
		*why = xstrdup("not a valid URL");
		goto out;
	}
	u->norm = xasprintf("%s://%s:%u%s%s%s", u->https ? "https" : "http",
	    host, u->port, path != NULL ? path : "/", query != NULL ? "?" : "",
	    query != NULL ? query : "");
	u->text = text;
	u->host = host;
	text = host = NULL;
	ret = 0;
out:
	curl_url_cleanup(h);
	free(text);
	free(host);
	free(port);
	free(path);
	free(query);
	return ret;
}

/* Whether a and b have the same origin: scheme, host and port. */
int
http_url_same_origin(const struct http_url *a, const struct http_url *b)
{
	return a->https == b->https && a->port == b->port &&
	    strcmp(a->host, b->host) == 0;
}

/* Free what u holds. */
void
http_url_free(struct http_url *u)
{
	free(u->text);
	free(u->norm);
	free(u->host);
	memset(u, 0, sizeof *u);
}
