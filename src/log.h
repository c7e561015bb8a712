/*
 * Async-signal-safe logging: every message is built on the stack and leaves
 * in one write() or sendto(), so it may be called from a wrapper running in
 * a signal handler.  No stdio, no malloc, no lock, no descriptor kept open
 * (a daemon that closes every fd would otherwise get its number reused).
 */
#ifndef KAP_LOG_H
#define KAP_LOG_H

#include <stddef.h>

#include "config.h"

/* Internal to the library: direct, not GOT-relative, access on the hot path. */
#pragma GCC visibility push(hidden)

extern int kap_log_level; /* enum kap_log_level; messages above it are dropped */

/* target: "stderr", "syslog" or an absolute path (copied). */
void kap_log_setup(int level, const char *target);

/* One line, "libkapreload: " + msg.  Nothing happens above kap_log_level. */
void kap_log(int level, const char *msg);

/* A fixed buffer and appenders, for messages built on the hot path. */
struct kap_msg {
	char text[256];
	size_t len;
};

void kap_msg_str(struct kap_msg *m, const char *s);
void kap_msg_int(struct kap_msg *m, long v);

#pragma GCC visibility pop

#endif
