#!/usr/bin/env bash
# scripts/keepalive-run: flags set the KAP_* variables and configure the
# program's sockets; LD_PRELOAD gets the library's absolute path (also when
# given relative, and the program may chdir) and keeps entries already there;
# a bad flag exits 2 and the program does not run; --help exits 0; the
# program's exit status comes through.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

KR=$SCRIPTS_DIR/keepalive-run
if [ ! -f "$KR" ]; then
	t_skip wrapper "scripts/keepalive-run does not exist yet"
	exit 0
fi
# Under check-sanitize the sanitizer runtime must stay first in LD_PRELOAD:
# hand it to the wrapper as an existing entry.
pre=${KAP_PRELOAD%"$KAP_LIB"}
pre=${pre% }
kr() {
	if [ -n "$pre" ]; then
		env LD_PRELOAD="$pre" bash "$KR" "$@"
	else
		env -u LD_PRELOAD bash "$KR" "$@"
	fi
}

out=$(kr --help 2>&1)
rc=$?
t_eq wrapper_help_exit_0 0 "$rc"
t_contains wrapper_help_usage "--idle" "$out"
t_contains wrapper_help_mentions_override "--override" "$out"
kr --version >/dev/null 2>&1
t_eq wrapper_version_exit_0 0 "$?"

kt_bg "$T_TMP/srv" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail wrapper_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

# Flags become variables.
printf 'idle = 40\n' >"$T_TMP/k.conf"
envout=$(kr --lib "$KAP_LIB" --idle 31 --interval 7 --count 4 --user-timeout 5000 --override \
	--log error --config "$T_TMP/k.conf" -- env)
for kv_ in KAP_IDLE=31 KAP_INTERVAL=7 KAP_COUNT=4 KAP_USER_TIMEOUT=5000 KAP_LOG=error \
	"KAP_CONFIG=$T_TMP/k.conf"; do
	t_contains "wrapper_sets_${kv_%%=*}" "
$kv_
" "
$envout
"
done
t_contains wrapper_sets_KAP_OVERRIDE_on "KAP_OVERRIDE=" "$envout"
got=$(echo "$envout" | sed -n 's/^KAP_OVERRIDE=//p')
case $(echo "$got" | tr '[:upper:]' '[:lower:]') in
1 | on | yes | true) t_pass wrapper_override_is_true ;;
*) t_fail wrapper_override_is_true "KAP_OVERRIDE=[$got]" ;;
esac

# ...and reach the sockets.
got=$(kr --lib "$KAP_LIB" --idle 31 --interval 7 --count 4 --user-timeout 5000 -- \
	"$KT_PROBE" client 127.0.0.1 "$port")
t_eq wrapper_configures_client "keepalive=1 idle=31 interval=7 count=4 user_timeout=5000" "$got"
got=$(kr --lib "$KAP_LIB" --idle 31 --interval 7 --count 4 --override -- \
	"$KT_PROBE" client 127.0.0.1 "$port" --set 100,20,3)
t_eq wrapper_override_flag "keepalive=1 idle=31 interval=7 count=4 user_timeout=0" "$got"
got=$(kr --lib "$KAP_LIB" --config "$T_TMP/k.conf" -- "$KT_PROBE" client 127.0.0.1 "$port")
t_eq wrapper_config_flag "keepalive=1 idle=40 interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0" "$got"
got=$("${KT_NOSHIM[@]}" KAP_IDLE=31 KAP_INTERVAL=7 KAP_COUNT=4 "$KT_PROBE" client 127.0.0.1 "$port")
t_eq wrapper_negative_control_without_wrapper "$KT_UNTOUCHED" "$got"

