/*
 * The destination policy of http jobs (http/policy.h), each refusal and
 * exception against real servers: what may not be reached by default,
 * names that resolve there, redirects there, connections kept alive for
 * another URL, [http] allow and deny with URL normalisation, proxies
 * from the environment, and the configuration's words. A refused
 * destination is never connected to: http-server's port that never
 * speaks logs every connection, and must log none.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "config.h"
#include "harness.h"
#include "http/policy.h"
#include "http/url.h"
#include "httptest.h"
#include "jobs/http.h"
#include "jsonpath.h"

static struct daemon	d;

HTTPTEST_SUITE(http, 120);

/* A GET of url that must fail with code; its message. Caller frees. */
static char *
refused(const char *url, const char *code)
{
	char	*job, *msg;

	job = harness_fmt("{\"type\":\"http\",\"url\":%s}", ht_quote(url));
	msg = ht_fails(&d, job, code);
	free(job);
	return msg;
}

/* A GET of url that must succeed; its value. Caller decrefs. */
static json_t *
fetched(const char *url)
{
	char	*job;
	json_t	*v;

	job = harness_fmt("{\"type\":\"http\",\"url\":%s}", ht_quote(url));
	v = ht_ok(&d, job);
	free(job);
	return v;
}

/* Assert msg holds want. */
static void
says(const char *msg, const char *want)
{
	cr_assert_not_null(strstr(msg, want), "\"%s\" lacks \"%s\"", msg,
	    want);
}

/* Assert the never-speaking port saw no connection at all. */
static void
hold_untouched(void)
{
	cr_assert_eq(httptest_log_wait("hold accept", 1, 200), 0,
	    "a refused destination was connected to");
}

/* The never-speaking port's URL, by host. */
static const char *
hold(const char *host)
{
	return ht_url("http", host, ht.hold_port, "/x");
}

Test(http, loopback_is_refused_without_allow)
{
	char	*msg;

	daemon_start(&d, NULL, NULL);
	msg = refused(hold("127.0.0.1"), "forbidden");
	says(msg, "127.0.0.1 is loopback (127.0.0.0/8)");
	says(msg, "default policy");
	free(msg);
	msg = refused(ht_nginx("/1k.txt"), "forbidden");
	says(msg, "loopback");
	free(msg);
	hold_untouched();
	daemon_stop(&d);
}

Test(http, a_name_that_resolves_to_loopback_is_refused)
{
	char	*msg, line[512], name[256], addr[64];
	FILE	*fp;
	int	 others = 0;

	daemon_start(&d, NULL, NULL);
	msg = refused(hold("localhost"), "forbidden");
	says(msg, "is loopback");
	free(msg);
	/* Names /etc/hosts maps to loopback go through the resolver. */
	if ((fp = fopen("/etc/hosts", "r")) != NULL) {
		while (fgets(line, sizeof line, fp) != NULL && others < 3) {
			if (sscanf(line, "%63s %255s", addr, name) != 2 ||
			    strncmp(addr, "127.", 4) != 0 ||
			    strcmp(name, "localhost") == 0 ||
			    strchr(name, '#') != NULL)
				continue;
			msg = refused(hold(name), "forbidden");
			says(msg, "is loopback");
			free(msg);
			others++;
		}
		fclose(fp);
	}
	fprintf(stderr, "http_policy: %d names of /etc/hosts tried besides"
	    " localhost\n", others);
	hold_untouched();
	daemon_stop(&d);
}

