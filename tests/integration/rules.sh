#!/usr/bin/env bash
# Per-destination rules (KAP_CONFIG=file), checked from outside the process
# (pidfd_getfd through tcpprobe peek, ss timers): an outbound rule on a remote
# prefix and port gives its idle while another port gets the globals; the
# first matching rule wins; what a rule does not set falls back to the
# globals, a rule's value beats KAP_IDLE; inbound rules match the listener's
# local port; `direction = any` uses the remote port at connect() and the
# local port at accept(); IPv4-mapped IPv6 peers match IPv4 prefixes; a bad
# rule gives one file:line message and is skipped whole; a 33rd rule is
# reported; `enable = off` leaves the application's own keepalive alone but
# switches off the shim's, and clears what an accepted socket inherited.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"
kt_require

GLOBALS=$'idle = 40\ninterval = 8\ncount = 3'
G="keepalive=1 idle=40 interval=8 count=3 user_timeout=0"

# peek_conn PID PORT: the values of PID's connected socket with PORT as its
# local or remote port, read from outside ("" when there is none).
peek_conn() {
	"$KT_PROBE" peek "$1" "$2" | grep -v ' rport=0 ' | sed 's/^fd=[0-9]* lport=[0-9]* rport=[0-9]* //'
}

# conf NAME LINES...: a config file with the global settings and LINES.
conf() {
	local f=$T_TMP/$1.conf
	shift
	{
		echo "$GLOBALS"
		printf '%s\n' "$@"
	} >"$f"
	echo "$f"
}

# noshim_server NAME [PORT [ADDR]]: a server without the shim that accepts
# and holds; its port lands in SRV_PORT, its pid in SRV_PID.
noshim_server() {
	kt_bg "$T_TMP/$1.srv" "${KT_NOSHIM[@]}" "$KT_PROBE" server "${2:-0}" --bind "${3:-127.0.0.1}" \
		--accept 1000 --hold -1
	SRV_PID=$KT_PID
	SRV_PORT=$(kt_port "$T_TMP/$1.srv") || {
		t_fail "$1_server_start" "no listening line: $(cat "$T_TMP/$1.srv.err")"
		exit 1
	}
}

# cmp_got NAME WANT: GOT must be WANT; with FIELD set (e.g. keepalive) only
# that field is compared and WANT is "FIELD=VALUE".
FIELD=
cmp_got() {
	if [ -n "$FIELD" ]; then
		t_eq "$1" "$2" "$FIELD=$(t_field "$FIELD" "$GOT")"
	else
		t_eq "$1" "$2" "$GOT"
	fi
}

# split_at_dashes ARGS...: PRE gets the words before "--" (the environment
# and command prefix), OPTS the tcpprobe options after it.
split_at_dashes() {
	PRE=()
	OPTS=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		PRE+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	OPTS=("$@")
}

# client NAME WANT HOST PORT PREFIX... [-- CLIENT-OPTIONS...]: a tcpprobe
# client started with the command prefix (env ...), held open; its connected
# socket, read from outside, must have WANT, and its stderr must be empty
# (unless WANT_ERR is set: then stderr lands in $T_TMP/NAME.err for the caller).
# The peeked line is left in GOT and the pid in CLI_PID (already stopped).
WANT_ERR=
client() {
	local name=$1 want=$2 host=$3 port=$4
	shift 4
	split_at_dashes "$@"
	kt_bg "$T_TMP/$name" "${PRE[@]}" "$KT_PROBE" client "$host" "$port" --hold -1 "${OPTS[@]}"
	CLI_PID=$KT_PID
	GOT=
	if ! kt_wait_line "$T_TMP/$name" 'keepalive=' >/dev/null; then
		t_fail "$name" "no line from the client: $(cat "$T_TMP/$name.err")"
		kt_stop "$CLI_PID"
		return
	fi
	GOT=$(peek_conn "$CLI_PID" "$port")
	cmp_got "$name" "$want"
	[ -n "$WANT_ERR" ] || t_eq "${name}_silent" "" "$(cat "$T_TMP/$name.err")"
	kt_stop "$CLI_PID"
}

