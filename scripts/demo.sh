#!/usr/bin/env bash
# make demo: show, from outside the processes, what libkapreload changes.
# Needs only the build output and iproute2's ss; no root, no python.
set -u

build=${1:-$(cd "$(dirname "$0")/../build" && pwd)}
lib=$build/libkapreload.so
server=$build/demo-server
idle=5 interval=2 count=3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kapdemo.XXXXXX")
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "demo: $*" >&2
	exit 1
}

if [ ! -f "$lib" ] || [ ! -x "$server" ]; then
	die "build first: make"
fi
command -v ss >/dev/null || die "ss not found (install iproute2)"

# start_server LOGFILE [ENV...]: a demo server; prints its port.
start_server() {
	local log=$1 i
	shift
	env "$@" "$server" >"$log" 2>&1 &
	pids+=($!)
	for ((i = 0; i < 50; i++)); do
		grep -q '^port ' "$log" 2>/dev/null && break
		sleep 0.1
	done
	sed -n 's/^port //p' "$log"
}

# hold_client PORT [ENV...]: a bash client that connects and stays idle.
hold_client() {
	local port=$1
	shift
	# bash's /dev/tcp is plain socket() + connect(): an unmodified program.
	env "$@" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && exec sleep 60" &
	pids+=($!)
}

# timer_of PID DIR: the ss timer field of PID's connection ("" when none).
# DIR: "client" (PID connected) or "server" (PID accepted).
timer_of() {
	local pid=$1 i line
	for ((i = 0; i < 30; i++)); do
		line=$(ss -Htnpoe state established 2>/dev/null | grep "pid=$pid,")
		if [ -n "$line" ]; then
			printf '%s\n' "$line" | head -n 1 | grep -o 'timer:([^)]*)'
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# explain TIMER: what an operator should read in ss's timer field.
explain() {
	local t=$1 exp probes
	case $t in
	"timer:(keepalive,"*)
		exp=${t#timer:(keepalive,}
		probes=${exp#*,}
		probes=${probes%)}
		exp=${exp%%,*}
		case $exp in
		*ms) exp="${exp%ms} seconds (ss prints seconds with an 'ms' suffix)" ;;
		*sec) exp="${exp%sec} seconds" ;;
		*min) exp="${exp%min} minutes" ;;
		esac
		echo "    -> keepalive is ON: next probe in $exp, $probes unanswered so far."
		echo "       A dead peer is noticed after $idle + $interval x $count = $((idle + interval * count)) s of silence."
		;;
	"")
		echo "    -> no timer: keepalive is OFF. If the peer vanished (power loss, a NAT"
		echo "       forgetting the flow) this connection would wait forever."
		;;
	*)
		echo "    -> $t: another timer (data in flight); keepalive cannot be seen now."
		;;
	esac
}

show() { # TITLE PID
	local t
	t=$(timer_of "$2") || die "no connection found for pid $2"
	echo "  $1"
	echo "    ss -tnoe: ${t:-(no timer)}"
	explain "$t"
	echo
}

echo "libkapreload demo: TCP keepalive for a program that never asked for it"
echo "  library: $lib"
echo "  values:  KAP_IDLE=$idle KAP_INTERVAL=$interval KAP_COUNT=$count (built into this demo)"
echo

port=$(start_server "$tmp/plain.log" KAP_CONFIG=)
[ -n "$port" ] || die "demo server did not start"
echo "[1/3] a client WITHOUT the shim, connected to a plain server on 127.0.0.1:$port"
hold_client "$port" KAP_CONFIG=
show "client (bash /dev/tcp), no LD_PRELOAD:" "${pids[-1]}"

echo "[2/3] the same client WITH the shim"
hold_client "$port" KAP_CONFIG= LD_PRELOAD="$lib" KAP_IDLE=$idle KAP_INTERVAL=$interval KAP_COUNT=$count
show "client, LD_PRELOAD=$(basename "$lib"):" "${pids[-1]}"

echo "[3/3] a server WITH the shim, accepting a client that has no shim"
sport=$(start_server "$tmp/shim.log" KAP_CONFIG= LD_PRELOAD="$lib" KAP_IDLE=$idle KAP_INTERVAL=$interval KAP_COUNT=$count)
[ -n "$sport" ] || die "demo server under the shim did not start"
server_pid=${pids[-1]}
hold_client "$sport" KAP_CONFIG=
show "accepted connection in the server (pid $server_pid):" "$server_pid"

echo "Check your own programs the same way:  ss -tnoe state established"
echo "Run one under the shim:  scripts/keepalive-run --idle 60 --interval 10 --count 5 -- PROGRAM"
