#include <dlfcn.h>

#include "real.h"

struct kap_real kap_real;

/*
 * Threads racing here store the same value, so relaxed atomics suffice; they
 * only keep the compiler from tearing or caching the pointer.
 */
#define RESOLVE(field, name)                                                                       \
	do {                                                                                       \
		if (!__atomic_load_n(&kap_real.field, __ATOMIC_RELAXED)) {                         \
			__typeof__(kap_real.field) fn;                                             \
			*(void **)&fn = dlsym(RTLD_NEXT, name);                                    \
			__atomic_store_n(&kap_real.field, fn, __ATOMIC_RELAXED);                   \
		}                                                                                  \
	} while (0)

void kap_real_resolve(void)
{
	RESOLVE(socket, "socket");
	RESOLVE(connect, "connect");
	RESOLVE(accept, "accept");
	RESOLVE(accept4, "accept4");
	RESOLVE(setsockopt, "setsockopt");
}
