// A tiny static file server for the built site (a stand-in for any static host): serves a folder under a
// path prefix (e.g. /demo/, to prove the build works from a sub-folder), with optional extra mounts (the
// models directory, the way a host would put it next to the page or elsewhere). GET/HEAD only, no
// directory listings, no paths outside the mounted folders.
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface StaticServer {
  /** Origin and prefix, no trailing slash: `${url}/` is the site's index. */
  url: string;
  /** Paths requested so far (for checks such as "nothing was fetched from a CDN"). */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `mounts` ({ '/demo/': dir, '/demo/models/': modelsDir }); the longest matching prefix wins. */
export async function startStaticServer(mounts: Record<string, string>, opts: { prefix?: string; extra?: (path: string) => { type: string; body: string } | null } = {}): Promise<StaticServer> {
  const entries = Object.entries(mounts)
    .map(([p, d]) => [p, resolve(d)] as const)
    .sort((a, b) => b[0].length - a[0].length);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.end();
      return;
    }
    const extra = opts.extra?.(path);
    if (extra) {
      res.setHeader('Content-Type', extra.type);
      res.end(extra.body);
      return;
    }
    const hit = entries.find(([p]) => path.startsWith(p));
    if (!hit) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    let file = resolve(hit[1], '.' + sep + path.slice(hit[0].length));
    if (path.endsWith('/')) file = resolve(file, 'index.html');
    if (!(file === hit[1] || file.startsWith(hit[1] + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('Content-Type', TYPES[extname(file)] ?? 'application/octet-stream');
    res.setHeader('Content-Length', String(statSync(file).size));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('static server has no port');
  const prefix = (opts.prefix ?? '/').replace(/\/$/, '');
  return {
    url: `http://127.0.0.1:${addr.port}${prefix}`,
    requests,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
