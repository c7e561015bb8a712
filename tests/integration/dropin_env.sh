#!/usr/bin/env bash
# Drop-in compatibility, read from outside (pidfd_getfd, ss): libkeepalive's
# KEEPIDLE KEEPINTVL KEEPCNT KEEPALIVE=off and libdontdie's
# DD_TCP_KEEPALIVE_TIME/_INTVL/_PROBES DD_USE_KEEPALIVE=0 work with only
# LD_PRELOAD changed; KAP_ beats libkeepalive beats libdontdie beats the file,
# parameter by parameter; a bad value (KEEPCNT=500) gives one message naming
# the variable, the value and the range, and the next source is used.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

kt_bg "$T_TMP/srv" "${KT_NOSHIM[@]}" "$KT_PROBE" server 0 --accept 1000 --hold -1
srv_pid=$KT_PID
port=$(kt_port "$T_TMP/srv") || {
	t_fail dropin_server_start "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

# line IDLE INTERVAL COUNT [KEEPALIVE]: a tcpprobe values line.
line() { echo "keepalive=${4:-1} idle=$1 interval=$2 count=$3 user_timeout=0"; }
DEF=("$KT_DEF_IDLE" "$KT_DEF_INTVL" "$KT_DEF_CNT")

# held NAME WANT NERR PREFIX...: a tcpprobe client started with the command
# PREFIX (env ...) holds a connection; read from outside it must be WANT, and
# stderr must have NERR lines (left in $T_TMP/NAME.err).
held() {
	local name=$1 want=$2 nerr=$3
	shift 3
	kt_bg "$T_TMP/$name" "$@" "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
	if ! kt_wait_line "$T_TMP/$name" 'keepalive=' >/dev/null; then
		t_fail "$name" "no line from the client: $(cat "$T_TMP/$name.err")"
		kt_stop "$KT_PID"
		return
	fi
	t_eq "$name" "$want stderr_lines=$nerr" \
		"$("$KT_PROBE" peek "$KT_PID" "$port" | sed 's/^fd=[0-9]* lport=[0-9]* rport=[0-9]* //') stderr_lines=$(grep -c . "$T_TMP/$name.err")"
	kt_stop "$KT_PID"
}
S=("${KT_SHIM[@]}")

# ---- libkeepalive's variables -------------------------------------------------------
held dropin_libkeepalive "$(line 31 4 5)" 0 "${S[@]}" KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=5
held dropin_libkeepalive_noshim "$(line "${DEF[@]}" 0)" 0 "${KT_NOSHIM[@]}" KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=5
held dropin_libkeepalive_idle_only "$(line 31 "$KT_DEF_INTVL" "$KT_DEF_CNT")" 0 "${S[@]}" KEEPIDLE=31
held dropin_keepalive_off "$(line "${DEF[@]}" 0)" 0 "${S[@]}" KEEPALIVE=off KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=5
held dropin_keepalive_OFF_any_case "$(line "${DEF[@]}" 0)" 0 "${S[@]}" KEEPALIVE=OFF KEEPIDLE=31
held dropin_keepalive_on "$(line 31 4 5)" 0 "${S[@]}" KEEPALIVE=on KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=5
# The timer from outside: ss sees it counting down from KEEPIDLE.
kt_bg "$T_TMP/ss" "${S[@]}" KEEPIDLE=31 "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
kt_wait_line "$T_TMP/ss" 'keepalive=' >/dev/null
t_ss_wait dport = :"$port"
kt_in_range dropin_libkeepalive_ss_timer 26 31 "$(ss_keepalive_secs dport = :"$port")"
kt_stop "$KT_PID"
kt_bg "$T_TMP/ss" "${S[@]}" KEEPALIVE=off KEEPIDLE=31 "$KT_PROBE" client 127.0.0.1 "$port" --hold -1
kt_wait_line "$T_TMP/ss" 'keepalive=' >/dev/null
t_ss_wait dport = :"$port"
t_eq dropin_keepalive_off_ss_no_timer none "$(ss_keepalive_secs dport = :"$port")"
kt_stop "$KT_PID"

# ---- libdontdie's variables -----------------------------------------------------------
held dropin_libdontdie "$(line 32 6 7)" 0 "${S[@]}" DD_TCP_KEEPALIVE_TIME=32 DD_TCP_KEEPALIVE_INTVL=6 \
	DD_TCP_KEEPALIVE_PROBES=7
held dropin_libdontdie_noshim "$(line "${DEF[@]}" 0)" 0 "${KT_NOSHIM[@]}" DD_TCP_KEEPALIVE_TIME=32 \
	DD_TCP_KEEPALIVE_INTVL=6 DD_TCP_KEEPALIVE_PROBES=7
held dropin_dd_use_keepalive_0 "$(line "${DEF[@]}" 0)" 0 "${S[@]}" DD_USE_KEEPALIVE=0 \
	DD_TCP_KEEPALIVE_TIME=32 DD_TCP_KEEPALIVE_INTVL=6 DD_TCP_KEEPALIVE_PROBES=7
held dropin_dd_use_keepalive_1 "$(line 32 6 7)" 0 "${S[@]}" DD_USE_KEEPALIVE=1 \
	DD_TCP_KEEPALIVE_TIME=32 DD_TCP_KEEPALIVE_INTVL=6 DD_TCP_KEEPALIVE_PROBES=7

# Accepted sockets too: a server with libkeepalive's variables.
kt_bg "$T_TMP/asrv" "${S[@]}" KEEPIDLE=33 KEEPINTVL=3 KEEPCNT=2 "$KT_PROBE" server 0 --accept 1 --hold -1
asrv=$KT_PID
if ap=$(kt_port "$T_TMP/asrv"); then
	kt_bg "$T_TMP/acli" "${KT_NOSHIM[@]}" "$KT_PROBE" client 127.0.0.1 "$ap" --hold -1
	kt_wait_line "$T_TMP/asrv" '^accepted' >/dev/null
	t_eq dropin_libkeepalive_accepted "$(line 33 3 2)" \
		"$("$KT_PROBE" peek "$asrv" "$ap" | grep -v ' rport=0 ' | sed 's/^fd=[0-9]* lport=[0-9]* rport=[0-9]* //')"
	kt_stop "$KT_PID"
else
	t_fail dropin_libkeepalive_accepted "server did not listen: $(cat "$T_TMP/asrv.err")"
fi
kt_stop "$asrv"

# ---- precedence, parameter by parameter ---------------------------------------------------
printf 'idle = 44\ninterval = 14\ncount = 4\n' >"$T_TMP/all.conf"
F=KAP_CONFIG=$T_TMP/all.conf
held dropin_file_alone "$(line 44 14 4)" 0 "${S[@]}" "$F"
held dropin_dd_beats_file "$(line 43 13 3)" 0 "${S[@]}" "$F" DD_TCP_KEEPALIVE_TIME=43 \
	DD_TCP_KEEPALIVE_INTVL=13 DD_TCP_KEEPALIVE_PROBES=3
held dropin_libkeepalive_beats_dd "$(line 42 12 2)" 0 "${S[@]}" "$F" DD_TCP_KEEPALIVE_TIME=43 \
	DD_TCP_KEEPALIVE_INTVL=13 DD_TCP_KEEPALIVE_PROBES=3 KEEPIDLE=42 KEEPINTVL=12 KEEPCNT=2
held dropin_kap_beats_libkeepalive "$(line 41 11 1)" 0 "${S[@]}" "$F" DD_TCP_KEEPALIVE_TIME=43 \
	DD_TCP_KEEPALIVE_INTVL=13 DD_TCP_KEEPALIVE_PROBES=3 KEEPIDLE=42 KEEPINTVL=12 KEEPCNT=2 \
	KAP_IDLE=41 KAP_INTERVAL=11 KAP_COUNT=1
# Each parameter from a different level: idle KAP_, interval libkeepalive,
# count libdontdie; and then count from the file.
held dropin_mixed_levels "$(line 41 12 3)" 0 "${S[@]}" "$F" KAP_IDLE=41 KEEPIDLE=42 KEEPINTVL=12 \
	DD_TCP_KEEPALIVE_TIME=43 DD_TCP_KEEPALIVE_INTVL=13 DD_TCP_KEEPALIVE_PROBES=3
held dropin_mixed_levels_file "$(line 43 12 4)" 0 "${S[@]}" "$F" KEEPINTVL=12 DD_TCP_KEEPALIVE_TIME=43
# An empty variable counts as unset: the next source is used.
held dropin_empty_is_unset "$(line 43 14 4)" 0 "${S[@]}" "$F" KAP_IDLE= KEEPIDLE= DD_TCP_KEEPALIVE_TIME=43
# The on/off switch follows the same order.
printf 'enable = off\nidle = 44\n' >"$T_TMP/off.conf"
printf 'enable = on\nidle = 44\n' >"$T_TMP/on.conf"
held dropin_enable_kap_on_beats_keepalive_off "$(line 31 "$KT_DEF_INTVL" "$KT_DEF_CNT")" 0 "${S[@]}" \
	KAP_ENABLE=on KEEPALIVE=off KEEPIDLE=31
held dropin_enable_kap_off_beats_keepalive_on "$(line "${DEF[@]}" 0)" 0 "${S[@]}" KAP_ENABLE=off \
	KEEPALIVE=on KEEPIDLE=31
held dropin_enable_keepalive_on_beats_dd_off "$(line 31 "$KT_DEF_INTVL" "$KT_DEF_CNT")" 0 "${S[@]}" \
	KEEPALIVE=on DD_USE_KEEPALIVE=0 KEEPIDLE=31
held dropin_enable_keepalive_off_beats_dd_on "$(line "${DEF[@]}" 0)" 0 "${S[@]}" KEEPALIVE=off \
	DD_USE_KEEPALIVE=1 KEEPIDLE=31
held dropin_enable_dd_on_beats_file_off "$(line 44 "$KT_DEF_INTVL" "$KT_DEF_CNT")" 0 "${S[@]}" \
	KAP_CONFIG="$T_TMP/off.conf" DD_USE_KEEPALIVE=1
held dropin_enable_dd_off_beats_file_on "$(line "${DEF[@]}" 0)" 0 "${S[@]}" KAP_CONFIG="$T_TMP/on.conf" \
	DD_USE_KEEPALIVE=0
held dropin_enable_file_off_alone "$(line "${DEF[@]}" 0)" 0 "${S[@]}" KAP_CONFIG="$T_TMP/off.conf"

# ---- bad values: one message, then the next source ------------------------------------------
# msg_check NAME FILE NEEDLE...: FILE holds one line, "libkapreload: ..."
# containing every NEEDLE.
msg_check() {
	local name=$1 err n
	err=$(cat "$2")
	shift 2
	case $err in "libkapreload: "*) t_pass "${name}_prefix" ;; *) t_fail "${name}_prefix" "[$err]" ;; esac
	for n in "$@"; do t_contains "${name}_names_$n" "$n" "$err"; done
}
held dropin_bad_keepcnt_to_dd "$(line 31 4 7)" 1 "${S[@]}" "$F" KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=500 \
	DD_TCP_KEEPALIVE_PROBES=7