# accepted NAME WANT HOST PORT PREFIX... [-- SERVER-OPTIONS...]: a tcpprobe
# server on PORT started with the prefix; a client without the shim connects
# to HOST; the accepted socket, read from outside, must have WANT.  Server
# and client stay up (pids in ACC_PID, ACC_CPID) until the caller's acc_done.
accepted() {
	local name=$1 want=$2 host=$3 port=$4
	shift 4
	split_at_dashes "$@"
	GOT=
	kt_bg "$T_TMP/$name.srv" "${PRE[@]}" "$KT_PROBE" server "$port" --accept 1 --hold -1 "${OPTS[@]}"
	ACC_PID=$KT_PID
	ACC_CPID=
	if ! kt_port "$T_TMP/$name.srv" >/dev/null; then
		t_fail "$name" "server did not listen: $(cat "$T_TMP/$name.srv.err")"
		return
	fi
	kt_bg "$T_TMP/$name.cli" "${KT_NOSHIM[@]}" "$KT_PROBE" client "$host" "$port" --hold -1
	ACC_CPID=$KT_PID
	if ! kt_wait_line "$T_TMP/$name.srv" '^accepted ' >/dev/null; then
		t_fail "$name" "nothing accepted: $(cat "$T_TMP/$name.srv.err" "$T_TMP/$name.cli.err")"
		return
	fi
	GOT=$(peek_conn "$ACC_PID" "$port")
	cmp_got "$name" "$want"
	t_eq "${name}_silent" "" "$(cat "$T_TMP/$name.srv.err")"
}
acc_done() {
	kt_stop "$ACC_CPID"
	kt_stop "$ACC_PID"
}

noshim_server a
PA=$SRV_PORT
A_PID=$SRV_PID
noshim_server b
PB=$SRV_PORT
B_PID=$SRV_PID

# ---- outbound rule: remote prefix + port; first match wins; fallbacks -------
f=$(conf out '[rule first]' 'direction = outbound' 'remote = 127.0.0.0/8' "port = $PA" 'idle = 21' \
	'[rule second]' 'direction = outbound' 'remote = 127.0.0.1' "port = $PA" 'idle = 22' 'interval = 2')
client rules_out_match "keepalive=1 idle=21 interval=8 count=3 user_timeout=0" 127.0.0.1 "$PA" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f"
# The timer as ss sees it counts down from the rule's idle, not the global 40.
kt_bg "$T_TMP/ss" "${KT_SHIM[@]}" KAP_CONFIG="$f" "$KT_PROBE" client 127.0.0.1 "$PA" --hold -1
kt_wait_line "$T_TMP/ss" 'keepalive=' >/dev/null
t_ss_wait dport = :"$PA"
kt_in_range rules_out_match_ss_timer 16 21 "$(ss_keepalive_secs dport = :"$PA")"
kt_stop "$KT_PID"
client rules_out_other_port_globals "$G" 127.0.0.1 "$PB" "${KT_SHIM[@]}" KAP_CONFIG="$f"
client rules_out_noshim_untouched "$KT_UNTOUCHED" 127.0.0.1 "$PA" "${KT_NOSHIM[@]}" KAP_CONFIG="$f"

# The same two rules in the other order: now "second" is first and wins.
f=$(conf order '[rule second]' 'direction = outbound' 'remote = 127.0.0.1' "port = $PA" 'idle = 22' \
	'interval = 2' '[rule first]' 'direction = outbound' 'remote = 127.0.0.0/8' "port = $PA" 'idle = 21')
client rules_first_in_file_wins "keepalive=1 idle=22 interval=2 count=3 user_timeout=0" 127.0.0.1 "$PA" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f"

