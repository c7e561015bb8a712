/*
 * Start-up: resolve the real calls, read the environment and the file once,
 * compile the policy.  Runs from our constructor, or earlier from the first
 * wrapper that another library's constructor calls.
 */
#ifndef KAP_INIT_H
#define KAP_INIT_H

/* Internal to the library: direct, not GOT-relative, access on the hot path. */
#pragma GCC visibility push(hidden)

enum kap_mode {
	KAP_MODE_UNINIT = 0,
	KAP_MODE_INITIALIZING,
	KAP_MODE_BROKEN, /* a real call could not be found: wrappers fail with ENOSYS */
	KAP_MODE_PASS,	 /* disabled or filtered out: wrappers only forward */
	KAP_MODE_ACTIVE,
};

/* From KAP_MODE_PASS on, every kap_real pointer is valid. */
extern int kap_mode;

/* Initialises if nobody has; returns the mode that results. */
int kap_init_slow(void) __attribute__((cold));

#pragma GCC visibility pop

#endif
