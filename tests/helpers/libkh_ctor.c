/*
 * Preloaded next to the shim by hostile_ctor.sh: its constructor opens a TCP
 * socket and reports what that socket holds, possibly before the shim's own
 * constructor has run (glibc runs the constructors of later LD_PRELOAD
 * entries first).  With KH_CTOR_PORT it also connects to 127.0.0.1:PORT and
 * keeps the connection for the process's lifetime, so ss can see it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int get(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, name, &v, &len) != 0)
		return -1;
	return v;
}

__attribute__((constructor)) static void kh_ctor(void)
{
	const char *port = getenv("KH_CTOR_PORT");
	char line[160];
	int fd, n;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		n = snprintf(line, sizeof(line), "kh_ctor socket failed\n");
	} else {
		n = snprintf(
		    line, sizeof(line), "kh_ctor keepalive=%d idle=%d interval=%d count=%d\n",
		    get(fd, SOL_SOCKET, SO_KEEPALIVE), get(fd, IPPROTO_TCP, TCP_KEEPIDLE),
		    get(fd, IPPROTO_TCP, TCP_KEEPINTVL), get(fd, IPPROTO_TCP, TCP_KEEPCNT));
	}
	/* stdio may not be usable this early; one write() is. */
	if (n > 0 && write(2, line, (size_t)n) < 0)
		return;
	if (fd >= 0 && port) {
		struct sockaddr_in sin = {.sin_family = AF_INET,
					  .sin_port = htons((uint16_t)atoi(port))};

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
			return; /* held open on purpose */
	}
	if (fd >= 0)
		close(fd);
}
