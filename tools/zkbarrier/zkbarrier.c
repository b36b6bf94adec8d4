/*
 * zkbarrier.c - the boot barrier's command line: parse options and
 * arguments, validate them (service names follow the host-name rules,
 * states are one word of [A-Za-z0-9_.-], at most 64), load the config
 * and run one command (barrier_state.c, barrier_hosts.c).
 *
 * Exit statuses (documented in zkbarrier(1)):
 *   0 done; 1 timeout (or `get`: no state set); 2 bad arguments or config;
 *   3 ZooKeeper unreachable within the timeout, or an error from it;
 *   4 anything else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkhosts/names.h"
#include "barrier.h"

#define DEFAULT_CALL_TIMEOUT 30.0	/* set, get */

static void usage(FILE *f)
{
	fputs("Usage: zkbarrier [-c FILE] [-v] COMMAND [ARGS] [--timeout SECONDS]\n"
	      "\n"
	      "Commands:\n"
	      "  set SERVICE STATE          set <root>/boot/SERVICE to STATE\n"
	      "  get SERVICE                print the state of SERVICE\n"
	      "  wait SERVICE STATE         wait until SERVICE is in STATE\n"
	      "  hosts NAME...              wait until every NAME resolves here\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE   config file (default: $ZKHOSTS_CONF or /etc/zkhosts.conf)\n"
	      "  -t, --timeout SECS  give up after SECS (wait, hosts: default never;\n"
	      "                      set, get: default 30)\n"
	      "  -v, --verbose       say what happens, show the ZooKeeper client's log\n"
	      "  -h, --help          this help\n"
	      "  -V, --version       print the version\n"
	      "\n"
	      "Exit status: 0 done, 1 timed out (get: no state), 2 bad arguments or\n"
	      "config, 3 ZooKeeper unreachable or failing, 4 other error.\n", f);
}

#define bad_usage(...) zkc_bad_usage("zkbarrier", __VA_ARGS__)

static int check_service(const char *s)
{
	const char *why = zkh_name_problem(s, strlen(s));

	if (why) {
		fprintf(stderr, "zkbarrier: bad service name '%s': %s (service "
			"names follow the host-name rules)\n", s, why);
		return ZKC_EXIT_USAGE;
	}
	return ZKC_EXIT_OK;
}

static int check_state(const char *s)
{
	if (!barrier_state_valid(s)) {
		fprintf(stderr, "zkbarrier: bad state '%s': want one word of "
			"1..%d letters, digits, '_', '.' or '-'\n", s,
			BARRIER_STATE_MAX);
		return ZKC_EXIT_USAGE;
	}
	return ZKC_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *cmd;
	double timeout = -1;
	bool verbose = false;
	struct zkc z;
	int c, rc, nargs;
	char **args;
	int64_t deadline;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:t:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 't':
			if (zkc_parse_seconds(optarg, &timeout) < 0)
				return bad_usage("bad timeout '%s': want "
						 "seconds, e.g. 30 or 0.5",
						 optarg);
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return ZKC_EXIT_OK;
		case 'V':
			printf("zkbarrier %s\n", ZKH_VERSION);
			return ZKC_EXIT_OK;
		default:
			return bad_usage("unknown or incomplete option '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("%s", "missing command");
	cmd = argv[optind++];
	/* Options may also follow the command's arguments. */
	args = argv + optind;
	nargs = 0;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 ||
		    strcmp(argv[i], "-t") == 0) {
			if (i + 1 >= argc)
				return bad_usage("%s needs a value", argv[i]);
			if (zkc_parse_seconds(argv[i + 1], &timeout) < 0)
				return bad_usage("bad timeout '%s': want "
						 "seconds, e.g. 30 or 0.5",
						 argv[i + 1]);
			i++;
		} else if (strncmp(argv[i], "--timeout=", 10) == 0) {
			if (zkc_parse_seconds(argv[i] + 10, &timeout) < 0)
				return bad_usage("bad timeout '%s': want "
						 "seconds, e.g. 30 or 0.5",
						 argv[i] + 10);
		} else if (strcmp(argv[i], "-v") == 0 ||
			   strcmp(argv[i], "--verbose") == 0) {
			verbose = true;
		} else if (strcmp(argv[i], "--") == 0) {
			for (i++; i < argc; i++)
				args[nargs++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return bad_usage("unknown option '%s'", argv[i]);
		} else {
			args[nargs++] = argv[i];
		}
	}

	if (strcmp(cmd, "set") == 0 || strcmp(cmd, "wait") == 0) {
		if (nargs != 2)
			return bad_usage("'%s' takes SERVICE STATE", cmd);
		if ((rc = check_service(args[0])) ||
		    (rc = check_state(args[1])))
			return rc;
	} else if (strcmp(cmd, "get") == 0) {
		if (nargs != 1)
			return bad_usage("'%s' takes SERVICE", cmd);
		if ((rc = check_service(args[0])))
			return rc;
	} else if (strcmp(cmd, "hosts") == 0) {
		if (nargs < 1)
			return bad_usage("'%s' takes one or more NAMEs", cmd);
		for (int i = 0; i < nargs; i++) {
			const char *why = zkh_name_problem(args[i],
							   strlen(args[i]));
			if (why) {
				fprintf(stderr, "zkbarrier: bad host name "
					"'%s': %s\n", args[i], why);
				return ZKC_EXIT_USAGE;
			}
		}
	} else {
		return bad_usage("unknown command '%s'", cmd);
	}

	zkc_route_log("zkbarrier", verbose);
	rc = zkc_init(&z, conf, strcmp(cmd, "hosts") != 0,
		      strcmp(cmd, "hosts") == 0);
	z.verbose = verbose;
	if (rc < 0) {
		fprintf(stderr, "zkbarrier: %s\n", z.err);
		zkc_close(&z);
		return ZKC_EXIT_USAGE;	/* missing, unreadable or bad */
	}
	if (timeout < 0 && (strcmp(cmd, "set") == 0 ||
			    strcmp(cmd, "get") == 0))
		timeout = DEFAULT_CALL_TIMEOUT;
	deadline = zkc_deadline(timeout);

	if (strcmp(cmd, "set") == 0)
		rc = barrier_set(&z, args[0], args[1], deadline);
	else if (strcmp(cmd, "get") == 0)
		rc = barrier_get(&z, args[0], deadline);
	else if (strcmp(cmd, "wait") == 0)
		rc = barrier_wait(&z, args[0], args[1], deadline);
	else
		rc = barrier_hosts(z.cfg.cache, args, nargs, deadline,
				   verbose);
	zkc_close(&z);
	if (fflush(stdout) != 0 && rc == ZKC_EXIT_OK) {
		perror("zkbarrier: stdout");
		rc = ZKC_EXIT_OTHER;
	}
	return rc;
}
