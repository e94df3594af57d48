#!/usr/bin/env python3
"""Self test of tools/check-layers: tiny fake trees laid out like espfab's,
checked with the real rules (tools/layers.txt), each with one injected
violation the checker must report and fail on; then the real tree with one
injected upward include. Usage: test_check_layers.py SOURCE_DIR"""
import os
import shutil
import sys
import contextlib
import importlib.machinery
import importlib.util
import io
import tempfile
import unittest

SRC = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
CHECK = os.path.join(SRC, "tools", "check-layers")
RULES = os.path.join(SRC, "tools", "layers.txt")

# The checker runs in this process (its main(), as the command line would
# call it): one interpreter instead of one per case keeps the test quick.
_loader = importlib.machinery.SourceFileLoader("check_layers", CHECK)
_spec = importlib.util.spec_from_loader("check_layers", _loader)
check_layers = importlib.util.module_from_spec(_spec)
_loader.exec_module(check_layers)


def run_check(args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        rc = check_layers.main(args)
    return rc, out.getvalue()

# A clean miniature of the tree: every include goes down a rule.
CLEAN = {
    "common/include/espfab/le.h": "",
    "protocol/include/espfab/port.h": '#include "espfab/le.h"\n',
    "protocol/transport/transport.h": '#include "espfab/port.h"\n',
    "protocol/transport/serial.c": '#include <libserialport.h>\n#include "transport.h"\n',
    "protocol/include/espfab/rom.h": '#include "espfab/port.h"\n',
    "protocol/rom.c": '#include <stdio.h>\n#include "espfab/rom.h"\n',
    "protocol/sim/espfab/simdev.h": '#include "espfab/rom.h"\n',
    "protocol/sim/simdev.c": '#include "espfab/simdev.h"\n',
    "nvsgen/include/espfab/nvs.h": "",
    "nvsgen/nvs_gen.c": '#include "espfab/nvs.h"\n#include "espfab/le.h"\n',
    "daemon/store/include/espfab/store.h": '#include "espfab/nvs.h"\n',
    "daemon/store/store_int.h": '#include <sqlite3.h>\n#include "espfab/store.h"\n',
    "daemon/store/store_open.c": '#include "store_int.h"\n',
    "daemon/ctl/ctl.h": "",
    "daemon/ctl/ctl.c": '#include "ctl.h"\n',
    "daemon/espfabd/station.h": '#include "ctl.h"\n#include "espfab/store.h"\n',
    "daemon/espfabd/station.c": '#include "station.h"\n#include "espfab/rom.h"\n',
    "daemon/cli/main.c": '#include "ctl.h"\n#include "espfab/store.h"\n#include "espfab/rom.h"\n',
    "daemon/web/whttp.h": "",
    "daemon/web/whttp.c": '#include <microhttpd.h>\n#include "ctl.h"\n#include "whttp.h"\n',
}

LINKS_CLEAN = [
    ("espfab_protocol", "protocol", ["espfab_common"], ["protocol/rom.c", "protocol/transport/serial.c"]),
    ("espfab_common", "common", [], []),
    ("espfab_simdev", "protocol", ["espfab_protocol", "OpenSSL::Crypto"], ["protocol/sim/simdev.c"]),
    ("espfab_store", "daemon/store", ["espfab_nvsgen", "$<LINK_ONLY:SQLite::SQLite3>"], ["daemon/store/store_open.c"]),
    ("espfab_nvsgen", "nvsgen", [], ["nvsgen/nvs_gen.c"]),
    ("espfab_ctl", "daemon/ctl", ["espfab_store"], ["daemon/ctl/ctl.c"]),
    ("espfab", "daemon/cli", ["espfab_ctl", "espfab_store", "espfab_protocol"], ["daemon/cli/main.c"]),
    ("espfab_web", "daemon/web", ["espfab_ctl"], ["daemon/web/whttp.c"]),
    # a consumer: it may link and compile anything (fuzz harnesses compile product sources)
    ("test_rom", "tests", ["espfab_simdev", "espfab_web"],
     ["tests/unit/test_rom.c", "protocol/sim/simdev.c", "protocol/rom.c", "daemon/espfabd/station.c"]),
]


class Tree:
    def __init__(self, files, links=None, allow=None):
        self.root = tempfile.mkdtemp(prefix="layers-")
        for path, text in files.items():
            full = os.path.join(self.root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        self.links = None
        if links is not None:
            self.links = os.path.join(self.root, "links.txt")
            with open(self.links, "w") as f:
                for name, tdir, deps, srcs in links:
                    f.write("%s\t%s\t%s\t%s\n" % (name, tdir, ";".join(deps), ";".join(srcs)))
        self.allow = None
        if allow is not None:
            self.allow = os.path.join(self.root, "allow.txt")
            with open(self.allow, "w") as f:
                f.write(allow)

    def run(self, *extra, rules=RULES):
        args = ["--root", self.root, "--rules", rules]
        args += ["--allow", self.allow] if self.allow else ["--no-allow"]
        if self.links:
            args += ["--links", self.links]
        return run_check(args + list(extra))

    def close(self):
        shutil.rmtree(self.root)


class CheckLayers(unittest.TestCase):
    def check(self, files, links=LINKS_CLEAN, allow=None, *extra):
        t = Tree(files, links, allow)
        try:
            return t.run(*extra)
        finally:
            t.close()

    def assertFails(self, rc, out, line):
        self.assertEqual(rc, 1, out)
        self.assertIn(line, out)

    def test_clean_tree_passes(self):
        rc, out = self.check(CLEAN)
        self.assertEqual(rc, 0, out)
        self.assertIn("0 violation(s), 0 known", out)

    # One include added to the clean tree, and the line the check must print.
    INJECTED = [
        ("upward", "nvsgen/nvs_gen.c", '#include "espfab/store.h"',
         "VIOLATION: upward nvsgen/nvs_gen.c -> daemon/store/include/espfab/store.h (nvsgen -> store)"),
        ("transport on protocol", "protocol/transport/serial.c", '#include "espfab/rom.h"',
         "VIOLATION: upward protocol/transport/serial.c -> protocol/include/espfab/rom.h (transport -> protocol)"),
        ("cli on espfabd", "daemon/cli/main.c", '#include "station.h"',
         "VIOLATION: sideways daemon/cli/main.c -> daemon/espfabd/station.h (cli -> espfabd)"),
        ("store on espfabd", "daemon/store/store_open.c", '#include "station.h"',
         "VIOLATION: upward daemon/store/store_open.c -> daemon/espfabd/station.h (store -> espfabd)"),
        ("web is included", "daemon/espfabd/station.c", '#include "whttp.h"',
         "VIOLATION: sideways daemon/espfabd/station.c -> daemon/web/whttp.h (espfabd -> web)"),
        ("libserialport outside transport", "daemon/espfabd/ports.c", "#include <libserialport.h>",
         "VIOLATION: only daemon/espfabd/ports.c -> libserialport.h (espfabd -> only transport)"),
        ("a file no module claims", "daemon/loose.c", "",
         "VIOLATION: unassigned daemon/loose.c"),
    ]

    def test_each_injected_include_fails(self):
        for what, path, line, want in self.INJECTED:
            with self.subTest(what):
                files = dict(CLEAN)
                files[path] = files.get(path, "") + line + "\n"
                rc, out = self.check(files)
                self.assertFails(rc, out, want)

    def test_file_cycle_fails(self):
        files = dict(CLEAN)
        files["daemon/store/store_seal.h"] = '#include "store_open.h"\n'
        files["daemon/store/store_open.h"] = '#include "store_seal.h"\n'
        rc, out = self.check(files)
        self.assertFails(rc, out, "VIOLATION: cycle daemon/store/store_open.h -> daemon/store/store_seal.h -> daemon/store/store_open.h")

    def test_module_cycle_fails(self):
        files = dict(CLEAN)
        files["daemon/store/store_open.c"] += '#include "ctl.h"\n'
        rc, out = self.check(files)
        self.assertFails(rc, out, "VIOLATION: cycle-module ctl -> store -> ctl")
        self.assertIn("VIOLATION: upward daemon/store/store_open.c -> daemon/ctl/ctl.h (store -> ctl)", out)

    def test_link_upward_fails(self):
        links = list(LINKS_CLEAN) + [("espfab_part", "nvsgen", ["espfab_store"], ["nvsgen/nvs_gen.c"])]
        rc, out = self.check(CLEAN, links)
        self.assertFails(rc, out, "VIOLATION: link-upward espfab_part -> espfab_store (nvsgen -> store)")

    def test_link_of_another_modules_source_fails(self):
        links = [l if l[0] != "espfab_web" else ("espfab_web", "daemon/web", ["espfab_ctl"],
                                                  ["daemon/web/whttp.c", "daemon/espfabd/station.c"])
                 for l in LINKS_CLEAN]
        rc, out = self.check(CLEAN, links)
        self.assertFails(rc, out, "VIOLATION: link-sideways espfab_web -> daemon/espfabd/station.c (web -> espfabd)")

    def test_links_only_ignores_includes(self):
        files = dict(CLEAN)
        files["nvsgen/nvs_gen.c"] += '#include "espfab/store.h"\n'
        rc, out = self.check(files, LINKS_CLEAN, None, "--links-only")
        self.assertEqual(rc, 0, out)

    def test_allow_list_accepts_and_goes_stale(self):
        files = dict(CLEAN)
        files["daemon/cli/main.c"] += '#include "station.h"\n'
        allow = "# the CLI still reads the daemon's station header\nsideways daemon/cli/* -> daemon/espfabd/*\n"
        rc, out = self.check(files, LINKS_CLEAN, allow)
        self.assertEqual(rc, 0, out)
        self.assertIn("known:     sideways daemon/cli/main.c -> daemon/espfabd/station.h", out)
        rc, out = self.check(CLEAN, LINKS_CLEAN, allow)
        self.assertFails(rc, out, "STALE:")
        # CMake's configure step reports a stale line but builds on.
        rc, out = self.check(CLEAN, LINKS_CLEAN, "link-sideways espfab -> espfab_daemon\n", "--links-only")
        self.assertEqual(rc, 0, out)
        self.assertIn("STALE:", out)

    def test_allow_list_does_not_hide_other_violations(self):
        files = dict(CLEAN)
        files["daemon/cli/main.c"] += '#include "station.h"\n'
        files["nvsgen/nvs_gen.c"] += '#include "espfab/store.h"\n'
        allow = "sideways daemon/cli/* -> daemon/espfabd/*\n"
        rc, out = self.check(files, LINKS_CLEAN, allow)
        self.assertFails(rc, out, "VIOLATION: upward nvsgen/nvs_gen.c")
        self.assertIn("VIOLATION: cycle-module nvsgen -> store -> nvsgen", out)
        self.assertIn("2 violation(s), 1 known", out)

    def test_rules_that_go_round_are_refused(self):
        t = Tree(CLEAN, LINKS_CLEAN)
        try:
            rules = os.path.join(t.root, "rules.txt")
            with open(RULES) as f, open(rules, "w") as g:
                g.write(f.read().replace("nvsgen:    common", "nvsgen:    common store"))
            rc, out = t.run(rules=rules)
        finally:
            t.close()
        self.assertEqual(rc, 2, out)
        self.assertIn("go round", out)

    def test_real_tree_with_injected_upward_include_fails(self):
        root = tempfile.mkdtemp(prefix="layers-real-")
        try:
            for d in ("common", "daemon", "protocol", "nvsgen"):
                if os.path.isdir(os.path.join(SRC, d)):
                    shutil.copytree(os.path.join(SRC, d), os.path.join(root, d),
                                    ignore=shutil.ignore_patterns("*.[0-9]", "assets", "*.cmake", "*.txt"))
            base = ["--root", root, "--rules", RULES, "--allow", os.path.join(SRC, "tools", "layers-allow.txt")]
            rc, out = run_check(base)
            self.assertEqual(rc, 0, out)
            victim = os.path.join(root, "protocol", "rom.c")
            with open(victim, "a") as f:
                f.write('#include "station.h"\n')
            rc, out = run_check(base)
            self.assertEqual(rc, 1, out)
            self.assertIn("VIOLATION: upward protocol/rom.c -> daemon/espfabd/station.h (protocol -> espfabd)", out)
        finally:
            shutil.rmtree(root)


if __name__ == "__main__":
    unittest.main(verbosity=2)