Test(http, addresses_refused_by_default_are_refused_at_once)
{
	static const struct {
		const char	*host;
		const char	*what;
	} bad[] = {
		{ "169.254.169.254", "the cloud metadata address" },
		{ "[::ffff:169.254.169.254]", "IPv4-mapped" },
		{ "169.254.1.1", "link-local (169.254.0.0/16)" },
		{ "[fe80::1]", "link-local (fe80::/10)" },
		{ "[::1]", "loopback (::1/128)" },
		{ "0x7f.1", "loopback" },
		{ "2130706433", "loopback" },
		{ "10.1.2.3", "private (10.0.0.0/8)" },
		{ "172.16.0.1", "private (172.16.0.0/12)" },
		{ "192.168.1.1", "private (192.168.0.0/16)" },
		{ "[fd00::1]", "private (unique local)" },
		{ "100.64.0.1", "carrier-grade NAT" },
		{ "0.0.0.0", "unspecified" },
		{ "[::]", "unspecified" },
		{ "224.0.0.1", "multicast" },
		{ "[ff02::1]", "multicast" },
		{ "240.0.0.1", "reserved" },
		{ "255.255.255.255", "reserved" },
		{ "192.0.2.1", "documentation" },
		{ "[64:ff9b::7f00:1]", "NAT64" },
		{ "[2001:db8::1]", "documentation" },
		{ "[100::1]", "outside global unicast" },
	};
	char	*url, *msg, *job;
	json_t	*res;
	size_t	 i;

	daemon_start(&d, NULL, NULL);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		url = harness_fmt("http://%s/latest/meta-data/", bad[i].host);
		job = harness_fmt("{\"type\":\"http\",\"url\":%s}",
		    ht_quote(url));
		res = ht_job(&d, job);
		jstr_is(res, "error.code", "forbidden");
		msg = strdup(jstr(res, "error.message"));
		says(msg, bad[i].what);
		/* Refused before any connect: no connect timeout waited. */
		cr_assert_lt(jnum(res, "ms"), slack_ms(100), "%s: %s", url,
		    jtext(res));
		json_decref(res);
		free(msg);
		free(job);
		free(url);
	}
	daemon_stop(&d);
}

Test(http, allow_makes_an_exception_for_its_prefix_only)
{
	json_t	*v;
	char	*conf, *msg;

	conf = harness_fmt("[http]\nallow = http://127.0.0.1:%d/echo\n",
	    ht.port);
	daemon_start(&d, conf, NULL);
	free(conf);
	v = fetched(ht_server("/echo"));
	jeq(v, "status", "200");
	json_decref(v);
	v = fetched(ht_server("/echo?x=1"));
	json_decref(v);
	msg = refused(ht_server("/status"), "forbidden");
	says(msg, "loopback");
	free(msg);
	/* Another port of the same host is another prefix. */
	msg = refused(hold("127.0.0.1"), "forbidden");
	free(msg);
	hold_untouched();
	daemon_stop(&d);
}

Test(http, an_origin_without_a_path_allows_that_port_only)
{
	json_t	*v;
	char	*conf, *msg;

	/* Not a prefix of http://127.0.0.1:PORT1/ (normalised with "/"). */
	conf = harness_fmt("[http]\nallow = http://127.0.0.1:%d\n",
	    ht.port / 10);
	daemon_start(&d, conf, NULL);
	free(conf);
	msg = refused(ht_server("/echo"), "forbidden");
	free(msg);
	daemon_stop(&d);
	conf = harness_fmt("[http]\nallow = HTTP://127.0.0.1:%d\n", ht.port);
	daemon_start(&d, conf, NULL);
	free(conf);
	v = fetched(ht_server("/echo"));
	json_decref(v);
	daemon_stop(&d);
}

Test(http, urls_are_normalised_before_matching)
{
	static const char *const same[] = {
		"/echo", "/%65cho", "/x/../echo", "/./echo", "/%2e/echo",
		"/x/%2E%2E/echo",
	};
	json_t	*v;
	char	*conf, *url, *msg;
	size_t	 i;

	conf = harness_fmt("[http]\nallow = http://127.0.0.1:%d/a/../echo"
	    " HTTP://LOCALHOST.:%d/%%65cho\ndeny = http://127.0.0.1:%d/%%73tatus"
	    "\n", ht.port, ht.port, ht.port);
	daemon_start(&d, conf, NULL);
	free(conf);
	for (i = 0; i < sizeof same / sizeof same[0]; i++) {
		v = fetched(ht_server(same[i]));
		jeq(v, "status", "200");
		json_decref(v);
	}
	/* The host's case, a trailing dot. */
	url = harness_fmt("http://LocalHost.:%d/echo", ht.port);
	v = fetched(url);
	free(url);
	json_decref(v);
	url = harness_fmt("http://localhost:%d/status", ht.port);
	msg = refused(url, "forbidden");
	free(url);
	says(msg, "loopback");
	free(msg);
	msg = refused(ht_server("/st%61tus"), "forbidden");
	says(msg, "matches [http] deny");
	free(msg);
	daemon_stop(&d);
}

