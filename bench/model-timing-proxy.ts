import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through HTTP proxy in front of the model server that notes, per streamed invocation, when the request
 * arrived and when the first chunk carrying answer text went back out: the model's time to first token as the
 * worker's SageMaker client sees it on the wire, on this process's `performance.now()` clock. Invocations are told
 * apart by a marker the bench puts in each question (`markerOf`).
 */
export interface ModelTiming {
  readonly requestAt: number;
  firstTokenAt?: number;
}

export interface TimingProxy {
  readonly url: string;
  /** The last streamed invocation whose prompt carried `marker`. */
  timingOf(marker: string): ModelTiming | undefined;
  close(): Promise<void>;
}

/** A question marker the proxy can find again in the prompt: plain ASCII that no tokenizer-free path rewrites. */
export const markerOf = (n: number): string => `benchq${n}x`;
const MARKER = /benchq\d+x/g;
/** A chat.completion.chunk whose delta carries text (the role-only first chunk has none). */
const CONTENT_DELTA = /"content":"(?!")/;

export async function startTimingProxy(target: string): Promise<TimingProxy> {
  const upstream = new URL(target);
  const timings = new Map<string, ModelTiming>();
  const server = createServer((req, res) => {
    const requestAt = performance.now();
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => body.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(body);
      // The current question is the prompt's last marker; earlier ones would be history.
      const marker = [...raw.toString('utf8').matchAll(MARKER)].at(-1)?.[0];
      const streamed = (req.url ?? '').includes('response-stream');
      const timing: ModelTiming = { requestAt };
      if (marker && streamed) timings.set(marker, timing);
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.on('data', (chunk: Buffer) => {
            if (timing.firstTokenAt === undefined && CONTENT_DELTA.test(chunk.toString('utf8'))) {
              timing.firstTokenAt = performance.now();
            }
            res.write(chunk);
          });
          answer.on('end', () => res.end());
        },
      );
      out.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      out.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    timingOf: (marker) => timings.get(marker),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
