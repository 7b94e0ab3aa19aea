/*
 * The http job type's settings: its [http] section, which jobs/http.c
 * declares and config.c reads into this struct.
 */
#ifndef GATHERD_JOBS_HTTP_H
#define GATHERD_JOBS_HTTP_H

#include <stdint.h>

#include "config.h"

struct http_settings {
	int			 enabled;
	struct config_list	 allow;		/* URL prefixes, as written */
	struct config_list	 deny;		/* prefixes, ranges, hosts */
	uint64_t		 max_response_bytes;
	uint64_t		 max_connections;
	uint64_t		 max_host_connections;
	uint64_t		 max_redirects;
	uint64_t		 connect_timeout_ms;
	char			*user_agent;	/* "": no User-Agent */
	char			*ca_file;	/* NULL or "": the system's */
};

extern const struct config_section http_section;

#endif