Test(http, deny_wins_over_allow)
{
	json_t	*v;
	char	*conf, *msg, *url;

	conf = harness_fmt("[http]\nallow = http://127.0.0.1:%d/"
	    " http://localhost:%d/\ndeny = http://127.0.0.1:%d/status"
	    " localhost 127.0.0.2/32\n", ht.port, ht.port, ht.port);
	daemon_start(&d, conf, NULL);
	free(conf);
	v = fetched(ht_server("/echo"));
	json_decref(v);
	msg = refused(ht_server("/status?code=200"), "forbidden");
	says(msg, "matches [http] deny http://127.0.0.1:");
	free(msg);
	url = harness_fmt("http://localhost:%d/echo", ht.port);
	msg = refused(url, "forbidden");
	free(url);
	says(msg, "matches [http] deny localhost");
	free(msg);
	daemon_stop(&d);

	conf = harness_fmt("[http]\nallow = http://127.0.0.1:%d/\n"
	    "deny = 127.0.0.0/8\n", ht.port);
	daemon_start(&d, conf, NULL);
	free(conf);
	msg = refused(ht_server("/echo"), "forbidden");
	says(msg, "127.0.0.1 matches [http] deny 127.0.0.0/8");
	free(msg);
	daemon_stop(&d);
}

Test(http, deny_names_subdomains_with_a_leading_dot)
{
	char	*msg;

	daemon_start(&d, "[http]\ndeny = .example.test\n", NULL);
	msg = refused("http://a.b.EXAMPLE.test./", "forbidden");
	says(msg, "matches [http] deny .example.test");
	free(msg);
	/* Not the name itself: that one goes on to DNS, which fails. */
	msg = refused("http://example.test/", "http_error");
	cr_assert_null(strstr(msg, "deny"), "%s", msg);
	free(msg);
	daemon_stop(&d);
}

Test(http, deny_ranges_hold_addresses_after_dns)
{
	char	*conf, *msg;

	/* localhost is allowed by its URL, but its address is denied. */
	conf = harness_fmt("[http]\nallow = http://localhost:%d/\n"
	    "deny = 127.0.0.0/8 ::1\n", ht.hold_port);
	daemon_start(&d, conf, NULL);
	free(conf);
	msg = refused(hold("localhost"), "forbidden");
	says(msg, "matches [http] deny");
	free(msg);
	hold_untouched();
	daemon_stop(&d);
}

Test(http, a_redirect_to_a_refused_destination_is_refused)
{
	static const struct {
		const char	*to;
		const char	*says;
	} bad[] = {
		{ "http%3A%2F%2F169.254.169.254%2F", "cloud metadata" },
		{ "http%3A%2F%2Flocalhost%3A{hold}%2F", "is loopback" },
		{ "http%3A%2F%2F127.0.0.1%3A{hold}%2F", "is loopback" },
		{ "ftp%3A%2F%2F127.0.0.1%2F", "the scheme \"ftp\" is not http" },
		{ "file%3A%2F%2F%2Fetc%2Fpasswd", "the scheme \"file\"" },
		{ "gopher%3A%2F%2Fx%2F", "the scheme \"gopher\"" },
	};
	char	*to, *p, *path, *msg, port[16];
	size_t	 i;

	httptest_daemon(&d, NULL, NULL);
	snprintf(port, sizeof port, "%d", ht.hold_port);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		to = strdup(bad[i].to);
		if ((p = strstr(to, "{hold}")) != NULL) {
			*p = '\0';
			p = harness_fmt("%s%s%s", to, port, p + 6);
			free(to);
			to = p;
		}
		path = harness_fmt("/redirect?n=1&to=%s", to);
		msg = refused(ht_server(path), "forbidden");
		says(msg, "redirect 2");
		says(msg, bad[i].says);
		free(msg);
		free(path);
		free(to);
	}
	hold_untouched();
	daemon_stop(&d);
}

