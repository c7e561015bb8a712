/*
 * A deliberately broken shim for negative controls: its connect() makes an
 * extra setsockopt that fails (TCP_KEEPIDLE 0 is EINVAL) and does not restore
 * errno, the classic bug that turns a non-blocking connect's EINPROGRESS into
 * something else.  The errno tests preload it to prove they can go red.
 */
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t);
	int zero = 0, rc;

	*(void **)&real = dlsym(RTLD_NEXT, "connect");
	rc = real(fd, addr, len);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof(zero));
	return rc;
}