# A rule's idle beats KAP_IDLE; KAP_COUNT (not in the rule) still applies.
f=$(conf env '[rule r]' "port = $PA" 'idle = 21')
client rules_beat_env_global "keepalive=1 idle=21 interval=8 count=5 user_timeout=0" 127.0.0.1 "$PA" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f" KAP_IDLE=50 KAP_COUNT=5
client rules_env_global_elsewhere "keepalive=1 idle=50 interval=8 count=5 user_timeout=0" 127.0.0.1 "$PB" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f" KAP_IDLE=50 KAP_COUNT=5

# KAP_ENABLE=off leaves sockets alone, but a rule's enable = on beats it.
f=$(conf enable_on '[rule on]' "port = $PA" 'enable = on' 'idle = 21')
client rules_enable_on_beats_env_off "keepalive=1 idle=21 interval=8 count=3 user_timeout=0" 127.0.0.1 \
	"$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f" KAP_ENABLE=off
client rules_env_off_elsewhere_untouched "$KT_UNTOUCHED" 127.0.0.1 "$PB" "${KT_SHIM[@]}" KAP_CONFIG="$f" \
	KAP_ENABLE=off

# Remote prefix and port range: a non-matching prefix gives the globals; a
# range that holds the port matches.
f=$(conf prefix '[rule far]' 'remote = 10.0.0.0/8, fd00::/8' "port = $PA" 'idle = 21')
client rules_other_prefix_globals "$G" 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
lo=$((PA - 1)) hi=$((PA + 1))
f=$(conf range '[rule range]' 'remote = 127.0.0.0/8' "port = $lo-$hi" 'count = 7')
client rules_port_range "keepalive=1 idle=40 interval=8 count=7 user_timeout=0" 127.0.0.1 "$PA" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f"
# Host bits beyond the prefix length are ignored; a /32 of another host
# does not match.
f=$(conf hostbits '[rule hb]' 'remote = 127.9.9.9/8' "port = $PA" 'idle = 21')
client rules_prefix_host_bits_ignored "keepalive=1 idle=21 interval=8 count=3 user_timeout=0" 127.0.0.1 \
	"$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
f=$(conf slash32 '[rule one]' 'remote = 127.0.0.2/32' "port = $PA" 'idle = 21')
client rules_prefix_other_host_no_match "$G" 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
kt_stop "$B_PID"

# TCP Fast Open: sendto(MSG_FASTOPEN) never calls connect(), so the
# outbound rule cannot apply; the socket keeps the globals of socket().
PY_TFO='
import socket, sys, time
s = socket.socket()
if sys.argv[2] == "tfo":
    s.sendto(b"x", socket.MSG_FASTOPEN, ("127.0.0.1", int(sys.argv[1])))
else:
    s.connect(("127.0.0.1", int(sys.argv[1])))
print("keepalive=connected", flush=True)
time.sleep(3600)
'
f=$(conf tfo '[rule tfo]' 'direction = outbound' "port = $PA" 'idle = 21')
hows=(tfo connect)
if [ $(($(cat /proc/sys/net/ipv4/tcp_fastopen 2>/dev/null || echo 0) & 1)) = 0 ]; then
	t_skip rules_tfo_sendto_keeps_globals "net.ipv4.tcp_fastopen has no client bit"
	hows=(connect)
fi
for how in "${hows[@]}"; do
	kt_bg "$T_TMP/tfo_$how" "${KT_SHIM[@]}" KAP_CONFIG="$f" "$KT_PY" -c "$PY_TFO" "$PA" "$how"
	if kt_wait_line "$T_TMP/tfo_$how" 'keepalive=' >/dev/null; then
		got=$(peek_conn "$KT_PID" "$PA")
		if [ "$how" = tfo ]; then
			t_eq rules_tfo_sendto_keeps_globals "$G" "$got"
		else
			t_eq rules_tfo_control_connect_gets_rule \
				"keepalive=1 idle=21 interval=8 count=3 user_timeout=0" "$got"
		fi
	else
		t_fail "rules_tfo_$how" "client failed: $(cat "$T_TMP/tfo_$how.err")"
	fi
	kt_stop "$KT_PID"
