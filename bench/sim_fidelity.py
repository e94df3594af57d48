#!/usr/bin/env python3
"""How closely espfab-sim's real-time behaviour follows its own timing model.

A minimal lock-step ROM client (stdlib only) writes a 24 KiB NVS-like image
compressed (FLASH_DEFL_*) and checks it with SPI_FLASH_MD5, on a pty, at 115200
and 921600 baud, against one instance and against 8 and 16 instances in
parallel. For each run it prints the wall time next to the floor the model
implies for exactly the bytes exchanged:

    floor = (bytes sent + bytes received) * 10 / baud
            + sectors erased * erase time + pages programmed * program time

usage: sim_fidelity.py PATH/TO/espfab-sim [--erase-ms 45] [--program-us 400]
"""
import argparse
import hashlib
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
import tty
import zlib


def slip(pkt):
    return b"\xc0" + pkt.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class Client:
    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.baud(115200)
        self.buf = b""
        self.tx = self.rx = 0

    def baud(self, b):
        a = termios.tcgetattr(self.fd)
        a[4] = a[5] = getattr(termios, "B%d" % b)
        termios.tcsetattr(self.fd, termios.TCSANOW, a)

    def frame(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            s = self.buf.find(b"\xc0")
            if s >= 0:
                e = self.buf.find(b"\xc0", s + 1)
                while e == s + 1:
                    s, e = e, self.buf.find(b"\xc0", e + 1)
                if e > s:
                    raw = self.buf[s + 1:e]
                    self.rx += e + 1 - s
                    self.buf = self.buf[e + 1:]
                    return raw.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            self.buf += os.read(self.fd, 4096)

    def cmd(self, op, data=b"", chk=0, replies=1):
        pkt = slip(struct.pack("<BBHI", 0, op, len(data), chk) + data)
        self.tx += len(pkt)
        os.write(self.fd, pkt)
        got = []
        while len(got) < replies:
            f = self.frame(10)
            if f is None:
                raise RuntimeError("no reply to 0x%02x" % op)
            if f[0] == 1 and f[1] == op:
                got.append(f)
        status = got[0][-4]
        if status:
            raise RuntimeError("0x%02x failed: error 0x%02x" % (op, got[0][-3]))
        return got[0]


def session(path, baud, image, result, idx):
    c = Client(path)
    c.cmd(0x08, b"\x07\x07\x12\x20" + b"\x55" * 32, replies=8)
    if baud != 115200:
        c.cmd(0x0F, struct.pack("<II", baud, 0))
        c.baud(baud)
        time.sleep(0.05)
        termios.tcflush(c.fd, termios.TCIFLUSH)
        c.buf = b""
    c.tx = c.rx = 0
    t0 = time.monotonic()
    c.cmd(0x0D, b"\0" * 8)
    c.cmd(0x0B, struct.pack("<IIIIII", 0, 4 << 20, 0x10000, 0x1000, 0x100, 0xFFFF))
    comp = zlib.compress(image, 9)
    blk = 0x400
    nblk = (len(comp) + blk - 1) // blk
    c.cmd(0x10, struct.pack("<IIIII", len(image), nblk, blk, 0x9000, 0))
    for seq in range(nblk):
        b = comp[seq * blk:(seq + 1) * blk]
        chk = 0xEF
        for x in b:
            chk ^= x
        c.cmd(0x11, struct.pack("<IIII", len(b), seq, 0, 0) + b, chk)
    r = c.cmd(0x13, struct.pack("<IIII", 0x9000, len(image), 0, 0))
    wall = time.monotonic() - t0
    ok = r[8:40].decode() == hashlib.md5(image).hexdigest()
    result[idx] = (wall, c.tx + c.rx, ok)
    os.close(c.fd)


def run(sim, n, baud, image, erase_ms, program_us):
    procs, paths = [], []
    try:
        for _ in range(n):
            p = subprocess.Popen([sim, "--chip", "esp32s3", "--erase-ms", str(erase_ms),
                                  "--program-us", str(program_us)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            procs.append(p)
            paths.append(p.stdout.readline().decode().strip())
        result = [None] * n
        threads = [threading.Thread(target=session, args=(paths[i], baud, image, result, i)) for i in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = time.monotonic() - t0
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
    sectors = (len(image) + 4095) // 4096
    pages = (len(image) + 255) // 256
    walls = [r[0] for r in result]
    wire = result[0][1]
    floor = wire * 10 / baud + sectors * erase_ms / 1000 + pages * program_us / 1e6
    return floor, max(walls), total, wire, all(r[2] for r in result)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sim")
    ap.add_argument("--erase-ms", type=int, default=45)
    ap.add_argument("--program-us", type=int, default=400)
    a = ap.parse_args()
    image = bytes((i * 7) & 0xFF for i in range(3000)) + b"\xff" * (24576 - 3000)
    print("24 KiB NVS-like image, FLASH_DEFL_* + SPI_FLASH_MD5, ESP32-S3 on a pty")
    print("%-8s %-4s %-10s %-10s %-8s %-12s %s" % ("baud", "devs", "floor s", "worst s", "ratio", "all devs s", "wire bytes"))
    for baud in (115200, 921600):
        for n in (1, 8, 16):
            floor, worst, total, wire, ok = run(a.sim, n, baud, image, a.erase_ms, a.program_us)
            print("%-8d %-4d %-10.3f %-10.3f %-8.3f %-12.3f %d%s" % (
                baud, n, floor, worst, worst / floor, total, wire, "" if ok else "  MD5 MISMATCH"))


if __name__ == "__main__":
    main()
