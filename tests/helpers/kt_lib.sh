# Shared by tests/integration/core_*.sh, after tests/lib.sh. Source it; do not run it.
# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing scripts

KT_PROBE=$KAP_BIN/tcpprobe
# The interpreter itself: "python3" may be a wrapper script (pyenv) whose own
# processes would load the shim too and confuse per-process checks.
KT_PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
KT_PY=${KT_PY:-python3}

# The kernel defaults getsockopt reports for a socket nobody configured.
KT_DEF_IDLE=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
KT_DEF_INTVL=$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)
KT_DEF_CNT=$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)
KT_UNTOUCHED="keepalive=0 idle=$KT_DEF_IDLE interval=$KT_DEF_INTVL count=$KT_DEF_CNT user_timeout=0"

# kt_require: stop the script early (one FAIL) when the build is missing.
kt_require() {
	local f
	for f in "$KAP_LIB" "$KT_PROBE"; do
		if [ ! -e "$f" ]; then
			t_fail setup "missing $f (run make test-programs)"
			exit 1
		fi
	done
}

# Command prefixes: "${KT_SHIM[@]}" KAP_IDLE=30 "$KT_PROBE" sockets 1 runs the
# probe under the shim; KT_NOSHIM is the negative control, the same without it.
# They are env commands, not functions, so that a background job's pid is the
# program's own pid (env execs it).
KT_SHIM=(env LD_PRELOAD="$KAP_PRELOAD")
KT_NOSHIM=(env -u LD_PRELOAD)

# kt_bg OUT CMD...: t_bg, with the pid in KT_PID.
kt_bg() {
	t_bg "$@"
	KT_PID=$T_BG_PID
}

# kt_wait_line FILE REGEX [TRIES]: t_wait_line, 4 s by default.
kt_wait_line() { t_wait_line "$1" "$2" "${3:-80}"; }

# kt_port FILE: the port of a server that prints "listening PORT".
kt_port() { t_listen_port "$1" 80; }

# kt_stop PID: kill a background helper and reap it.
kt_stop() { t_stop "$1"; }

# kt_in_range NAME LOW HIGH VALUE: pass when VALUE is an integer in [LOW, HIGH].
kt_in_range() {
	case $4 in
	'' | *[!0-9]*)
		t_fail "$1" "[$4] is not a number of seconds (expected $2..$3)"
		return
		;;
	esac
	if [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		t_pass "$1"
	else
		t_fail "$1" "$4 not in $2..$3"
	fi
}

# kt_differs NAME UNEXPECTED ACTUAL: a negative control passes when the
# answer without the shim is not the answer with it.
kt_differs() {
	if [ "$2" != "$3" ]; then t_pass "$1"; else t_fail "$1" "got [$3] even without the shim"; fi
}

# Python programs print the same line as tcpprobe.
KT_PY_LINE='
import socket, sys, time
def line(s):
    g = s.getsockopt
    return "keepalive=%d idle=%d interval=%d count=%d user_timeout=%d" % (
        g(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        g(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        g(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        g(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        g(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
'
# "$KT_PY" -c "$KT_PY_CLIENT" HOST PORT HOLD
KT_PY_CLIENT=$KT_PY_LINE'
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print(line(s), flush=True)
time.sleep(float(sys.argv[3]))
'
# "$KT_PY" -c "$KT_PY_SERVER" ADDR N HOLD: prints "listening PORT", then
# "accepted LINE" for each of N connections (socket.accept is accept4).
KT_PY_SERVER=$KT_PY_LINE'
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
l = socket.socket(fam, socket.SOCK_STREAM)
l.bind((sys.argv[1], 0))
l.listen(16)
print("listening %d" % l.getsockname()[1], flush=True)
keep = []
for _ in range(int(sys.argv[2])):
    c, _a = l.accept()
    keep.append(c)
    print("accepted " + line(c), flush=True)
time.sleep(float(sys.argv[3]))
'

# The standard configuration of the "from outside" checks, and its result.
KT_CFG=(KAP_IDLE=45 KAP_INTERVAL=6 KAP_COUNT=3)
KT_WANT="keepalive=1 idle=45 interval=6 count=3 user_timeout=0"

# kt_outside NAME MODE PID FILTER...: check a held connection of PID from
# outside: the ss keepalive timer of the socket matching the ss FILTER and the
# exact values through pidfd_getfd.  MODE shim expects KT_CFG, noshim nothing.
kt_outside() {
	local name=$1 mode=$2 pid=$3 secs peek port
	shift 3
	port=${*: -1}
	port=${port#:}
	t_ss_wait "$@"
	secs=$(ss_keepalive_secs "$@")
	# Connected sockets only: a listener has rport=0.
	peek=$("$KT_PROBE" peek "$pid" "$port" | grep -v ' rport=0 ')
	if [ "$mode" = shim ]; then
		# The timer counts down from idle (45 s): a little less by now.
		kt_in_range "${name}_ss_timer" 40 45 "$secs"
		t_contains "${name}_peek_exact" "$KT_WANT" "$peek"
	else
		t_eq "${name}_ss_no_timer" none "$secs"
		t_contains "${name}_peek_untouched" "$KT_UNTOUCHED" "$peek"
	fi
}

# kt_check_connected NAME MODE PORT CMD...: CMD (with its env prefix) is a
# client that connects to PORT, prints its line and holds until killed.
kt_check_connected() {
	local name=$1 mode=$2 port=$3 line want=$KT_WANT
	shift 3
	[ "$mode" = shim ] || want=$KT_UNTOUCHED
	kt_bg "$T_TMP/$name" "$@"
	if ! line=$(kt_wait_line "$T_TMP/$name" 'keepalive='); then
		t_fail "$name" "no line from the client: $(cat "$T_TMP/$name.err")"
		kt_stop "$KT_PID"
		return
	fi
	t_eq "${name}_values" "$want" "$line"
	kt_outside "$name" "$mode" "$KT_PID" dport = :"$port"
	kt_stop "$KT_PID"
}

# kt_check_accepted NAME MODE HOST CMD...: CMD (with its env prefix) is a
# server that prints "listening PORT" and "accepted LINE" and then holds; a
# client without the shim connects to HOST and holds too.  With KT_SERVER_PORT
# set, the server listens there and need not print "listening" (socket
# activation starts the program only at the first connection).
KT_SERVER_PORT=
kt_check_accepted() {
	local name=$1 mode=$2 host=$3 line want=$KT_WANT port=$KT_SERVER_PORT spid cpid
	shift 3
	[ "$mode" = shim ] || want=$KT_UNTOUCHED
	kt_bg "$T_TMP/$name.srv" "$@"
	spid=$KT_PID
	if [ -n "$port" ]; then
		wait_listen "$port" 40 || port=
	else
		port=$(kt_port "$T_TMP/$name.srv")
	fi
	if [ -z "$port" ]; then
		t_fail "$name" "server did not listen: $(cat "$T_TMP/$name.srv.err")"
		kt_stop "$spid"
		return
	fi
	kt_bg "$T_TMP/$name.cli" "${KT_NOSHIM[@]}" "$KT_PROBE" client "$host" "$port" --hold -1
	cpid=$KT_PID
	if ! line=$(kt_wait_line "$T_TMP/$name.srv" '^accepted '); then
		t_fail "$name" "nothing accepted: $(cat "$T_TMP/$name.srv.err" "$T_TMP/$name.cli.err")"
	else
		t_eq "${name}_values" "accepted $want" "$line"
		kt_outside "$name" "$mode" "$spid" sport = :"$port"
	fi
	kt_stop "$cpid"
	kt_stop "$spid"
}
