/*
 * The http suites' servers: nginx and http-server (httptest.h).
 */

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "httptest.h"
#include "jsonpath.h"

#define HT_START_MS	10000	/* for a server to accept */
#define HT_REQUEST_MS	30000	/* for a batch's reply, before slack */

struct httptest	ht;

/* Write a file of len bytes. */
static void
ht_write(const char *path, const void *data, size_t len)
{
	FILE	*fp;

	cr_assert_not_null(fp = fopen(path, "w"), "%s: %s", path,
	    strerror(errno));
	cr_assert_eq(fwrite(data, 1, len, fp), len, "%s", path);
	cr_assert_eq(fclose(fp), 0, "%s", path);
}

/* Run a shell command in ht.dir; asserts it succeeds. */
static void
ht_sh(const char *cmd)
{
	char	*full, *out = NULL;
	int	 rc;

	full = harness_fmt("cd '%s' && { %s; } 2>&1", ht.dir, cmd);
	rc = run_command(full, &out);
	cr_assert_eq(rc, 0, "%s: exit %d: %s", cmd, rc, out);
	free(full);
	free(out);
}

/*
 * A CA, and a certificate it signs for 127.0.0.1 and localhost: P-256
 * keys (quick to make), valid for two days.
 */
static void
ht_certs(void)
{
	static const char	ext[] =
	    "basicConstraints=CA:FALSE\n"
	    "keyUsage=digitalSignature\n"
	    "extendedKeyUsage=serverAuth\n"
	    "subjectAltName=IP:127.0.0.1,DNS:localhost\n";

	char	*path = harness_fmt("%s/server.ext", ht.dir);

	ht_write(path, ext, sizeof ext - 1);
	free(path);
	ht_sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:"
	    "prime256v1 -nodes -keyout ca.key -out ca.pem -days 2"
	    " -subj /CN=gatherd-test-ca >/dev/null && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
	    " -nodes -keyout server.key -out server.csr -subj /CN=localhost"
	    " >/dev/null && "
	    "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key"
	    " -CAcreateserial -out server.pem -days 2 -extfile server.ext"
	    " >/dev/null");
}

/* Write ht.html/name. */
static void
ht_file(const char *name, const void *data, size_t len)
{
	char	*path = harness_fmt("%s/%s", ht.html, name);

	ht_write(path, data, len);
	free(path);
}

/* The files nginx serves. */
static void
ht_files(void)
{
	unsigned char	*buf;
	char		*dir;
	size_t		 i;
	unsigned	 x = 12345;

	cr_assert_not_null(buf = malloc(1 << 20));
	for (i = 0; i < 1024; i++)
		buf[i] = (unsigned char)"abcdefghijklmnopqrstuvwxyz0123456789"
		    [i % 36];
	buf[1023] = '\n';
	ht_file("1k.txt", buf, 1024);
	for (i = 0; i < 1 << 20; i++) {
		x = x * 1103515245 + 12345;
		buf[i] = (unsigned char)(x >> 16);
	}
	ht_file("1m.bin", buf, 1 << 20);
	memset(buf, 'a', 1 << 20);
	dir = harness_fmt("%s/gz", ht.html);
	cr_assert_eq(mkdir(dir, 0755), 0);
	free(dir);
	ht_file("gz/zeros.txt", buf, 1 << 20);
	free(buf);
}

/* A free TCP port on 127.0.0.1 (free now: nginx may yet lose it). */
static int
ht_free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof sin;
	int			fd, port;

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* Whether something accepts on 127.0.0.1:port. */
static int
ht_accepts(int port)
{
	struct sockaddr_in	sin;
	int			fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0;
	close(fd);
	return ok;
}

/*
 * Start argv with stdout and stderr to log; it dies with this process.
 * Returns its pid.
 */
