/*
 * nss_select - an LD_PRELOAD shim that makes any unmodified program (getent,
 * python3, java, curl, a test binary) resolve host names through the NSS
 * sources the tests choose, without touching /etc/nsswitch.conf and without
 * any privilege: a constructor reads the `hosts` service line from the
 * environment variable ZKH_NSS_HOSTS (e.g. "files zk") and hands it to
 * glibc's __nss_configure_lookup, exactly what `getent -s hosts:zk` does for
 * itself. glibc then never reloads nsswitch.conf for that database in this
 * process. Without the variable the shim does nothing; a line glibc rejects
 * stops the program at once with a message naming the line, so a test can
 * never silently fall back to the machine's own nsswitch.conf. Built as
 * $(BUILD)/tests/tools/nss_select.so by tests/build.mk; the Python helpers in
 * tests/lib/zkhdaemon.py (select_env) set both variables. Set-id programs
 * ignore LD_PRELOAD, as the dynamic loader requires.
 */
#include <nss.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Write s to standard error; best effort (nothing else can be done). */
static void say(const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* Constructor: apply ZKH_NSS_HOSTS to the hosts database, or exit 127. */
__attribute__((constructor)) static void nss_select(void)
{
	const char *line = getenv("ZKH_NSS_HOSTS");
	const char *first;

	if (line == NULL)
		return;
	/* glibc accepts a line that starts with an action and names no
	 * service, then crashes on the first lookup: refuse it here. */
	first = line + strspn(line, " \t");
	if (*first == '\0' || *first == '[' ||
	    __nss_configure_lookup("hosts", line) != 0) {
		say("nss_select: ZKH_NSS_HOSTS=\"");
		say(line);
		say("\" is not a valid NSS service line for hosts (e.g. \"files zk\")\n");
		_exit(127);
	}
}
