#!/usr/bin/env python3
"""Stand-in for the parts of systemd that espfabd talks to, for tests on a
machine without systemd as PID 1:

  fake_systemd.py DIR -- COMMAND...

- $NOTIFY_SOCKET: a datagram socket; each message is appended to DIR/notify
  (one line per datagram, newlines inside a message become ' | ');
- $WATCHDOG_USEC=1000000 (so keep-alives every ~0.5 s are expected);
- socket activation: DIR/sock is created and listening, handed over as fd 3
  with $LISTEN_FDS=1 and $LISTEN_PID of the child;
- the journal: if /run/systemd/journal/socket can be bound (the caller runs
  us in a private mount namespace with a tmpfs on /run), every native
  journal datagram is decoded and appended to DIR/journal as one JSON object
  per line; the child's stderr goes to DIR/stderr and $JOURNAL_STREAM names
  that file, as systemd does for its stdout/stderr stream.
SIGTERM is passed on to the child; we exit with its status.
"""
import json
import os
import signal
import socket
import struct
import sys
import threading


def decode_journal(data):
    """The native protocol: KEY=value\\n, or KEY\\n + le64 size + bytes + \\n."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b'\n', i)
        line = data[i:nl]
        if b'=' in line:
            k, v = line.split(b'=', 1)
            i = nl + 1
        else:
            k = line
            (size,) = struct.unpack('<Q', data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode(errors='replace')
    return fields


def reader(sock, path, journal):
    with open(path, 'a') as f:
        while True:
            try:
                data = sock.recv(1 << 20)
            except OSError:
                return
            if not data:
                continue
            if journal:
                f.write(json.dumps(decode_journal(data)) + '\n')
            else:
                f.write(data.decode(errors='replace').replace('\n', ' | ') + '\n')
            f.flush()


def main():
    d = sys.argv[1]
    cmd = sys.argv[sys.argv.index('--') + 1:]
    env = dict(os.environ)

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(d, 'notify.sock'))
    threading.Thread(target=reader, args=(notify, os.path.join(d, 'notify'), False), daemon=True).start()
    env['NOTIFY_SOCKET'] = os.path.join(d, 'notify.sock')
    env['WATCHDOG_USEC'] = '1000000'

    have_journal = False
    try:
        os.makedirs('/run/systemd/journal', exist_ok=True)
        jsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        jsock.bind('/run/systemd/journal/socket')
        threading.Thread(target=reader, args=(jsock, os.path.join(d, 'journal'), True), daemon=True).start()
        have_journal = True
    except OSError as e:
        print('fake_systemd: no journal socket (%s)' % e, file=sys.stderr)
    err = open(os.path.join(d, 'stderr'), 'ab')
    if have_journal:
        st = os.fstat(err.fileno())
        env['JOURNAL_STREAM'] = '%d:%d' % (st.st_dev, st.st_ino)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(os.path.join(d, 'sock'))
    listener.listen(16)

    pid = os.fork()
    if pid == 0:
        os.dup2(listener.fileno(), 3)
        os.set_inheritable(3, True)
        os.dup2(err.fileno(), 2)
        env['LISTEN_FDS'] = '1'
        env['LISTEN_PID'] = str(os.getpid())
        os.execvpe(cmd[0], cmd, env)
    listener.close()
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    sys.exit(os.waitstatus_to_exitcode(status) if status else 0)


if __name__ == '__main__':
    main()
