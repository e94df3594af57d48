#!/usr/bin/env python3
"""The operator screen in a real browser.

    web_browser.py BIN_DIR ARTIFACT_DIR

Starts espfab-sim devices (three healthy, one flaky: it goes silent after 100
requests), espfabd with 32 slots (the other 28 have no port), espfab-web, and
headless Chromium driven through chromedriver's WebDriver HTTP API. Checks
that the 32 tiles fit 1920x1080, that tiles go through a busy state to
VERIFIED as a batch runs, that the flaky board's tile shows its reason and an
action, that no record value reaches the page, that a daemon restart shows
"station offline" and then comes back live, and that pause/resume needs the
operator token. Screenshots go to ARTIFACT_DIR. Every process is stopped by
PID; every wait is bounded. Chromium or chromedriver missing or not starting
is a failure, never a skip.
"""
import base64
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.path.abspath(sys.argv[1])
ART = os.path.abspath(sys.argv[2])
EX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples', 'lamp')
TOKEN = 'op-token-for-the-browser-test-0123456789'
WINDOW = (1920, 1080)
FLAKY_AFTER = int(os.environ.get('EF_FLAKY_AFTER', '100'))
DEADLINE = time.monotonic() + 150  # the whole test, whatever happens

procs = []
work = tempfile.mkdtemp(prefix='espfab-web.')


class Fail(Exception):
    pass


def log(msg):
    print(f'[{time.strftime("%H:%M:%S")}] {msg}', flush=True)


