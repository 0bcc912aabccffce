import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { splitRanges, WeightsDownloadError, weightsFromS3 } from '#local-model/weights-from-s3';
import {
  type SeenRequest,
  startWeightsS3StandIn,
  type WeightsS3Fault,
  type WeightsS3StandIn,
} from '../../../sandbox/model/weights-s3-stand-in';

/**
 * The fallback function's weights download against a local S3 stand-in (path-style through AWS_ENDPOINT_URL_S3):
 * parallel signed range GETs into the weights directory, retries, reuse of a complete copy, and the errors an
 * operator must be able to act on.
 */
const BUCKET = 'groupgate-models';
const KEY = 'fallback/tiny model+v1.gguf';
const KIB = 1024;

let dir: string;
let source: string;
let content: Buffer;
let s3: WeightsS3StandIn | undefined;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'weights-'));
  source = path.join(dir, 'source.bin');
  content = randomBytes(200 * KIB + 7);
  writeFileSync(source, content);
  mkdirSync(path.join(dir, 'out'));
});
afterEach(async () => {
  await s3?.close();
  s3 = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function standIn(
  options: { denied?: string[]; fault?: (r: SeenRequest) => WeightsS3Fault | undefined } = {},
): Promise<WeightsS3StandIn> {
  s3 = await startWeightsS3StandIn({ objects: [{ bucket: BUCKET, key: KEY, file: source }], ...options });
  return s3;
}

const envFor = (url: string) => ({
  AWS_REGION: 'eu-central-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret',
  AWS_SESSION_TOKEN: 'session',
  AWS_ENDPOINT_URL_S3: url,
});

const download = (server: WeightsS3StandIn, overrides: Partial<Parameters<typeof weightsFromS3>[0]> = {}) =>
  weightsFromS3({
    bucket: BUCKET,
    key: KEY,
    dir: path.join(dir, 'out'),
    env: envFor(server.url),
    minRangeBytes: 32 * KIB,
    maxRanges: 4,
    ...overrides,
  });

async function failureOf(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error('expected the download to fail');
  return err;
}

const gets = (server: WeightsS3StandIn) => server.requests.filter((r) => r.method === 'GET');

describe('weightsFromS3', () => {
  it('downloads the object in parallel signed ranges and renames it complete', async () => {
    const server = await standIn();
    const file = await download(server);
    expect(file).toEqual({
      path: path.join(dir, 'out', 'tiny model+v1.gguf'),
      bytes: content.length,
      downloaded: true,
      ranges: 4,
      retries: 0,
    });
    expect(readFileSync(file.path).equals(content)).toBe(true);
    expect(readdirSync(path.join(dir, 'out'))).toEqual(['tiny model+v1.gguf']);
    expect(server.requests[0]).toMatchObject({ method: 'HEAD', object: `${BUCKET}/${KEY}` });
    const ranges = gets(server)
      .map((r) => r.range)
      .sort();
    expect(ranges).toEqual(
      splitRanges(content.length, 32 * KIB, 4)
        .map(([a, b]) => `bytes=${a}-${b}`)
        .sort(),
    );
    for (const request of server.requests) {
      expect(request.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-central-1\/s3\/aws4_request, SignedHeaders=[^,]*x-amz-content-sha256[^,]*x-amz-security-token/,
      );
    }
  });

  it('reuses a complete copy without downloading it again', async () => {
    const server = await standIn();
    await download(server);
    const again = await download(server);
    expect(again).toMatchObject({ downloaded: false, ranges: 0, bytes: content.length });
    expect(gets(server)).toHaveLength(4);
    expect(server.requests.filter((r) => r.method === 'HEAD')).toHaveLength(2);
  });

  it('replaces a copy of the wrong size (an old model under the same name)', async () => {
    const server = await standIn();
    writeFileSync(path.join(dir, 'out', 'tiny model+v1.gguf'), 'stale');
    const file = await download(server);
    expect(file.downloaded).toBe(true);
    expect(readFileSync(file.path).equals(content)).toBe(true);
  });

  it('retries a range that failed, and one cut off midway from where it stopped', async () => {
    const faults: WeightsS3Fault[] = ['status-500', 'cut'];
    const server = await standIn({
      fault: (r) => (r.method === 'GET' && r.range?.startsWith('bytes=0-') ? faults.shift() : undefined),
    });
    const file = await download(server);
    expect(file.retries).toBe(2);
    expect(readFileSync(file.path).equals(content)).toBe(true);
    const firstRange = gets(server)
      .map((r) => r.range ?? '')
      .filter((r) => /^bytes=\d+-51201$/.test(r));
    // 500, cut after half of 0–51201, then the rest from byte 25601 on.
    expect(firstRange).toEqual(['bytes=0-51201', 'bytes=0-51201', 'bytes=25601-51201']);
  });

  it('gives up after the attempts per range and leaves no partial file', async () => {
    const server = await standIn({ fault: (r) => (r.method === 'GET' ? 'status-500' : undefined) });
    const err = await failureOf(download(server, { attemptsPerRange: 2 }));
    expect(err.message).toMatch(/S3 answered 500 to bytes/);
    expect(readdirSync(path.join(dir, 'out'))).toEqual([]);
  });

  it('says the role lacks s3:GetObject when S3 answers 403', async () => {
    const server = await standIn({ denied: [`${BUCKET}/${KEY}`] });
    const err = await failureOf(download(server));
    expect(err).toBeInstanceOf(WeightsDownloadError);
    expect(err.message).toBe(
      `s3://${BUCKET}/${KEY}: access denied (403): the function's role lacks s3:GetObject on this key, or the key does not exist (without s3:ListBucket S3 answers 403 for a missing key)`,
    );
  });

  it('says the bucket is in another region when S3 answers 301', async () => {
    const server = await standIn({ fault: () => 'wrong-region' });
    const err = await failureOf(download(server));
    expect(err).toBeInstanceOf(WeightsDownloadError);
    expect(err.message).toMatch(/S3 answered 301: the bucket is in another region than the function/);
  });

  it('names the URI when the object does not exist', async () => {
    const server = await standIn();
    const err = await failureOf(download(server, { key: 'fallback/missing.gguf' }));
    expect(err.message).toBe(
      `s3://${BUCKET}/fallback/missing.gguf: no such object (404): upload the GGUF there or fix FALLBACK_WEIGHTS_S3_URI`,
    );
  });

  it('fails before downloading when the file does not fit the free space', async () => {
    const server = await standIn();
    const err = await failureOf(download(server, { freeBytes: async () => 100 * KIB }));
    expect(err.message).toBe(
      `s3://${BUCKET}/${KEY} is 0.2 MiB but ${path.join(dir, 'out')} has 0.1 MiB free: raise the function's ephemeral storage`,
    );
    expect(gets(server)).toEqual([]);
  });

  it('refuses without credentials, naming the variables', async () => {
    const server = await standIn();
    const err = await failureOf(download(server, { env: { AWS_ENDPOINT_URL_S3: server.url } }));
    expect(err.message).toContain('AWS_ACCESS_KEY_ID: not set');
    expect(err.message).toContain('AWS_SECRET_ACCESS_KEY: not set');
    expect(server.requests).toEqual([]);
  });
});

describe('splitRanges', () => {
  it('cuts a large file into at most maxRanges ranges that cover it exactly', () => {
    const total = 1_000_000_007;
    const ranges = splitRanges(total, 16 * 1024 * 1024, 8);
    expect(ranges).toHaveLength(8);
    expect(ranges[0]?.[0]).toBe(0);
    expect(ranges.at(-1)?.[1]).toBe(total - 1);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.[0]).toBe((ranges[i - 1]?.[1] ?? 0) + 1);
  });

  it('keeps a small file in one range and never makes a range under the minimum', () => {
    expect(splitRanges(10, 16, 8)).toEqual([[0, 9]]);
    expect(splitRanges(40, 16, 8)).toEqual([
      [0, 19],
      [20, 39],
    ]);
  });
});
