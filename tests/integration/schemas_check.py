#!/usr/bin/env python3
"""Everything espfabd and espfab put out as JSON validates against schemas/.

  schemas_check.py BIN_DIR SCHEMAS_DIR EXAMPLES_DIR

Runs a daemon with two simulated boards, a batch of 2 and an uplink to a
stand-in plant system, and validates with python3-jsonschema (draft 2020-12,
the schemas resolved by their $id):
  - every control reply, for every op and the error cases
    (control-response.json, and the op's own result definition);
  - every event a subscriber receives (control-event.json);
  - every uplink POST body (uplink-payload.json, rows: audit-row.json);
  - the --json output of the espfab commands (cli-json.json $defs).
Negative controls (a verified audit row without its image_sha256, an
unknown event, a reply without "v") must be refused, so the check can fail.
Every process started is stopped (by PID) on the way out.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jsonschema

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource
except ImportError:  # Debian 12's python3-jsonschema 4.10: RefResolver
    Registry = None

BIN, SCHEMAS, EX = (os.path.abspath(a) for a in sys.argv[1:4])
tmp = tempfile.mkdtemp(prefix='espfab-schemas.')
procs = []
failures = []


def die(msg):
    print('FAIL: ' + msg, file=sys.stderr)
    log = os.path.join(tmp, 'daemon.log')
    if os.path.exists(log):
        print('--- daemon log (tail)\n' + open(log).read()[-3000:], file=sys.stderr)
    cleanup()
    sys.exit(1)


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


def run(*args, ok=True):
    r = subprocess.run([os.path.join(BIN, 'espfab')] + list(args), capture_output=True, text=True, timeout=60)
    if ok and r.returncode:
        die('espfab %s: exit %d: %s' % (' '.join(args), r.returncode, r.stderr.strip()))
    return r


# ---- schemas, resolved by their $id ----
schemas = {}
for f in sorted(os.listdir(SCHEMAS)):
    if f.endswith('.json'):
        schemas[f] = json.load(open(os.path.join(SCHEMAS, f)))
by_id = {s['$id']: s for s in schemas.values()}
if Registry:
    registry = Registry().with_resources((i, Resource.from_contents(s)) for i, s in by_id.items())


def validator(name, pointer=None):
    s = schemas[name]
    if pointer:
        s = {'$ref': s['$id'] + '#' + pointer}
    if Registry:
        return jsonschema.Draft202012Validator(s, registry=registry)
    # base_uri '': RefResolver files the referrer under it (not over the real document).
    resolver = jsonschema.RefResolver(base_uri='', referrer=s, store=dict(by_id))
    return jsonschema.Draft202012Validator(s, resolver=resolver)


V_REPLY = validator('control-response.json')
V_EVENT = validator('control-event.json')
V_UPLINK = validator('uplink-payload.json')
V_ROW = validator('audit-row.json')
CLI_DEFS = schemas['cli-json.json']['$defs']
RESP_DEFS = schemas['control-response.json']['$defs']
counts = {'reply': 0, 'event': 0, 'uplink': 0, 'cli': 0}


def check(v, obj, what):
    errs = sorted(v.iter_errors(obj), key=lambda e: list(e.path))
    if errs:
        failures.append('%s: %s at %s (in %s)' % (what, errs[0].message[:200], list(errs[0].path),
                                                 json.dumps(obj)[:300]))
    return not errs


# ---- the plant's system: records raw POST bodies ----
bodies = []


class Mes(BaseHTTPRequestHandler):
    def do_POST(self):
        bodies.append(self.rfile.read(int(self.headers.get('Content-Length', '0'))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *a):
        pass


mes = HTTPServer(('127.0.0.1', 0), Mes)
threading.Thread(target=mes.serve_forever, daemon=True).start()

# ---- boards, product, daemon ----
pt = os.path.join(tmp, 'pt.bin')
run('part', os.path.join(EX, 'partitions.csv'), pt)
table = open(pt, 'rb').read()
ports = []


def board(n):
    img = bytearray(b'\xff' * (4 << 20))
    img[0x8000:0x8000 + len(table)] = table
    open(os.path.join(tmp, 'd%d.flash' % n), 'wb').write(img)
    link = os.path.join(tmp, 'd%d' % n)
    procs.append(subprocess.Popen([os.path.join(BIN, 'espfab-sim'), '--chip', 'esp32s3', '--link', link,
                                   '--flash', os.path.join(tmp, 'd%d.flash' % n), '--mac',
                                   '24:0a:c4:00:22:0%d' % n], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    for _ in range(100):
        if os.path.islink(link):
            return
        time.sleep(0.1)
    die('espfab-sim d%d did not start' % n)


# d2 is plugged in once a subscriber listens: it sees the arrival.
board(1)
for n in (1, 2):
    ports += ['--port', 's%d=%s' % (n, os.path.join(tmp, 'd%d' % n))]
db = os.path.join(tmp, 'db')
run('--db', db, 'product', 'add', 'lamp', os.path.join(EX, 'config.csv'), '--table',
    os.path.join(EX, 'partitions.csv'), '--unique', 'DeviceSecret')
run('--db', db, 'records', 'import', '--product', 'lamp', os.path.join(EX, 'values.csv'))
sock = os.path.join(tmp, 'sock')
conf = os.path.join(tmp, 'espfabd.conf')
open(conf, 'w').write('uplink = http://127.0.0.1:%d/audit\n' % mes.server_address[1])
procs.append(subprocess.Popen([os.path.join(BIN, 'espfabd'), '--foreground', '--config', conf, '--db', db,
                               '--socket', sock, '--station', 'schemas', '--before', 'no_reset'] + ports,
                              stdout=open(os.path.join(tmp, 'daemon.log'), 'w'), stderr=subprocess.STDOUT))
for _ in range(100):
    if run('--socket', sock, 'status', ok=False).returncode == 0:
        break
    time.sleep(0.1)
else:
    die('espfabd did not answer')


def lines_of(raw_lines, timeout=5.0):
    """Send raw lines on one connection, return the reply lines (one per line sent)."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    c.settimeout(timeout)
    c.sendall(b''.join(l + b'\n' for l in raw_lines))
    buf, out = b'', []
    while len(out) < len(raw_lines):
        chunk = c.recv(65536)
        if not chunk:
            break
        buf += chunk
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            out.append(json.loads(line))
    c.close()
    return out


