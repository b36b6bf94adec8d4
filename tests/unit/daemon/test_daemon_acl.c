/*
 * test_daemon_acl.c - the ACL of the nodes zkcached creates, through the
 * whole daemon against the ZooKeeper model (which records each node's
 * ACL): with auth_file, the layout (every missing node of the root, hosts,
 * boot) and the registration, both its create and the multi that takes
 * our previous session's node back, get ALL for auth_file's digest
 * identity and READ for everyone; an explicit `acl` wins; without
 * credentials the open ACL, as before; nodes that already exist keep
 * theirs; credentials of a scheme no ACL can be derived from stop zkd_init
 * with a message that does not show the secret.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "harness.h"

#define ME HOSTS "/me"
/* DigestAuthenticationProvider.generateDigest("zkhosts:s3cret") */
#define ID "digest:zkhosts:29rcgVREKyokPD8CMoNr/5hRFdE="
#define DEFAULT_ACL ID ":cdrwa, world:anyone:r"

static char auth[128], extra[512];

/* An auth_file (0600) holding `line`, and the config lines naming it. */
static void write_auth(const char *line, const char *more)
{
	int fd;

	snprintf(auth, sizeof auth, "/tmp/zkd-unit-acl-%d", (int)getpid());
	fd = open(auth, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	snprintf(extra, sizeof extra, "auth_file = %s\nregister = me 10.5.0.1\n%s",
		 auth, more);
}

static void with_credentials_all_for_us_read_for_all(void **state)
{
	int creates;

	(void)state;
	fakezk_init();
	fakezk_set_credentials("digest", "zkhosts:s3cret");
	write_auth("digest:zkhosts:s3cret\n", "");
	h_start_cfg(extra, true);
	h_publish();
	assert_string_equal(fakezk_acl("/zkhosts"), DEFAULT_ACL);
	assert_string_equal(fakezk_acl(HOSTS), DEFAULT_ACL);
	assert_string_equal(fakezk_acl("/zkhosts/boot"), DEFAULT_ACL);
	assert_string_equal(fakezk_acl(ME), DEFAULT_ACL);
	assert_string_equal(h_addr("me"), "10.5.0.1");
	/* deleted by someone else and made again: the same ACL */
	creates = fakezk_count(FZ_CREATE, ME);
	assert_int_equal(fakezk_delete(ME), ZOK);
	h_publish();
	assert_int_equal(fakezk_count(FZ_CREATE, ME), creates + 1);
	assert_string_equal(fakezk_acl(ME), DEFAULT_ACL);
	h_stop();
	unlink(auth);
}

static void takeover_keeps_the_acl(void **state)
{
	char dir[100], path[300], line[128];
	int64_t prev;
	int fd;

	(void)state;
	fakezk_init();
	fakezk_set_credentials("digest", "zkhosts:s3cret");
	fakezk_mkdirs(HOSTS);
	prev = fakezk_session_open();
	assert_int_equal(fakezk_create(ME, "10.5.0.1", prev), ZOK);
	assert_string_equal(fakezk_acl(ME), "world:anyone:cdrwa");
	snprintf(dir, sizeof dir, "/tmp/zkd-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/.master", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof path, "%s/%s", dir, ZKD_SESSION_FILE);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	snprintf(line, sizeof line, "0x%016llx 00\n", (unsigned long long)prev);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	write_auth("digest:zkhosts:s3cret\n", "");
	h_start_in(dir, extra, true);
	h_publish();
	assert_int_equal(fakezk_count(FZ_MULTI, ME), 1);
	assert_string_equal(fakezk_acl(ME), DEFAULT_ACL);
	/* the layout existed: its nodes keep the ACL they had */
	assert_string_equal(fakezk_acl(HOSTS), "world:anyone:cdrwa");
	assert_string_equal(fakezk_acl("/zkhosts"), "world:anyone:cdrwa");
	h_stop();
	unlink(auth);
}

static void explicit_acl_wins(void **state)
{
	(void)state;
	fakezk_init();
	fakezk_set_credentials("digest", "zkhosts:s3cret");
	write_auth("digest:zkhosts:s3cret\n",
		   "acl = ip:10.0.0.0/8:cdrwa, " ID ":cdrwa, world:anyone:r\n");
	h_start_cfg(extra, true);
	h_publish();
	assert_string_equal(fakezk_acl(ME),
			    "ip:10.0.0.0/8:cdrwa, " ID ":cdrwa, world:anyone:r");
	assert_string_equal(fakezk_acl(HOSTS),
			    "ip:10.0.0.0/8:cdrwa, " ID ":cdrwa, world:anyone:r");
	h_stop();
	unlink(auth);
}

static void without_credentials_open_as_before(void **state)
{
	(void)state;
	fakezk_init();
	h_start_cfg("register = me 10.5.0.1\n", true);
	h_publish();
	assert_string_equal(fakezk_acl("/zkhosts"), "world:anyone:cdrwa");
	assert_string_equal(fakezk_acl(HOSTS), "world:anyone:cdrwa");
	assert_string_equal(fakezk_acl(ME), "world:anyone:cdrwa");
	h_stop();
}

static void underivable_credentials_stop_init(void **state)
{
	char text[1024], err[512];
	struct zkh_config_error cerr;
	struct zkd d;

	(void)state;
	fakezk_init();
	write_auth("digest:nocolon-s3cret\n", "");
	memset(&d, 0, sizeof d);
	snprintf(text, sizeof text, "zookeeper = 127.0.0.1:2181\n%s", extra);
	zkh_config_defaults(&d.cfg);
	assert_int_equal(zkh_config_parse(text, strlen(text), "test.conf",
					  ZKH_CONFIG_STRICT, &d.cfg, &cerr), 0);
	assert_int_equal(zkd_init(&d, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "USER:PASSWORD"));
	assert_null(strstr(err, "s3cret"));
	zkd_free(&d);
	fakezk_reset();
	unlink(auth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(with_credentials_all_for_us_read_for_all),
		cmocka_unit_test(takeover_keeps_the_acl),
		cmocka_unit_test(explicit_acl_wins),
		cmocka_unit_test(without_credentials_open_as_before),
		cmocka_unit_test(underivable_credentials_stop_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
