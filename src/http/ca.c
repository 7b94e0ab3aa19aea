/*
 * CA bundles for https: read into memory when a configuration snapshot
 * is made (off the loop), handed to libcurl as a blob, so no TLS
 * handshake reads the disk on the loop.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/ca.h"
#include "xmalloc.h"

#define HTTP_CA_BYTES_MAX	(64 * 1024 * 1024)

/*
 * Read a CA bundle (at most HTTP_CA_BYTES_MAX) into new memory. Returns
 * 0, or -1 with *why set.
 */
int
http_ca_read(const char *path, unsigned char **out, size_t *len, char **why)
{
	struct stat	 sb;
	unsigned char	*buf = NULL;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		*why = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > HTTP_CA_BYTES_MAX) {
		*why = xasprintf("%s: not a regular file of at most %d bytes",
		    path, HTTP_CA_BYTES_MAX);
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (strstr((char *)buf, "-----BEGIN CERTIFICATE-----") == NULL) {
		*why = xasprintf("%s: holds no PEM certificate", path);
		free(buf);
		return -1;
	}
	*out = buf;
	*len = got;
	return 0;
}

/* The system's CA bundle, as libcurl was built to find it. */
const char *
http_ca_default(void)
{
	static char	 path[4096];
	char		*p = NULL;
	CURL		*e;

	if ((e = curl_easy_init()) == NULL)
		return NULL;
	if (curl_easy_getinfo(e, CURLINFO_CAINFO, &p) != CURLE_OK ||
	    p == NULL || strlen(p) >= sizeof path) {
		curl_easy_cleanup(e);
		return NULL;
	}
	snprintf(path, sizeof path, "%s", p);
	curl_easy_cleanup(e);
	return path;
}
