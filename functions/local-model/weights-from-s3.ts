import { open, rename, rm, stat, statfs } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { awsCredentials, awsEndpoint, awsRegion } from '#shared/aws-env';
import { type AwsCredentials, signRequest, uriEscape } from '#shared/aws-sigv4';

/**
 * The fallback function's model weights, copied from S3 into its ephemeral storage (/tmp) when an execution
 * environment starts: the operator replaces the model by uploading a file and changing one setting, with no build.
 * - One HEAD for the size and ETag, then GETs of byte ranges in parallel (a single S3 stream runs at well under the
 *   function's network bandwidth), each pinned to that ETag (`If-Match`), so an object replaced mid-copy fails
 *   instead of mixing two files. Ranges are retried a few times from where they broke off.
 * - Written to a temporary name and renamed once every byte arrived and the size matches, so a file under the final
 *   name is always complete: a later start in the same environment (a re-init) reuses it without a download.
 * - Signed by the hand-written SigV4 signer with the execution role's credentials from the environment (no AWS SDK in
 *   the bundle). Virtual-hosted URLs (`https://<bucket>.s3.<region>.amazonaws.com/<key>`); with
 *   `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`) set, path-style URLs on that endpoint (local stand-ins).
 */
export interface WeightsDownloadOptions {
  readonly bucket: string;
  readonly key: string;
  /** Directory the file is written to, under the key's file name. */
  readonly dir: string;
  /** Region, credentials and endpoint overrides (AWS_REGION, AWS_ACCESS_KEY_ID, …, AWS_ENDPOINT_URL_S3). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Smallest range worth a request of its own. @default 16 MiB */
  readonly minRangeBytes?: number;
  /** Ranges downloaded at once. @default 8 */
  readonly maxRanges?: number;
  /** Attempts per range before the download fails. @default 3 */
  readonly attemptsPerRange?: number;
  /** Free bytes of `dir`. @default fs.statfs */
  readonly freeBytes?: (dir: string) => Promise<number>;
  /** @default global fetch */
  readonly fetch?: typeof fetch;
}

export interface WeightsFile {
  readonly path: string;
  readonly bytes: number;
  /** False when a complete copy was already there. */
  readonly downloaded: boolean;
  /** Ranges requested in parallel (0 when reused). */
  readonly ranges: number;
  /** Range requests repeated after a failure. */
  readonly retries: number;
}

/** A download that cannot succeed as configured; the message says what to change. */
export class WeightsDownloadError extends Error {
  override readonly name = 'WeightsDownloadError';
}

const MIB = 1024 * 1024;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const S3_SERVICE = { endpointPrefix: 's3', envId: 'S3' } as const;

