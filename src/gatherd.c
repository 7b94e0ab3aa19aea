/*
 * gatherd: asyncio.gather as a system service. main() reads the options
 * and the configuration, then runs the server's loop until shutdown.
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "config.h"
#include "job.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "server.h"
#include "snapshot.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif


static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: gatherd [-c FILE] [-s SOCKET] [-t THREADS] [-l LEVEL]"
	    " [--check-config] [-V] [-h]\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -s, --socket PATH     listen on this Unix socket\n"
	    "  -t, --threads N       worker threads\n"
	    "  -l, --log-level LEVEL debug, info, warning or error\n"
	    "      --check-config    validate the configuration, print it,"
	    " exit\n"
	    "  -V, --version         print the version\n"
	    "  -h, --help            this help\n", CONFIG_DEFAULT_FILE);
	exit(status);
}

/* Descriptors are connections: take all the kernel allows us. */
static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit RLIMIT_NOFILE");
	}
}

/* The command line's long options (spec/daemon.md). */
static const struct option gatherd_longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "socket", required_argument, NULL, 's' },
	{ "threads", required_argument, NULL, 't' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "check-config", no_argument, NULL, 'C' },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

int
main(int argc, char **argv)
{
	struct config_args args = { NULL, NULL, 0, -1 };
	struct config	 cfg;
	struct snapshot	*snap;
	char		*cause = NULL, *end;
	long		 threads;
	int		 ch, check = 0;
	enum log_level	 level;

	log_init();
	while ((ch = getopt_long(argc, argv, "c:s:t:l:Vh", gatherd_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			args.file = optarg;
			break;
		case 's':
			args.socket = optarg;
			break;
		case 't':
			errno = 0;
			threads = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    threads < 1 || threads > 1024) {
				fprintf(stderr, "gatherd: -t: expected 1 to 1024"
				    " threads, got \"%s\"\n", optarg);
				return 2;
			}
			args.threads = (unsigned)threads;
			break;
		case 'l':
			if (log_level_parse(optarg, &level) == -1) {
				fprintf(stderr, "gatherd: -l: expected debug,"
				    " info, warning or error, got \"%s\"\n",
				    optarg);
				return 2;
			}
			args.log_level = (int)level;
			break;
		case 'C':
			check = 1;
			break;
		case 'V':
			printf("gatherd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);

	/*
	 * --check-config also looks at the files the file names (not the
	 * built-in defaults'), before they are opened.
	 */
	if (config_build(&cfg, &args, &cause) == -1 ||
	    (check && cfg.file != NULL &&
	    job_types_check_files(&cfg, &cause) == -1) ||
	    (snap = snapshot_new(&cfg, &cause)) == NULL) {
		if (check)
			config_free(&cfg);
		fprintf(stderr, "gatherd: %s\n", cause);
		free(cause);
		return 1;
	}
	if (check) {
		config_print(&snap->cfg, stdout);
		snapshot_unref(snap);
		return 0;
	}
	log_set_level(snap->cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if (server_init(snap, &cause) == -1) {
		log_errorx("%s", cause);
		free(cause);
		server_free();
		return 1;
	}
	reload_init(server_base, &args);
	notify_init(server_base);
	notify_ready();
	server_run();
	log_info("stopped");
	notify_free();
	server_free();
	libevent_global_shutdown();
	return 0;
}