static pid_t
ht_spawn(const char *const *argv, const char *log)
{
	pid_t	pid;
	int	fd;

	cr_assert_neq(pid = fork(), -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Wait for pid to accept on port; 0, or -1 if it exited first. */
static int
ht_wait_port(pid_t pid, int port)
{
	double	deadline = now_ms() + slack_ms(HT_START_MS);
	int	status;

	while (now_ms() < deadline) {
		if (ht_accepts(port))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		usleep(5000);
	}
	cr_assert_fail("nothing accepts on port %d in time", port);
	return -1;
}

/* Start nginx on two free ports (again, should another take one first). */
static void
ht_nginx_start(void)
{
	const char	*argv[] = { "nginx", "-p", ht.dir, "-c", NULL, NULL };
	char		*conf, *path, *out;
	int		 try;

	path = harness_fmt("%s/nginx.conf", ht.dir);
	out = harness_fmt("%s/nginx.out", ht.dir);
	argv[4] = path;
	for (try = 0; try < 5; try++) {
		ht.http_port = ht_free_port();
		do
			ht.https_port = ht_free_port();
		while (ht.https_port == ht.http_port);
		conf = harness_fmt(
		    "daemon off;\nmaster_process off;\nworker_processes 1;\n"
		    "error_log %s/nginx-error.log;\npid %s/nginx.pid;\n"
		    "events { worker_connections 4096; }\n"
		    "http {\n"
		    "  access_log off;\n"
		    "  types { text/plain txt; application/octet-stream bin; }\n"
		    "  client_body_temp_path %s/tmp-body;\n"
		    "  proxy_temp_path %s/tmp-proxy;\n"
		    "  fastcgi_temp_path %s/tmp-fastcgi;\n"
		    "  uwsgi_temp_path %s/tmp-uwsgi;\n"
		    "  scgi_temp_path %s/tmp-scgi;\n"
		    "  keepalive_requests 1000000;\n"
		    "  server {\n"
		    "    listen 127.0.0.1:%d;\n"
		    "    listen 127.0.0.1:%d ssl http2;\n"
		    "    ssl_certificate %s/server.pem;\n"
		    "    ssl_certificate_key %s/server.key;\n"
		    "    root %s;\n"
		    "    location /gz/ { gzip on; gzip_types *;"
		    " gzip_min_length 1; }\n"
		    "  }\n"
		    "}\n", ht.dir, ht.dir, ht.dir, ht.dir, ht.dir, ht.dir,
		    ht.dir, ht.http_port, ht.https_port, ht.dir, ht.dir,
		    ht.html);
		ht_write(path, conf, strlen(conf));
		free(conf);
		ht.nginx = ht_spawn(argv, out);
		if (ht_wait_port(ht.nginx, ht.http_port) == 0 &&
		    ht_wait_port(ht.nginx, ht.https_port) == 0)
			break;
		kill(ht.nginx, SIGKILL);
		waitpid(ht.nginx, NULL, 0);
		ht.nginx = 0;
	}
	cr_assert_neq(ht.nginx, 0, "nginx did not start; see %s", out);
	free(path);
	free(out);
}

/* Start http-server and read its ports from its log. */
static void
ht_server_start(void)
{
	const char	*argv[] = { HTTP_SERVER_BIN, ht.log, NULL };
	double		 deadline = now_ms() + slack_ms(HT_START_MS);
	FILE		*fp;
	char		*out = harness_fmt("%s/server.out", ht.dir);

	ht.server = ht_spawn(argv, out);
	free(out);
	while (now_ms() < deadline) {
		if ((fp = fopen(ht.log, "r")) != NULL) {
			if (fscanf(fp, "ports %d %d", &ht.port,
			    &ht.hold_port) == 2) {
				fclose(fp);
				return;
			}
			fclose(fp);
		}
		usleep(5000);
	}
	cr_assert_fail("http-server did not start; see %s/server.out",
	    ht.dir);
}

void
httptest_start(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&ht, 0, sizeof ht);
	harness_at_fini(httptest_stop);
	snprintf(ht.dir, sizeof ht.dir, "/tmp/gatherd-http.XXXXXX");
	cr_assert_not_null(mkdtemp(ht.dir), "mkdtemp: %s", strerror(errno));
	/* nginx reads it as whatever user it runs as. */
	chmod(ht.dir, 0755);
	snprintf(ht.html, sizeof ht.html, "%s/html", ht.dir);
	snprintf(ht.ca, sizeof ht.ca, "%s/ca.pem", ht.dir);
	snprintf(ht.log, sizeof ht.log, "%s/server.log", ht.dir);
	cr_assert_eq(mkdir(ht.html, 0755), 0);
	ht_certs();
	ht_files();
	ht_nginx_start();
	ht_server_start();
}

static void
ht_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

void
httptest_stop(void)
{
	ht_kill(&ht.nginx);
	ht_kill(&ht.server);
	if (ht.dir[0] != '\0')
		harness_rmtree(ht.dir);
	ht.dir[0] = '\0';
}

void
httptest_suite_init(void)
{
	harness_suite_init();
	httptest_start();
}

char *
httptest_conf(const char *extra)
{
	return httptest_conf_allow(NULL, extra);
}

char *
httptest_conf_allow(const char *allow, const char *extra)
{
	return harness_fmt("[http]\nallow = http://127.0.0.1:%d/"
	    " https://127.0.0.1:%d/ http://127.0.0.1:%d/ %s\nca_file = %s\n%s",
	    ht.http_port, ht.https_port, ht.port, allow != NULL ? allow : "",
	    ht.ca, extra != NULL ? extra : "");
}

void
httptest_daemon(struct daemon *d, const char *allow, const char *extra)
{
	char	*conf = httptest_conf_allow(allow, extra);

	daemon_start(d, conf, NULL);
	free(conf);
}

/* One of 16 static buffers, in turn. */
static char *
ht_buf(void)
{
	static char	bufs[16][1024];
	static int	next;

	return bufs[next++ % 16];
}

const char *
ht_url(const char *scheme, const char *host, int port, const char *path)
{
	char	*b = ht_buf();

	snprintf(b, 1024, "%s://%s:%d%s", scheme, host, port, path);
	return b;
}

const char *
ht_nginx(const char *path)
{
	return ht_url("http", "127.0.0.1", ht.http_port, path);
}

const char *
ht_nginx_tls(const char *path)
{
	return ht_url("https", "127.0.0.1", ht.https_port, path);
}

const char *
ht_server(const char *path)
{
	return ht_url("http", "127.0.0.1", ht.port, path);
}

const char *
ht_quote(const char *s)
{
	char	*b = ht_buf(), *q;
	json_t	*v;

	cr_assert_not_null(v = json_string(s));
	q = json_dumps(v, JSON_ENCODE_ANY);
	json_decref(v);
	cr_assert_lt(strlen(q), 1024);
	strcpy(b, q);
	free(q);
	return b;
}

int
httptest_log_wait(const char *needle, int count, int timeout_ms)
{
	double		 deadline = now_ms() + timeout_ms;
	FILE		*fp;
	char		 line[1024];
	int		 n;

	for (;;) {
		n = 0;
		if ((fp = fopen(ht.log, "r")) != NULL) {
			while (fgets(line, sizeof line, fp) != NULL)
				n += strstr(line, needle) != NULL;
			fclose(fp);
		}
		if (n >= count || now_ms() >= deadline)
			return n;
		usleep(10000);
	}
}

json_t *
ht_batch(struct daemon *d, const char *jobs)
{
	char	*line = harness_fmt("{\"jobs\":%s}", jobs);
	json_t	*r;

	r = daemon_request_ms(d, line, slack_ms(HT_REQUEST_MS));
	free(line);
	cr_assert(json_is_array(jget(r, "results")), "not a batch reply: %s",
	    jtext(r));
	return r;
}

char *
ht_get(const char *url, const char *more)
{
	return harness_fmt("{\"type\":\"http\",\"url\":%s%s%s}",
	    ht_quote(url), more != NULL ? "," : "", more != NULL ? more : "");
}

json_t *
ht_get_result(struct daemon *d, const char *url, const char *more)
{
	char	*job = ht_get(url, more);
	json_t	*r = ht_job(d, job);

	free(job);
	return r;
}

json_t *
ht_batch_copies(struct daemon *d, const char *job, size_t n,
    const char *last)
{
	json_t	*jobs = json_array(), *r;
	char	*text;
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(jobs, json_loads(job, 0, NULL));
	if (last != NULL)
		json_array_append_new(jobs, json_loads(last, 0, NULL));
	text = json_dumps(jobs, JSON_COMPACT);
	json_decref(jobs);
	r = ht_batch(d, text);
	free(text);
	return r;
}

json_t *
ht_job(struct daemon *d, const char *job)
{
	char	*jobs = harness_fmt("[%s]", job);
	json_t	*r, *res;

	r = ht_batch(d, jobs);
	free(jobs);
	res = json_incref(jget(r, "results[0]"));
	cr_assert_not_null(res, "%s", jtext(r));
	json_decref(r);
	return res;
}

json_t *
ht_ok(struct daemon *d, const char *job)
{
	json_t	*res = ht_job(d, job), *v;

	cr_assert(json_is_true(jget(res, "ok")), "%s: %s", job, jtext(res));
	v = json_incref(jget(res, "value"));
	json_decref(res);
	return v;
}

char *
ht_fails(struct daemon *d, const char *job, const char *code)
{
	json_t	*res = ht_job(d, job);
	char	*msg;

	cr_assert(json_is_false(jget(res, "ok")), "%s: %s", job, jtext(res));
	jstr_is(res, "error.code", code);
	msg = strdup(jstr(res, "error.message"));
	json_decref(res);
	return msg;
}