done

kt_stop "$A_PID"

# ---- inbound rule: local port of the listener ------------------------------
PI=$(free_port)
PJ=$(free_port)
f=$(conf in '[rule in]' 'direction = inbound' 'remote = 127.0.0.0/8' "port = $PI" 'idle = 23')
accepted rules_in_match "keepalive=1 idle=23 interval=8 count=3 user_timeout=0" 127.0.0.1 "$PI" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f"
acc_done
accepted rules_in_other_listener_globals "$G" 127.0.0.1 "$PJ" "${KT_SHIM[@]}" KAP_CONFIG="$f"
acc_done
# accept4(), and accept() with addr NULL (the peer must then be looked up).
accepted rules_in_match_accept4 "keepalive=1 idle=23 interval=8 count=3 user_timeout=0" 127.0.0.1 "$PI" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f" -- --accept4
acc_done
accepted rules_in_match_null_addr "keepalive=1 idle=23 interval=8 count=3 user_timeout=0" 127.0.0.1 \
	"$PI" "${KT_SHIM[@]}" KAP_CONFIG="$f" -- --null-addr
acc_done
# Direction: with an inbound rule on PI and an outbound rule on PJ in one
# file (so that both kinds are looked up), a client connecting to PI and a
# server accepting on PJ get the globals.
f=$(conf dir '[rule in]' 'direction = inbound' "port = $PI" 'idle = 23' \
	'[rule out]' 'direction = outbound' "port = $PJ" 'idle = 21')
noshim_server in_out "$PI"
client rules_in_not_outbound "$G" 127.0.0.1 "$PI" "${KT_SHIM[@]}" KAP_CONFIG="$f"
kt_stop "$SRV_PID"
accepted rules_out_not_inbound "$G" 127.0.0.1 "$PJ" "${KT_SHIM[@]}" KAP_CONFIG="$f"
acc_done
# Negative control: the inbound rule's server without the shim.
f=$(conf in '[rule in]' 'direction = inbound' 'remote = 127.0.0.0/8' "port = $PI" 'idle = 23')
accepted rules_in_noshim_untouched "$KT_UNTOUCHED" 127.0.0.1 "$PI" "${KT_NOSHIM[@]}" KAP_CONFIG="$f"
acc_done

# ---- direction = any: remote port at connect(), local port at accept() ------
PY_BOUND='
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[2])))
s.connect(("127.0.0.1", int(sys.argv[1])))
print("keepalive=connected", flush=True)
time.sleep(3600)
'
PX=$(free_port)
PY=$(free_port)
f=$(conf any '[rule any]' 'direction = any' "port = $PX" 'idle = 24')
WANT_ANY="keepalive=1 idle=24 interval=8 count=3 user_timeout=0"
noshim_server any_out "$PX"
client rules_any_connect_remote_port "$WANT_ANY" 127.0.0.1 "$PX" "${KT_SHIM[@]}" KAP_CONFIG="$f"
kt_stop "$SRV_PID"
accepted rules_any_accept_local_port "$WANT_ANY" 127.0.0.1 "$PX" "${KT_SHIM[@]}" KAP_CONFIG="$f"
acc_done
# The other port of each side must not count: a client bound to local port PX
# (python) connecting to PY, with the shim on the client, then on the server.
noshim_server any_py "$PY"
kt_bg "$T_TMP/anyc" "${KT_SHIM[@]}" KAP_CONFIG="$f" "$KT_PY" -c "$PY_BOUND" "$PY" "$PX"
if kt_wait_line "$T_TMP/anyc" 'keepalive=' >/dev/null; then
	t_eq rules_any_connect_ignores_local_port "$G" "$(peek_conn "$KT_PID" "$PY")"
else
	t_fail rules_any_connect_ignores_local_port "client failed: $(cat "$T_TMP/anyc.err")"
