import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';

/**
 * A local stand-in for the S3 GetObject and HeadObject calls the fallback function makes for its weights
 * (`functions/local-model/weights-from-s3.ts`), path-style (`/<bucket>/<key>`, as with `AWS_ENDPOINT_URL_S3`):
 * single byte ranges (206 with `Content-Range`), `If-Match` against the object's ETag (412), 404 for an unknown key,
 * 403 for an unsigned request or a key listed in `denied`. Objects are files on disk, read per range. `fault` lets a
 * test break chosen requests. Loopback: it says nothing about S3's own throughput.
 */
export interface WeightsS3Object {
  readonly bucket: string;
  readonly key: string;
  readonly file: string;
}

/**
 * `status-500`: answer 500 InternalError; `cut`: send half the asked bytes, then drop the connection;
 * `wrong-region`: answer 301 PermanentRedirect, as S3 does for a bucket in another region.
 */
export type WeightsS3Fault = 'status-500' | 'cut' | 'wrong-region';

export interface WeightsS3StandInOptions {
  readonly objects: readonly WeightsS3Object[];
  /** `bucket/key`s answered 403 AccessDenied, as for a role without s3:GetObject on them. */
  readonly denied?: readonly string[];
  /** Called for every signed request; a fault breaks that request. */
  readonly fault?: (request: SeenRequest) => WeightsS3Fault | undefined;
}

export interface SeenRequest {
  readonly method: string;
  /** `bucket/key`, decoded. */
  readonly object: string;
  readonly range?: string;
  readonly authorization?: string;
}

export interface WeightsS3StandIn {
  /** For `AWS_ENDPOINT_URL_S3`. */
  readonly url: string;
  readonly requests: readonly SeenRequest[];
  close(): Promise<void>;
}

export async function startWeightsS3StandIn(options: WeightsS3StandInOptions): Promise<WeightsS3StandIn> {
  const objects = new Map(
    options.objects.map((o) => {
      const { size, mtimeMs } = statSync(o.file);
      return [`${o.bucket}/${o.key}`, { file: o.file, size, etag: `"${size.toString(16)}-${Math.floor(mtimeMs)}"` }];
    }),
  );
  const denied = new Set(options.denied ?? []);
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const object = decodeURIComponent(new URL(req.url ?? '/', 'http://s3').pathname.slice(1));
    const seen: SeenRequest = {
      method: req.method ?? 'GET',
      object,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    requests.push(seen);
    const fail = (status: number, code: string): void => {
      res.writeHead(status, { 'content-type': 'application/xml' });
      res.end(req.method === 'HEAD' ? undefined : `<Error><Code>${code}</Code></Error>`);
    };
    const signed =
      /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[^/]+\/s3\/aws4_request,/.test(seen.authorization ?? '') &&
      req.headers['x-amz-content-sha256'] !== undefined &&
      req.headers['x-amz-date'] !== undefined;
    if (!signed || denied.has(object)) return fail(403, 'AccessDenied');
    const found = objects.get(object);
    if (!found) return fail(404, 'NoSuchKey');
    if (req.method !== 'HEAD' && req.method !== 'GET') return fail(405, 'MethodNotAllowed');
    if (req.headers['if-match'] && req.headers['if-match'] !== found.etag) return fail(412, 'PreconditionFailed');
    const fault = options.fault?.(seen);
    if (fault === 'status-500') return fail(500, 'InternalError');
    if (fault === 'wrong-region') return fail(301, 'PermanentRedirect');
    const headers = { 'content-type': 'application/octet-stream', etag: found.etag, 'accept-ranges': 'bytes' };
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...headers, 'content-length': found.size }).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d+)$/.exec(seen.range ?? '');
    const first = range ? Number(range[1]) : 0;
    const last = range ? Math.min(Number(range[2]), found.size - 1) : found.size - 1;
    if (first > last) return fail(416, 'InvalidRange');
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'content-length': last - first + 1,
      ...(range ? { 'content-range': `bytes ${first}-${last}/${found.size}` } : {}),
    });
    if (fault === 'cut') {
      const half = first + Math.floor((last - first + 1) / 2);
      void pipeline(createReadStream(found.file, { start: first, end: half - 1 }), res, { end: false }).then(
        () => res.destroy(),
        () => res.destroy(),
      );
      return;
    }
    void pipeline(createReadStream(found.file, { start: first, end: last }), res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
