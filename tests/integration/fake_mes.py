#!/usr/bin/env python3
"""A plant system that receives espfabd's uplink POSTs, for tests.

  fake_mes.py PORTFILE ROWS [--port P] [--fail N]

Listens on 127.0.0.1 (port P, or a free one), writes the port to PORTFILE
once listening, answers the first N POSTs with 503, then appends every row
of each accepted POST to ROWS as one JSON line (with the request's station
and Authorization header) and answers 200. Exits on SIGTERM.
"""
import argparse
import json
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

ap = argparse.ArgumentParser()
ap.add_argument('portfile')
ap.add_argument('rows')
ap.add_argument('--port', type=int, default=0)
ap.add_argument('--fail', type=int, default=0)
args = ap.parse_args()
fails = [args.fail]


class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
        if fails[0] > 0:
            fails[0] -= 1
            self.send_response(503)
            self.end_headers()
            return
        req = json.loads(body)
        with open(args.rows, 'a') as f:
            for r in req['rows']:
                f.write(json.dumps({'station': req['station'], 'v': req['v'], 'path': self.path,
                                    'auth': self.headers.get('Authorization', ''),
                                    'type': self.headers.get('Content-Type', ''), 'row': r}) + '\n')
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *a):
        pass


srv = HTTPServer(('127.0.0.1', args.port), H)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with open(args.portfile, 'w') as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
