import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokenize } from '#core/retrieval/tokenize';
import type { Embedder } from '#knowledge/embeddings/embedder';
import { createHashingEmbedder } from '#knowledge/embeddings/hashing-embedder';
import * as z from '#shared/zod';
import { closeServer } from '../http-forward';

/**
 * An OpenAI-compatible /v1/embeddings server on 127.0.0.1 backed by an Embedder (default: the hashing embedder).
 * Validates the body (400 with an OpenAI-style { error: { message, type } } for bad JSON, missing input, > 2048
 * inputs, an input over 32k chars, wrong model when one is configured), 404 for other routes, 1 MiB body cap (413).
 *
 * The sandbox's stand-in for the company's embedding server (vLLM, TEI, Ollama): the knowledge base's
 * `createOpenAiEmbedder` talks to it exactly as to those. `input` is a string or an array of strings (token arrays
 * are refused: no tokenizer here); `encoding_format` is `float` (default) or `base64` (little-endian float32, as the
 * OpenAI SDKs request by default); `dimensions`, if sent, must be the embedder's own. Texts are embedded as
 * `document`s: the API has no purpose field (query/passage prefixes are the client's business). An embedder failure
 * is a 500 of type `server_error`.
 */

export const MAX_INPUTS = 2048;
export const MAX_INPUT_CHARS = 32 * 1024;
export const MAX_BODY_BYTES = 1024 * 1024;
/** Bodies above the cap are read and dropped up to this size (so the 413 reaches the client), then cut off. */
const DRAIN_LIMIT_BYTES = 8 * 1024 * 1024;
const ROUTE = '/v1/embeddings';

const requestSchema = z.object({
  model: z.optional(z.string()),
  input: z.union([z.string(), z.array(z.string())]),
  encoding_format: z.optional(z.enum(['float', 'base64'])),
  dimensions: z.optional(z.int()),
});

export interface EmbeddingServerOptions {
  /** Port on 127.0.0.1. @default 0 (any free port) */
  readonly port?: number;
  /** @default createHashingEmbedder() */
  readonly embedder?: Embedder;
  /** The model name served; when given, a request naming another model (or none) is refused. @default embedder.model */
  readonly model?: string;
}

export interface RunningEmbeddingServer {
  /** `http://127.0.0.1:<port>`, no trailing slash: the embedder's `baseUrl`. */
  readonly url: string;
  readonly model: string;
  readonly dimensions: number;
  stop(): Promise<void>;
}

type ErrorType = 'invalid_request_error' | 'server_error';

class RequestRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export async function startEmbeddingServer(options?: EmbeddingServerOptions): Promise<RunningEmbeddingServer> {
  const embedder = options?.embedder ?? createHashingEmbedder();
  const model = options?.model ?? embedder.model;
  const enforceModel = options?.model !== undefined;

  /** The request's texts and encoding, or a `RequestRefusal` naming what is wrong. */
  function parseRequest(body: unknown): { inputs: string[]; base64: boolean } {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new RequestRefusal(400, 'The body must be a JSON object');
    }
    const input = (body as { input?: unknown }).input;
    if (input === undefined || input === null) throw new RequestRefusal(400, "'input' is required", 'input');
    if (Array.isArray(input) && input.some((item) => typeof item !== 'string')) {
      throw new RequestRefusal(
        400,
        "'input' must be a string or an array of strings (token arrays are not supported)",
        'input',
      );
    }
    const parsed = requestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.map(String).join('.') || null;
      throw new RequestRefusal(
        400,
        `Invalid request${param ? ` ('${param}')` : ''}: ${issue?.message ?? 'unknown'}`,
        param,
      );
    }
    const request = parsed.data;
    if (enforceModel && request.model !== model) {
      const named = request.model === undefined ? 'no model' : `the model '${request.model}'`;
      throw new RequestRefusal(400, `The request names ${named}; this server serves '${model}'`, 'model');
    }
    const inputs = typeof request.input === 'string' ? [request.input] : request.input;
    if (inputs.length === 0) throw new RequestRefusal(400, "'input' must not be an empty array", 'input');
    if (inputs.length > MAX_INPUTS) {
      throw new RequestRefusal(400, `'input' has ${inputs.length} items; at most ${MAX_INPUTS} are allowed`, 'input');
    }
    const long = inputs.findIndex((text) => text.length > MAX_INPUT_CHARS);
    if (long >= 0) {
      throw new RequestRefusal(
        400,
        `'input[${long}]' is too long: ${inputs[long]?.length} characters, at most ${MAX_INPUT_CHARS} are allowed`,
        'input',
      );
    }
    if (request.dimensions !== undefined && request.dimensions !== embedder.dimensions) {
      throw new RequestRefusal(
        400,
        `'dimensions' is ${request.dimensions}; this model only makes ${embedder.dimensions}`,
        'dimensions',
      );
    }
    return { inputs, base64: request.encoding_format === 'base64' };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://embeddings').pathname;
    if (path !== ROUTE) {
      req.resume();
      throw new RequestRefusal(404, `Invalid URL (${method} ${path}): embeddings are at POST ${ROUTE}`);
    }
    if (method !== 'POST') {
      req.resume();
      throw new RequestRefusal(405, `Method ${method} is not allowed: use POST`, null, { allow: 'POST' });
    }
    const tooLarge = () => new RequestRefusal(413, `The body is over ${MAX_BODY_BYTES} bytes`);
    if (Number(req.headers['content-length']) > DRAIN_LIMIT_BYTES) {
      req.resume();
      throw new RequestRefusal(413, `The body is over ${MAX_BODY_BYTES} bytes`, null, { connection: 'close' });
    }
    const bytes = await readCapped(req, MAX_BODY_BYTES);
    if (bytes === 'too-large') throw tooLarge();
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new RequestRefusal(400, 'The body is not valid JSON');
    }
    const { inputs, base64 } = parseRequest(json);
    let vectors: Float32Array[];
    try {
      vectors = await embedder.embed(inputs, 'document');
    } catch (err) {
      sendError(res, 500, 'server_error', `The embedder failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const tokens = inputs.reduce((sum, text) => sum + tokenize(text).length, 0);
    sendJson(res, 200, {
      object: 'list',
      data: vectors.map((vector, index) => ({
        object: 'embedding',
        index,
        embedding: base64
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
          : Array.from(vector),
      })),
      model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof RequestRefusal) {
        sendError(res, err.status, 'invalid_request_error', err.message, err.param, err.headers);
      } else {
        sendError(res, 500, 'server_error', 'Internal error');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options?.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, model, dimensions: embedder.dimensions, stop: () => closeServer(server) };
}

/** The body, or `too-large` past `cap` bytes (the rest is read and dropped; past the drain limit the socket is cut). */
function readCapped(req: IncomingMessage, cap: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DRAIN_LIMIT_BYTES) req.destroy(new Error('request body over the drain limit'));
      else if (size <= cap) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > cap ? 'too-large' : Buffer.concat(chunks)));
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

/** OpenAI's error shape: `{ error: { message, type, param, code } }`. */
function sendError(
  res: ServerResponse,
  status: number,
  type: ErrorType,
  message: string,
  param: string | null = null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, param, code: null } }, headers);
}
