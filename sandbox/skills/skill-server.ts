import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SkillResponse } from '#core/skills/remote-protocol';
import { parseSkillRequest, type SkillRequestInput } from '#core/skills/skill-request';
import { closeServer } from '../http-forward';

/**
 * The HTTP side of the sandbox's demo skills: a server on 127.0.0.1 that takes skill protocol v1 requests
 * (docs/SKILLS.md §4) the way a skill author's Lambda function takes an Invoke, and answers with what `answer` says.
 * `POST /` only (404 elsewhere, 405 for other methods); a body over 64 KiB (or `maxRequestBytes`) is 413; a body that is not a v1 request
 * (bad JSON, another version, a wrong shape) is 400 with the reason as `{"error": "…"}`. Fields it does not know are
 * ignored, so a request carrying more than v1 names still works.
 */

export const MAX_REQUEST_BYTES = 64 * 1024;
/** `calls()` keeps the latest this many: the sandbox runs for hours and load tests send thousands of messages. */
export const MAX_RECORDED_CALLS = 1000;
/** Bodies above the cap are read and thrown away up to this size (so the 413 reaches the client), then cut off. */
const DRAIN_LIMIT_BYTES = 1024 * 1024;

/** A valid v1 request as a skill server sees it. */
export type SkillServerRequest = SkillRequestInput;

/** What a demo skill answers: a v1 response body. */
export type SkillServerResponse = SkillResponse;

export { parseSkillRequest };

/** One HTTP request a skill server received. */
export interface SkillServerCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The request, when it was a valid v1 request. */
  readonly request?: SkillServerRequest;
  /** What the skill did with it (status 200). */
  readonly action?: SkillServerResponse['action'];
  /** Why it was refused (status 4xx). */
  readonly error?: string;
}

export interface RunningSkillServer {
  /** The endpoint, for a remote skill's `url` in the skills configuration: `http://127.0.0.1:<port>/`. */
  readonly url: string;
  stop(): Promise<void>;
  /** The latest requests (up to `MAX_RECORDED_CALLS`), oldest first. */
  calls(): readonly SkillServerCall[];
}

export interface SkillServerOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /**
   * Largest request body, bytes (a skill that accepts shared files takes up to Lambda's 6 MB payload).
   * @default MAX_REQUEST_BYTES
   */
  readonly maxRequestBytes?: number;
  readonly answer: (request: SkillServerRequest) => SkillServerResponse | Promise<SkillServerResponse>;
}

type Body = { readonly kind: 'read'; readonly bytes: Buffer } | { readonly kind: 'too-large' };

/** The body, or `too-large` past `cap` bytes (the rest is read and dropped; past the drain limit the socket is cut). */
function readCapped(req: IncomingMessage, cap: number): Promise<Body> {
  const drainLimit = Math.max(DRAIN_LIMIT_BYTES, 2 * cap);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > drainLimit) req.destroy(new Error('request body over the drain limit'));
      else if (size <= cap) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > cap ? { kind: 'too-large' } : { kind: 'read', bytes: Buffer.concat(chunks) }));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/** Starts a skill server on 127.0.0.1. */
export async function startSkillServer(options: SkillServerOptions): Promise<RunningSkillServer> {
  const maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const calls: SkillServerCall[] = [];
  const record = (call: SkillServerCall): void => {
    calls.push(call);
    if (calls.length > MAX_RECORDED_CALLS) calls.splice(0, calls.length - MAX_RECORDED_CALLS);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://skill').pathname;
    const refuse = (status: number, error: string, headers?: Record<string, string>) => {
      record({ method, path, status, error });
      sendJson(res, status, { error }, headers);
    };
    if (path !== '/') {
      req.resume();
      return refuse(404, `no such path ${path}: send protocol v1 requests to POST /`);
    }
    if (method !== 'POST') {
      req.resume();
      return refuse(405, `method ${method} is not allowed: use POST`, { allow: 'POST' });
    }
    const declared = Number(req.headers['content-length']);
    if (declared > Math.max(DRAIN_LIMIT_BYTES, 2 * maxRequestBytes)) {
      req.resume();
      return refuse(413, `the body is over ${maxRequestBytes} bytes`, { connection: 'close' });
    }
    const body = await readCapped(req, maxRequestBytes);
    if (body.kind === 'too-large') return refuse(413, `the body is over ${maxRequestBytes} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(body.bytes.toString('utf8'));
    } catch {
      return refuse(400, 'the body is not valid JSON');
    }
    const parsed = parseSkillRequest(json);
    if (!parsed.ok) return refuse(400, parsed.reason);
    const response = await options.answer(parsed.request);
    // Shared files are recorded by name only: `calls()` keeps a thousand requests in memory.
    const files = parsed.request.files?.map((file) => ({ ...file, data: '' }));
    const recorded = files === undefined ? parsed.request : { ...parsed.request, files };
    record({ method, path, status: 200, request: recorded, action: response.action });
    sendJson(res, 200, response);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () => closeServer(server),
    calls: () => [...calls],
  };
}