Test(http, a_kept_connection_carries_only_what_its_url_may)
{
	json_t	*r;
	char	*conf, *jobs;

	/*
	 * localhost:PORT/echo is allowed; its connection is kept alive.
	 * localhost:PORT/status is not: libcurl would reuse that
	 * connection without a new connect, so the check on the address a
	 * request is sent to must refuse it.
	 */
	conf = harness_fmt("[http]\nallow = http://localhost:%d/echo\n",
	    ht.port);
	daemon_start(&d, conf, NULL);
	free(conf);
	jobs = harness_fmt("{\"jobs\":[{\"type\":\"http\",\"url\":"
	    "\"http://localhost:%d/echo\"}]}", ht.port);
	r = daemon_request(&d, jobs);
	jbool_is(r, "results[0].ok", true);
	json_decref(r);
	free(jobs);
	jobs = harness_fmt("{\"jobs\":[{\"type\":\"http\",\"url\":"
	    "\"http://localhost:%d/status\"}]}", ht.port);
	r = daemon_request(&d, jobs);
	jstr_is(r, "results[0].error.code", "forbidden");
	jstr_has(r, "results[0].error.message", "is loopback");
	json_decref(r);
	free(jobs);
	daemon_stop(&d);
}

/* In the daemon's child: proxies everywhere, all pointing at hold. */
static void
child_proxies(const struct daemon *dm)
{
	char	proxy[64];

	(void)dm;
	snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", ht.hold_port);
	setenv("http_proxy", proxy, 1);
	setenv("HTTP_PROXY", proxy, 1);
	setenv("https_proxy", proxy, 1);
	setenv("HTTPS_PROXY", proxy, 1);
	setenv("ALL_PROXY", proxy, 1);
	setenv("all_proxy", proxy, 1);
}

Test(http, proxies_from_the_environment_are_never_used)
{
	struct daemon_opts	 opts = { .child = child_proxies };
	json_t			*v;
	char			*conf;

	conf = httptest_conf(NULL);
	daemon_start_opts(&d, conf, NULL, &opts);
	free(conf);
	v = fetched(ht_server("/echo"));
	jeq(v, "status", "200");
	json_decref(v);
	v = fetched(ht_nginx_tls("/1k.txt"));
	jeq(v, "status", "200");
	json_decref(v);
	hold_untouched();
	daemon_stop(&d);
}

/* Load conf as a configuration file; 0, or -1 with *err set. */
static int
load(const char *conf, char **err)
{
	struct config	 cfg;
	char		 path[] = "/tmp/gatherd-http-conf.XXXXXX";
	FILE		*fp;
	int		 fd, rc;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_not_null(fp = fdopen(fd, "w"));
	fputs(conf, fp);
	fclose(fp);
	config_defaults(&cfg);
	*err = NULL;
	rc = config_load(&cfg, path, 1, err);
	config_free(&cfg);
	unlink(path);
	return rc;
}

