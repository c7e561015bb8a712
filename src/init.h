/*
 * Start-up: resolve the real calls, read the environment and the file once,
 * compile the policy.  Runs from our constructor, or earlier from the first
 * wrapper that another library's constructor calls.
 */
#ifndef KAP_INIT_H
#define KAP_INIT_H

enum kap_mode {
	KAP_MODE_UNINIT = 0,
	KAP_MODE_INITIALIZING,
	KAP_MODE_PASS,   /* disabled, filtered out or broken: wrappers only forward */
	KAP_MODE_ACTIVE,
};

extern int kap_mode;

/* Initialises if nobody has; returns 1 when the wrappers should act. */
int kap_init_slow(void);

/* The wrappers' first line: one load and compare once initialised. */
static inline int kap_ready(void)
{
	int mode = __atomic_load_n(&kap_mode, __ATOMIC_ACQUIRE);

	if (__builtin_expect(mode >= KAP_MODE_PASS, 1))
		return mode == KAP_MODE_ACTIVE;
	return kap_init_slow();
}

#endif