fi
kt_stop "$KT_PID"
kt_stop "$SRV_PID"
kt_bg "$T_TMP/anys.srv" "${KT_SHIM[@]}" KAP_CONFIG="$f" "$KT_PROBE" server "$PY" --accept 1 --hold -1
spid=$KT_PID
kt_port "$T_TMP/anys.srv" >/dev/null
kt_bg "$T_TMP/anys" "${KT_NOSHIM[@]}" "$KT_PY" -c "$PY_BOUND" "$PY" "$PX"
if kt_wait_line "$T_TMP/anys.srv" '^accepted ' >/dev/null; then
	got=$("$KT_PROBE" peek "$spid" "$PX" | grep -v ' rport=0 ')
	# The accepted socket's peer port is PX: proof the case tests what it says.
	t_contains rules_any_accept_peer_is_rule_port "lport=$PY rport=$PX " "$got"
	t_eq rules_any_accept_ignores_remote_port "$G" "$(peek_conn "$spid" "$PY")"
else
	t_fail rules_any_accept_ignores_remote_port "nothing accepted: $(cat "$T_TMP/anys.srv.err" "$T_TMP/anys.err")"
fi
kt_stop "$KT_PID"
kt_stop "$spid"

# ---- IPv4-mapped IPv6 peers match IPv4 prefixes -----------------------------
PM=$(free_port)
f=$(conf mapped '[rule v4]' 'direction = inbound' 'remote = 127.0.0.0/8' "port = $PM" 'idle = 25')
WANT_25="keepalive=1 idle=25 interval=8 count=3 user_timeout=0"
# A dual-stack listener on :: sees the 127.0.0.1 client as ::ffff:127.0.0.1.
accepted rules_mapped_inbound_dualstack "$WANT_25" 127.0.0.1 "$PM" "${KT_SHIM[@]}" KAP_CONFIG="$f" \
	-- --bind ::
acc_done
# Negative control: a real IPv6 peer (::1) is not in 127.0.0.0/8.
accepted rules_mapped_v6_peer_no_match "$G" ::1 "$PM" "${KT_SHIM[@]}" KAP_CONFIG="$f" -- --bind ::
acc_done
# Outbound: an AF_INET6 socket connecting to ::ffff:127.0.0.1.
f=$(conf mapped_out '[rule v4]' 'direction = outbound' 'remote = 127.0.0.0/8' "port = $PM" 'idle = 25')
noshim_server mapped_out "$PM" ::
client rules_mapped_outbound_v6_socket "$WANT_25" ::ffff:127.0.0.1 "$PM" "${KT_SHIM[@]}" KAP_CONFIG="$f"
client rules_mapped_outbound_v6_peer_no_match "$G" ::1 "$PM" "${KT_SHIM[@]}" KAP_CONFIG="$f"
kt_stop "$SRV_PID"

