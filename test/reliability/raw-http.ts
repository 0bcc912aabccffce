import { connect } from 'node:net';

/**
 * A raw HTTP/1.1 request over a TCP socket: the path, method and header bytes go out exactly as given (no URL
 * normalisation, no header validation), so the corpus can send what a browser or `fetch` would refuse to.
 */
export interface RawRequest {
  readonly method: string;
  /** Sent verbatim as the request target, e.g. `/webhook/../x`. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
  /** Replaces the whole request (head and body) with these bytes. */
  readonly raw?: Buffer;
}

export interface RawResponse {
  /** 0 when no status line came back. */
  readonly status: number;
  readonly body: string;
}

export function sendRaw(port: number, request: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  const bytes = request.raw ?? encode(request);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1');
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: status ? Number(status) : 0, body: split >= 0 ? text.slice(split + 4) : '' });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', finish);
    socket.on('close', finish);
    // A server that answers early (413) may reset the connection while we still write; what it answered counts.
    socket.on('error', () => undefined);
    socket.write(bytes);
  });
}

function encode(request: RawRequest): Buffer {
  const body = request.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = { host: '127.0.0.1', connection: 'close', ...request.headers };
  const hasLength = Object.keys(headers).some((name) => name.toLowerCase() === 'content-length');
  if (!hasLength && (body.length > 0 || request.method === 'POST')) headers['content-length'] = String(body.length);
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return Buffer.concat([Buffer.from(`${request.method} ${request.path} HTTP/1.1\r\n${head}\r\n`, 'latin1'), body]);
}