# LD_PRELOAD: absolute, even from a relative --lib, and the program may chdir.
got=$(cd "$KAP_BUILD" && kr --lib ./libkapreload.so -- printenv LD_PRELOAD)
last=${got##* }
t_eq wrapper_ld_preload_absolute / "${last:0:1}"
if [ "$last" -ef "$KAP_LIB" ]; then t_pass wrapper_ld_preload_is_the_lib; else
	t_fail wrapper_ld_preload_is_the_lib "[$last] is not $KAP_LIB"
fi
# shellcheck disable=SC2016 # $0 and $1 are for the inner sh
chdir_child='cd / && exec "$0" client 127.0.0.1 "$1"'
got=$(cd "$KAP_BUILD" && kr --lib ./libkapreload.so --idle 31 -- sh -c "$chdir_child" \
	"$KT_PROBE" "$port" 2>"$T_TMP/err")
t_eq wrapper_relative_lib_survives_chdir \
	"keepalive=1 idle=31 interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0 stderr=" \
	"$got stderr=$(cat "$T_TMP/err")"
# Negative control: a relative LD_PRELOAD does break after chdir.
(cd "$KAP_BUILD" && env LD_PRELOAD="${pre:+$pre }./libkapreload.so" sh -c "$chdir_child" "$KT_PROBE" "$port" \
	>/dev/null 2>"$T_TMP/err")
t_contains wrapper_negative_control_relative_breaks "ld.so" "$(cat "$T_TMP/err")"

# Existing entries stay (in front).
if [ -f "$KAP_BUILD/empty.so" ]; then
	got=$(env LD_PRELOAD="${pre:+$pre }$KAP_BUILD/empty.so" bash "$KR" --lib "$KAP_LIB" -- printenv LD_PRELOAD)
	t_eq wrapper_keeps_existing_preload "${pre:+$pre }$KAP_BUILD/empty.so $KAP_LIB" "$got"
else
	t_skip wrapper_keeps_existing_preload "no $KAP_BUILD/empty.so"
fi
# Run twice (a wrapper calling a wrapper): the library is not added twice.
got=$(kr --lib "$KAP_LIB" -- bash "$KR" --lib "$KAP_LIB" -- printenv LD_PRELOAD)
t_eq wrapper_no_duplicate "${pre:+$pre }$KAP_LIB" "$got"

# Default library: the build tree next to the script.
if [ -f "$SCRIPTS_DIR/../build/libkapreload.so" ]; then
	got=$(kr -- printenv LD_PRELOAD)
	last=${got##* }
	if [ "${last:0:1}" = / ] && [ "$last" -ef "$SCRIPTS_DIR/../build/libkapreload.so" ]; then
		t_pass wrapper_finds_build_tree_lib
	else
		t_fail wrapper_finds_build_tree_lib "LD_PRELOAD=[$got]"
	fi
else
	t_skip wrapper_finds_build_tree_lib "no build/libkapreload.so next to scripts/"
fi

# The program's exit status comes through.
kr --lib "$KAP_LIB" -- sh -c 'exit 7'
t_eq wrapper_exit_status_passthrough 7 "$?"

# Bad flags: exit 2, a message, and the program never runs.
while IFS= read -r flags; do
	rm -f "$T_TMP/ran"
	# shellcheck disable=SC2086 # one test case per line, split on purpose
	kr --lib "$KAP_LIB" $flags -- touch "$T_TMP/ran" >/dev/null 2>"$T_TMP/err"
	rc=$?
	ran=no
	[ -e "$T_TMP/ran" ] && ran=yes
	t_eq "wrapper_bad_flag[$flags]" "rc=2 ran=no message=yes" \
		"rc=$rc ran=$ran message=$([ -s "$T_TMP/err" ] && echo yes || echo no)"
done <<'CASES'
--idle abc
--idle 0
--idle 99999
--idle 32768
--idle -5
--interval 0
--interval 40000
--count 500
--count 128
--count 0
--user-timeout -1
--user-timeout 2147483648
--user-timeout abc
--log loud
--config /nonexistent/keepalive.conf
--bogus
--idle=abc
--count=500
--idle
CASES
# No program at all.
kr --lib "$KAP_LIB" -- >/dev/null 2>&1
t_eq wrapper_no_program_exit_2 2 "$?"
# Negative control: good flags run the program.
rm -f "$T_TMP/ran"
kr --lib "$KAP_LIB" --idle 1 --interval 32767 --count 127 --user-timeout 0 -- touch "$T_TMP/ran"
rc=$?
t_eq wrapper_good_flags_run "rc=0 ran=yes" "rc=$rc ran=$([ -e "$T_TMP/ran" ] && echo yes || echo no)"
# A missing library is an error too, before anything runs.
rm -f "$T_TMP/ran"
kr --lib "$T_TMP/nolib.so" -- touch "$T_TMP/ran" 2>/dev/null
rc=$?
t_eq wrapper_missing_lib "rc=2 ran=no" "rc=$rc ran=$([ -e "$T_TMP/ran" ] && echo yes || echo no)"

kt_stop "$srv_pid"
t_done
