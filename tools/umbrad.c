/* SPDX-License-Identifier: MIT */
/* umbrad: the umbra node daemon. Runs in the foreground (a service manager
 * supervises it), logs to stderr. SIGTERM/SIGINT stop it cleanly: sessions
 * closed, keys wiped, device and control socket removed. SIGHUP is ignored
 * (configuration reload is not supported yet: restart instead). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl/config.h"
#include "net/loop.h"
#include "node/node.h"
#include "node/status.h"
#include "um_config.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_CONFIG "/etc/umbra/umbrad.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: umbrad [--config FILE] [--foreground] [--version] [--help]\n"
		   "  --config FILE   configuration (default " DEFAULT_CONFIG ")\n"
		   "  --foreground    stay in the foreground (the default and only mode)\n");
}

static void on_stop_signal(struct um_loop *loop, int signo, void *arg)
{
	(void)arg;
	um_log_info("signal %d: shutting down", signo);
	um_loop_stop(loop);
}

static void on_hup(struct um_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	(void)arg;
	um_log_info("SIGHUP: configuration reload is not supported; restart umbrad to apply changes");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config_path = DEFAULT_CONFIG;
	char error[UM_CONFIG_ERROR_MAX];
	struct um_config config;
	struct um_loop *loop;
	struct um_node *node;
	int opt, r, status = 1;

	while ((opt = getopt_long(argc, argv, "c:fVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			break;
		case 'V':
			printf("umbrad %s\n", UM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (sodium_init() < 0) {
		um_log_error("libsodium failed to initialise");
		return 1;
	}
	r = um_config_load(&config, config_path, error, sizeof(error));
	if (r) {
		um_log_error("%s", error);
		return 1;
	}
	r = um_loop_new(&loop);
	if (r) {
		um_log_error("event loop: %s", um_strerror(r));
		goto err_config;
	}
	/* Signals first: they must be blocked before the data plane starts its
	 * threads, so only the loop ever sees them. */
	if ((r = um_loop_add_signal(loop, SIGTERM, on_stop_signal, NULL)) ||
	    (r = um_loop_add_signal(loop, SIGINT, on_stop_signal, NULL)) ||
	    (r = um_loop_add_signal(loop, SIGHUP, on_hup, NULL))) {
		um_log_error("signals: %s", um_strerror(r));
		goto err_loop;
	}
	signal(SIGPIPE, SIG_IGN);
	r = um_node_start(&node, loop, &config, um_node_control); /* takes config, even on failure */
	if (r)
		goto err_loop;
	r = um_loop_run(loop);
	if (r)
		um_log_error("event loop: %s", um_strerror(r));
	else
		status = 0;
	um_node_stop(node);
	um_log_info("stopped");
err_loop:
	um_loop_free(loop);
	return status;
err_config:
	um_config_free(&config);
	return 1;
}
