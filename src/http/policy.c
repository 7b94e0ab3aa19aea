/*
 * The destination policy (policy.h): the default refusals, the [http]
 * allow and deny rules, and the checks the http job type makes with them.
 *
 * A rule is a word of allow or deny. A word with "://" is a URL prefix,
 * normalised as requests are (url.c), so "HTTP://Host:80/a/../b" and
 * "http://host/b" are one rule; normalising writes at least "/" after the
 * authority, so "http://10.0.0.1:8080" cannot match port 80801. In deny,
 * a word that reads as an IPv4 or IPv6 address, with /BITS or without, is
 * a range of addresses; one that starts with a dot is every subdomain of
 * that name (not the name itself); any other is one host name. allow
 * takes URL prefixes only: an exception is for a service, not for every
 * request that happens to reach an address.
 *
 * An address is refused by a deny range (an IPv4-mapped IPv6 address is
 * matched as the IPv4 address it carries), or, unless the URL matched an
 * allow prefix, by the default ranges below, checked most specific first
 * so a message says "the cloud metadata address" rather than
 * "link-local". Every IPv6 address outside global unicast (2000::/3) is
 * refused as reserved: what is there is loopback, mapped, NAT64 (which
 * reaches IPv4 addresses through a gateway), unique-local, link-local,
 * multicast, or unassigned.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http/policy.h"
#include "http/url.h"
#include "log.h"
#include "xmalloc.h"

enum http_rule_kind {
	HTTP_RULE_PREFIX,	/* a normalised URL prefix */
	HTTP_RULE_HOST,		/* a host name, exactly */
	HTTP_RULE_DOMAIN,	/* every subdomain of a name: ".example.com" */
	HTTP_RULE_NET,		/* an address range */
};

/* An address: IPv4 in its first four bytes, or IPv6. */
struct http_addr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 b[16];
};

struct http_rule {
	char		*text;		/* owned: as written, for messages */
	uint8_t		 kind;		/* enum http_rule_kind */
	char		*match;		/* owned: PREFIX, HOST, DOMAIN */
	struct http_addr addr;		/* NET */
	unsigned	 bits;		/* NET: the prefix length */
};

struct http_policy {
	struct http_rule *allow;	/* owned, nallow */
	size_t		  nallow;
	struct http_rule *deny;		/* owned, ndeny */
	size_t		  ndeny;
};

/* A range refused by default, and what it is. */
struct http_range {
	int		 family;
	uint8_t		 b[16];
	unsigned	 bits;
	const char	*cidr;
	const char	*what;
};

#define V4(a, b, c, d)	AF_INET, { a, b, c, d }
#define V6(...)		AF_INET6, { __VA_ARGS__ }

static const struct http_range http_refused[] = {
	{ V4(169, 254, 169, 254), 32, "169.254.169.254/32",
	    "link-local: the cloud metadata address" },
	{ V4(0, 0, 0, 0), 8, "0.0.0.0/8", "unspecified (\"this network\")" },
	{ V4(10, 0, 0, 0), 8, "10.0.0.0/8", "private" },
	{ V4(100, 64, 0, 0), 10, "100.64.0.0/10", "carrier-grade NAT" },
	{ V4(127, 0, 0, 0), 8, "127.0.0.0/8", "loopback" },
	{ V4(169, 254, 0, 0), 16, "169.254.0.0/16", "link-local" },
	{ V4(172, 16, 0, 0), 12, "172.16.0.0/12", "private" },
	{ V4(192, 0, 0, 0), 24, "192.0.0.0/24",
	    "reserved (IETF protocol assignments)" },
	{ V4(192, 0, 2, 0), 24, "192.0.2.0/24", "reserved (documentation)" },
	{ V4(192, 88, 99, 0), 24, "192.88.99.0/24",
	    "reserved (6to4 relay anycast)" },
	{ V4(192, 168, 0, 0), 16, "192.168.0.0/16", "private" },
	{ V4(198, 18, 0, 0), 15, "198.18.0.0/15",
	    "reserved (benchmarking)" },
	{ V4(198, 51, 100, 0), 24, "198.51.100.0/24",
	    "reserved (documentation)" },
	{ V4(203, 0, 113, 0), 24, "203.0.113.0/24",
	    "reserved (documentation)" },
	{ V4(224, 0, 0, 0), 4, "224.0.0.0/4", "multicast" },
	{ V4(240, 0, 0, 0), 4, "240.0.0.0/4",
	    "reserved (and broadcast)" },
	{ V6(0), 128, "::/128", "unspecified" },
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 128, "::1/128",
	    "loopback" },
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 96, "::ffff:0:0/96",
	    "IPv4-mapped" },
	{ V6(0x00, 0x64, 0xff, 0x9b), 96, "64:ff9b::/96",
	    "reserved (NAT64: IPv4 through a gateway)" },
	{ V6(0xfc), 7, "fc00::/7", "private (unique local)" },
	{ V6(0xfe, 0x80), 10, "fe80::/10", "link-local" },
	{ V6(0xfe, 0xc0), 10, "fec0::/10", "reserved (site-local)" },
	{ V6(0xff), 8, "ff00::/8", "multicast" },
	{ V6(0x20, 0x01, 0x0d, 0xb8), 32, "2001:db8::/32",
	    "reserved (documentation)" },
	{ V6(0x20, 0x01), 23, "2001::/23",
	    "reserved (IETF protocol assignments, Teredo)" },
	{ V6(0x20, 0x02), 16, "2002::/16", "reserved (6to4)" },
	{ V6(0x3f, 0xff), 20, "3fff::/20", "reserved (documentation)" },
};

