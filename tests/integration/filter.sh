#!/usr/bin/env bash
# Program filter: include_programs / exclude_programs in the file and
# KAP_INCLUDE_PROGRAMS / KAP_EXCLUDE_PROGRAMS in the environment match the
# base name of /proc/self/exe (a copy of tcpprobe named kt-alpha) or of
# argv[0] (exec -a kt-beta), as globs; exclude beats include; a variable
# replaces the file's list, an empty one counts as unset.  Every verdict is
# read from outside (pidfd_getfd, ss); a filtered-out program gets
# pass-through wrappers: strace sees none of the shim's calls.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

ALPHA=$T_TMP/bin/kt-alpha
mkdir -p "$T_TMP/bin"
cp "$KT_PROBE" "$ALPHA"
# The same program at a path of more than 300 bytes (PATH_MAX is 4096): the
# base name is what counts, however long the directory.
LONGDIR=$T_TMP/$(printf 'd%.0s' {1..150})/$(printf 'e%.0s' {1..150})
mkdir -p "$LONGDIR"
cp "$KT_PROBE" "$LONGDIR/kt-alpha"

kt_bg "$T_TMP/srv" "${KT_NOSHIM[@]}" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail filter_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

# How each program is started: exe is the base name of /proc/self/exe,
# argv0 the base name of argv[0].
#   alpha       exe kt-alpha  argv0 kt-alpha
#   alpha_as_x  exe kt-alpha  argv0 kt-other    (only the exe can match)
#   beta        exe tcpprobe  argv0 kt-beta     (only argv[0] can match)
#   beta_path   exe tcpprobe  argv0 /nowhere/kt-beta
#   plain       exe tcpprobe  argv0 tcpprobe
#   long_exe    exe kt-alpha (path > 300 bytes)  argv0 kt-other
#   long_argv0  exe tcpprobe  argv0 kt-beta (path > 300 bytes)
# shellcheck disable=SC2016 # "$0" "$@" expand in the inner bash
prog() {
	case $1 in
	alpha) PROG=("$ALPHA") ;;
	alpha_as_x) PROG=(bash -c 'exec -a kt-other "$0" "$@"' "$ALPHA") ;;
	beta) PROG=(bash -c 'exec -a kt-beta "$0" "$@"' "$KT_PROBE") ;;
	beta_path) PROG=(bash -c 'exec -a /nowhere/kt-beta "$0" "$@"' "$KT_PROBE") ;;
	plain) PROG=("$KT_PROBE") ;;
	long_exe) PROG=(bash -c 'exec -a kt-other "$0" "$@"' "$LONGDIR/kt-alpha") ;;
	long_argv0) PROG=(bash -c 'exec -a "$1" "$0" "${@:2}"' "$KT_PROBE" "$LONGDIR/kt-beta") ;;
	esac
}

# is_touched NAME on|off WHO ENV...: WHO (see prog) runs a client under the
# shim with KT_CFG and ENV, holds the connection; from outside it must carry
# KT_WANT (on) or nothing at all (off).  stderr must stay empty.
is_touched() {
	local name=$1 mode=$2 who=$3 want=$KT_WANT got
	shift 3
	[ "$mode" = on ] || want=$KT_UNTOUCHED
	prog "$who"
	kt_bg "$T_TMP/$name" "${KT_SHIM[@]}" "${KT_CFG[@]}" "$@" "${PROG[@]}" client 127.0.0.1 "$port" --hold -1
	if ! kt_wait_line "$T_TMP/$name" 'keepalive=' >/dev/null; then
		t_fail "$name" "no line from the client: $(cat "$T_TMP/$name.err")"
		kt_stop "$KT_PID"
		return
	fi
	# The pid is the program's own (env and bash exec it): its name proves
	# which program was tested.
	got=$(tr '\0' ' ' <"/proc/$KT_PID/cmdline")
	case $who in
	beta* | long_argv0) t_contains "${name}_argv0" "kt-beta client" "$got" ;;
	alpha_as_x | long_exe) t_contains "${name}_argv0" "kt-other client" "$got" ;;
	esac
	got=$("$KT_PROBE" peek "$KT_PID" "$port" | sed 's/^fd=[0-9]* lport=[0-9]* rport=[0-9]* //')
	t_eq "$name" "$want" "$got"
	t_eq "${name}_silent" "" "$(cat "$T_TMP/$name.err")"
	kt_stop "$KT_PID"
}

# conf NAME LINES...: a config file.
conf() {
	printf '%s\n' "${@:2}" >"$T_TMP/$1.conf"
	echo "$T_TMP/$1.conf"
}