msg_check dropin_bad_keepcnt "$T_TMP/dropin_bad_keepcnt_to_dd.err" KEEPCNT 500 1..127
held dropin_bad_keepcnt_to_file "$(line 31 4 4)" 1 "${S[@]}" "$F" KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=500
held dropin_bad_keepcnt_to_kernel "$(line 31 4 "$KT_DEF_CNT")" 1 "${S[@]}" KEEPIDLE=31 KEEPINTVL=4 KEEPCNT=500
# The program runs on normally: exit status 0, its output intact.
out=$("${S[@]}" KEEPCNT=500 "$KT_PROBE" client 127.0.0.1 "$port" 2>/dev/null)
t_eq dropin_bad_keepcnt_program_runs "$(line "${DEF[@]}") rc=0" "$out rc=$?"
# Negative control: without the shim nothing is said.
"${KT_NOSHIM[@]}" KEEPCNT=500 "$KT_PROBE" client 127.0.0.1 "$port" >/dev/null 2>"$T_TMP/noshim.err"
t_eq dropin_bad_keepcnt_noshim_silent "" "$(cat "$T_TMP/noshim.err")"
# Others: libkeepalive's idle not a number, libdontdie's 0, a bad switch.
held dropin_bad_keepidle "$(line 43 "$KT_DEF_INTVL" "$KT_DEF_CNT")" 1 "${S[@]}" KEEPIDLE=abc \
	DD_TCP_KEEPALIVE_TIME=43
