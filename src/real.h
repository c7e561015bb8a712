/*
 * The next definitions of the calls we interpose (normally glibc's).
 * Resolved once, early: dlsym is not async-signal-safe, and a wrapper that
 * runs before our constructor (from another library's constructor) must
 * still reach the real call rather than a NULL pointer.
 */
#ifndef KAP_REAL_H
#define KAP_REAL_H

#include <sys/socket.h>

/* Internal to the library: direct, not GOT-relative, access on the hot path. */
#pragma GCC visibility push(hidden)

struct kap_real {
	int (*socket)(int domain, int type, int protocol);
	int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
	int (*accept)(int fd, struct sockaddr *addr, socklen_t *len);
	int (*accept4)(int fd, struct sockaddr *addr, socklen_t *len, int flags);
	int (*setsockopt)(int fd, int level, int name, const void *val, socklen_t len);
};

extern struct kap_real kap_real;

/* Fills kap_real; idempotent, safe to call from several threads at once. */
void kap_real_resolve(void);

#pragma GCC visibility pop

#endif
