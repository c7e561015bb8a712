/*
 * The policy without LD_PRELOAD: sockets made here are plain libc sockets,
 * so every one of them was "created behind the shim's back" and the test
 * calls the policy hooks itself, reading the result back with getsockopt.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "real.h"
#include "unit.h"

static const struct kap_sysctl sys = {7200, 75, 9};

static void setup(const char *text)
{
	static struct kap_config cfg; /* the policy keeps pointers to its rules */

	kap_config_init(&cfg);
	kap_config_parse_file(&cfg, text, strlen(text), "test.conf");
	if (cfg.ndiags)
		printf("# unexpected diag: %s\n", cfg.diags[0].text);
	kap_policy_setup(&cfg, &sys);
}

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(fd, level, name, &v, &len);
	return v;
}

#define KEEPALIVE(fd) opt(fd, SOL_SOCKET, SO_KEEPALIVE)
#define IDLE(fd)      opt(fd, IPPROTO_TCP, TCP_KEEPIDLE)
#define INTERVAL(fd)  opt(fd, IPPROTO_TCP, TCP_KEEPINTVL)
#define COUNT(fd)     opt(fd, IPPROTO_TCP, TCP_KEEPCNT)
#define UTO(fd)	      opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT)

/*
 * A loopback listener on an ephemeral port; *addr gets its address.
 * ours: made through the shim's socket path, else behind its back.
 */
static int listener(struct sockaddr_in *addr, int ours)
{
	socklen_t len = sizeof(*addr);
	int fd = ours ? kap_socket_tcp(AF_INET, SOCK_STREAM, 0) : socket(AF_INET, SOCK_STREAM, 0);

	*addr =
	    (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		perror("listener");
		exit(2);
	}
	return fd;
}

static void test_profiles(void)
{
	struct kap_profile p;
	struct kap_params v = {1, 10, 2, 3, KAP_UTO_AUTO};

	kap_profile_build(&p, &v, 0, &sys);
	CHECK("profile: auto user timeout = (idle + interval x count) s in ms",
	      p.value[KAP_OPT_USER_TIMEOUT] == 16000);
	CHECK("profile: SO_KEEPALIVE applied last, after the timer values",
	      p.nopts == 5 && p.opts[4] == KAP_OPT_KEEPALIVE);

	v = (struct kap_params){KAP_UNSET, KAP_UNSET, KAP_UNSET, KAP_UNSET, KAP_UTO_AUTO};
	kap_profile_build(&p, &v, 0, &sys);
	CHECK("profile: auto from the namespace's sysctls when unset",
	      p.value[KAP_OPT_USER_TIMEOUT] == (7200 + 75 * 9) * 1000);
	CHECK("profile: unset values are not set", p.nopts == 2);

	v = (struct kap_params){1, 32767, 32767, 127, KAP_UTO_AUTO};
	kap_profile_build(&p, &v, 0, &sys);
	CHECK("profile: auto clamped to INT_MAX", p.value[KAP_OPT_USER_TIMEOUT] == INT_MAX);

	v = (struct kap_params){1, 5, KAP_UNSET, KAP_UNSET, 0};
	kap_profile_build(&p, &v, 0, &sys);
	CHECK("profile: user_timeout 0 leaves it alone", !(p.mask & (1u << KAP_OPT_USER_TIMEOUT)));

	v = (struct kap_params){0, 5, 5, 5, 1000};
	kap_profile_build(&p, &v, 0, &sys);
	CHECK("profile: global off sets nothing", p.nopts == 0);
	kap_profile_build(&p, &v, 1, &sys);
	CHECK("profile: a rule's explicit off clears keepalive and nothing else",
	      p.nopts == 1 && p.opts[0] == KAP_OPT_KEEPALIVE && p.value[KAP_OPT_KEEPALIVE] == 0);
}