# ---- bad rules: one message each, skipped whole ------------------------------
noshim_server bad
PA=$SRV_PORT
BAD_PID=$SRV_PID
# bad_rule NAME RULE-NAME NEEDLE RULE-LINES...: the rule would match every
# connection with idle 26 if it were kept.  Its first line after "idle = 26"
# is the bad one: line 6 of the file (3 global lines, header, idle).  The
# one message must name file:6, contain NEEDLE (the bad value or key) and
# say the rule is skipped.
bad_rule() {
	local name=$1 rname=$2 needle=$3 f err
	shift 3
	f=$(conf "$name" "[rule $rname]" 'idle = 26' "$@")
	WANT_ERR=1
	client "$name" "$G" 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
	WANT_ERR=
	err=$(cat "$T_TMP/$name.err")
	t_eq "${name}_one_line" 1 "$(grep -c . "$T_TMP/$name.err")"
	case $err in
	"libkapreload: $f:6: "*"; rule '$rname' skipped") t_pass "${name}_message" ;;
	*) t_fail "${name}_message" "expected [libkapreload: $f:6: ...; rule '$rname' skipped], got [$err]" ;;
	esac
	t_contains "${name}_names_it" "$needle" "$err"
	"${KT_SHIM[@]}" KAP_CONFIG="$f" "$KT_PROBE" client 127.0.0.1 "$PA" >/dev/null 2>&1
	t_eq "${name}_program_runs" 0 "$?"
}
bad_rule rules_bad_port badport 70000 'port = 70000'
bad_rule rules_bad_port_zero badzero 'port = 0' 'port = 0' 'interval = 2'
bad_rule rules_bad_port_range badrange 9-3 'port = 9-3'
bad_rule rules_bad_prefix_len badprefix 127.0.0.0/33 'remote = 127.0.0.0/33'
bad_rule rules_bad_prefix_word badword 127.0.0.x 'remote = 127.0.0.x'
bad_rule rules_bad_prefix_in_list badlist fd00::/129 'remote = 127.0.0.0/8, fd00::/129'
bad_rule rules_bad_direction baddir sideways 'direction = sideways'
bad_rule rules_bad_unknown_key badkey keepidle 'keepidle = 5'
bad_rule rules_bad_global_key_in_rule badglobal override 'override = on'
bad_rule rules_bad_value_in_rule badvalue 500 'count = 500'
# Negative control: the same rule with a valid port does match (idle 26), so
# "skipped" above is not just "did not match".
f=$(conf good_twin '[rule goodport]' 'idle = 26' "port = $PA")
client rules_bad_port_valid_twin_matches "keepalive=1 idle=26 interval=8 count=3 user_timeout=0" \
	127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
# Several bad rules, then a good one: the good one still applies, and
# nothing of the skipped rules (idle 26) leaks into it.
f=$(conf bad_many '[rule b1]' 'idle = 26' 'port = 70000' '[rule b2]' 'remote = 300.1.2.3' \
	'[rule b3]' 'direction = up' '[rule ok]' "port = $PA" 'interval = 2')
WANT_ERR=1
client rules_bad_many_good_rule_applies "keepalive=1 idle=40 interval=2 count=3 user_timeout=0" \
	127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
WANT_ERR=
t_eq rules_bad_many_three_lines 3 \
	"$(grep -c "^libkapreload: $f:[0-9]*: .*; rule 'b[123]' skipped\$" "$T_TMP/rules_bad_many_good_rule_applies.err")"
t_eq rules_bad_many_nothing_else 3 "$(grep -c . "$T_TMP/rules_bad_many_good_rule_applies.err")"

# ---- more than 32 rules ------------------------------------------------------
# Rules 1..31 match nothing (port 1); rule r32 matches PB with idle 31; rule
# r33 (header on line 100) matches PA with idle 29: reported and ignored.
noshim_server many_b
PB=$SRV_PORT
lines=()
for i in $(seq 1 31); do lines+=("[rule r$i]" 'port = 1' 'idle = 11'); done
f=$(conf max "${lines[@]}" '[rule r32]' "port = $PB" 'idle = 31' '[rule r33]' "port = $PA" 'idle = 29')
WANT_ERR=1
client rules_32nd_applies "keepalive=1 idle=31 interval=8 count=3 user_timeout=0" 127.0.0.1 "$PB" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f"
client rules_33rd_ignored "$G" 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
WANT_ERR=
t_eq rules_33rd_one_line 1 "$(grep -c . "$T_TMP/rules_33rd_ignored.err")"
msg=$(cat "$T_TMP/rules_33rd_ignored.err")
t_contains rules_33rd_reported "libkapreload: $f:100: " "$msg"
t_contains rules_33rd_names_limit 32 "$msg"
t_contains rules_33rd_names_rule "'r33'" "$msg"
# Negative control: with one filler rule less, r33 is the 32nd and applies.
lines=()
for i in $(seq 1 30); do lines+=("[rule r$i]" 'port = 1' 'idle = 11'); done
f=$(conf max32 "${lines[@]}" '[rule r32]' "port = $PB" 'idle = 31' '[rule r33]' "port = $PA" 'idle = 29')
client rules_32_rules_r33_applies "keepalive=1 idle=29 interval=8 count=3 user_timeout=0" 127.0.0.1 "$PA" \
	"${KT_SHIM[@]}" KAP_CONFIG="$f"

