#!/usr/bin/env bash
# Secure execution. The shim is loaded the way /etc/ld.so.preload loads it,
# into a setuid-root program started by an unprivileged user (uid 65534)
# whose environment names a root-only secret file as KAP_CONFIG, asks for
# debug logging and names a log file. The program must not read the secret
# (its atime, on a strictatime tmpfs, stays put; strace shows no open), not
# echo it, and not create the log file; it still applies the root-owned
# /etc/keepalive.conf, which proves the shim was loaded.
# Runs in a private mount namespace with an overlay over /etc: the real /etc
# is never written.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

KH=$KAP_BIN/kh_hostile
t_require_files "$KAP_LIB" "$KH"
if ! is_root; then
	t_skip setuid "needs root (mount namespace, setuid binary)"
	exit 0
fi
if [ "${KAP_SANITIZE:-0}" = 1 ]; then
	t_skip setuid "the ASan runtime cannot be preloaded into a setuid program; runs in make test"
	exit 0
fi
for c in unshare setpriv; do
	if ! have "$c"; then
		t_skip setuid "$c not installed"
		exit 0
	fi
done

etc_before=$(ls -l --time-style=+%s /etc/ld.so.preload /etc/keepalive.conf 2>&1)

# Everything the unprivileged user runs must be reachable by uid 65534.
chmod 0711 "$T_TMP"
mkdir -m 0755 "$T_TMP/pub"
# The overlay's root takes the upper directory's mode: it must be /etc's.
mkdir -m 0755 "$T_TMP/up"
mkdir -m 0700 "$T_TMP/work" "$T_TMP/sec"
cp "$KH" "$T_TMP/pub/kh_suid"
cp "$KH" "$T_TMP/pub/kh_plain"
chmod 4755 "$T_TMP/pub/kh_suid"
chmod 0755 "$T_TMP/pub/kh_plain"

# The namespace's script. It prints KEY=VALUE lines for the checks below.
cat >"$T_TMP/ns.sh" <<'EOF'
set -u
d=$1 lib=$2
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/up,workdir=$d/work" /etc ||
	{ echo "SETUP=overlay mount on /etc failed"; exit 0; }
mount -t tmpfs -o strictatime,mode=0700 tmpfs "$d/sec" ||
	{ echo "SETUP=tmpfs mount failed"; exit 0; }
printf 'idle = TOPSECRET-8d1f\n' >"$d/sec/secret"
chmod 0600 "$d/sec/secret"
touch -a -d '2001-01-01 00:00:00' "$d/sec/secret"
printf 'idle = 77\ninterval = 12\n' >/etc/keepalive.conf
# From here on every dynamically linked program in the namespace loads the shim.
printf '%s\n' "$lib" >/etc/ld.so.preload
echo "ATIME0=$(stat -c %X "$d/sec/secret")"
# setpriv drops to nobody first, so that only the setuid program sees the
# KAP_* variables (env would otherwise read them with root's rights).
bad_env=(KAP_CONFIG="$d/sec/secret" KAP_LOG=debug KAP_LOG_TARGET="$d/pub/kap.log" KAP_IDLE=55)
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
	env "${bad_env[@]}" "$d/pub/kh_suid" sock 2>&1)
echo "RC=$?"
echo "OUT=$(printf '%s' "$out" | tr '\n' '|')"
echo "ATIME1=$(stat -c %X "$d/sec/secret")"
echo "LOG1=$([ -e "$d/pub/kap.log" ] && echo exists || echo none)"
# strace as root with -u keeps the setuid bit effective for the traced program.
if command -v strace >/dev/null; then
	strace -f -qq -u nobody -e trace=open,openat -o "$d/pub/st" \
		env "${bad_env[@]}" "$d/pub/kh_suid" sock >/dev/null 2>&1
	echo "STRACE_SECRET=$(grep -c 'sec/secret' "$d/pub/st")"
	echo "STRACE_CONF=$(grep -c '/etc/keepalive.conf' "$d/pub/st")"
fi
# Control: the same environment for a root program that is not setuid:
# nothing is secure there, so the file is read and its text shown.
out=$(env "${bad_env[@]}" "$d/pub/kh_plain" sock 2>&1)
echo "CTRL_OUT=$(printf '%s' "$out" | tr '\n' '|')"
echo "CTRL_ATIME=$(stat -c %X "$d/sec/secret")"
echo "CTRL_LOG=$([ -e "$d/pub/kap.log" ] && echo exists || echo none)"
echo "CTRL_LOG_TEXT=$(tr '\n' '|' <"$d/pub/kap.log" 2>/dev/null)"
EOF

res=$(timeout 60 unshare -m --propagation private bash "$T_TMP/ns.sh" "$T_TMP" "$KAP_LIB" 2>&1)
val() { sed -n "s/^$1=//p" <<<"$res" | head -n 1; }
if [ -n "$(val SETUP)" ]; then
	t_skip setuid "$(val SETUP)"
	exit 0
fi
if [ -z "$(val RC)" ]; then
	t_fail setuid_namespace "the namespace script did not run: $res"
	exit 1
fi
t_eq setuid_exit_status 0 "$(val RC)"
out=$(val OUT)
t_contains setuid_shim_loaded_uses_etc_file "keepalive=1 idle=77 interval=12" "$out"
t_not_contains setuid_env_value_ignored "idle=55" "$out"
t_not_contains setuid_secret_not_echoed "TOPSECRET" "$out"
t_not_contains setuid_no_message_at_all "libkapreload" "$out"
t_eq setuid_secret_not_read_atime "$(val ATIME0)" "$(val ATIME1)"
t_eq setuid_log_file_not_created none "$(val LOG1)"
if [ -n "$(val STRACE_SECRET)" ]; then
	t_eq setuid_strace_no_open_of_secret 0 "$(val STRACE_SECRET)"
	# The same trace does show the shim opening the root-owned file.
	if [ "$(val STRACE_CONF)" -ge 1 ]; then
		t_pass setuid_strace_sees_etc_file_open
	else
		t_fail setuid_strace_sees_etc_file_open "no open of /etc/keepalive.conf in the trace"
	fi
else
	t_skip setuid_strace_no_open_of_secret "strace not installed"
fi
# Controls: the checks above do see a read, an echo and a log file.
t_contains setuid_control_plain_program_echoes "TOPSECRET" "$(val CTRL_OUT) $(val CTRL_LOG_TEXT)"
if [ "$(val CTRL_ATIME)" != "$(val ATIME0)" ]; then
	t_pass setuid_control_plain_program_reads
else
	t_fail setuid_control_plain_program_reads "atime unchanged: the atime check cannot see a read"
fi
t_eq setuid_control_plain_program_logs exists "$(val CTRL_LOG)"
t_eq setuid_real_etc_untouched "$etc_before" \
	"$(ls -l --time-style=+%s /etc/ld.so.preload /etc/keepalive.conf 2>&1)"

t_done