#undef V4
#undef V6

/* Whether a is in the range of bits leading bits of b (same family). */
static int
http_addr_in(const struct http_addr *a, int family, const uint8_t *b,
    unsigned bits)
{
	unsigned	whole = bits / 8, rest = bits % 8;
	uint8_t		mask;

	if (a->family != family)
		return 0;
	if (memcmp(a->b, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a->b[whole] & mask) == (b[whole] & mask);
}

/* An IPv4-mapped IPv6 address as the IPv4 address it carries. */
static int
http_addr_unmap(const struct http_addr *a, struct http_addr *v4)
{
	static const uint8_t	mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				    0xff, 0xff };

	if (a->family != AF_INET6 || memcmp(a->b, mapped, 12) != 0)
		return 0;
	v4->family = AF_INET;
	memset(v4->b, 0, sizeof v4->b);
	memcpy(v4->b, a->b + 12, 4);
	return 1;
}

/* Read an address written as text (IPv6 with or without []); 0 or -1. */
static int
http_addr_parse(const char *s, struct http_addr *a)
{
	char	buf[INET6_ADDRSTRLEN + 2];
	size_t	len = strlen(s);

	memset(a, 0, sizeof *a);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		if (len - 2 >= sizeof buf)
			return -1;
		memcpy(buf, s + 1, len - 2);
		buf[len - 2] = '\0';
		s = buf;
	}
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

/* The address as text, into buf. */
static const char *
http_addr_text(const struct http_addr *a, char *buf, size_t size)
{
	if (inet_ntop(a->family, a->b, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "?");
	return buf;
}

/* Whether a host name rule's word is made of name characters. */
static int
http_rule_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != '_')
			return 0;
	}
	return 1;
}

/*
 * Read a rule from word: allow (deny 0) takes URL prefixes, deny any
 * kind. Returns 0, or -1 with *why saying what is wrong.
 */
static int
http_rule_parse(const char *word, int deny, struct http_rule *r, char **why)
{
	struct http_url	 u;
	const char	*slash;
	char		*addr, *end, *name;
	unsigned long	 bits;
	size_t		 len;

	memset(r, 0, sizeof *r);
	if (strstr(word, "://") != NULL) {
		if (http_url_parse(word, &u, why) != 0)
			return -1;
		r->kind = HTTP_RULE_PREFIX;
		r->match = xstrdup(u.norm);
		http_url_free(&u);
		r->text = xstrdup(word);
		return 0;
	}
	if (!deny) {
		*why = xasprintf("\"%s\": expected a URL prefix such as"
		    " http://127.0.0.1:8080/", word);
		return -1;
	}
	slash = strchr(word, '/');
	addr = slash != NULL ? xstrndup(word, (size_t)(slash - word)) :
	    xstrdup(word);
	if (http_addr_parse(addr, &r->addr) == 0) {
		free(addr);
		bits = r->addr.family == AF_INET ? 32 : 128;
		if (slash != NULL) {
			bits = strtoul(slash + 1, &end, 10);
			if (!isdigit((unsigned char)slash[1]) || *end != '\0' ||
			    bits > (r->addr.family == AF_INET ? 32u : 128u)) {
				*why = xasprintf("\"%s\": the prefix length"
				    " is not one of the address's", word);
				return -1;
			}
		}
		r->kind = HTTP_RULE_NET;
		r->bits = (unsigned)bits;
		r->text = xstrdup(word);
		return 0;
	}
	free(addr);
	if (slash != NULL) {
		*why = xasprintf("\"%s\": expected a URL prefix (with ://),"
		    " an address or range, or a host name", word);
		return -1;
	}
	name = xstrdup(word);
	for (end = name; *end != '\0'; end++)
		*end = (char)tolower((unsigned char)*end);
	len = strlen(name);
	if (len > 1 && name[len - 1] == '.')
		name[--len] = '\0';
	if (!http_rule_name_ok(name[0] == '.' ? name + 1 : name) ||
	    strstr(name + 1, "..") != NULL) {
		*why = xasprintf("\"%s\": expected a URL prefix (with ://),"
		    " an address or range, or a host name", word);
		free(name);
		return -1;
	}
	r->kind = name[0] == '.' ? HTTP_RULE_DOMAIN : HTTP_RULE_HOST;
	r->match = name;
	r->text = xstrdup(word);
	return 0;
}