def start(args, logname, **kw):
    f = open(os.path.join(work, logname), 'ab')
    p = subprocess.Popen(args, stdout=kw.pop('stdout', f), stderr=f, stdin=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    if p in procs:
        procs.remove(p)


def wait_for(what, fn, timeout):
    end = min(time.monotonic() + timeout, DEADLINE)
    last = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
            last = v
        except Fail:
            raise
        except Exception as e:  # a page mid-render, a socket not up yet
            last = e
        time.sleep(0.1)
    raise Fail(f'{what}: not seen within {timeout} s (last: {last!r})')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- the station ----

def flash_image(path):
    with open(os.path.join(work, 'pt.bin'), 'rb') as f:
        table = f.read()
    img = bytearray(b'\xff' * (4 * 1024 * 1024))
    img[0x8000:0x8000 + len(table)] = table
    with open(path, 'wb') as f:
        f.write(img)


def sim(name, mac, *extra):
    link = os.path.join(work, name)
    flash = link + '.flash'
    if not os.path.exists(flash):
        flash_image(flash)
    p = start([f'{BIN}/espfab-sim', '--chip', 'esp32s3', '--link', link, '--flash', flash, '--mac', mac, *extra],
              f'{name}.sim.log')
    wait_for(f'espfab-sim {name}', lambda: os.path.islink(link), 30)
    return p


def cli(*args, check=True):
    r = subprocess.run([f'{BIN}/espfab', '--socket', os.path.join(work, 'sock'), *args], capture_output=True,
                       text=True, timeout=30)
    if check and r.returncode:
        raise Fail(f'espfab {" ".join(args)}: {r.stderr.strip()}')
    return r.stdout


def daemon(ports):
    args = [f'{BIN}/espfabd', '--foreground', '--db', os.path.join(work, 'db'), '--socket',
            os.path.join(work, 'sock'), '--station', 'web-e2e', '--before', 'no_reset']
    for name, path in ports:
        args += ['--port', f'{name}={path}']
    p = start(args, 'daemon.log')

    def up():
        if p.poll() is not None:
            raise Fail(f'espfabd exited at startup ({p.returncode}); see {work}/daemon.log')
        return cli('status', check=False).startswith('station')
    wait_for('espfabd answering on its socket', up, 20)
    return p


# ---- WebDriver over HTTP (chromedriver) ----

class Browser:
    ELEMENT = 'element-6066-11e4-a52e-4f735466cecf'

    def __init__(self):
        for exe in ('chromium', 'chromedriver'):
            if not shutil.which(exe):
                raise Fail(f'{exe} is not installed (tools/deps installs Debian\'s chromium and chromium-driver)')
        self.port = free_port()
        self.driver = start(['chromedriver', f'--port={self.port}'], 'chromedriver.log')
        self.base = f'http://127.0.0.1:{self.port}'
        wait_for('chromedriver ready', lambda: self._raw('GET', '/status')['value']['ready'], 20)
        caps = {'capabilities': {'alwaysMatch': {'browserName': 'chrome', 'goog:chromeOptions': {
            'binary': shutil.which('chromium'),
            'args': ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync',
                     '--disable-dev-shm-usage', f'--window-size={WINDOW[0]},{WINDOW[1]}',
                     f'--user-data-dir={os.path.join(work, "chromium-profile")}']}}}}
        try:
            v = self._raw('POST', '/session', caps, timeout=60)['value']
        except Exception as e:
            raise Fail(f'chromium did not start under chromedriver: {e}; see {work}/chromedriver.log')
        if 'sessionId' not in v:
            raise Fail(f'chromium did not start: {v}')
        self.sid = v['sessionId']
        # --window-size counts the browser's own frame: make the page's
        # viewport itself 1920x1080, like a kiosk on a 1080p screen.
        for _ in range(3):
            vw, vh = self.js('return [innerWidth, innerHeight]')
            if (vw, vh) == WINDOW:
                break
            rect = self.cmd('GET', '/window/rect')
            self.cmd('POST', '/window/rect', {'width': rect['width'] + WINDOW[0] - vw,
                                              'height': rect['height'] + WINDOW[1] - vh})

    def _raw(self, method, path, body=None, timeout=20):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise Fail(f'WebDriver {method} {path}: {e.code} {e.read()[:300]!r}')

    def cmd(self, method, path, body=None):
        return self._raw(method, f'/session/{self.sid}{path}', body)['value']

    def go(self, url):
        self.cmd('POST', '/url', {'url': url})

    def js(self, script, *args):
        return self.cmd('POST', '/execute/sync', {'script': script, 'args': list(args)})

    def find(self, css):
        return self.cmd('POST', '/element', {'using': 'css selector', 'value': css})[self.ELEMENT]

    def click(self, css):
        self.cmd('POST', f'/element/{self.find(css)}/click', {})

    def type(self, css, text):
        self.cmd('POST', f'/element/{self.find(css)}/value', {'text': text})

    def shot(self, name):
        png = base64.b64decode(self.cmd('GET', '/screenshot'))
        path = os.path.join(ART, name)
        with open(path, 'wb') as f:
            f.write(png)
        log(f'screenshot {path} ({len(png)} bytes)')

    def quit(self):
        try:
            self._raw('DELETE', f'/session/{self.sid}', timeout=10)
        except Exception:
            pass


TILES_JS = '''
const out = {};
for (const t of document.querySelectorAll('.tile')) {
  out[t.dataset.port] = {label: t.querySelector('.t-label').textContent, state: t.dataset.state,
    id: t.querySelector('.t-mac').textContent + " " + t.querySelector('.t-rec').textContent, failHidden: t.querySelector('.t-fail').hidden,
    reason: t.querySelector('.t-reason').textContent, action: t.querySelector('.t-action').textContent,
    error: t.querySelector('.t-error').textContent, tone: t.className,
    bar: t.querySelector('.t-bar').classList.contains('on'), pct: t.querySelector('.t-pct').textContent};
}
return out;'''


