#!/usr/bin/env bash
# make install / make uninstall: the installed layout under a DESTDIR, baked-in
# paths (no @PLACEHOLDER@ left), an operator's keepalive.conf never
# overwritten, uninstall removing exactly what install put there; then an
# install under a temporary PREFIX whose tools find the installed library
# and helper and really work.
# The install runs from a snapshot of the tree (without .git and build/,
# plus the built library and helper) with `make -o all`, so that it neither
# rebuilds nor races with edits to the working tree.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

SCRIPTS=(keepalive-run keepalive-check keepalive-systemd keepalive-preload)
VERSION=$(sed -n 's/^VERSION[[:space:]]*=[[:space:]]*//p' "$TOP_DIR/Makefile")

for f in "$KAP_LIB" "$KAP_BUILD/keepalive-check-helper"; do
	if [ ! -f "$f" ]; then
		t_fail setup "missing $f (run make)"
		exit 1
	fi
done
sum() { if [ -e "$1" ]; then md5sum <"$1"; else echo absent; fi; }
etc_conf_before=$(sum /etc/keepalive.conf)

# ---- the snapshot -----------------------------------------------------------
SRC=$T_TMP/src
mkdir -p "$SRC/build"
(cd "$TOP_DIR" && tar --exclude=./.git --exclude=./build -cf - .) | tar -C "$SRC" -xf -
cp "$KAP_LIB" "$KAP_BUILD/keepalive-check-helper" "$SRC/build/"
# Files other people are still writing: a marked stand-in keeps the layout
# check running; what needs the real file is skipped.
stub=()
for f in "${SCRIPTS[@]/#/scripts/}" keepalive.conf.example README.md LICENSE; do
	if [ ! -e "$SRC/$f" ]; then
		case $f in
		scripts/*) printf '#!/bin/sh\n# stand-in for a script not written yet\n' >"$SRC/$f" ;;
		*) printf '# stand-in for a file not written yet\n' >"$SRC/$f" ;;
		esac
		stub+=("$f")
		t_skip "real_$f" "$f does not exist yet: a stand-in was installed"
	fi
done
is_stub() { [[ " ${stub[*]:-} " == *" $1 "* ]]; }

inst() { make -s -C "$SRC" -o all "$@" 2>&1; }

# ---- DESTDIR install --------------------------------------------------------
D=$T_TMP/dest
out=$(inst install DESTDIR="$D" PREFIX=/usr)
t_eq destdir_install_exit_0 0 "$?"
expected="etc/keepalive.conf
usr/bin/keepalive-check
usr/bin/keepalive-preload
usr/bin/keepalive-run
usr/bin/keepalive-systemd
usr/lib/libkapreload.so
usr/libexec/libkapreload/keepalive-check-helper
usr/share/doc/libkapreload/LICENSE
usr/share/doc/libkapreload/README.md
usr/share/doc/libkapreload/keepalive.conf.example"
files() { (cd "$1" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort); }
t_eq destdir_layout "$expected" "$(files "$D")"
for s in "${SCRIPTS[@]}"; do
	t_eq "destdir_mode_$s" 755 "$(stat -c %a "$D/usr/bin/$s" 2>/dev/null)"
done
t_check destdir_library_is_the_build cmp -s "$KAP_LIB" "$D/usr/lib/libkapreload.so"
t_check destdir_helper_is_the_build cmp -s "$KAP_BUILD/keepalive-check-helper" \
	"$D/usr/libexec/libkapreload/keepalive-check-helper"
t_check destdir_conf_is_the_example cmp -s "$SRC/keepalive.conf.example" "$D/etc/keepalive.conf"

# Every placeholder replaced; the control: the sources do carry them.
ph='@\(LIBDIR\|LIBEXECDIR\|SYSCONFDIR\|VERSION\)@'
t_eq destdir_placeholders_replaced "" "$(cd "$D/usr/bin" && grep -l "$ph" "${SCRIPTS[@]}")"
t_contains placeholders_control_sources_have_them "keepalive-systemd" "$(cd "$SRC/scripts" && grep -l "$ph" "${SCRIPTS[@]}")"
t_eq destdir_libdir_baked_in 'LIBDIR="/usr/lib"' "$(grep '^LIBDIR=' "$D/usr/bin/keepalive-systemd")"
for s in "${SCRIPTS[@]}"; do
	if is_stub "scripts/$s"; then continue; fi
	# Installed and away from the tree, the version comes from the script.
	t_eq "destdir_version_$s" "$s (libkapreload) $VERSION" "$("$D/usr/bin/$s" --version 2>&1)"
done

# An operator's configuration survives a second install.
printf '\n# the operator was here\nidle = 123\n' >>"$D/etc/keepalive.conf"
mine=$(md5sum <"$D/etc/keepalive.conf")
out=$(inst install DESTDIR="$D" PREFIX=/usr)
t_eq reinstall_exit_0 0 "$?"
t_eq reinstall_keeps_operator_conf "$mine" "$(md5sum <"$D/etc/keepalive.conf")"
t_contains reinstall_says_kept "keeping existing" "$out"
t_eq reinstall_same_layout "$expected" "$(files "$D")"

# uninstall removes exactly that; configuration and directories stay.
out=$(inst uninstall DESTDIR="$D" PREFIX=/usr)
t_eq uninstall_exit_0 0 "$?"
t_eq uninstall_leaves_only_conf "etc/keepalive.conf" "$(files "$D")"
t_eq uninstall_keeps_operator_conf "$mine" "$(sum "$D/etc/keepalive.conf")"
t_contains uninstall_says_conf_kept "left in place" "$out"

# ---- a runnable install under a temporary PREFIX ----------------------------
P=$T_TMP/prefix
out=$(inst install PREFIX="$P" SYSCONFDIR="$P/etc")
t_eq prefix_install_exit_0 0 "$?"
PLIB=$P/lib/libkapreload.so
SR=$T_TMP/sysroot
mkdir -p "$SR"

if is_stub scripts/keepalive-systemd; then
	t_skip prefix_systemd "scripts/keepalive-systemd does not exist yet"
else
	out=$("$P/bin/keepalive-systemd" --dry-run demo --root "$SR" 2>/dev/null)
	t_contains prefix_systemd_finds_installed_library "Environment=\"LD_PRELOAD=$PLIB\"" "$out"
	# Control: the same script in the tree picks the tree's build instead.
	out=$("$SCRIPTS_DIR/keepalive-systemd" --dry-run demo --root "$SR" 2>/dev/null)
	t_not_contains prefix_systemd_control_tree_differs "$PLIB" "$out"
fi
if is_stub scripts/keepalive-preload; then
	t_skip prefix_preload "scripts/keepalive-preload does not exist yet"
else
	mkdir -p "$SR/etc"
	out=$("$P/bin/keepalive-preload" status --root "$SR" 2>&1)
	t_eq prefix_preload_status_exit_3 3 "$?"
	t_contains prefix_preload_finds_installed_library "$PLIB: not listed" "$out"
fi

# The installed keepalive-run really preloads the installed library, and the
# installed keepalive-check reads the exact values through the installed helper.
cat >"$T_TMP/conn.py" <<'EOF'
import socket, time
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname())
a, _ = srv.accept()
print("ready", srv.getsockname()[1], flush=True)
time.sleep(30)
EOF
if is_stub scripts/keepalive-run; then
	t_skip prefix_run "scripts/keepalive-run does not exist yet"
elif [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip prefix_run "a sanitizer build cannot be preloaded on its own"
else
	# shellcheck disable=SC2016 # the inner shell expands it
	out=$("$P/bin/keepalive-run" -- /bin/sh -c 'printf "%s" "$LD_PRELOAD"' 2>&1)
	t_contains prefix_run_preloads_installed_library "$PLIB" "$out"
	"$P/bin/keepalive-run" --idle 7 -- python3 "$T_TMP/conn.py" >"$T_TMP/conn.out" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	port=''
	for ((i = 0; i < 100; i++)); do
		port=$(sed -n 's/^ready //p' "$T_TMP/conn.out")
		[ -n "$port" ] && break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		t_fail prefix_run_keepalive "the program did not connect: $(cat "$T_TMP/conn.out")"
	else
		secs=$(ss_keepalive_secs "( dport = :$port )")
		if [[ $secs =~ ^[0-9]+$ ]] && [ "$secs" -le 7 ]; then
			t_pass prefix_run_keepalive
		else
			t_fail prefix_run_keepalive "want a keepalive timer <= 7 s, got [$(ss_timer "( dport = :$port )")]"
		fi
		if is_stub scripts/keepalive-check; then
			t_skip prefix_check_exact "scripts/keepalive-check does not exist yet"
		else
			out=$("$P/bin/keepalive-check" --exact --json "$pid" 2>&1)
			t_contains prefix_check_exact_uses_installed_helper '"idle": 7' "$out"
		fi
	fi
	kill "$pid" 2>/dev/null
fi

out=$(inst uninstall PREFIX="$P" SYSCONFDIR="$P/etc")
t_eq prefix_uninstall_exit_0 0 "$?"
t_eq prefix_uninstall_leaves_only_conf "etc/keepalive.conf" "$(files "$P")"
t_eq real_etc_keepalive_conf_untouched "$etc_conf_before" "$(sum /etc/keepalive.conf)"

t_done
