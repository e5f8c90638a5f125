// A bound on HTTP request bodies. graphql-yoga reads whatever it is sent, so the body is read here first, up to
// the limit, and handed on as a Buffer (the Node adapter of yoga takes a `req.body` Buffer as the body).
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Resolves with the body, or null when it is larger than `maxBytes` (nothing past the limit is kept in memory). */
export function readBodyWithin(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Answers 413 with a GraphQL-shaped error and closes the connection, so the rest of the body is never read. */
export function refuseBody(res: ServerResponse, maxBytes: number): void {
  res.statusCode = 413;
  res.setHeader('content-type', 'application/json');
  res.setHeader('connection', 'close');
  res.end(
    JSON.stringify({
      errors: [
        {
          message: `the request body is larger than the limit of ${maxBytes} bytes`,
          extensions: { code: 'BAD_USER_INPUT' },
        },
      ],
    }),
  );
}

/**
 * What yoga's Node adapter gets as `req.body`. A JSON body is handed on parsed: the adapter runs `Object.keys` on
 * whatever it is given, which for a Buffer lists every byte (tens of milliseconds for a 1,000-event batch, and a
 * lever for anyone sending megabytes). Returns null for a JSON body that does not parse or holds no request.
 */
export function bodyForYoga(body: Buffer, contentType: string | undefined): unknown {
  if (!contentType?.includes('json')) return body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  // The adapter ignores a body without keys (it would then read the already-consumed stream).
  return typeof parsed === 'object' && parsed !== null && Object.keys(parsed).length > 0 ? parsed : null;
}

export function refuseInvalidJson(res: ServerResponse): void {
  res.statusCode = 400;
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      errors: [
        {
          message: 'the request body is not a JSON GraphQL request (an object with a query)',
          extensions: { code: 'BAD_USER_INPUT' },
        },
      ],
    }),
  );
}
