/*
 * Parsers for single values, shared by the file and the environment so that
 * "KAP_IDLE=30" and "idle = 30" accept exactly the same text.
 * Each returns KAP_VALUE_OK or the reason the text was refused.
 */
#ifndef KAP_VALUES_H
#define KAP_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum kap_value_error {
	KAP_VALUE_OK = 0,
	KAP_VALUE_EMPTY,  /* nothing but white space */
	KAP_VALUE_SYNTAX, /* not a number / not a boolean / junk after it */
	KAP_VALUE_RANGE,  /* a number outside [min, max] (overflow included) */
};

/* White space around keys and values: space, tab, CR, LF, VT, FF. */
int kap_is_space(char c);
/* Trims the (pointer, length) span *s, *n in place. */
void kap_trim(const char **s, size_t *n);

int kap_parse_long(const char *s, long min, long max, long *out);
int kap_parse_bool(const char *s, int *out);
int kap_parse_log_level(const char *s, int *out);
int kap_parse_user_timeout(const char *s, long *out); /* 0..KAP_UTO_MAX or "auto" */
int kap_parse_prefix(const char *s, struct kap_prefix *out);
int kap_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);
int kap_parse_direction(const char *s, enum kap_direction *out);

#endif