Test(http, rules_are_checked_when_the_file_is_read)
{
	static const struct {
		const char	*conf;
		const char	*says;
	} bad[] = {
		{ "[http]\nallow = 10.0.0.0/8\n", "[http] allow: \"10.0.0.0/8\":"
		    " expected a URL prefix" },
		{ "[http]\nallow = localhost\n", "expected a URL prefix" },
		{ "[http]\nallow = ftp://h/\n", "[http] allow: the scheme" },
		{ "[http]\nallow = http://u@h/\n", "user information" },
		{ "[http]\ndeny = 10.0.0.0/33\n", "the prefix length" },
		{ "[http]\ndeny = ::1/129\n", "the prefix length" },
		{ "[http]\ndeny = a/b\n", "expected a URL prefix" },
		{ "[http]\ndeny = bad!name\n", "expected a URL prefix" },
		{ "[http]\ndeny = http://\n", "[http] deny: the URL has no host" },
		{ "[http]\nmax_connections = 0\n", "[http] max_connections" },
		{ "[http]\nmax_host_connections = 0\n",
		    "[http] max_host_connections" },
		{ "[http]\nmax_redirects = 101\n", "[http] max_redirects" },
		{ "[http]\nconnect_timeout_ms = 0\n",
		    "[http] connect_timeout_ms" },
		{ "[http]\nenabled = maybe\n", "[http] enabled" },
		{ "[http]\nproxy = x\n", "[http] proxy: unknown key" },
	};
	static const char *const good[] = {
		"[http]\nallow =\ndeny =\n",
		"[http]\nallow = http://127.0.0.1:8080/ https://api.example.com"
		"/v1/\ndeny = 10.0.0.0/8 fd00::/8 [::1] 192.0.2.7 evil.test"
		" .example.test http://a.test/admin\n",
	};
	struct config			 cfg;
	const struct http_settings	*s;
	char				*err;
	size_t				 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(load(bad[i].conf, &err), -1, "%s", bad[i].conf);
		cr_assert_not_null(strstr(err, bad[i].says), "%s: %s",
		    bad[i].conf, err);
		free(err);
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		cr_assert_eq(load(good[i], &err), 0, "%s: %s", good[i], err);
		free(err);
	}
	/* The defaults. */
	config_defaults(&cfg);
	s = config_settings(&cfg, &http_section);
	cr_assert(s->enabled);
	cr_assert_eq(s->allow.n, 0);
	cr_assert_eq(s->deny.n, 0);
	cr_assert_eq(s->max_response_bytes, 16777216);
	cr_assert_eq(s->max_connections, 256);
	cr_assert_eq(s->max_host_connections, 16);
	cr_assert_eq(s->max_redirects, 5);
	cr_assert_eq(s->connect_timeout_ms, 10000);
	cr_assert_str_eq(s->user_agent, "gatherd/" PACKAGE_VERSION);
	config_free(&cfg);
}

Test(http, a_ca_file_that_cannot_be_read_is_a_start_up_error)
{
	char	*out = NULL, *cmd;
	int	 rc;

	cmd = harness_fmt("printf '[http]\\nca_file = /nonexistent/ca.pem\\n'"
	    " > %s/bad.conf && %s -c %s/bad.conf --check-config 2>&1", ht.dir,
	    GATHERD_BIN, ht.dir);
	rc = run_command(cmd, &out);
	free(cmd);
	cr_assert_neq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, "[http] ca_file: /nonexistent/ca.pem"),
	    "%s", out);
	free(out);
}

/* The normal form of url; NULL if it does not parse. Caller frees. */
static char *
norm(const char *url)
{
	struct http_url	 u;
	char		*why, *n;

	if (http_url_parse(url, &u, &why) != 0) {
		free(why);
		return NULL;
	}
	n = strdup(u.norm);
	http_url_free(&u);
	return n;
}

