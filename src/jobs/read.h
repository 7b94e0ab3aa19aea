/*
 * The read job type's settings: its [read] section, which jobs/read.c
 * declares and config.c reads into this struct.
 */
#ifndef GATHERD_JOBS_READ_H
#define GATHERD_JOBS_READ_H

#include <stdint.h>

#include "config.h"

struct read_settings {
	struct config_list	 roots;		/* the first: relative paths' base */
	uint64_t		 max_bytes;	/* the most a read returns */
};

extern const struct config_section read_section;

#endif
