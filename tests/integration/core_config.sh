#!/usr/bin/env bash
# Configuration file and precedence: KAP_CONFIG=file values are used, the
# environment wins per parameter, KAP_CONFIG= reads no file at all (strace),
# an unset KAP_CONFIG reads the default file and is silent when it is
# missing, a missing/directory/oversized KAP_CONFIG file gives one message
# naming it, bad lines give one message each with file:line, comments and
# blanks are ignored, the file is read once and not left open.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

defaults="keepalive=1 idle=$KT_DEF_IDLE interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0"
conf=$T_TMP/keepalive.conf
printf '%s\n' '# test configuration' '' '  idle = 40   # seconds' 'interval=8' \
	'count = 3#no space before the comment' 'user_timeout = 9000' >"$conf"

kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail config_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

# run NAME EXPECTED-STDOUT EXPECTED-STDERR-LINES ENV... : client under the
# shim; compares its line, the number of stderr lines and its exit status.
run() {
	local name=$1 want=$2 nerr=$3 got rc
	shift 3
	got=$("${KT_SHIM[@]}" "$@" "$KT_PROBE" client 127.0.0.1 "$port" 2>"$T_TMP/err")
	rc=$?
	t_eq "$name" "$want rc=0 stderr_lines=$nerr" "$got rc=$rc stderr_lines=$(grep -c . "$T_TMP/err")"
}

run config_file_values "keepalive=1 idle=40 interval=8 count=3 user_timeout=9000" 0 KAP_CONFIG="$conf"
run config_env_beats_file "keepalive=1 idle=50 interval=8 count=3 user_timeout=9000" 0 \
	KAP_CONFIG="$conf" KAP_IDLE=50
run config_env_beats_file_all "keepalive=1 idle=50 interval=2 count=7 user_timeout=100" 0 \
	KAP_CONFIG="$conf" KAP_IDLE=50 KAP_INTERVAL=2 KAP_COUNT=7 KAP_USER_TIMEOUT=100
run config_empty_means_no_file "$defaults" 0 KAP_CONFIG=
got=$("${KT_NOSHIM[@]}" KAP_CONFIG="$conf" "$KT_PROBE" client 127.0.0.1 "$port")
t_eq config_file_noshim_untouched "$KT_UNTOUCHED" "$got"

printf 'enable = off\nidle = 40\n' >"$T_TMP/off.conf"
run config_file_enable_off "$KT_UNTOUCHED" 0 KAP_CONFIG="$T_TMP/off.conf"
run config_env_enable_beats_file "keepalive=1 idle=40 interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0" 0 \
	KAP_CONFIG="$T_TMP/off.conf" KAP_ENABLE=on
# The environment is read in one pass that keeps entries starting with K or
# D: a longer or shorter name is not ours, and past 32 such entries the
# shim asks libc instead of dropping any.
run config_env_lookalike_names_ignored "$defaults" 0 KAP_CONFIG= KAP_IDLEX=5 KAP_IDL=6
many=()
for i in $(seq 1 40); do many+=("KAP_FILLER_$i=$i" "DD_FILLER_$i=$i"); done
run config_env_past_many_look_alikes "keepalive=1 idle=51 interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0" 0 \
	KAP_CONFIG= "${many[@]}" KAP_IDLE=51
printf 'override = yes\nidle = 40\ninterval = 8\ncount = 3\n' >"$T_TMP/ovr.conf"
got=$("${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/ovr.conf" "$KT_PROBE" client 127.0.0.1 "$port" --set 100,20,9)
t_eq config_file_override "keepalive=1 idle=40 interval=8 count=3 user_timeout=0" "$got"

# Bad lines: one message each naming file:line; good lines still apply; a
# bad value falls back to the kernel default (no other source).
printf '%s\n' 'idle = abc' 'bogus = 1' 'interval = 8' 'this is not a setting' 'count = 500' >"$T_TMP/bad.conf"
"${KT_SHIM[@]}" KAP_CONFIG="$T_TMP/bad.conf" "$KT_PROBE" sockets 3 >"$T_TMP/out" 2>"$T_TMP/err"
rc=$?
err=$(cat "$T_TMP/err")
t_eq config_bad_lines_stdout \
	"$(printf 'keepalive=1 idle=%s interval=8 count=%s user_timeout=0\n' "$KT_DEF_IDLE" "$KT_DEF_CNT" "$KT_DEF_IDLE" "$KT_DEF_CNT" "$KT_DEF_IDLE" "$KT_DEF_CNT" | paste -sd '|') rc=0" \
	"$(paste -sd '|' "$T_TMP/out") rc=$rc"
