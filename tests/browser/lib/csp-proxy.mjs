// A reverse proxy on loopback in front of the relay that adds a
// Content-Security-Policy header to every HTTP response and passes WebSocket
// upgrades through byte for byte: the page and its socket stay same-origin,
// as they will be when the relay sends the header itself. (Playwright's
// request routing would also add a header, but Chromium then treats the
// page as coming from no known address and blocks its WebSocket to
// loopback under its local-network-access checks.)
import http from 'node:http';
import net from 'node:net';

export function cspProxy(relayPort, csp) {
  const target = { host: '127.0.0.1', port: relayPort };
  const sockets = new Set();
  const track = (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const agent = new http.Agent({ keepAlive: false });
  const server = http.createServer((req, res) => {
    const upstream = http.request({ ...target, agent, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, { ...r.headers, 'content-security-policy': csp });
      r.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on('connection', track);
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(target, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    track(upstream);
    const end = () => { socket.destroy(); upstream.destroy(); };
    upstream.on('error', end);
    upstream.on('close', end);
    socket.on('error', end);
    socket.on('close', end);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({
      port: server.address().port,
      url: `http://127.0.0.1:${server.address().port}/`,
      close: () => new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
    }));
  });
}