# ---- enable = off -------------------------------------------------------------
# Outbound: the shim's keepalive (set at socket()) is switched off at
# connect(); the application's own SO_KEEPALIVE=1 stays, before or after
# connect().  Only the keepalive flag is compared: the rule sets nothing else.
f=$(conf off '[rule off]' 'direction = outbound' "port = $PA" 'enable = off')
FIELD=keepalive
client rules_off_clears_shims keepalive=0 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f"
client rules_off_keeps_apps keepalive=1 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f" -- \
	--set-keepalive 1
client rules_off_keeps_apps_after_connect keepalive=1 127.0.0.1 "$PA" "${KT_SHIM[@]}" \
	KAP_CONFIG="$f" -- --set-keepalive 1 --set-after
FIELD=
client rules_off_other_port_on "$G" 127.0.0.1 "$PB" "${KT_SHIM[@]}" KAP_CONFIG="$f"
# From outside with ss: no keepalive timer on the switched-off connection,
# one on the application's own.
for c in "off:none:" "app:40:--set-keepalive 1"; do
	n=${c%%:*} want=${c#*:} want=${want%%:*} opt=${c##*:}
	# shellcheck disable=SC2086 # opt is empty or two words
	kt_bg "$T_TMP/ss_$n" "${KT_SHIM[@]}" KAP_CONFIG="$f" "$KT_PROBE" client 127.0.0.1 "$PA" --hold -1 $opt
	kt_wait_line "$T_TMP/ss_$n" 'keepalive=' >/dev/null
	t_ss_wait dport = :"$PA"
	got=$(ss_keepalive_secs dport = :"$PA")
	if [ "$want" = none ]; then
		t_eq "rules_off_${n}_ss_no_timer" none "$got"
	else
		kt_in_range "rules_off_${n}_ss_timer" 35 40 "$got"
	fi
	kt_stop "$KT_PID"
done
# Override on: a rule with enable = off refuses the application's keepalive.
FIELD=keepalive
client rules_off_override_refuses_app keepalive=0 127.0.0.1 "$PA" "${KT_SHIM[@]}" KAP_CONFIG="$f" \
	KAP_OVERRIDE=on -- --set-keepalive 1
FIELD=
kt_stop "$SRV_PID"
kt_stop "$BAD_PID"

# Inbound: the listener (configured by the shim) passes keepalive on to the
# accepted socket; the rule must clear it.  Another listener keeps it.
PO=$(free_port)
PQ=$(free_port)
f=$(conf in_off '[rule quiet]' 'direction = inbound' "port = $PO" 'enable = off')
FIELD=keepalive
accepted rules_in_off_clears_inherited keepalive=0 127.0.0.1 "$PO" "${KT_SHIM[@]}" KAP_CONFIG="$f"
lst=$("$KT_PROBE" peek "$ACC_PID" "$PO" | grep ' rport=0 ')
t_contains rules_in_off_listener_had_keepalive " $G" "$lst"
t_ss_wait sport = :"$PO"
t_eq rules_in_off_ss_no_timer none "$(ss_keepalive_secs sport = :"$PO")"
acc_done
accepted rules_in_off_clears_inherited_accept4 keepalive=0 127.0.0.1 "$PO" "${KT_SHIM[@]}" \
	KAP_CONFIG="$f" -- --accept4
acc_done
FIELD=
accepted rules_in_off_other_listener_on "$G" 127.0.0.1 "$PQ" "${KT_SHIM[@]}" KAP_CONFIG="$f"
t_ss_wait sport = :"$PQ"
kt_in_range rules_in_off_other_listener_ss_timer 35 40 "$(ss_keepalive_secs sport = :"$PQ")"
acc_done

t_done
