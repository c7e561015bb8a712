/*
 * Process start-up cost: spawn PROG and wait for it, many times, under
 * several LD_PRELOAD values interleaved one spawn at a time (A B C A B C),
 * so that drift on a shared machine hits every condition alike.
 *
 * usage: spawnloop [-t SECONDS] ROUNDS K PROG PRELOAD...   ("-" = nothing)
 * Prints "ROUND CONDITION MEDIAN_NS" per round and condition, each the
 * median of K spawn+wait times.  -t starts no new round after SECONDS, so
 * that an overloaded machine shortens the run instead of stretching it.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The caller's environment without LD_PRELOAD, plus the condition's value. */
static char **make_env(const char *preload)
{
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		exit(2);
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[k++] = environ[i];
	if (strcmp(preload, "-") != 0) {
		size_t len = strlen(preload) + 12;
		env[k] = malloc(len);
		if (!env[k])
			exit(2);
		snprintf(env[k], len, "LD_PRELOAD=%s", preload);
		k++;
	}
	env[k] = NULL;
	return env;
}

static double spawn_once(char *prog, char **env)
{
	char *argv[] = {prog, NULL};
	pid_t pid;
	int status;

	double t0 = now_ns();
	if (posix_spawn(&pid, prog, NULL, NULL, argv, env) != 0) {
		perror("spawnloop: posix_spawn");
		exit(2);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "spawnloop: %s failed\n", prog);
		exit(2);
	}
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	double limit = 0;
	int opt;

	while ((opt = getopt(argc, argv, "+t:")) != -1) {
		if (opt != 't')
			return 2;
		limit = atof(optarg) * 1e9;
	}
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 5) {
		fprintf(stderr, "usage: spawnloop [-t SECONDS] ROUNDS K PROG PRELOAD...\n");
		return 2;
	}
	long rounds = atol(argv[1]), k = atol(argv[2]);
	char *prog = argv[3];
	int nc = argc - 4;
	double start = now_ns();
	if (rounds <= 0 || k <= 0)
		return 2;

	char ***envs = calloc((size_t)nc, sizeof(*envs));
	double **t = calloc((size_t)nc, sizeof(*t));
	if (!envs || !t)
		return 2;
	for (int c = 0; c < nc; c++) {
		envs[c] = make_env(argv[4 + c]);
		t[c] = calloc((size_t)k, sizeof(double));
		if (!t[c])
			return 2;
	}
	/* Warm the page cache and the loader for every condition. */
	for (int i = 0; i < 20; i++)
		for (int c = 0; c < nc; c++)
			spawn_once(prog, envs[c]);

	for (long r = 0; r < rounds; r++) {
		if (limit > 0 && r > 1 && now_ns() - start > limit)
			break;
		for (long i = 0; i < k; i++)
			for (int j = 0; j < nc; j++) {
				int c = (int)((i + j) % nc);
				t[c][i] = spawn_once(prog, envs[c]);
			}
		for (int c = 0; c < nc; c++) {
			qsort(t[c], (size_t)k, sizeof(double), cmp_double);
			printf("%ld %d %.0f\n", r, c, t[c][k / 2]);
		}
		fflush(stdout);
	}
	return 0;
}