# ---- matching: exe or argv[0] base name, globs --------------------------------
is_touched filter_none_set_plain_on on plain
is_touched filter_include_exe on alpha KAP_INCLUDE_PROGRAMS=kt-alpha
is_touched filter_include_exe_only on alpha_as_x KAP_INCLUDE_PROGRAMS=kt-alpha
is_touched filter_include_argv0 on beta KAP_INCLUDE_PROGRAMS=kt-beta
is_touched filter_include_argv0_path on beta_path KAP_INCLUDE_PROGRAMS=kt-beta
is_touched filter_include_other_off off plain KAP_INCLUDE_PROGRAMS=kt-alpha
is_touched filter_include_other_argv0_off off beta KAP_INCLUDE_PROGRAMS=kt-alpha
# Whole base names: neither a path nor a substring matches.
is_touched filter_include_no_substring off alpha KAP_INCLUDE_PROGRAMS=kt-alph
is_touched filter_include_no_path off beta_path KAP_INCLUDE_PROGRAMS=/nowhere/kt-beta
is_touched filter_include_star on alpha 'KAP_INCLUDE_PROGRAMS=kt-al*'
is_touched filter_include_qmark on alpha 'KAP_INCLUDE_PROGRAMS=kt-?lpha'
is_touched filter_include_class on beta 'KAP_INCLUDE_PROGRAMS=kt-[ab]eta'
is_touched filter_include_glob_miss off alpha 'KAP_INCLUDE_PROGRAMS=kt-[b-z]*'
is_touched filter_include_list on beta 'KAP_INCLUDE_PROGRAMS=nginx  kt-beta java'
is_touched filter_exclude_exe off alpha KAP_EXCLUDE_PROGRAMS=kt-alpha
is_touched filter_exclude_exe_only off alpha_as_x KAP_EXCLUDE_PROGRAMS=kt-alpha
is_touched filter_exclude_argv0 off beta 'KAP_EXCLUDE_PROGRAMS=kt-b*'
is_touched filter_exclude_other_on on plain 'KAP_EXCLUDE_PROGRAMS=kt-*'
# Long paths: still the base name.
is_touched filter_include_long_exe_path on long_exe KAP_INCLUDE_PROGRAMS=kt-alpha
is_touched filter_exclude_long_exe_path off long_exe KAP_EXCLUDE_PROGRAMS=kt-alpha
is_touched filter_include_long_argv0_path on long_argv0 KAP_INCLUDE_PROGRAMS=kt-beta
is_touched filter_exclude_long_argv0_path off long_argv0 KAP_EXCLUDE_PROGRAMS=kt-beta
# Exclude wins over include.
is_touched filter_exclude_beats_include off alpha 'KAP_INCLUDE_PROGRAMS=kt-*' KAP_EXCLUDE_PROGRAMS=kt-alpha
is_touched filter_include_rest_on on beta 'KAP_INCLUDE_PROGRAMS=kt-*' KAP_EXCLUDE_PROGRAMS=kt-alpha
# A filtered-out program gets nothing, not even from a rule or KAP_OVERRIDE.
f=$(conf rule '[rule all]' 'idle = 21')
is_touched filter_excluded_no_rule off alpha KAP_CONFIG="$f" KAP_OVERRIDE=on KAP_EXCLUDE_PROGRAMS=kt-alpha

# ---- file lists, and the environment replacing them ----------------------------
f=$(conf inc 'include_programs = kt-alpha')
is_touched filter_file_include_match on alpha KAP_CONFIG="$f"
is_touched filter_file_include_other_off off beta KAP_CONFIG="$f"
is_touched filter_env_include_replaces_file on beta KAP_CONFIG="$f" KAP_INCLUDE_PROGRAMS=kt-beta
is_touched filter_env_include_replaces_not_adds off alpha KAP_CONFIG="$f" KAP_INCLUDE_PROGRAMS=kt-beta
is_touched filter_env_include_empty_keeps_file off beta KAP_CONFIG="$f" KAP_INCLUDE_PROGRAMS=
is_touched filter_env_include_empty_file_match on alpha KAP_CONFIG="$f" KAP_INCLUDE_PROGRAMS=
is_touched filter_env_include_blank_keeps_file off beta KAP_CONFIG="$f" 'KAP_INCLUDE_PROGRAMS=  '
f=$(conf exc 'exclude_programs = kt-alpha')
is_touched filter_file_exclude_match off alpha KAP_CONFIG="$f"
is_touched filter_file_exclude_other_on on beta KAP_CONFIG="$f"
is_touched filter_env_exclude_replaces_file on alpha KAP_CONFIG="$f" KAP_EXCLUDE_PROGRAMS=kt-beta
is_touched filter_env_exclude_replaced_list_applies off beta KAP_CONFIG="$f" KAP_EXCLUDE_PROGRAMS=kt-beta
is_touched filter_env_exclude_empty_keeps_file off alpha KAP_CONFIG="$f" KAP_EXCLUDE_PROGRAMS=
f=$(conf both 'include_programs = kt-*' 'exclude_programs = kt-beta')
is_touched filter_file_exclude_beats_include off beta KAP_CONFIG="$f"
is_touched filter_file_include_with_exclude on alpha KAP_CONFIG="$f"
# Exclude in the environment, include in the file: both apply.
f=$(conf inc_only 'include_programs = kt-*')
is_touched filter_env_exclude_file_include off alpha KAP_CONFIG="$f" KAP_EXCLUDE_PROGRAMS=kt-alpha

# ---- negative control: the same include without the shim ------------------------
kt_bg "$T_TMP/noshim" "${KT_NOSHIM[@]}" "${KT_CFG[@]}" KAP_INCLUDE_PROGRAMS=kt-alpha "$ALPHA" client \
	127.0.0.1 "$port" --hold -1
