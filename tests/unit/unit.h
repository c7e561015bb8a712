/* A minimal unit-test harness: one PASS/FAIL line per check (tests/run.sh counts them). */
#ifndef KAP_UNIT_H
#define KAP_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failed;

#define CHECK(name, cond)                                                                          \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("PASS %s\n", (name));                                               \
		} else {                                                                           \
			printf("FAIL %s: %s (%s:%d)\n", (name), #cond, __FILE__, __LINE__);        \
			unit_failed++;                                                             \
		}                                                                                  \
	} while (0)

#define UNIT_EXIT() return unit_failed ? 1 : 0

#endif