static void
http_rule_free(struct http_rule *r)
{
	free(r->text);
	free(r->match);
}

/*
 * Check one word of [http] allow (deny 0) or deny for the configuration
 * reader. Returns 0, or -1 with *why set.
 */
int
http_rule_check(const char *word, int deny, char **why)
{
	struct http_rule	r;

	if (http_rule_parse(word, deny, &r, why) != 0)
		return -1;
	http_rule_free(&r);
	return 0;
}

/* Read a list of words already checked into rules. */
static struct http_rule *
http_rules_new(const struct config_list *words, int deny, size_t *np)
{
	struct http_rule	*v;
	size_t			 i;
	char			*why;

	*np = 0;
	if (words->n == 0)
		return NULL;
	v = xcalloc(words->n, sizeof *v);
	for (i = 0; i < words->n; i++) {
		if (http_rule_parse(words->v[i], deny, &v[*np], &why) != 0) {
			/* The configuration reader checked every word. */
			fatalx("%s: [http] %s: %s", __func__, deny ? "deny" :
			    "allow", why);
		}
		(*np)++;
	}
	return v;
}

/* The policy of [http] allow and deny (words checked by http_rule_check). */
struct http_policy *
http_policy_new(const struct config_list *allow, const struct config_list *deny)
{
	struct http_policy	*p;

	p = xcalloc(1, sizeof *p);
	p->allow = http_rules_new(allow, 0, &p->nallow);
	p->deny = http_rules_new(deny, 1, &p->ndeny);
	return p;
}

void
http_policy_free(struct http_policy *p)
{
	size_t	i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nallow; i++)
		http_rule_free(&p->allow[i]);
	for (i = 0; i < p->ndeny; i++)
		http_rule_free(&p->deny[i]);
	free(p->allow);
	free(p->deny);
	free(p);
}

/* Whether a deny range holds a (or the IPv4 address it maps). */
static const struct http_rule *
http_policy_denied(const struct http_policy *p, const struct http_addr *a)
{
	struct http_addr	 v4;
	int			 mapped = http_addr_unmap(a, &v4);
	size_t			 i;

	for (i = 0; i < p->ndeny; i++) {
		if (p->deny[i].kind != HTTP_RULE_NET)
			continue;
		if (http_addr_in(a, p->deny[i].addr.family, p->deny[i].addr.b,
		    p->deny[i].bits) || (mapped && http_addr_in(&v4,
		    p->deny[i].addr.family, p->deny[i].addr.b,
		    p->deny[i].bits)))
			return &p->deny[i];
	}
	return NULL;
}

/*
 * May an address be connected to? exempt: the URL matched an allow
 * prefix. Returns 0, or -1 with *why naming the rule that refuses it.
 */
static int
http_policy_check(const struct http_policy *p, int exempt,
    const struct http_addr *a, char **why)
{
	static const uint8_t	 global[16] = { 0x20 };
	const struct http_rule	*r;
	char			 buf[INET6_ADDRSTRLEN];
	size_t			 i;

	if ((r = http_policy_denied(p, a)) != NULL) {
		*why = xasprintf("%s matches [http] deny %s",
		    http_addr_text(a, buf, sizeof buf), r->text);
		return -1;
	}
	if (exempt)
		return 0;
	for (i = 0; i < sizeof http_refused / sizeof http_refused[0]; i++) {
		if (http_addr_in(a, http_refused[i].family, http_refused[i].b,
		    http_refused[i].bits)) {
			*why = xasprintf("%s is %s (%s): the default policy"
			    " refuses it ([http] allow may make an exception)",
			    http_addr_text(a, buf, sizeof buf),
			    http_refused[i].what, http_refused[i].cidr);
			return -1;
		}
	}
	if (a->family == AF_INET6 && !http_addr_in(a, AF_INET6, global, 3)) {
		*why = xasprintf("%s is reserved (outside global unicast,"
		    " 2000::/3): the default policy refuses it ([http] allow"
		    " may make an exception)", http_addr_text(a, buf,
		    sizeof buf));
		return -1;
	}
	return 0;
}

