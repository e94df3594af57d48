#!/usr/bin/env python3
"""eFuse files of espfab-sim for the tests (format: docs/simulator.md,
"espfab-efuse 1\\n" + 11 blocks x 11 little-endian words), and the key
blocks' RS code (rs12) for scripts that import it.
  efuse_file.py write FILE KIND    KIND: wrong-purpose | user-data | purpose-only | hmac-key
  efuse_file.py key FILE BLOCK     the key burnt in BLOCK_KEY<BLOCK>, hex (the simulator keeps
                                   read-protected fuses, as silicon does)
  efuse_file.py keyfile FILE BLOCK OUT   the XTS keys derived from it (nvs_keys.bin layout)
  efuse_file.py blk FILE           all words, hex, for before/after comparisons"""
import hashlib, hmac, struct, sys


def gmul(a, b):
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= 0x11D
        b >>= 1
    return r


def rs_check(data, nsym):  # reedsolo RSCodec(nsym).encode(data)[len(data):]
    gen = [1]
    for i in range(nsym):
        root = 1
        for _ in range(i):
            root = gmul(root, 2)
        gen = [a ^ gmul(b, root) for a, b in zip(gen + [0], [0] + gen)]
    msg = list(data) + [0] * nsym
    for i in range(len(data)):
        c = msg[i]
        if c:
            for j in range(1, nsym + 1):
                msg[i + j] ^= gmul(gen[j], c)
    return bytes(msg[len(data):])


def rs12(data):  # reedsolo RSCodec(12).encode(data)[32:], the key blocks' code
    return rs_check(data, 12)


def load(path):
    b = open(path, "rb").read()
    assert b.startswith(b"espfab-efuse 1\n"), path
    w = struct.unpack("<121I", b[15:15 + 484])
    return [list(w[i * 11:(i + 1) * 11]) for i in range(11)]


def save(path, fuse):
    with open(path, "wb") as f:
        f.write(b"espfab-efuse 1\n")
        for b in fuse:
            f.write(struct.pack("<11I", *b))


def key_of(fuse, k):
    return struct.pack("<8I", *fuse[4 + k][:8])


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "write":
        fuse = [[0] * 11 for _ in range(11)]
        kind = sys.argv[3]
        if kind == "wrong-purpose":      # KEY_PURPOSE_1 = XTS_AES_128_KEY (4)
            fuse[0][2] = 4 << 28
        elif kind == "user-data":        # BLOCK_KEY1 holds USER data (valid RS)
            d = struct.pack("<8I", 0x1234, 0, 0, 0, 0, 0, 0, 0)
            fuse[5] = list(struct.unpack("<8I", d)) + list(struct.unpack("<3I", rs12(d)))
        elif kind == "purpose-only":     # HMAC_UP purpose on an empty block
            fuse[0][2] = 8 << 28
        elif kind == "hmac-key":         # a read-protected HMAC_UP key from an earlier run
            d = bytes(range(100, 132))
            fuse[5] = list(struct.unpack("<8I", d)) + list(struct.unpack("<3I", rs12(d)))
            fuse[0][0] = 1 << 9 | 1 << 24
            fuse[0][1] = 1 << 1
            fuse[0][2] = 8 << 28
        else:
            sys.exit("unknown kind " + kind)
        save(sys.argv[2], fuse)
    elif cmd == "key":
        print(key_of(load(sys.argv[2]), int(sys.argv[3])).hex())
    elif cmd == "keyfile":
        k = key_of(load(sys.argv[2]), int(sys.argv[3]))
        e = hmac.new(k, bytes([0x5A, 0x5A, 0xBE, 0xAE]) * 8, hashlib.sha256).digest()
        t = hmac.new(k, bytes([0xA5, 0xA5, 0xDE, 0xCE]) * 8, hashlib.sha256).digest()
        open(sys.argv[4], "wb").write(e + t + b"\xff" * (4096 - 64))
    elif cmd == "blk":
        print(" ".join("%08x" % w for b in load(sys.argv[2]) for w in b))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