def req(op, **fields):
    return json.dumps(dict(v=1, id=op, op=op, **fields)).encode()


def reply_check(op, r):
    counts['reply'] += 1
    check(V_REPLY, r, 'reply to %s' % op)
    if r.get('ok') and op in RESP_DEFS:
        check(validator('control-response.json', '/$defs/' + op), r['result'], 'result of %s' % op)


# A subscriber from the start: every event until the batch is done.
events = []
sub = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sub.connect(sock)
sub.sendall(req('subscribe') + b'\n')


def read_events():
    buf = b''
    while True:
        try:
            chunk = sub.recv(65536)
        except OSError:
            return
        if not chunk:
            return
        buf += chunk
        while b'\n' in buf:
            line, buf = buf.split(b'\n', 1)
            m = json.loads(line)
            if 'event' in m:
                events.append(m)
            else:
                reply_check('subscribe', m)


threading.Thread(target=read_events, daemon=True).start()
watch = subprocess.Popen([os.path.join(BIN, 'espfab'), '--socket', sock, 'watch', '--json', '--timeout', '120'],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
procs.append(watch)
time.sleep(0.5)
board(2)
end = time.time() + 30
while not any(e['event'] == 'device.arrived' and e.get('port') == 's2' for e in events):
    if time.time() > end:
        die('d2 did not arrive')
    time.sleep(0.1)

(add,) = lines_of([req('batch.add', product='lamp', count=2)])
reply_check('batch.add', add)
if not add.get('ok'):
    die('batch.add refused: %s' % add)
bid = add['result']['batch']
end = time.time() + 90
while True:
    (show,) = lines_of([req('batch.show', batch=bid)])
    if show['result']['batches'][0]['state'] == 'done':
        break
    if time.time() > end:
        die('batch not done: %s' % show)
    time.sleep(0.3)
# Every op once, and the error cases.
ops = [req('status'), req('batch.list'), req('batch.show', batch=bid), req('records.list'),
       req('records.list', product='lamp', state='verified', limit=5), req('records.stats'),
       req('records.stats', product='lamp'), req('audit'), req('audit', mac='24:0a:c4:00:22:01'),
       req('store', request={'cmd': 'records.stats'}), req('store', request={'cmd': 'audit', 'limit': 3}),
       req('store', request={'cmd': 'product.show', 'name': 'lamp'}), req('unsubscribe')]
names = [json.loads(o)['op'] for o in ops]
for name, r in zip(names, lines_of(ops)):
    reply_check(name, r)
bad = [b'not json', b'{"id":1,"op":"status"}', req('nosuchop'), req('batch.add', product='lamp', count=-1),
       req('batch.show', batch=99999), req('store', request={'cmd': 'records.list', 'reveal': True}),
       req('batch.add', product='nosuch', count=1)]
for r in lines_of(bad):
    reply_check('error case', r)
    if r.get('ok'):
        failures.append('an error case was served: %s' % r)
(p,) = lines_of([req('batch.add', product='lamp', count=1)])
reply_check('batch.add', p)
for op in ('batch.pause', 'batch.resume', 'batch.cancel'):
    (r,) = lines_of([req(op, batch=p['result']['batch'])])
    reply_check(op, r)
    if not r.get('ok'):
        failures.append('%s refused: %s' % (op, r))

# The uplink has delivered every row.
audit = json.loads(run('--db', db, 'audit', '--json').stdout)['audit']
end = time.time() + 30
while True:
    got = [row['id'] for b in bodies for row in json.loads(b)['rows']]
    if got and max(got) >= audit[-1]['id']:
        break
    if time.time() > end:
        die('uplink delivered rows up to %s, the audit has %d' % (max(got) if got else None, audit[-1]['id']))
    time.sleep(0.3)
for b in bodies:
    counts['uplink'] += 1
    check(V_UPLINK, json.loads(b), 'uplink body')

# espfab --json outputs (through --db and through the daemon).
cli = [('records.list', ['records', 'list', '--json']), ('records.stats', ['records', 'stats', '--json']),
       ('records.check', ['records', 'check', '--json']), ('product.list', ['product', 'list', '--json']),
       ('product.show', ['product', 'show', 'lamp', '--json']), ('audit', ['audit', '--json']),
       ('records.retire', ['records', 'retire', 'lamp-0020', '--reason', 'schema test', '--json'])]
for name, args in cli:
    for via in (['--db', db], ['--socket', sock]):
        if name == 'records.retire' and via[0] == '--socket':
            continue
        counts['cli'] += 1
        check(validator('cli-json.json', '/$defs/' + name), json.loads(run(*(via + args)).stdout),
              'espfab %s %s' % (via[0], ' '.join(args)))
for name, args in [('status', ['status', '--json']), ('batch.list', ['batch', 'list', '--json']),
                   ('batch.show', ['batch', 'show', str(bid), '--json']),
                   ('batch.add', ['batch', 'add', '--product', 'lamp', '--count', '1', '--json'])]:
    counts['cli'] += 1
    check(validator('cli-json.json', '/$defs/' + name), json.loads(run('--socket', sock, *args).stdout),
          'espfab %s' % ' '.join(args))
watch.terminate()
wout = watch.communicate(timeout=10)[0]
for line in wout.splitlines():
    counts['event'] += 1
    check(V_EVENT, json.loads(line), 'espfab watch --json line')
sub.close()
for e in events:
    counts['event'] += 1
    check(V_EVENT, e, 'event %s' % e.get('event'))
kinds = {e['event'] for e in events}
for k in ('snapshot', 'port', 'device.arrived', 'step', 'progress', 'result', 'batch'):
    if k not in kinds:
        failures.append('no %s event seen (saw %s)' % (k, sorted(kinds)))

# Negative controls: the schemas must refuse these.
ok_row = next((r for r in audit if r['event'] == 'provision' and r['result'] == 'ok'), None)
if not ok_row:
    failures.append('no verified provision row in the audit')
else:
    if not check(V_ROW, ok_row, 'verified audit row'):
        pass
    for broken in (dict(ok_row, image_sha256=None), dict(ok_row, mac='AA-BB'), dict(ok_row, extra=1)):
        if V_ROW.is_valid(broken):
            failures.append('audit-row.json accepts a broken row: %s' % json.dumps(broken)[:200])
if V_EVENT.is_valid({'v': 1, 'event': 'nosuch'}):
    failures.append('control-event.json accepts an unknown event')
if V_REPLY.is_valid({'id': 1, 'ok': True, 'result': {}}):
    failures.append('control-response.json accepts a reply without v')

cleanup()
if failures:
    print('FAIL: %d of %d objects do not validate' % (len(failures), sum(counts.values())), file=sys.stderr)
    for f in failures[:20]:
        print('  ' + f, file=sys.stderr)
    sys.exit(1)
print('ok: %d replies, %d events, %d uplink bodies, %d espfab --json outputs validate against schemas/'
      % (counts['reply'], counts['event'], counts['uplink'], counts['cli']))