t_eq config_bad_lines_one_message_each 4 "$(grep -c '^libkapreload: ' "$T_TMP/err")"
t_eq config_bad_lines_nothing_else 4 "$(grep -c . "$T_TMP/err")"
for n in 1 2 4 5; do
	t_contains "config_bad_line_${n}_named" "$T_TMP/bad.conf:$n" "$err"
done
t_contains config_bad_line_idle_range 32767 "$(grep "bad.conf:1" "$T_TMP/err")"
t_contains config_bad_line_count_range 127 "$(grep "bad.conf:5" "$T_TMP/err")"
run config_bad_line_env_still_wins "keepalive=1 idle=50 interval=8 count=$KT_DEF_CNT user_timeout=0" 4 \
	KAP_CONFIG="$T_TMP/bad.conf" KAP_IDLE=50

# A named file that cannot be used: one message naming it, defaults, rc 0.
big=$T_TMP/big.conf
{
	echo 'idle = 40'
	head -c 70000 /dev/zero | tr '\0' '#'
	echo
} >"$big"
for pair in "missing:$T_TMP/missing.conf" "directory:$T_TMP" "over_64k:$big" "device:/dev/zero"; do
	name=config_unusable_${pair%%:*}
	bad=${pair#*:}
	"${KT_SHIM[@]}" KAP_CONFIG="$bad" "$KT_PROBE" sockets 3 >"$T_TMP/out" 2>"$T_TMP/err"
	rc=$?
	t_eq "${name}_stdout" "$defaults|$defaults|$defaults rc=0" "$(paste -sd '|' "$T_TMP/out") rc=$rc"
	t_eq "${name}_one_line" 1 "$(grep -c . "$T_TMP/err")"
	t_contains "${name}_message" "libkapreload: $bad" "$(cat "$T_TMP/err")"
done
# Negative control: the same missing file without the shim says nothing.
"${KT_NOSHIM[@]}" KAP_CONFIG="$T_TMP/missing.conf" "$KT_PROBE" sockets 3 >/dev/null 2>"$T_TMP/err"
t_eq config_missing_noshim_silent 0 "$(grep -c . "$T_TMP/err")"

# The default file (compiled in): read when KAP_CONFIG is unset, silent when
# missing, never looked at with KAP_CONFIG= (strace sees every open).
default_conf=$(grep -ao '/[[:print:]]*keepalive\.conf' "$KAP_LIB" | head -n 1)
if [ -z "$default_conf" ]; then
	t_fail config_default_path "no */keepalive.conf path string in $KAP_LIB"
elif [ -e "$default_conf" ]; then
	t_skip config_default_missing_silent "$default_conf exists on this machine"
else
	got=$(
		unset KAP_CONFIG
		"${KT_SHIM[@]}" "$KT_PROBE" sockets 3 2>"$T_TMP/err"
	)
	t_eq config_default_missing_silent "$defaults|$defaults|$defaults stderr=" \
		"$(echo "$got" | paste -sd '|') stderr=$(cat "$T_TMP/err")"
fi
if ! have strace; then
	t_skip config_strace_opens "strace not installed"
elif [ -n "$default_conf" ]; then
	# opens PATH KAP_CONFIG-VALUE|unset: how many times the program opened PATH.
	opens() (
		if [ "$2" = unset ]; then unset KAP_CONFIG; else export KAP_CONFIG=$2; fi
		strace -f -qq -e trace=open,openat -o "$T_TMP/strace" \
			"${KT_SHIM[@]}" "$KT_PROBE" sockets 3 >/dev/null 2>&1
		grep -cF "\"$1\"" "$T_TMP/strace"
	)
	t_eq config_empty_opens_nothing 0 "$(opens "$default_conf" "")"
	t_eq config_empty_opens_no_conf 0 "$(grep -c 'keepalive\.conf' "$T_TMP/strace")"
	t_eq config_unset_opens_default_once 1 "$(opens "$default_conf" unset)"
	t_eq config_named_read_once 1 "$(opens "$conf" "$conf")"
	t_contains config_named_cloexec O_CLOEXEC "$(grep -F "\"$conf\"" "$T_TMP/strace")"
fi

# The file is not left open: the program's own descriptors after it made sockets.
py_fds='
import os, socket
keep = [socket.socket() for _ in range(2)]
print(" ".join(sorted(os.readlink("/proc/self/fd/" + f) for f in os.listdir("/proc/self/fd")
                      if os.path.exists("/proc/self/fd/" + f))))
'
got=$("${KT_SHIM[@]}" KAP_CONFIG="$conf" "$KT_PY" -c "$py_fds")
t_not_contains config_file_not_left_open "$conf" "$got"
got=$("${KT_NOSHIM[@]}" "$KT_PY" -c "f = open('$conf')
$py_fds")
t_contains config_fd_check_sees_open_file "$conf" "$got"

kt_stop "$srv_pid"
t_done
