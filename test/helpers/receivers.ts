// Real local receivers for notifications: an HTTP server for webhooks and an SMTP server (smtp-server) for email.
// Each registers its own shutdown in the caller's cleanup list.
import { createServer, type IncomingHttpHeaders, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Recording } from './waits.js';

export type Cleanups = (() => Promise<void> | void)[];

export interface ReceivedRequest {
  /** The path and query asked for. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

/** A real HTTP server on a free port that records every request and answers with `respond`. */
export async function startReceiver(
  cleanups: Cleanups,
  respond: (request: ReceivedRequest, index: number) => number | 'hang',
) {
  const recording = new Recording<ReceivedRequest>();
  const requests = recording.items;
  const listener: RequestListener = async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      at: performance.now(),
    };
    recording.push(request);
    const status = respond(request, requests.length - 1);
    if (status !== 'hang') res.writeHead(status).end();
  };
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/jackdaw`,
    requests,
    /** Resolves once at least `count` requests arrived. */
    received: (count: number, timeoutMs?: number) => recording.atLeast(count, timeoutMs),
  };
}

export interface CapturedEmail {
  from: string;
  to: string[];
  headers: string;
  /** The message's body as sent (its transfer encoding not undone). */
  body: string;
}

/** A real SMTP server on a free port that keeps every message; `reply` may refuse one with an SMTP code. */
export async function startSmtpSink(cleanups: Cleanups, reply: (index: number) => number | null = () => null) {
  const recording = new Recording<CapturedEmail>();
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const refusal = reply(received++);
        if (refusal !== null) return callback(Object.assign(new Error('try again later'), { responseCode: refusal }));
        const raw = Buffer.concat(chunks).toString();
        recording.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((recipient) => recipient.address),
          // Unfold long header lines, as a mail reader does.
          headers: raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' '),
          body: raw.slice(raw.indexOf('\r\n\r\n') + 4),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.server.address() as AddressInfo;
  return {
    smtpUrl: `smtp://127.0.0.1:${port}`,
    messages: recording.items,
    /** Resolves once at least `count` messages arrived. */
    received: (count: number, timeoutMs?: number) => recording.atLeast(count, timeoutMs),
  };
}

export function header(email: CapturedEmail, name: string): string | undefined {
  return new RegExp(`^${name}: (.*)$`, 'im').exec(email.headers)?.[1];
}
