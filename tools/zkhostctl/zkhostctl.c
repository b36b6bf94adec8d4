/*
 * zkhostctl.c - the admin command line: parse options and arguments, load
 * the config strictly and run one command (ctl_records.c, ctl_import.c,
 * ctl_acl.c, ctl_status.c, ctl_resolve.c).
 *
 * Exit statuses (documented in zkhostctl(8)):
 *   0 done / healthy; 1 not found, some import entries skipped, status
 *   stale, or acl show found an ACL that differs; 2 bad arguments,
 *   config or input file; 3 ZooKeeper unreachable or failing (status:
 *   daemon down); 4 anything else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define DEFAULT_TIMEOUT 30.0

static void usage(FILE *f)
{
	fputs("Usage: zkhostctl [-c FILE] [-t SECS] [-v] COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  add NAME ADDR...        add or replace a persistent record\n"
	      "  rm NAME                 remove a record\n"
	      "  get NAME                print a record's addresses\n"
	      "  ls [--json]             list every record\n"
	      "  import FILE [--dry-run] import a hosts file or JSON object ('-': stdin);\n"
	      "                          --dry-run: print the plan, write nothing\n"
	      "  export [--no-ephemeral] print every record in hosts-file format\n"
	      "                          (--no-ephemeral: without live registrations)\n"
	      "  acl show                compare the layout's ACLs with the configured one\n"
	      "  acl apply [--dry-run]   set the configured ACL on <root>, hosts, boot and\n"
	      "                          their children (--dry-run: say what would change)\n"
	      "  status [--json] [--live] [--max-age SECS]\n"
	      "                          health of this host's cache and zkcached;\n"
	      "                          --live: only whether zkcached's loop runs\n"
	      "  resolve NAME|ADDRESS [--json]\n"
	      "                          explain this host's answer: the snapshot's\n"
	      "                          record and rules, then the NSS chain's answer\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE   config file (default: $ZKHOSTS_CONF or /etc/zkhosts.conf)\n"
	      "  -t, --timeout SECS  give up on ZooKeeper after SECS (default 30)\n"
	      "  -v, --verbose       say more, show the ZooKeeper client's log\n"
	      "  -h, --help          this help\n"
	      "  -V, --version       print the version\n"
	      "\n"
	      "Exit status: 0 ok, 1 not found / entries skipped / stale / ACLs\n"
	      "differ, 2 bad arguments, config or file, 3 ZooKeeper unreachable\n"
	      "or failing (status: daemon down), 4 other error.\n", f);
}

#define bad_usage(...) zkc_bad_usage("zkhostctl", __VA_ARGS__)

/* Which options a command takes, and how many operands. */
struct command {
	const char *name;
	int min_args, max_args;	/* -1: unlimited */
	bool json, dry_run, max_age, needs_zk, no_ephemeral;
	const char *operands;
};

