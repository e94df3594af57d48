#!/usr/bin/python3
"""`espfab watch` on a terminal (issue 17), checked on an emulated screen.

  watch_tty.py BIN_DIR EXAMPLES_DIR

`espfab watch` runs on a pty whose output feeds a VT100 emulator
(python3-pyte). A station with 3 simulated boards and 9 absent ports (more
than the 12-row window holds) provisions a batch of 3 with long port names
(their lines are wider than 80 columns). Then:
  - every screen line is one line of a frame (header, a port, "... more
    ports", a batch, an event), no line wrapped or stale, header and each
    port at most once, nothing below the frame;
  - states are words, and coloured: "done" green, "absent" dim;
  - after the window shrinks to 60x8 (SIGWINCH) the next frame fits it;
  - the daemon restarts: watch keeps running, says it is reconnecting, and
    picks the station up again.
"""
import json
import os
import pty
import re
import fcntl
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

import pyte

BIN, EX = (os.path.abspath(a) for a in sys.argv[1:3])
tmp = tempfile.mkdtemp(prefix='espfab-watch.')
procs = []
lock = threading.Lock()
screen = pyte.Screen(80, 12)
stream = pyte.ByteStream(screen)
NAMES = ['fixture-slot-%02d-long-name' % n for n in range(1, 13)]


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def die(msg):
    with lock:
        shown = '\n'.join('|%s|' % l for l in screen.display)
    print('FAIL: %s\n--- screen\n%s' % (msg, shown), file=sys.stderr)
    if watch_pid:
        try:
            os.kill(watch_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    cleanup()
    sys.exit(1)


def espfab(*args):
    return subprocess.run([os.path.join(BIN, 'espfab')] + list(args), capture_output=True, text=True, timeout=60)


watch_pid = 0
db = os.path.join(tmp, 'db')
sock = os.path.join(tmp, 'sock')
if espfab('part', os.path.join(EX, 'partitions.csv'), os.path.join(tmp, 'pt.bin')).returncode:
    die('partition table')
table = open(os.path.join(tmp, 'pt.bin'), 'rb').read()
for args in (['product', 'add', 'lamp', os.path.join(EX, 'config.csv'), '--table', os.path.join(EX, 'partitions.csv')],
             ['records', 'import', '--product', 'lamp', os.path.join(EX, 'values.csv')]):
    if espfab('--db', db, *args).returncode:
        die('espfab %s' % args[:2])
ports = []
for n, name in enumerate(NAMES):
    link = os.path.join(tmp, 'd%d' % n)
    if n < 3:
        img = bytearray(b'\xff' * (4 << 20))
        img[0x8000:0x8000 + len(table)] = table
        open(link + '.flash', 'wb').write(img)
        procs.append(subprocess.Popen([os.path.join(BIN, 'espfab-sim'), '--chip', 'esp32s3', '--link', link,
                                       '--flash', link + '.flash', '--mac', '24:0a:c4:00:23:0%d' % n],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(100):
            if os.path.islink(link):
                break
            time.sleep(0.1)
    ports += ['--port', '%s=%s' % (name, link)]


def daemon():
    p = subprocess.Popen([os.path.join(BIN, 'espfabd'), '--foreground', '--db', db, '--socket', sock, '--station',
                          'watch', '--before', 'no_reset'] + ports,
                         stdout=open(os.path.join(tmp, 'daemon.log'), 'a'), stderr=subprocess.STDOUT)
    procs.append(p)
    for _ in range(100):
        if espfab('--socket', sock, 'status').returncode == 0:
            return p
        time.sleep(0.1)
    die('espfabd did not answer')


d = daemon()
# espfab watch on a pty of 80x12, its own session (SIGWINCH reaches it).
watch_pid, master = pty.fork()
if watch_pid == 0:
    os.environ['TERM'] = 'xterm-256color'
    os.environ.pop('NO_COLOR', None)
    os.execv(os.path.join(BIN, 'espfab'), ['espfab', '--socket', sock, 'watch'])
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', 12, 80, 0, 0))
os.kill(watch_pid, signal.SIGWINCH)


def reader():
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        with lock:
            stream.feed(data)


threading.Thread(target=reader, daemon=True).start()


def lines():
    with lock:
        return [l.rstrip() for l in screen.display]


def wait_for(pred, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if pred(lines()):
            return
        time.sleep(0.1)
    die('timed out waiting for %s' % what)


def alive():
    pid, _ = os.waitpid(watch_pid, os.WNOHANG)
    return pid == 0


LOG = re.compile(r'^  [0-9]{2}:[0-9]{2}:[0-9]{2} ')


def check_frame(width):
    """Every line on screen is one whole line of one frame."""
    ls = lines()
    used = [l for l in ls if l]
    if not used or not used[0].startswith('station watch: 12 ports'):
        die('no header in the first line')
    if sum(1 for l in ls if l.startswith('station ')) != 1:
        die('the header is on screen twice (a stale frame)')
    seen = set()
    end = max(i for i, l in enumerate(ls) if l)
    for i, l in enumerate(ls[:end + 1]):
        if i == 0:
            continue
        if len(l) >= width:
            die('line %d fills the whole width %d (not cut)' % (i, width))
        name = l.split(' ', 1)[0]
        if name in NAMES:
            if name in seen:
                die('port %s twice on screen' % name)
            seen.add(name)
            if not re.match(r'^\S+ +(absent|idle|waiting|busy|done|stopped|\?)\b', l):
                die('port line %d has no state word: %r' % (i, l))
        elif not (l.startswith('... ') or l.startswith('batch ') or LOG.match(l)):
            die('line %d is not a line of a frame (wrapped or stale): %r' % (i, l))
    if not any(l.startswith('... ') and 'more ports' in l for l in ls):
        die('12 ports in a %d-row window and no "more ports" line' % screen.lines)


wait_for(lambda ls: ls and ls[0].startswith('station watch'), 'the first frame')
r = espfab('--socket', sock, 'batch', 'add', '--product', 'lamp', '--count', '3')
if r.returncode:
    die('batch add: %s' % r.stderr)
bid = r.stdout.split()[1]
end = time.time() + 90
while json.loads(espfab('--socket', sock, 'batch', 'show', bid, '--json').stdout)['batches'][0]['state'] != 'done':
    if time.time() > end:
        die('batch not done')
    time.sleep(0.3)
wait_for(lambda ls: sum(1 for l in ls if re.match(r'^\S+ +done ', l)) == 3, 'three ports done')
time.sleep(0.5)
check_frame(80)

# Colour with words: "done" in green, "absent" dim.
with lock:
    buf = screen.buffer
    colours = {}
    for y in range(screen.lines):
        row = ''.join(buf[y][x].data for x in range(screen.columns))
        for word in ('done', 'absent'):
            m = re.match(r'^\S+ +(%s)\b' % word, row)
            if m:
                ch = buf[y][m.start(1)]
                colours.setdefault(word, (ch.fg, ch.bold))
if colours.get('done', ('',))[0] != 'green':
    die('"done" is not green: %s' % colours)
if 'absent' not in colours:
    die('no absent port on screen')

# A smaller window: the next frame fits it.
with lock:
    screen.resize(8, 60)
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', 8, 60, 0, 0))
os.kill(watch_pid, signal.SIGWINCH)
time.sleep(0.6)
r = espfab('--socket', sock, 'batch', 'add', '--product', 'lamp', '--count', '1', '--ports', NAMES[5])
wait_for(lambda ls: any('batch ' in l and 'queued' not in l for l in ls), 'a frame after the resize', 10)
time.sleep(0.5)
check_frame(60)

# The daemon restarts: watch stays, reconnects, shows the station again.
d.terminate()
d.wait(30)
wait_for(lambda ls: ls and 'reconnecting' in ls[0], 'a reconnecting header', 15)
if not alive():
    die('espfab watch exited when the daemon stopped')
d = daemon()
wait_for(lambda ls: ls and ls[0].startswith('station watch') and 'reconnecting' not in ls[0], 'the reconnection', 20)
if not alive():
    die('espfab watch exited')
check_frame(60)
os.kill(watch_pid, signal.SIGTERM)
os.waitpid(watch_pid, 0)
cleanup()
print('ok: frames fit 80x12 and 60x8, coloured text states, reconnected after a daemon restart')
