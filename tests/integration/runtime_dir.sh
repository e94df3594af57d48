#!/bin/sh
# The control socket survives a restart of espfabd under socket activation
# (issue 17). espfabd.socket listens in the service's RuntimeDirectory=;
# systemd removes that directory when the service stops unless
# RuntimeDirectoryPreserve= keeps it (systemd.exec(5)), and the socket
# unit, still running, does not create its file again. Without systemd as
# PID 1, this plays systemd's part from the BUILT unit files, in a private
# mount namespace with a tmpfs on /run (so the real /run/espfab path is used):
# the socket unit binds ListenStream= once; the service is started (its
# RuntimeDirectory= made, the socket passed as fd 3 with LISTEN_FDS),
# restarted (the directory removed first if the unit says so) and started
# again; each time `espfab status`, with its default socket, must reach it.
#   runtime_dir.sh BIN_DIR BUILT_UNIT_DIR
set -eu
if [ "${1:-}" = "--inner" ]; then
	shift
	BIN=$1 UNITS=$2
	mount -t tmpfs tmpfs /run
	tmp=$(mktemp -d /tmp/espfab-rt.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	exec python3 - "$BIN" "$UNITS" "$tmp" <<'PY'
import os, signal, socket, subprocess, sys, time
bin_dir, units, tmp = sys.argv[1:]

def key(path, k, default=None):
    v = default
    for line in open(path):
        if line.startswith(k + '='):
            v = line.split('=', 1)[1].strip()
    return v

svc = os.path.join(units, 'espfabd.service')
listen = key(os.path.join(units, 'espfabd.socket'), 'ListenStream')
rtdir = '/run/' + key(svc, 'RuntimeDirectory')
preserve = key(svc, 'RuntimeDirectoryPreserve', 'no')
assert listen and listen.startswith('/'), listen

# The socket unit: its parent directories are made, the socket bound once.
os.makedirs(os.path.dirname(listen), exist_ok=True)
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(listen)
ls.listen(16)

def start(n):
    os.makedirs(rtdir, mode=0o750, exist_ok=True)
    pid = os.fork()
    if pid == 0:
        os.dup2(ls.fileno(), 3)
        os.set_inheritable(3, True)
        env = dict(os.environ, LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))
        log = os.open(os.path.join(tmp, 'daemon%d.log' % n), os.O_WRONLY | os.O_CREAT, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.execve(os.path.join(bin_dir, 'espfabd'),
                  ['espfabd', '--foreground', '--db', os.path.join(tmp, 'db'), '--station', 'rt'], env)
    return pid

def reachable():
    end = time.time() + 10
    while time.time() < end:
        # No --socket: the CLI's default must be the socket unit's path.
        if subprocess.run([os.path.join(bin_dir, 'espfab'), 'status'], capture_output=True).returncode == 0:
            return True
        time.sleep(0.1)
    return False

for n, action in ((1, 'start'), (2, 'restart'), (3, 'stop and start')):
    pid = start(n)
    ok = reachable()
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    if not ok:
        print('FAIL: after %s the CLI cannot reach espfabd at %s (RuntimeDirectoryPreserve=%s)'
              % (action if n > 1 else 'the first start', listen, preserve), file=sys.stderr)
        print(open(os.path.join(tmp, 'daemon%d.log' % n)).read()[-2000:], file=sys.stderr)
        sys.exit(1)
    # The service stops: systemd removes RuntimeDirectory= unless preserved
    # ("restart" keeps it only across a restart).
    if preserve == 'no' or (preserve == 'restart' and n == 2):
        subprocess.run(['rm', '-rf', rtdir], check=True)
print('ok: %s reachable across a restart and a stop/start (RuntimeDirectoryPreserve=%s)' % (listen, preserve))
PY
fi
BIN=$(cd "$1" && pwd)
UNITS=$(cd "$2" && pwd)
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "FAIL: needs root and mount namespaces (unshare -m) to use the real /run path" >&2
	exit 1
fi
exec unshare -m "$0" --inner "$BIN" "$UNITS"
