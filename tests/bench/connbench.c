/*
 * Connection-per-connection rate over loopback, for the accept and connect
 * paths.  Server and client are separate processes so that only one side
 * runs under the shim.
 *
 * connbench server [-i IDLE,INTVL,CNT[,UTO]] [-n MAX] [-x PRELOAD] PORTFILE
 *   Listens on 127.0.0.1 (port chosen by the kernel, written to PORTFILE),
 *   accepts and closes at once; exits after MAX connections when given.
 *   -i  configure each accepted socket inline, as the shim would.
 *   -x  create the listener without the shim, then re-exec with
 *       LD_PRELOAD=PRELOAD and the listener inherited: the systemd/inetd
 *       case, where the shim never saw the listener.
 * connbench client [-i ...] [-r|-s ROUNDS] [-b B] [-t SECS] [-w WARMUP] PORT[,PORT...] N
 *   Per round and per port: N sequential connections (connect, wait for the
 *   server's close, reset), printed as "ROUND PORTINDEX NS_PER_CONN".
 *   WARMUP connections go to each port first (default 200).  With -s each
 *   round waits for one byte on stdin (lockstep with other processes).
 *   With -b a round is B batches of N per port, ports interleaved batch by
 *   batch, and reports each port's fastest batch.  -t SECONDS starts no new
 *   round after that long.
 *   Several ports interleave servers round by round in one process.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 8

static int ka_on, ka_idle, ka_intvl, ka_cnt, ka_uto = -1;

static void die(const char *what)
{
	fprintf(stderr, "connbench: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void apply_inline(int fd)
{
	int one = 1;

	if (!ka_on)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka_idle, sizeof(int));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka_intvl, sizeof(int));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka_cnt, sizeof(int));
	if (ka_uto >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ka_uto, sizeof(int));
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void write_port(const char *path, int port)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
		die(path);
}

static int serve(int argc, char **argv)
{
	long max = -1;
	int lfd = -1, opt;
	const char *reexec = NULL;

	while ((opt = getopt(argc, argv, "i:n:x:f:")) != -1) {
		switch (opt) {
		case 'i':
			if (sscanf(optarg, "%d,%d,%d,%d", &ka_idle, &ka_intvl, &ka_cnt, &ka_uto) <
			    3)
				return 2;
			ka_on = 1;
			break;
		case 'n':
			max = atol(optarg);
			break;
		case 'x':
			reexec = optarg;
			break;
		case 'f':
			lfd = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 1)
		return 2;
	const char *portfile = argv[optind];

	if (lfd < 0) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		int one = 1;

		lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (lfd < 0)
			die("socket");
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1024) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&a, &len) < 0)
			die("listen");
		if (reexec) {
			char fdarg[16], maxarg[32];

			snprintf(fdarg, sizeof(fdarg), "%d", lfd);
			snprintf(maxarg, sizeof(maxarg), "%ld", max);
			if (setenv("LD_PRELOAD", reexec, 1) != 0)
				die("setenv");
			write_port(portfile, ntohs(a.sin_port));
			execl("/proc/self/exe", "connbench", "server", "-f", fdarg, "-n", maxarg,
			      portfile, (char *)NULL);
			die("exec");
		}
		write_port(portfile, ntohs(a.sin_port));
	}
	for (long done = 0; max < 0 || done < max; done++) {
		int s = accept(lfd, NULL, NULL);
		if (s < 0) {
			if (errno == EINTR || errno == ECONNABORTED) {
				done--;
				continue;
			}
			die("accept");
		}
		apply_inline(s);
		close(s);
	}
	return 0;
}

/* One connection as a short-lived client makes it; the reset avoids TIME_WAIT. */
static void one_conn(const struct sockaddr_in *a)
{
	static const struct linger rst = {1, 0};
	char b;
	int c = socket(AF_INET, SOCK_STREAM, 0);

	if (c < 0)
		die("socket");
	apply_inline(c);
	if (connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0)
		die("connect");
	while (read(c, &b, 1) < 0 && errno == EINTR)
		;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
	close(c);
}

static int client(int argc, char **argv)
{
	long rounds = 1, warmup = 200, batches = 1;
	double limit = 0;
	int opt, stepped = 0;

	while ((opt = getopt(argc, argv, "i:r:s:w:b:t:")) != -1) {
		switch (opt) {
		case 't':
			limit = atof(optarg) * 1e9;
			break;
		case 'b':
			batches = atol(optarg);
			break;
		case 's':
			rounds = atol(optarg);
			stepped = 1;
			break;
		case 'i':
			if (sscanf(optarg, "%d,%d,%d,%d", &ka_idle, &ka_intvl, &ka_cnt, &ka_uto) <
			    3)
				return 2;
			ka_on = 1;
			break;
		case 'r':
			rounds = atol(optarg);
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (argc - optind != 2)
		return 2;

	struct sockaddr_in addr[MAX_PORTS];
	int nports = 0;
	char *ports = argv[optind], *save = NULL;
	long n = atol(argv[optind + 1]);

	for (char *p = strtok_r(ports, ",", &save); p && nports < MAX_PORTS;
	     p = strtok_r(NULL, ",", &save)) {
		memset(&addr[nports], 0, sizeof(addr[0]));
		addr[nports].sin_family = AF_INET;
		addr[nports].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr[nports].sin_port = htons((unsigned short)atoi(p));
		nports++;
	}
	if (nports == 0 || n <= 0 || batches <= 0)
		return 2;

	for (int k = 0; k < nports; k++)
		for (long i = 0; i < warmup; i++)
			one_conn(&addr[k]);
	double start = now_ns();
	for (long r = 0; r < rounds; r++) {
		double best[MAX_PORTS];
		char go;

		if (limit > 0 && r > 1 && now_ns() - start > limit)
			break;
		if (stepped && read(0, &go, 1) != 1)
			break;
		for (long b = 0; b < batches; b++) {
			/* Alternate the order so that no server always runs first. */
			for (int j = 0; j < nports; j++) {
				int k = (r + b) % 2 ? nports - 1 - j : j;
				double t0 = now_ns();
				for (long i = 0; i < n; i++)
					one_conn(&addr[k]);
				double v = (now_ns() - t0) / (double)n;
				if (b == 0 || v < best[k])
					best[k] = v;
			}
		}
		for (int k = 0; k < nports; k++)
			printf("%ld %d %.1f\n", r, k, best[k]);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "server") == 0)
		return serve(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "client") == 0)
		return client(argc - 1, argv + 1);
	fprintf(stderr, "usage: connbench server|client ...\n");
	return 2;
}