/*
 * May a request go to URL u? Checks the deny rules on the URL and its
 * host, then sets *exempt if an allow prefix matches it, and checks an
 * address written as the host at once. Returns 0, or -1 with *why naming
 * the rule that refuses it.
 */
int
http_policy_url(const struct http_policy *p, const struct http_url *u,
    int *exempt, char **why)
{
	const struct http_rule	*r;
	struct http_addr	 a;
	size_t			 i, hl, ml;

	*exempt = 0;
	hl = strlen(u->host);
	for (i = 0; i < p->ndeny; i++) {
		r = &p->deny[i];
		ml = r->match != NULL ? strlen(r->match) : 0;
		if ((r->kind == HTTP_RULE_PREFIX &&
		    strncmp(u->norm, r->match, ml) == 0) ||
		    (r->kind == HTTP_RULE_HOST && strcmp(u->host, r->match) ==
		    0) || (r->kind == HTTP_RULE_DOMAIN && hl > ml &&
		    strcmp(u->host + hl - ml, r->match) == 0)) {
			*why = xasprintf("%s matches [http] deny %s", u->norm,
			    r->text);
			return -1;
		}
	}
	for (i = 0; i < p->nallow; i++) {
		if (strncmp(u->norm, p->allow[i].match,
		    strlen(p->allow[i].match)) == 0) {
			*exempt = 1;
			break;
		}
	}
	if (http_addr_parse(u->host, &a) == 0)
		return http_policy_check(p, *exempt, &a, why);
	return 0;
}

/*
 * May libcurl connect to sa (AF_INET or AF_INET6) for a URL that is
 * exempt (matched an allow prefix) or not? 0, or -1 with *why set.
 */
int
http_policy_addr(const struct http_policy *p, int exempt,
    const struct sockaddr *sa, char **why)
{
	struct http_addr	a;

	memset(&a, 0, sizeof a);
	if (sa->sa_family == AF_INET) {
		a.family = AF_INET;
		memcpy(a.b, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a.family = AF_INET6;
		memcpy(a.b, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
	} else {
		*why = xasprintf("address family %d is not IP",
		    (int)sa->sa_family);
		return -1;
	}
	return http_policy_check(p, exempt, &a, why);
}

/* As http_policy_addr, for an address given as text (libcurl's). */
int
http_policy_ip(const struct http_policy *p, int exempt, const char *ip,
    char **why)
{
	struct http_addr	a;

	if (http_addr_parse(ip, &a) != 0) {
		*why = xasprintf("\"%s\" is not an IP address", ip);
		return -1;
	}
	return http_policy_check(p, exempt, &a, why);
}

/*
 * [http] allow and deny, a configuration type of their own: space-
 * separated words, each checked as a rule when the file is read (so a bad
 * one is an error naming the file, line and key), kept as written (a
 * struct config_list, printed and freed as config_paths's are).
 */
static int
http_rules_set(const struct config_key *k, void *settings, const char *value,
    char **why)
{
	struct config_list	*field;
	char			*copy, *word, *last, **v = NULL;
	size_t			 n = 0, i;
	int			 deny = strcmp(k->name, "deny") == 0;

	copy = xstrdup(value);
	for (word = strtok_r(copy, " \t", &last); word != NULL;
	    word = strtok_r(NULL, " \t", &last)) {
		if (http_rule_check(word, deny, why) != 0) {
			for (i = 0; i < n; i++)
				free(v[i]);
			free(v);
			free(copy);
			return -1;
		}
		v = xreallocarray(v, n + 1, sizeof *v);
		v[n++] = xstrdup(word);
	}
	free(copy);
	field = (struct config_list *)(void *)((char *)settings + k->off);
	for (i = 0; i < field->n; i++)
		free(field->v[i]);
	free(field->v);
	field->v = v;
	field->n = n;
	return 0;
}

static void
http_rules_print(struct config_out *out, const struct config_key *k,
    const void *settings)
{
	config_paths.print(out, k, settings);
}

static void
http_rules_free(const struct config_key *k, void *settings)
{
	config_paths.free(k, settings);
}

const struct config_type http_rules_type = {
	http_rules_set, http_rules_print, http_rules_free
};
