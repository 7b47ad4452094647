// Plain HTTP beside the WebSocket upgrade: /healthz, static files from
// --www (never a path outside it), 404 for the rest.
import fs from 'node:fs';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.txt': 'text/plain; charset=utf-8',
};

function reply(res, status, body, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
}

export function httpHandler(www) {
  const root = www ? path.resolve(www) : null;
  return (req, res) => {
    const url = req.url.split('?')[0];
    if (url === '/healthz' && req.method === 'GET') return reply(res, 200, 'ok\n');
    if (!root) return reply(res, 404, 'not found\n');
    if (req.method !== 'GET') return reply(res, 405, 'method not allowed\n');
    let rel;
    try {
      rel = decodeURIComponent(url);
    } catch {
      return reply(res, 404, 'not found\n');
    }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(root, `.${path.posix.normalize(`/${rel}`)}`);
    if (!file.startsWith(root + path.sep) || rel.includes('\0')) return reply(res, 404, 'not found\n');
    fs.readFile(file, (err, data) => {
      if (err) return reply(res, 404, 'not found\n');
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': data.length, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff', Connection: 'close' });
      res.end(data);
    });
  };
}
