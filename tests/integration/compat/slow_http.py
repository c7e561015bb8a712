"""python3 slow_http.py HOLD_SECONDS

A local HTTP server that keeps its clients' connections open: every GET
waits HOLD_SECONDS before it answers "ok", except GET /fast, which answers
at once. Prints "listening PORT" (127.0.0.1, port chosen by the kernel).
"""
import http.server
import sys
import time

HOLD = float(sys.argv[1])


class Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/fast":
            time.sleep(HOLD)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
server.daemon_threads = True
print("listening", server.server_address[1], flush=True)
server.serve_forever()