kt_wait_line "$T_TMP/noshim" 'keepalive=' >/dev/null
kt_differs filter_include_noshim_differs "$KT_WANT" \
	"$("$KT_PROBE" peek "$KT_PID" "$port" | sed 's/^fd=[0-9]* lport=[0-9]* rport=[0-9]* //')"
kt_stop "$KT_PID"

# ---- ss timers from outside: touched has one, filtered-out has none ---------------
for c in on:KAP_INCLUDE_PROGRAMS=kt-alpha off:KAP_EXCLUDE_PROGRAMS=kt-alpha; do
	kt_bg "$T_TMP/ss" "${KT_SHIM[@]}" "${KT_CFG[@]}" "${c#*:}" "$ALPHA" client 127.0.0.1 "$port" --hold -1
	kt_wait_line "$T_TMP/ss" 'keepalive=' >/dev/null
	# The server side of this one connection: its peer port is the client's.
	lp=$("$KT_PROBE" peek "$KT_PID" "$port" | sed -n 's/^fd=[0-9]* lport=\([0-9]*\) .*/\1/p')
	t_ss_wait sport = :"$lp"
	secs=$(ss_keepalive_secs sport = :"$lp")
	if [ "${c%%:*}" = on ]; then
		kt_in_range filter_ss_included_timer 40 45 "$secs"
	else
		t_eq filter_ss_excluded_no_timer none "$secs"
	fi
	kt_stop "$KT_PID"
done
kt_stop "$srv_pid"

# ---- pass-through: strace sees no call from the shim -------------------------------
# The traced calls after the program's first socket(): with the program
# filtered out they must be exactly those of a run without the shim.
# (Before that the loader fstat()s the library file itself.)
TRACE=socket,connect,accept,accept4,setsockopt,getsockopt,fstat,newfstatat
# traced OUT CMD...: run CMD under strace; print its calls from the first
# AF_INET socket() on, without pids and with the peer's ephemeral port hidden.
traced() {
	local out=$1
	shift
	strace -f -qq -e trace="$TRACE" -o "$out.strace" "$@" >"$out" 2>"$out.err"
	sed -e 's/^[0-9]* *//' -e '/^accept/s/sin_port=htons([0-9]*)/sin_port=PEER/' "$out.strace" |
		sed -n '/^socket(AF_INET/,$p'
}
if ! have strace; then
	t_skip filter_strace "strace not installed"
else
	kt_bg "$T_TMP/st_srv" "${KT_NOSHIM[@]}" "$KT_PROBE" server 0 --accept 1000 --hold -1
	port=$(kt_port "$T_TMP/st_srv")
	st_pid=$KT_PID
	# feed: for the server case, connect once to it when it listens.
	feed() {
		FEED_PID=
		[ "$side" = server ] || return 0
		(wait_listen "$sp" 50 && "${KT_NOSHIM[@]}" "$KT_PROBE" client 127.0.0.1 "$sp" >/dev/null) &
		FEED_PID=$!
	}
	for side in client server; do
		if [ "$side" = client ]; then
			args=(client 127.0.0.1 "$port")
		else
			sp=$(free_port)
			args=(server "$sp" --accept 1)
		fi
		feed
		base=$(traced "$T_TMP/st_base_$side" "${KT_NOSHIM[@]}" "${KT_CFG[@]}" "$ALPHA" "${args[@]}")
		[ -z "$FEED_PID" ] || wait "$FEED_PID"
		feed
		pass=$(traced "$T_TMP/st_pass_$side" "${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_EXCLUDE_PROGRAMS=kt-alpha \
			"$ALPHA" "${args[@]}")
		[ -z "$FEED_PID" ] || wait "$FEED_PID"
		feed
		act=$(traced "$T_TMP/st_act_$side" "${KT_SHIM[@]}" "${KT_CFG[@]}" KAP_INCLUDE_PROGRAMS=kt-alpha \
			"$ALPHA" "${args[@]}")
		[ -z "$FEED_PID" ] || wait "$FEED_PID"
		# The baseline must have seen the program's own calls, or the
		# comparison proves nothing.
		t_contains "filter_strace_${side}_baseline_sees_getsockopt" 'getsockopt(' "$base"
		t_eq "filter_strace_${side}_pass_through_same_calls" "$base" "$pass"
		# The program's own SO_REUSEADDR (server) is the only setsockopt.
		t_eq "filter_strace_${side}_pass_through_no_setsockopt" "" \
			"$(echo "$pass" | grep '^setsockopt(' | grep -v 'SO_REUSEADDR')"
		t_eq "filter_strace_${side}_pass_through_output" "$(cat "$T_TMP/st_base_$side")" \
			"$(cat "$T_TMP/st_pass_$side")"
		# Negative control: the included program's trace shows the shim's calls.
		t_contains "filter_strace_${side}_active_sets_keepalive" \
			'setsockopt(3, SOL_SOCKET, SO_KEEPALIVE, [1], 4) = 0' "$act"
	done
	kt_stop "$st_pid"
fi

t_done
