/*
 * The demo's server: listens on 127.0.0.1 (port given, or any), prints
 * "port N", and keeps every accepted connection open until the peer closes.
 * It sets no socket options itself, like the legacy daemons the shim is for.
 */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CLIENTS 16

int main(int argc, char **argv)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct pollfd fds[1 + MAX_CLIENTS];
	socklen_t len = sizeof(addr);
	int lfd, n = 1, i;

	addr.sin_port = htons((unsigned short)(argc > 1 ? atoi(argv[1]) : 0));
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(lfd, 16) != 0 || getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
		perror("demo-server");
		return 1;
	}
	printf("port %d\n", ntohs(addr.sin_port));
	fflush(stdout);
	fds[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0)
			continue;
		if ((fds[0].revents & POLLIN) && n <= MAX_CLIENTS) {
			int c = accept(lfd, NULL, NULL);

			if (c >= 0)
				fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
		}
		for (i = 1; i < n; i++) {
			char buf[256];

			if (fds[i].revents && read(fds[i].fd, buf, sizeof(buf)) <= 0) {
				close(fds[i].fd);
				fds[i--] = fds[--n];
			}
		}
	}
}