static const struct command commands[] = {
	{ "add", 2, -1, false, false, false, true, false, "NAME ADDR..." },
	{ "rm", 1, 1, false, false, false, true, false, "NAME" },
	{ "get", 1, 1, false, false, false, true, false, "NAME" },
	{ "ls", 0, 0, true, false, false, true, false, "" },
	{ "import", 1, 1, false, true, false, true, false, "FILE" },
	{ "export", 0, 0, false, false, false, true, true, "" },
	{ "acl", 1, 1, false, true, false, true, false, "show or apply [--dry-run]" },
	{ "status", 0, 0, true, false, true, false, false, "" },
	{ "resolve", 1, 1, true, false, false, false, false,
	  "NAME or ADDRESS" },
};

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
	const struct command *cmd = NULL;
	const char *conf = NULL;
	double timeout = DEFAULT_TIMEOUT;
	struct ctl c;
	char **args;
	int opt, rc, nargs = 0;

	memset(&c, 0, sizeof(c));
	c.max_age = 0;	/* status: from the status file's heartbeat */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+c:t:vhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 't':
			if (zkc_parse_seconds(optarg, &timeout) < 0)
				return bad_usage("bad timeout '%s': want "
						 "seconds", optarg);
			break;
		case 'v':
			c.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return ZKC_EXIT_OK;
		case 'V':
			printf("zkhostctl %s\n", ZKH_VERSION);
			return ZKC_EXIT_OK;
		default:
			return bad_usage("unknown or incomplete option '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return bad_usage("missing command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return bad_usage("unknown command '%s'", argv[optind]);
	args = argv + optind + 1;
	for (int i = optind + 1; i < argc; i++) {
		const char *a = argv[i];

		if (cmd->json && strcmp(a, "--json") == 0) {
			c.json = true;
		} else if (cmd->dry_run && strcmp(a, "--dry-run") == 0) {
			c.dry_run = true;
		} else if (cmd->no_ephemeral &&
			   strcmp(a, "--no-ephemeral") == 0) {
			c.no_ephemeral = true;
		} else if (cmd->max_age && strcmp(a, "--live") == 0) {
			c.live = true;
		} else if (cmd->max_age && strcmp(a, "--max-age") == 0) {
			if (i + 1 >= argc ||
			    zkc_parse_seconds(argv[i + 1], &c.max_age) < 0)
				return bad_usage("--max-age needs seconds");
			i++;
		} else if (strcmp(a, "-v") == 0 ||
			   strcmp(a, "--verbose") == 0) {
			c.verbose = true;
		} else if (strcmp(a, "--") == 0) {
			for (i++; i < argc; i++)
				args[nargs++] = argv[i];
		} else if (a[0] == '-' && a[1] != '\0') {
			return bad_usage("'%s' does not take option '%s'",
					 cmd->name, a);
		} else {
			args[nargs++] = argv[i];
		}
	}
	if (nargs < cmd->min_args ||
	    (cmd->max_args >= 0 && nargs > cmd->max_args))
		return bad_usage("'%s' takes %s", cmd->name,
				 cmd->operands[0] ? cmd->operands :
				 "no arguments");
	if (strcmp(cmd->name, "acl") == 0 && strcmp(args[0], "show") != 0 &&
	    strcmp(args[0], "apply") != 0)
		return bad_usage("'acl' takes show or apply, not '%s'", args[0]);
	if (strcmp(cmd->name, "acl") == 0 && c.dry_run &&
	    strcmp(args[0], "apply") != 0)
		return bad_usage("--dry-run goes with 'acl apply'");

	zkc_route_log("zkhostctl", c.verbose);
	rc = zkc_init(&c.z, conf, cmd->needs_zk, !cmd->needs_zk);
	c.z.verbose = c.verbose;
	if (rc < 0) {
		fprintf(stderr, "zkhostctl: %s\n", c.z.err);
		return ZKC_EXIT_USAGE;
	}
	c.deadline = zkc_deadline(timeout);
	if (strcmp(cmd->name, "add") == 0)
		rc = ctl_add(&c, args[0], args + 1, nargs - 1);
	else if (strcmp(cmd->name, "rm") == 0)
		rc = ctl_rm(&c, args[0]);
	else if (strcmp(cmd->name, "get") == 0)
		rc = ctl_get(&c, args[0]);
	else if (strcmp(cmd->name, "ls") == 0)
		rc = ctl_ls(&c);
	else if (strcmp(cmd->name, "import") == 0)
		rc = ctl_import(&c, args[0]);
	else if (strcmp(cmd->name, "export") == 0)
		rc = ctl_export(&c);
	else if (strcmp(cmd->name, "acl") == 0)
		rc = ctl_acl(&c, strcmp(args[0], "apply") == 0);
	else if (strcmp(cmd->name, "resolve") == 0)
		rc = ctl_resolve(&c, args[0]);
	else
		rc = ctl_status(&c);
	zkc_close(&c.z);
	if (fflush(stdout) != 0 && rc == ZKC_EXIT_OK) {
		perror("zkhostctl: stdout");
		rc = ZKC_EXIT_OTHER;
	}
	return rc;
}