static void test_socket_path(void)
{
	int fd;

	setup("idle = 31\ninterval = 7\ncount = 4\nuser_timeout = 9000\n");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK("socket: a libc socket starts without keepalive", KEEPALIVE(fd) == 0);
	close(fd);
	fd = kap_socket_tcp(AF_INET, SOCK_STREAM, 0);
	CHECK("socket: keepalive on", KEEPALIVE(fd) == 1);
	CHECK("socket: idle", IDLE(fd) == 31);
	CHECK("socket: interval", INTERVAL(fd) == 7);
	CHECK("socket: count", COUNT(fd) == 4);
	CHECK("socket: user timeout", UTO(fd) == 9000);
	close(fd);

	CHECK("classify: TCP", kap_is_tcp(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	CHECK("classify: TCP v6 protocol 6", kap_is_tcp(AF_INET6, SOCK_STREAM, IPPROTO_TCP));
	CHECK("classify: MPTCP", kap_is_tcp(AF_INET, SOCK_STREAM, IPPROTO_MPTCP));
	CHECK("classify: not UDP", !kap_is_tcp(AF_INET, SOCK_DGRAM, 0));
	CHECK("classify: not AF_UNIX", !kap_is_tcp(AF_UNIX, SOCK_STREAM, 0));
	CHECK("classify: not SCTP stream", !kap_is_tcp(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
	CHECK("classify: not raw", !kap_is_tcp(AF_INET, SOCK_RAW, IPPROTO_TCP));
}

static void test_connect_path(void)
{
	struct sockaddr_in addr;
	int lfd, fd, other;

	setup("idle = 31\n[rule local]\ndirection = outbound\nremote = 127.0.0.0/8\nidle = 12\n");
	lfd = listener(&addr, 0);

	/* A socket the shim never saw is configured at connect(). */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	kap_on_connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	CHECK("connect: unseen socket configured", KEEPALIVE(fd) == 1);
	CHECK("connect: outbound rule beats the global idle", IDLE(fd) == 12);
	close(fd);

	/* What the application set itself wins while override is off. */
	fd = kap_socket_tcp(AF_INET, SOCK_STREAM, 0);
	{
		int v = 99;

		setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
		kap_note_app_option(fd, KAP_OPT_IDLE, &v, sizeof(v));
	}
	kap_on_connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	CHECK("connect: the application's idle stays", IDLE(fd) == 99);
	CHECK("connect: override off keeps nothing", !kap_keeps_option(fd, KAP_OPT_KEEPALIVE));
	close(fd);

	/*
	 * A stale entry: fd was ours, then its number was reused by a socket
	 * made behind our back (dup2).  connect() must not trust the entry.
	 */
	fd = kap_socket_tcp(AF_INET, SOCK_STREAM, 0);
	other = socket(AF_INET, SOCK_STREAM, 0);
	dup2(other, fd);
	close(other);
	CHECK("stale entry: the new socket starts without keepalive", KEEPALIVE(fd) == 0);
	kap_on_connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	CHECK("stale entry: configured at connect", KEEPALIVE(fd) == 1 && IDLE(fd) == 12);
	close(fd);

	/* connect() on a UDP socket is left alone. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	kap_on_connect(fd, (struct sockaddr *)&addr, sizeof(addr));
	CHECK("connect: UDP untouched", KEEPALIVE(fd) == 0);
	close(fd);
	close(lfd);
}

/* Connects to addr, accepts on lfd, runs the accept hook; returns the accepted fd. */
static int accepted(int lfd, const struct sockaddr_in *addr, int *client)
{
	int fd;

	*client = socket(AF_INET, SOCK_STREAM, 0);
	connect(*client, (const struct sockaddr *)addr, sizeof(*addr));
	fd = accept(lfd, NULL, NULL);
	kap_on_accept(lfd, fd, NULL, 0);
	return fd;
}

static void test_accept_path(void)
{
	struct sockaddr_in addr, addr2;
	int lfd, lfd2, fd, client, v;

	setup("idle = 33\ninterval = 3\ncount = 3\n");
	/* A listener from a parent: never seen by socket(). */
	lfd = listener(&addr, 0);
	fd = accepted(lfd, &addr, &client);
	CHECK("accept: inherited listener, accepted socket configured",
	      KEEPALIVE(fd) == 1 && IDLE(fd) == 33 && COUNT(fd) == 3);
	CHECK("accept: the inherited listener itself is not changed", KEEPALIVE(lfd) == 0);
	close(fd);
	close(client);

	/* Our own listener carries the values: accepted sockets inherit them. */
	close(lfd);
	lfd = listener(&addr, 1);
	fd = accepted(lfd, &addr, &client);
	CHECK("accept: from our listener, values inherited", KEEPALIVE(fd) == 1 && IDLE(fd) == 33);
	close(fd);
	close(client);

	/*
	 * The number of that proven listener now names another listener that
	 * carries nothing: its accepted sockets must still be configured.
	 */
	lfd2 = listener(&addr2, 0);
	dup2(lfd2, lfd);
	close(lfd2);
	fd = accepted(lfd, &addr2, &client);
	CHECK("accept: reused listener number is not mistaken for the old listener",
	      KEEPALIVE(fd) == 1 && IDLE(fd) == 33);
	close(fd);
	close(client);

	/* The application's own listener settings are inherited and win. */
	v = 77;
	setsockopt(lfd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	kap_note_app_option(lfd, KAP_OPT_IDLE, &v, sizeof(v));
	fd = accepted(lfd, &addr2, &client);
	CHECK("accept: application's listener idle wins", IDLE(fd) == 77 && KEEPALIVE(fd) == 1);
	close(fd);
	close(client);
	close(lfd);

	/* An inbound rule with enable = off clears what the listener passed on. */
	setup("idle = 33\n[rule quiet]\ndirection = inbound\nenable = off\n");
	lfd = listener(&addr, 1);
	fd = accepted(lfd, &addr, &client);
	CHECK("accept: inbound enable = off clears inherited keepalive", KEEPALIVE(fd) == 0);
	close(fd);
	close(client);
	close(lfd);
}

static void test_override(void)
{
	int fd;

	setup("idle = 20\noverride = on\n");
	fd = kap_socket_tcp(AF_INET, SOCK_STREAM, 0);
	CHECK("override: our idle is kept", kap_keeps_option(fd, KAP_OPT_IDLE));
	CHECK("override: an option we did not set is not kept",
	      !kap_keeps_option(fd, KAP_OPT_COUNT));
	close(fd);
	CHECK("managed: SO_KEEPALIVE",
	      kap_managed_option(SOL_SOCKET, SO_KEEPALIVE) == KAP_OPT_KEEPALIVE);
	CHECK("managed: TCP_NODELAY is not ours", kap_managed_option(IPPROTO_TCP, TCP_NODELAY) < 0);
	CHECK("managed: SO_RCVBUF is not ours", kap_managed_option(SOL_SOCKET, SO_RCVBUF) < 0);
}

int main(void)
{
	kap_real_resolve();
	test_profiles();
	test_socket_path();
	test_connect_path();
	test_accept_path();
	test_override();
	UNIT_EXIT();
}