Test(http, the_normal_form_of_a_url)
{
	static const struct {
		const char	*url;
		const char	*norm;
	} cases[] = {
		{ "HTTP://Example.COM./a/../b/./c?x=%41#frag",
		    "http://example.com:80/b/c?x=A" },
		{ "https://h", "https://h:443/" },
		{ "https://h:443/p", "https://h:443/p" },
		{ "http://h:8080", "http://h:8080/" },
		{ "http://h/%7euser/%2fx/%2E%2E/y", "http://h:80/~user/y" },
		{ "http://h/a%2fb/%2e%2E/c", "http://h:80/c" },
		{ "http://h/a%2fb?q=%7e%2f", "http://h:80/a%2Fb?q=~%2F" },
		{ "http://h/a%2db%5F", "http://h:80/a-b_" },
		{ "http://0x7f.1/", "http://127.0.0.1:80/" },
		{ "http://2130706433/", "http://127.0.0.1:80/" },
		{ "http://[::FFFF:127.0.0.1]/", "http://[::ffff:127.0.0.1]:80/" },
		{ "http://h%6fst/", "http://host:80/" },
	};
	static const char *const bad[] = {
		"http:/x", "http:///x", "http://", "//h/x", "h/x", "ftp://h/",
		"http://u@h/", "http://h:0/", "http://h:65536/", "http://h/a b",
		("http://b\xc3\xbc" "cher.de/"), "http://[fe80::1%25eth0]/",
	};
	char	*n;
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = norm(cases[i].url);
		cr_assert_not_null(n, "%s", cases[i].url);
		cr_assert_str_eq(n, cases[i].norm, "%s", cases[i].url);
		free(n);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_null(norm(bad[i]), "%s parsed", bad[i]);
}

/* Whether policy p lets url through, and if so whether it is exempt. */
static int
passes(const struct http_policy *p, const char *url, int *exempt)
{
	struct http_url	 u;
	char		*why;
	int		 rc;

	cr_assert_eq(http_url_parse(url, &u, &why), 0, "%s", url);
	rc = http_policy_url(p, &u, exempt, &why);
	if (rc != 0)
		free(why);
	http_url_free(&u);
	return rc == 0;
}

/* Whether policy p lets an address through. */
static int
ip_passes(const struct http_policy *p, int exempt, const char *ip)
{
	char	*why;

	if (http_policy_ip(p, exempt, ip, &why) == 0)
		return 1;
	free(why);
	return 0;
}

Test(http, rules_match_normal_forms)
{
	struct config_list	 allow, deny;
	struct http_policy	*p;
	char			 a1[] = "http://h:80/api/", a2[] = "https://H./";
	char			 d1[] = "http://h/api/admin", d2[] = ".evil.test";
	char			 d3[] = "bad.test", d4[] = "203.0.113.0/24";
	char			 d5[] = "2001:db8::/32";
	char			*aw[] = { a1, a2 };
	char			*dw[] = { d1, d2, d3, d4, d5 };
	int			 exempt;

	allow.v = aw;
	allow.n = 2;
	deny.v = dw;
	deny.n = 5;
	p = http_policy_new(&allow, &deny);
	cr_assert(passes(p, "http://h/api/x", &exempt) && exempt);
	cr_assert(passes(p, "http://H.:80/api/../api/x", &exempt) && exempt);
	cr_assert(passes(p, "http://h/other", &exempt) && !exempt);
	cr_assert(passes(p, "https://h:443/x", &exempt) && exempt);
	cr_assert(!passes(p, "http://h/api/%61dmin", &exempt));
	cr_assert(!passes(p, "http://x.evil.test/", &exempt));
	cr_assert(passes(p, "http://evil.test/", &exempt));
	cr_assert(!passes(p, "http://BAD.test./", &exempt));
	cr_assert(passes(p, "http://a.bad.test/", &exempt));
	cr_assert(!passes(p, "http://203.0.113.9/", &exempt));
	/* Exempt or not, deny ranges hold, mapped addresses too. */
	cr_assert(!ip_passes(p, 1, "203.0.113.1"));
	cr_assert(!ip_passes(p, 1, "::ffff:203.0.113.1"));
	cr_assert(!ip_passes(p, 1, "2001:db8::5"));
	cr_assert(ip_passes(p, 1, "127.0.0.1"));
	cr_assert(!ip_passes(p, 0, "127.0.0.1"));
	cr_assert(ip_passes(p, 0, "93.184.216.34"));
	cr_assert(ip_passes(p, 0, "2606:2800:220:1::1"));
	cr_assert(!ip_passes(p, 0, "::ffff:93.184.216.34"));
	cr_assert(!ip_passes(p, 0, "not an address"));
	http_policy_free(p);
}
