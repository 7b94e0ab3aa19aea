/*
 * The destination policy of http jobs: where a request may go. One place
 * says it (policy.c), and the http job type asks it at every point where
 * a request could reach somewhere new (jobs/http.c):
 *
 *	each URL, the request's and every redirect's, before any connect
 *	(http_policy_url): deny rules on the URL and its host, allow
 *	prefixes, and an address written in the URL, refused at once;
 *	each address libcurl is about to connect to, after DNS
 *	(http_policy_addr, from CURLOPT_OPENSOCKETFUNCTION), so a name
 *	whose addresses change between two lookups cannot pass;
 *	each connection a request is about to be sent on, new or reused
 *	(CURLOPT_PREREQFUNCTION), so a keep-alive connection opened for
 *	one URL carries no other that the policy refuses.
 *
 * By default every public address may be reached, and loopback, private,
 * link-local (the cloud metadata address among them), carrier-grade NAT,
 * unspecified, multicast, reserved and IPv4-mapped addresses may not.
 * [http] allow lists URL prefixes that may reach them anyway; [http] deny
 * refuses more: URL prefixes, addresses and CIDR ranges, host names
 * (".example.com" for every subdomain). deny wins over allow. Every
 * refusal's message names the rule.
 *
 * A policy is built once per configuration snapshot and read only after
 * that: any thread may ask it.
 */
#ifndef GATHERD_HTTP_POLICY_H
#define GATHERD_HTTP_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct config_list;
struct config_type;
struct http_url;
struct sockaddr;

struct http_policy;

extern const struct config_type http_rules_type;	/* allow, deny */

int		 http_rule_check(const char *, int, char **);
struct http_policy *http_policy_new(const struct config_list *,
		    const struct config_list *);
void		 http_policy_free(struct http_policy *);
int		 http_policy_url(const struct http_policy *,
		    const struct http_url *, int *, char **);
int		 http_policy_addr(const struct http_policy *, int,
		    const struct sockaddr *, char **);
int		 http_policy_ip(const struct http_policy *, int, const char *,
		    char **);

#endif
