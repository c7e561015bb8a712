/*
 * The socket-path benchmark: a tight loop of socket()+close(), or of one
 * whole loopback connection (socket, connect, accept, close, close) inside a
 * single process, so that every iteration passes through the wrappers.
 *
 * usage: sockloop [-i IDLE,INTVL,CNT[,UTO]] [-w WARMUP] [-s ROUNDS] [-b B] [-C] KIND N
 *   KIND  tcp | tcp6 | udp | unix | conn
 *   -i    "inline": the program applies the keepalive options itself, with
 *         the same values as the shim's configuration.  That is the least
 *         any shim has to do, so it is the baseline for the shim's cost.
 *   -w    iterations run before the timed loop (default 500), so that
 *         lazy symbol binding, page faults and the shim's first-call work
 *         stay out of the measurement.  It does not scale with N: callgrind
 *         runs subtract an N run from a 2N run to cancel everything else.
 *   -s    lockstep: up to ROUNDS timed loops, each started by one byte
 *         read from stdin and reported at once, so that a driver can
 *         interleave several processes (one per condition) finely without
 *         paying their start-up inside the measurement.
 *   -b    each round runs B batches of N and reports the fastest batch:
 *         other tenants of a shared machine only ever add time.
 *   -C    control for the counter library: each iteration also allocates,
 *         locks, reads the environment and writes to a stream, so that a
 *         counter that sees nothing is caught (warm-up included, so that
 *         stdio's one-time buffer allocation stays out of the counts).
 * Prints "ns_per_op VALUE" per round.
 *
 * The timed loop is bracketed by calls to kapcount_mark() when a preloaded
 * counter library provides it (tests/bench/libcount.c): its counts then
 * cover only what happens per call, not start-up.  The symbol is looked up
 * before the loop so that the lookup itself is never counted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct ka_values {
	int on;
	int idle, intvl, cnt, uto; /* uto < 0: not set */
};

static struct ka_values inline_ka;

static void die(const char *what)
{
	fprintf(stderr, "sockloop: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* Mirrors what the shim does for one TCP socket with this configuration. */
static void apply_inline(int fd)
{
	int one = 1;

	if (!inline_ka.on)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &inline_ka.idle, sizeof(int));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &inline_ka.intvl, sizeof(int));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &inline_ka.cnt, sizeof(int));
	if (inline_ka.uto >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &inline_ka.uto, sizeof(int));
}

static int parse_inline(const char *s)
{
	inline_ka.uto = -1;
	int n = sscanf(s, "%d,%d,%d,%d", &inline_ka.idle, &inline_ka.intvl, &inline_ka.cnt,
		       &inline_ka.uto);
	if (n < 3)
		return -1;
	inline_ka.on = 1;
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int domain, type;
static int control;
static FILE *devnull;
static pthread_mutex_t control_lock = PTHREAD_MUTEX_INITIALIZER;

/* One call of each kind the counter must see (the volatile keeps the pair). */
static void control_calls(void)
{
	void *volatile p = malloc(16);
	free(p);
	if (getenv("KAP_BENCH_NO_SUCH_VARIABLE"))
		abort();
	pthread_mutex_lock(&control_lock);
	pthread_mutex_unlock(&control_lock);
	fwrite("x", 1, 1, devnull);
}

static void one_socket(void)
{
	int fd = socket(domain, type, 0);
	if (fd < 0)
		die("socket");
	if (type == SOCK_STREAM && domain != AF_UNIX)
		apply_inline(fd);
	close(fd);
}

static int listener = -1;
static struct sockaddr_in listen_addr;

static void conn_setup(void)
{
	socklen_t len = sizeof(listen_addr);

	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0)
		die("socket");
	apply_inline(listener);
	memset(&listen_addr, 0, sizeof(listen_addr));
	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 ||
	    listen(listener, 64) < 0 ||
	    getsockname(listener, (struct sockaddr *)&listen_addr, &len) < 0)
		die("listen");
}

/*
 * On loopback the handshake completes inside connect(), from the listen
 * queue, so one thread can play both ends.  The client resets on close so
 * that no TIME_WAIT entries pile up and exhaust the ephemeral ports.
 */
static void one_conn(void)
{
	static const struct linger rst = {1, 0};
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0)
		die("socket");
	apply_inline(c);
	if (connect(c, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0)
		die("connect");
	int s = accept(listener, NULL, NULL);
	if (s < 0)
		die("accept");
	apply_inline(s);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(c);
	close(s);
}

int main(int argc, char **argv)
{
	long warmup = 500, rounds = 1, batches = 1;
	int opt, stepped = 0;

	while ((opt = getopt(argc, argv, "i:w:s:b:C")) != -1) {
		switch (opt) {
		case 'b':
			batches = atol(optarg);
			break;
		case 's':
			rounds = atol(optarg);
			stepped = 1;
			break;
		case 'C':
			control = 1;
			break;
		case 'i':
			if (parse_inline(optarg) < 0) {
				fprintf(stderr, "sockloop: bad -i %s\n", optarg);
				return 2;
			}
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr,
			"usage: sockloop [-i IDLE,INTVL,CNT[,UTO]] [-w N] [-s R] [-b B] [-C] "
			"tcp|tcp6|udp|unix|conn N\n");
		return 2;
	}
	const char *kind = argv[optind];
	long n = atol(argv[optind + 1]);
	void (*step)(void) = one_socket;

	if (strcmp(kind, "tcp") == 0) {
		domain = AF_INET, type = SOCK_STREAM;
	} else if (strcmp(kind, "tcp6") == 0) {
		domain = AF_INET6, type = SOCK_STREAM;
	} else if (strcmp(kind, "udp") == 0) {
		domain = AF_INET, type = SOCK_DGRAM;
	} else if (strcmp(kind, "unix") == 0) {
		domain = AF_UNIX, type = SOCK_STREAM;
	} else if (strcmp(kind, "conn") == 0) {
		conn_setup();
		step = one_conn;
	} else {
		fprintf(stderr, "sockloop: unknown kind %s\n", kind);
		return 2;
	}
	if (n <= 0 || batches <= 0)
		return 2;

	void (*mark)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "kapcount_mark");
	if (control && !(devnull = fopen("/dev/null", "w")))
		die("/dev/null");

	for (long i = 0; i < warmup; i++) {
		step();
		if (control)
			control_calls();
	}
	for (long r = 0; r < rounds; r++) {
		char go;

		if (stepped && read(0, &go, 1) != 1)
			break;
		double best = 0;
		if (mark)
			mark(1);
		for (long b = 0; b < batches; b++) {
			double t0 = now_ns();
			for (long i = 0; i < n; i++) {
				step();
				if (control)
					control_calls();
			}
			double v = (now_ns() - t0) / (double)n;
			if (b == 0 || v < best)
				best = v;
		}
		if (mark)
			mark(0);
		printf("ns_per_op %.1f\n", best);
		fflush(stdout);
	}
	return 0;
}
