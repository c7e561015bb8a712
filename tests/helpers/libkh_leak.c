/*
 * The negative control of valgrind.sh: a preloaded object whose constructor
 * leaks a block and branches on uninitialised memory, so that the script
 * proves memcheck, as it runs it, does report both kinds of error.
 */
#include <stdlib.h>
#include <unistd.h>

static void *volatile sink;

__attribute__((constructor)) static void kh_leak(void)
{
	int *q = malloc(sizeof(*q));

	/* Hide the fresh block from the compiler, which would warn rightly. */
	__asm__ volatile("" : "+r"(q));
	sink = malloc(64);
	sink = NULL; /* the only pointer to the 64 bytes is gone: definitely lost */
	if (q && *q == 42 && write(2, "", 0) < 0)
		abort();
	free(q);
}
