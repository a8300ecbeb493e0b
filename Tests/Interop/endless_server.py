"""An HTTP server on 127.0.0.1 whose every GET answers 200 and then sends zeros forever
(no Content-Length): a hostile or broken mirror. Prints "port N" once listening."""
import http.server
import socketserver
import sys


class Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
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
