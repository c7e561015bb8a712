#!/usr/bin/env bash
# Process trees and environments: fork without exec (also while other
# threads are inside the wrappers), exec and `bash -c` chains down to a
# grandchild in another directory, and a huge environment (100000 variables
# and a 128 KiB one) with the KAP_* variables at its very end.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KH=$KAP_BIN/kh_hostile
t_require_files "$KAP_LIB" "$KH"

idle=47
want="keepalive=1 idle=$idle interval=8 count=9 user_timeout=0"
untouched_ka="keepalive=0 idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)"

# fork without exec: parent, child, grandchild; then 100 forks while four
# threads loop in socket() (a child inheriting a held lock would hang).
out=$(timeout 30 env LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE=$idle KAP_INTERVAL=8 KAP_COUNT=9 \
	"$KH" fork "$idle" 2>&1)
rc=$?
t_eq fork_exit_status 0 "$rc"
for who in parent child grandchild; do
	t_contains "fork_${who}_configured" "$who $want" "$out"
done
t_contains fork_storm_children_configured "storm forks=100 child_bad=0 thread_bad=0" "$out"
out=$(timeout 30 env -u LD_PRELOAD "$KH" fork "$idle" 2>&1)
t_contains fork_noshim_child_untouched "child $untouched_ka" "$out"

# exec chains. Each hop is a new program that must inherit LD_PRELOAD; the
# last one runs from / so that a relative path would break.
# shellcheck disable=SC2016 # the inner shells expand $0, not this one
chain() { # PREFIX-COMMAND...: runs bash -c -> bash -c -> exec kh_hostile sock
	"$@" bash -c 'cd / && bash -c "exec \"\$0\" sock" "$0"' "$KH" 2>&1
}
out=$(chain env LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE=$idle KAP_INTERVAL=8 KAP_COUNT=9)
t_eq chain_bash_bash_exec_grandchild_configured "$want" "$out"
# The shim is really mapped in the grandchild (not only in the first hop).
maps=$(env LD_PRELOAD="$KAP_PRELOAD" bash -c 'cd / && bash -c "exec grep -c libkapreload /proc/self/maps"')
if [ "${maps:-0}" -ge 1 ]; then
	t_pass chain_grandchild_maps_shim
else
	t_fail chain_grandchild_maps_shim "libkapreload not in the grandchild's maps"
fi
# Through a program that forks and execs (python's subprocess) and sh -c.
# shellcheck disable=SC2016
out=$(env LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE=$idle KAP_INTERVAL=8 KAP_COUNT=9 python3 -c '
import subprocess, sys
sys.stdout.write(subprocess.run(["sh", "-c", "exec \"$0\" sock", sys.argv[1]],
                                capture_output=True, text=True).stdout)' "$KH")
t_eq chain_python_sh_exec_configured "$want" "$out"
# Negative control: a hop that drops LD_PRELOAD loses the shim below it.
# shellcheck disable=SC2016
out=$(env LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE=$idle \
	bash -c 'cd / && env -u LD_PRELOAD bash -c "exec \"\$0\" sock" "$0"' "$KH" 2>&1)
t_contains chain_dropped_preload_untouched "$untouched_ka" "$out"

# Huge environment. Python builds it so that the KAP_* variables are the last
# entries of envp; the stack limit is raised because the kernel allows
# arguments plus environment up to a quarter of it. One string may not exceed
# 128 KiB (MAX_ARG_STRLEN): a 1 MB variable cannot be passed through exec at all.
huge() { # VAR=VALUE... PROGRAM ARGS...
	python3 - "$@" <<'EOF'
import os, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
want = 64 << 20
if hard == resource.RLIM_INFINITY or hard >= want:
    resource.setrlimit(resource.RLIMIT_STACK, (want, hard))
env = {k: v for k, v in os.environ.items() if not k.startswith("KAP_") and k != "LD_PRELOAD"}
for i in range(100000):
    env["KH%06d" % i] = "x"
env["KH_BIG"] = "y" * (128 * 1024 - 16)
args = sys.argv[1:]
while args and "=" in args[0]:
    k, v = args.pop(0).split("=", 1)
    env[k] = v
os.execve(args[0], args, env)
EOF
}
tail_env=$(huge KAP_IDLE=$idle /usr/bin/env | tail -n 1)
count=$(huge KAP_IDLE=$idle /usr/bin/env | wc -l)
t_eq huge_env_kap_last "KAP_IDLE=$idle" "$tail_env"
if [ "$count" -ge 100000 ]; then
	t_pass huge_env_100000_variables
else
	t_fail huge_env_100000_variables "only $count variables reached the program"
fi
out=$(huge LD_PRELOAD="$KAP_PRELOAD" KAP_INTERVAL=8 KAP_COUNT=9 KAP_IDLE=$idle "$KH" sock 2>&1)
rc=$?
t_eq huge_env_exit_status 0 "$rc"
t_eq huge_env_configured "$want" "$out"
out=$(huge KAP_IDLE=$idle "$KH" sock 2>&1)
t_contains huge_env_noshim_untouched "$untouched_ka" "$out"
# A 128 KiB value in a KAP_ variable itself: refused whole, with a one-line
# message that shows only its start; the other variables still apply.
big=$(printf '%*s' 130000 '' | tr ' ' 4)
out=$(huge LD_PRELOAD="$KAP_PRELOAD" KAP_INTERVAL=8 KAP_IDLE="$big" "$KH" sock 2>&1)
t_contains huge_value_refused_message "libkapreload: KAP_IDLE=444" "$out"
msg=$(printf '%s\n' "$out" | grep '^libkapreload:')
if [ "$(printf '%s\n' "$msg" | wc -l)" = 1 ] && [ "${#msg}" -le 300 ]; then
	t_pass huge_value_message_one_short_line
else
	t_fail huge_value_message_one_short_line "message of ${#msg} bytes: ${msg:0:200}"
fi
t_contains huge_value_others_apply "keepalive=1 idle=$(cat /proc/sys/net/ipv4/tcp_keepalive_time) interval=8" "$out"
pat=$(printf 'nomatch%d* ' $(seq 1 9000))
out=$(huge LD_PRELOAD="$KAP_PRELOAD" KAP_IDLE=$idle KAP_INTERVAL=8 KAP_COUNT=9 \
	KAP_EXCLUDE_PROGRAMS="$pat" "$KH" sock 2>&1)
t_contains huge_pattern_list_refused "libkapreload: KAP_EXCLUDE_PROGRAMS=" "$out"
t_contains huge_pattern_list_program_still_configured "$want" "$out"

t_done
