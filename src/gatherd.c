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
#include "log.h"
#include "notify.h"
#include "server.h"
#include "xmalloc.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.0.0"
#endif

#define DEFAULT_CONFIG	SYSCONFDIR "/gatherd/gatherd.conf"

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
	    "  -h, --help            this help\n", DEFAULT_CONFIG);
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct config	 cfg;
	const char	*conf_path = NULL, *opt_socket = NULL, *opt_level = NULL;
	char		*cause = NULL, *path, *end;
	long		 threads = -1;
	int		 ch, check = 0;
	enum log_level	 level = LOG_LEVEL_INFO;

	log_init();
	while ((ch = getopt_long(argc, argv, "c:s:t:l:Vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 's':
			opt_socket = optarg;
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
			break;
		case 'l':
			opt_level = optarg;
			if (log_level_parse(optarg, &level) == -1) {
				fprintf(stderr, "gatherd: -l: expected debug,"
				    " info, warning or error, got \"%s\"\n",
				    optarg);
				return 2;
			}
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

	config_defaults(&cfg);
	if (config_load(&cfg, conf_path != NULL ? conf_path : DEFAULT_CONFIG,
	    conf_path != NULL, &cause) == -1) {
		fprintf(stderr, "gatherd: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return 1;
	}
	if (threads > 0)
		cfg.threads = (unsigned)threads;
	if (opt_level != NULL)
		cfg.log_level = level;
	path = config_socket_path(opt_socket, cfg.socket);
	free(cfg.socket);
	cfg.socket = path;
	if (check) {
		config_print(&cfg, stdout);
		config_free(&cfg);
		return 0;
	}
	log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	if (server_init(&cfg, cfg.socket, &cause) == -1) {
		log_errorx("%s", cause);
		free(cause);
		server_free();
		config_free(&cfg);
		return 1;
	}
	notify_init(server_base);
	notify_ready();
	server_run();
	log_info("stopped");
	notify_free();
	server_free();
	config_free(&cfg);
	libevent_global_shutdown();
	return 0;
}
