// The live status page at `/`: a static page (public/status/) that talks to /graphql over graphql-ws from the
// browser, and the two libraries it uses, served from node_modules. Nothing is fetched from outside: the page works
// offline and its Content-Security-Policy allows only this origin.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// src/transport/ and, compiled, dist/transport/ are both two levels below the package root.
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PAGE_DIR = path.join(PACKAGE_ROOT, 'public', 'status');
const require = createRequire(import.meta.url);

/** A library file, found where Node finds the package (its `exports` do not list these browser builds). */
function libraryFile(pkg: string, file: string): string {
  return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
}

const CONTENT_TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
} as const;
type Extension = keyof typeof CONTENT_TYPES;

/** URL path → file on disk: every file the page loads, and nothing else. */
function pageFiles(): Map<string, string> {
  return new Map([
    ['/', path.join(PAGE_DIR, 'index.html')],
    ['/status/status.js', path.join(PAGE_DIR, 'status.js')],
    ['/status/status.css', path.join(PAGE_DIR, 'status.css')],
    ['/status/vendor/uPlot.iife.min.js', libraryFile('uplot', 'dist/uPlot.iife.min.js')],
    ['/status/vendor/uPlot.min.css', libraryFile('uplot', 'dist/uPlot.min.css')],
    ['/status/vendor/graphql-ws.min.js', libraryFile('graphql-ws', 'umd/graphql-ws.min.js')],
  ]);
}

// Same-origin only; `connect-src` names ws:/wss: because older browsers do not count a WebSocket to this host as 'self'.
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Answers the page's requests (true) and leaves every other one to the caller (false). */
export function createStatusPage(): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const files = pageFiles();
  // Read once, on first request: a few hundred kB in all, and the files do not change while the server runs.
  const contents = new Map<string, Promise<Buffer>>();
  return async function statusPage(req, res) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const file = files.get((req.url ?? '/').split('?')[0] ?? '/');
    if (!file) return false;
    let content = contents.get(file);
    if (!content) {
      content = readFile(file);
      contents.set(file, content);
      content.catch(() => contents.delete(file));
    }
    const body = await content;
    res.setHeader('content-type', CONTENT_TYPES[path.extname(file) as Extension]);
    res.setHeader('content-length', body.length);
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('cache-control', 'no-cache');
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