msg_check dropin_bad_keepidle "$T_TMP/dropin_bad_keepidle.err" KEEPIDLE abc 1..32767
held dropin_bad_dd_intvl "$(line 44 14 4)" 1 "${S[@]}" "$F" DD_TCP_KEEPALIVE_INTVL=0
msg_check dropin_bad_dd_intvl "$T_TMP/dropin_bad_dd_intvl.err" DD_TCP_KEEPALIVE_INTVL =0 1..32767
held dropin_bad_dd_probes "$(line "${DEF[@]}")" 1 "${S[@]}" DD_TCP_KEEPALIVE_PROBES=128
msg_check dropin_bad_dd_probes "$T_TMP/dropin_bad_dd_probes.err" DD_TCP_KEEPALIVE_PROBES 128 1..127
held dropin_bad_keepalive_switch "$(line "${DEF[@]}" 0)" 1 "${S[@]}" KEEPALIVE=maybe DD_USE_KEEPALIVE=0
msg_check dropin_bad_keepalive_switch "$T_TMP/dropin_bad_keepalive_switch.err" KEEPALIVE maybe
# A bad KAP_ value falls back to libkeepalive's.
held dropin_bad_kap_to_libkeepalive "$(line "$KT_DEF_IDLE" "$KT_DEF_INTVL" 5)" 1 "${S[@]}" KAP_COUNT=500 \
	KEEPCNT=5
msg_check dropin_bad_kap_count "$T_TMP/dropin_bad_kap_to_libkeepalive.err" KAP_COUNT 500 1..127
# Two bad sources for one parameter: two messages, then the file.
held dropin_two_bad_to_file "$(line 44 14 4)" 2 "${S[@]}" "$F" KEEPIDLE=0 DD_TCP_KEEPALIVE_TIME=99999

kt_stop "$srv_pid"
t_done