export async function weightsFromS3(options: WeightsDownloadOptions): Promise<WeightsFile> {
  const { bucket, key, dir } = options;
  const uri = `s3://${bucket}/${key}`;
  const target = join(dir, basename(key));
  const region = awsRegion(options.env);
  const signer = requestSigner(bucket, key, region, awsCredentials(options.env), options.env, options.fetch ?? fetch);

  const head = await signer('HEAD', {});
  if (!head.ok) throw new WeightsDownloadError(describeRefusal(head.status, uri));
  const total = Number(head.headers.get('content-length'));
  const etag = head.headers.get('etag');
  if (!Number.isSafeInteger(total) || total <= 0) {
    throw new WeightsDownloadError(`${uri}: S3 answered no usable size (content-length ${String(total)})`);
  }
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isFile() && existing.size === total) {
    return { path: target, bytes: total, downloaded: false, ranges: 0, retries: 0 };
  }

  const partial = `${target}.download`;
  await rm(partial, { force: true });
  await rm(target, { force: true });
  const free = await (options.freeBytes ?? freeBytesOf)(dir);
  if (total > free) {
    throw new WeightsDownloadError(
      `${uri} is ${mib(total)} MiB but ${dir} has ${mib(free)} MiB free: raise the function's ephemeral storage`,
    );
  }

  const ranges = splitRanges(total, options.minRangeBytes ?? 16 * MIB, options.maxRanges ?? 8);
  const attempts = options.attemptsPerRange ?? 3;
  const stop = new AbortController();
  let retries = 0;
  const file = await open(partial, 'w');
  try {
    await file.truncate(total);
    await Promise.all(
      ranges.map(([first, last]) =>
        copyRange(first, last).catch((err: unknown) => {
          stop.abort();
          throw err;
        }),
      ),
    );
  } catch (err) {
    await file.close();
    await rm(partial, { force: true });
    throw err;
  }
  await file.close();
  const written = (await stat(partial)).size;
  if (written !== total) throw new WeightsDownloadError(`${uri}: wrote ${written} of ${total} bytes`);
  await rename(partial, target);
  return { path: target, bytes: total, downloaded: true, ranges: ranges.length, retries };

  /** Copies bytes `first`…`last` to their place in the file, resuming where a broken attempt stopped. */
  async function copyRange(first: number, last: number): Promise<void> {
    const progress = { next: first };
    for (let attempt = 1; ; attempt++) {
      try {
        await copyFrom(progress, last);
        return;
      } catch (err) {
        if (err instanceof WeightsDownloadError || stop.signal.aborted || attempt >= attempts) throw err;
        retries += 1;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /** One GET of `progress.next`…`last`, moving `progress.next` on as bytes are written. */
  async function copyFrom(progress: { next: number }, last: number): Promise<void> {
    const first = progress.next;
    // A previous attempt wrote the last byte and then failed (a reset at end of stream): nothing is left to fetch.
    if (first > last) return;
    const res = await signer('GET', { range: `bytes=${first}-${last}`, ...(etag ? { 'if-match': etag } : {}) }, stop);
    if (res.status === 412) {
      throw new WeightsDownloadError(`${uri} was replaced during the download; the next start copies the new one`);
    }
    if (res.status === 403 || res.status === 404) throw new WeightsDownloadError(describeRefusal(res.status, uri));
    // A 200 is the whole object: usable only when the whole object was asked for.
    if (!res.body || (res.status !== 206 && !(res.status === 200 && first === 0 && last === total - 1))) {
      await res.body?.cancel();
      throw new Error(`${uri}: S3 answered ${res.status} to bytes ${first}-${last}`);
    }
    for await (const chunk of res.body) {
      if (progress.next + chunk.byteLength > last + 1)
        throw new Error(`${uri}: more bytes than asked for ${first}-${last}`);
      await file.write(chunk, 0, chunk.byteLength, progress.next);
      progress.next += chunk.byteLength;
    }
    if (progress.next !== last + 1) throw new Error(`${uri}: bytes ${first}-${last} ended at ${progress.next}`);
  }
}

/** `[first, last]` byte ranges: as many as `maxRanges`, none under `minRangeBytes` (a small file is one range). */
export function splitRanges(total: number, minRangeBytes: number, maxRanges: number): [number, number][] {
  const count = Math.max(1, Math.min(maxRanges, Math.floor(total / minRangeBytes)));
  const size = Math.ceil(total / count);
  const ranges: [number, number][] = [];
  for (let first = 0; first < total; first += size) ranges.push([first, Math.min(total, first + size) - 1]);
  return ranges;
}

/** Why S3 refused, and what to change. Without s3:ListBucket, S3 answers 403 for a key that does not exist. */
function describeRefusal(status: number, uri: string): string {
  if (status === 403) {
    return `${uri}: access denied (403): the function's role lacks s3:GetObject on this key, or the key does not exist (without s3:ListBucket S3 answers 403 for a missing key)`;
  }
  if (status === 404) return `${uri}: no such object (404): upload the GGUF there or fix FALLBACK_WEIGHTS_S3_URI`;
  if (status === 301) {
    return `${uri}: S3 answered 301: the bucket is in another region than the function (AWS_REGION); keep the weights in the function's region`;
  }
  return `${uri}: S3 answered ${status}`;
}

type Signer = (
  method: 'HEAD' | 'GET',
  headers: Readonly<Record<string, string>>,
  stop?: AbortController,
) => Promise<Response>;

/**
 * Sends signed requests for one object. S3's canonical path is the key encoded once, exactly as it is sent; the
 * signer encodes each path segment once (for the other services a second time), so it is given the decoded path.
 */
function requestSigner(
  bucket: string,
  key: string,
  region: string,
  credentials: AwsCredentials,
  env: Readonly<Record<string, string | undefined>>,
  send: typeof fetch,
): Signer {
  const regional = awsEndpoint(S3_SERVICE, region, {});
  const endpoint = awsEndpoint(S3_SERVICE, region, env);
  // Path-style for a configured endpoint (a stand-in) and for dotted bucket names, which break the *.s3 certificate.
  const pathStyle = endpoint.href !== regional.href || bucket.includes('.');
  const host = pathStyle ? endpoint.host : `${bucket}.${endpoint.host}`;
  const rawPath = `${endpoint.pathname.replace(/\/$/, '')}/${pathStyle ? `${bucket}/` : ''}${key}`;
  const sentPath = rawPath.split('/').map(uriEscape).join('/');
  return (method, headers, stop) => {
    const signed = signRequest(
      { method, host, path: rawPath, headers: { ...headers, 'x-amz-content-sha256': EMPTY_SHA256 }, body: '' },
      { region, service: 's3' },
      credentials,
      new Date(),
    );
    const { host: _host, ...sent } = signed;
    return send(`${endpoint.protocol}//${host}${sentPath}`, {
      method,
      headers: sent,
      ...(stop ? { signal: stop.signal } : {}),
    });
  };
}

async function freeBytesOf(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return fs.bavail * fs.bsize;
}

const mib = (bytes: number): string => (bytes / MIB).toFixed(1);