def http(method, url, headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    os.makedirs(ART, exist_ok=True)
    r = subprocess.run([f'{BIN}/espfab', 'part', os.path.join(EX, 'partitions.csv'), os.path.join(work, 'pt.bin')],
                       capture_output=True)
    if r.returncode:
        raise Fail('cannot build the partition table')
    # The product carries a 64 KiB application image, so each board shows a
    # progress bar that moves (the NVS write itself is one 24 KiB block).
    fw = os.path.join(work, 'fw')
    os.makedirs(fw)
    with open(os.path.join(fw, 'app.bin'), 'wb') as f:
        # Incompressible (sent as plain FLASH_DATA blocks), and the same
        # every run, so the flaky board's request count lands in verify.
        f.write(random.Random(1).randbytes(64 * 1024))
    with open(os.path.join(fw, 'flasher_args.json'), 'w') as f:
        json.dump({'flash_settings': {'flash_mode': 'dio', 'flash_size': '4MB', 'flash_freq': '80m'},
                   'flash_files': {'0x10000': 'app.bin'}, 'extra_esptool_args': {'chip': 'esp32s3'}}, f)
    db = os.path.join(work, 'db')
    for args in (['product', 'add', 'lamp', os.path.join(EX, 'config.csv'), '--table',
                  os.path.join(EX, 'partitions.csv'), '--unique', 'DeviceSecret', '--firmware',
                  os.path.join(fw, 'flasher_args.json')],
                 ['records', 'import', '--product', 'lamp', os.path.join(EX, 'values.csv')]):
        if subprocess.run([f'{BIN}/espfab', '--db', db, *args], capture_output=True).returncode:
            raise Fail(f'espfab {args[0]} {args[1]} failed')
    with open(os.path.join(EX, 'values.csv')) as f:
        secrets = [row['DeviceSecret'] for row in csv.DictReader(f) if row.get('DeviceSecret')]

    macs = {f's{n}': f'24:0a:c4:00:0e:0{n}' for n in range(1, 5)}
    for n in (1, 2, 3):
        sim(f'd{n}', macs[f's{n}'], '--program-us', '3000')  # about 1.5 s of firmware
    ports = [(f's{n}', os.path.join(work, f'd{n}')) for n in range(1, 5)]
    ports += [(f's{n}', os.path.join(work, f'no-port-{n}')) for n in range(5, 33)]
    d = daemon(ports)

    tok = os.path.join(work, 'token')
    with open(os.open(tok, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
        f.write(TOKEN + '\n')
    web = start([f'{BIN}/espfab-web', '--listen', '127.0.0.1:0', '--socket', os.path.join(work, 'sock'),
                 '--token-file', tok, '--retry-ms', '300', '--keepalive-ms', '2000'], 'web.log',
                stdout=subprocess.PIPE)
    line = web.stdout.readline().decode()
    if 'serving http://' not in line:
        raise Fail(f'espfab-web did not start: {line!r}; see {work}/web.log')
    url = line.split('serving ')[1].split()[0]
    log(f'espfab-web at {url}')

    b = Browser()
    try:
        run(b, url, d, ports, macs, secrets)
        # SIGTERM ends espfab-web cleanly and at once while the page's
        # stream is open (in the sanitizer build: no leak, no report).
        t0 = time.monotonic()
        stop(web)
        if time.monotonic() - t0 > 3:
            raise Fail(f'espfab-web took {time.monotonic() - t0:.1f} s to stop with a stream open')
    finally:
        b.quit()
    with open(os.path.join(work, 'web.log'), errors='replace') as f:
        wlog = f.read()
    if web.returncode != 0 or 'Sanitizer' in wlog:
        raise Fail(f'espfab-web exited {web.returncode} on SIGTERM: {wlog[-2000:]}')


def run(b, url, d, ports, macs, secrets):
    b.go(url)
    wait_for('page live with 32 tiles',
             lambda: b.js('return document.body.dataset.online === "1" && '
                          'document.querySelectorAll(".tile").length === 32'), 15)
    geo = b.js('''const r = [...document.querySelectorAll('.tile')].map(t => t.getBoundingClientRect());
      const l = document.querySelector('.tile .t-label');
      return {w: innerWidth, h: innerHeight, bottom: Math.max(...r.map(x => x.bottom)),
              right: Math.max(...r.map(x => x.right)), minW: Math.min(...r.map(x => x.width)),
              font: parseFloat(getComputedStyle(l).fontSize),
              scroll: document.documentElement.scrollHeight}''')
    log(f'geometry {geo}')
    if geo['w'] != WINDOW[0] or geo['h'] != WINDOW[1]:
        raise Fail(f'viewport is {geo["w"]}x{geo["h"]}, want {WINDOW}')
    if geo['bottom'] > geo['h'] or geo['right'] > geo['w'] or geo['scroll'] > geo['h']:
        raise Fail(f'32 tiles do not fit {WINDOW}: {geo}')
    if geo['font'] < 24:
        raise Fail(f'state label is {geo["font"]} px: too small to read from two metres')
    b.shot('01-idle-32-slots.png')

    # A batch of four: the healthy boards go through a busy state to
    # VERIFIED; the flaky one takes a record and loses contact, so the batch
    # stays active with one to go (for the operator's pause below).
    cli('batch', 'add', '--product', 'lamp', '--count', '4')
    # The flaky board is put in while the batch runs (so no idle probes
    # count against it): it answers FLAKY_AFTER requests, then is silent,
    # after its firmware and its record's write.
    sim('d4', macs['s4'], '--drop-after', str(FLAKY_AFTER))
    seen = {p: [] for p in macs}
    busy = {'CONNECTING', 'CHECKING', 'FLASHING', 'CLAIMING', 'WRITING', 'VERIFYING', 'RESETTING'}
    shot_busy = False
    bars = set()

    def provisioned():
        nonlocal shot_busy
        t = b.js(TILES_JS)
        bars.update(t[p]['pct'] for p in macs if t[p]['bar'])
        for p in macs:
            if not seen[p] or seen[p][-1] != t[p]['label']:
                seen[p].append(t[p]['label'])
        if not shot_busy and any(t[p]['bar'] and t[p]['pct'] not in ('0%', '100%') for p in macs):
            b.shot('02-progress.png')
            shot_busy = True
        return all(t[p]['label'] == 'VERIFIED' for p in ('s1', 's2', 's3')) and not t['s4']['failHidden'] and t
    t = wait_for('three tiles VERIFIED and the flaky one failed', provisioned, 60)
    log(f'labels seen: {seen}')
    for p in ('s1', 's2', 's3'):
        if not busy & set(seen[p]):
            raise Fail(f'tile {p} never showed a busy state: {seen[p]}')
        if macs[p] not in t[p]['id'] or 'lamp-' not in t[p]['id']:
            raise Fail(f'tile {p} does not show its MAC and record: {t[p]["id"]!r}')
    if 'WRITING' not in {lab for p in macs for lab in seen[p]}:
        raise Fail(f'no tile ever showed WRITING: {seen}')
    log(f'progress seen: {sorted(bars, key=lambda x: int(x[:-1]))}')
    if len([x for x in bars if 0 < int(x[:-1]) < 100]) < 2:
        raise Fail(f'no progress bar moving through a write: {bars}')
    s4 = t['s4']
    if 'FAILED' not in seen['s4']:
        raise Fail(f'the flaky tile never said FAILED: {seen["s4"]}')
    if 'Lost contact' not in s4['reason'] or 'no reply' not in s4['error'] or 'Reseat' not in s4['action']:
        raise Fail(f'the flaky tile does not show its reason and action: {s4}')
    # The reason, the action and the device's own words are inside the
    # tile, not clipped away (at 32 slots on 1080p).
    clip = b.js('''const t = document.querySelector('.tile[data-port="s4"]').getBoundingClientRect();
      return ['.t-reason', '.t-action', '.t-error'].map(c => {
        const r = document.querySelector('.tile[data-port="s4"] ' + c).getBoundingClientRect();
        return r.height > 0 && r.bottom <= t.bottom - 2; });''')
    if not all(clip):
        raise Fail(f'the failed tile clips its reason/action/device error: {clip}')
    b.shot('03-provisioned-one-failed.png')
    side = b.js('return {audit: [...document.querySelectorAll("#audit-list li")].map(x => x.textContent),'
                ' rate: document.querySelector("#rates b").textContent,'
                ' causes: document.querySelector("#causes").textContent,'
                ' batch: document.querySelector("#batch-list").textContent}')
    log(f'side panel {side}')
    if sum(' OK' in a for a in side['audit']) != 3 or sum('FAILED' in a for a in side['audit']) != 1:
        raise Fail(f'audit tail wants 3 OK and 1 FAILED: {side["audit"]}')
    if int(side['rate']) <= 0 or 'Lost contact' not in side['causes']:
        raise Fail(f'rates or failures by cause missing: {side}')
    wait_for('batch 1 shown with 3 of 4 verified',
             lambda: '3/4 verified' in b.js('return document.querySelector("#batch-list").textContent'), 10)
    # Never a record's value: not on the page, not in the API.
    text = b.js('return document.documentElement.outerHTML')
    st, body = http('GET', url + 'api/state')
    for s in secrets:
        if s in text or s.encode() in body:
            raise Fail('a DeviceSecret value reached the screen')

    # Operator: batch 1 still has one to go and no board takes it (all are
    # done or silent); pause and resume need the token. (Before the restart:
    # a restarted daemon sees the boards anew.)
    wait_for('batch 1 active on the page',
             lambda: b.js('const r = document.querySelector(\'.batch[data-batch="1"]\');'
                          'return r && r.dataset.state === "active"'), 10)
    if b.js('return document.querySelectorAll(".b-act").length') != 0:
        raise Fail('pause/resume buttons shown before the operator unlocked')
    st, body = http('POST', url + 'api/batch/1/pause')
    if st != 401:
        raise Fail(f'pause without a token answered {st}, want 401')
    st, body = http('POST', url + 'api/batch/1/pause', {'Authorization': 'Bearer not-the-token-at-all-0000'})
    if st != 401:
        raise Fail(f'pause with a wrong token answered {st}, want 401')
    b.click('#op-open')
    b.type('#op-token', TOKEN)
    b.click('#op-unlock')
    wait_for('Pause button', lambda: b.js('const x = document.querySelector(\'.batch[data-batch="1"] .b-act\');'
                                         'return x && x.dataset.action === "pause"'), 10)
    b.click('.batch[data-batch="1"] .b-act')
    wait_for('batch 1 PAUSED', lambda: b.js('const r = document.querySelector(\'.batch[data-batch="1"]\');'
                                           'return r && r.dataset.state === "paused"'), 10)
    if 'paused' not in cli('batch', 'show', '1'):
        raise Fail('the page said paused but espfabd does not')
    b.shot('04-operator-paused.png')
    b.click('.batch[data-batch="1"] .b-act')
    wait_for('batch 1 active again', lambda: b.js('const r = document.querySelector(\'.batch[data-batch="1"]\');'
                                                 'return r && r.dataset.state === "active"'), 10)
    # The daemon goes away: offline shown; back: live again.
    stop(d)
    wait_for('STATION OFFLINE shown',
             lambda: b.js('return !document.getElementById("offline").hidden && '
                          'document.body.dataset.online === "0" && '
                          'document.getElementById("offline-title").textContent === "STATION OFFLINE" && '
                          'document.getElementById("conn").textContent === "OFFLINE"'), 10)
    why = b.js('return document.getElementById("offline-why").textContent')
    if 'espfabd' not in why:
        raise Fail(f'offline banner does not say why: {why!r}')
    b.shot('05-station-offline.png')
    d = daemon(ports)
    wait_for('live again after the restart',
             lambda: b.js('return document.body.dataset.online === "1" && document.getElementById("offline").hidden'
                          ' && document.querySelectorAll(".tile").length === 32'), 15)
    # The tail survives the restart: it is read back from the audit trail.
    wait_for('audit tail seeded from the audit trail after the restart',
             lambda: len(b.js('return [...document.querySelectorAll("#audit-list li")]'
                              '.map(x => x.textContent)')) >= 4, 10)
    b.shot('06-live-again.png')

    log('all checks passed')


if __name__ == '__main__':
    rc = 1
    try:
        main()
        rc = 0
    except Fail as e:
        print(f'FAIL: {e}', file=sys.stderr)
    finally:
        for p in reversed(list(procs)):
            stop(p)
        if rc:
            for name in ('web.log', 'daemon.log', 'chromedriver.log'):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    with open(path, errors='replace') as f:
                        tail = f.read().splitlines()[-15:]
                    print(f'--- {name} (last lines)\n' + '\n'.join(tail), file=sys.stderr)
        if not os.environ.get('EF_KEEP'):
            shutil.rmtree(work, ignore_errors=True)
    print('1 passed, 0 failed' if rc == 0 else '0 passed, 1 failed')
    sys.exit(rc)
