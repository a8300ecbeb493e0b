"""An HTTP server on 127.0.0.1 whose every GET, whatever its path, answers 200 and then sends
zeros forever (no Content-Length): a hostile or broken mirror. With an argument N it sends N
zero bytes instead (with Content-Length). Prints "port N (...)" once listening."""
import http.server
import socketserver
import sys

LIMIT = int(sys.argv[1]) if len(sys.argv) > 1 else None


class Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if LIMIT is not None:
            self.send_header("Content-Length", str(LIMIT))
            self.end_headers()
            self.wfile.write(bytes(LIMIT))
            return
        self.end_headers()
        block = bytes(1 << 20)
        try:
            while True:
                self.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Endless)
print(f"port {server.server_address[1]} (endless)", flush=True)
server.serve_forever()
