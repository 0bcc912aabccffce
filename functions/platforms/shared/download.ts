import type { AttachmentErrorCode, DownloadOptions } from '#platforms/types';

/**
 * Fetching a shared file's bytes for `ChatPlatform.downloadAttachment`: one GET, no retries (the member is waiting and
 * the turn has a deadline; a failure is told to them instead), no redirect followed unless the platform's download
 * is one (`redirect: 'follow'`), at most `maxBytes` read.
 */

/** Why a file could not be fetched; `message` is written for the member (it never carries a token or a URL). */
export class AttachmentError extends Error {
  constructor(
    readonly code: AttachmentErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AttachmentError';
  }
}

/** How long one download may take at most, whatever is left of the turn, ms. */
export const DOWNLOAD_TIMEOUT_MS = 15_000;

export interface CappedGet {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** The file's name, for messages. */
  readonly name: string;
  /**
   * A redirect is followed (`follow`: a download that answers with one, e.g. to a CDN) or is the failure named
   * (Slack redirects a request it does not authorise to its sign-in page: `forbidden`). @default 'unavailable'
   */
  readonly redirect?: 'follow' | AttachmentErrorCode;
}

/**
 * GETs `request.url` and returns at most `maxBytes` of the body, within the turn's signal and `DOWNLOAD_TIMEOUT_MS`. A declared `Content-Length` over the cap is refused
 * before the body is read; a body that grows past it is cut off (`too_large`). 401/403 → `forbidden`; 404/410 →
 * `gone`; other failures, the timeout and network errors → `unavailable`.
 * @throws AttachmentError
 */
export async function fetchCapped(
  fetchImpl: typeof fetch,
  request: CappedGet,
  options: DownloadOptions,
  classify: (status: number, body: string) => AttachmentErrorCode | undefined = () => undefined,
): Promise<Uint8Array> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS)]);
  let response: Response;
  try {
    response = await fetchImpl(request.url, {
      method: 'GET',
      headers: { ...request.headers },
      redirect: request.redirect === 'follow' ? 'follow' : 'manual',
      signal,
    });
  } catch (cause) {
    throw new AttachmentError('unavailable', `${request.name} could not be downloaded just now; try again.`, {
      cause,
    });
  }
  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    await response.body?.cancel().catch(() => undefined);
    const code = request.redirect === undefined || request.redirect === 'follow' ? 'unavailable' : request.redirect;
    throw new AttachmentError(code, messageFor(code, request.name), { cause: new Error(`HTTP ${response.status}`) });
  }
  if (!response.ok) {
    const body = await response.text().catch(() => '');
    throw statusError(response.status, classify(response.status, body), request.name);
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > options.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(request.name, options.maxBytes);
  }
  return readBodyCapped(response, request.name, options.maxBytes);
}

async function readBodyCapped(response: Response, name: string, maxBytes: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array();
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(name, maxBytes);
      }
      chunks.push(value);
    }
  } catch (cause) {
    if (cause instanceof AttachmentError) throw cause;
    throw new AttachmentError('unavailable', `${name} could not be downloaded just now; try again.`, { cause });
  }
  return Buffer.concat(chunks);
}

function statusError(status: number, code: AttachmentErrorCode | undefined, name: string): AttachmentError {
  const resolved = code ?? codeOfStatus(status);
  return new AttachmentError(resolved, messageFor(resolved, name), { cause: new Error(`HTTP ${status}`) });
}

function codeOfStatus(status: number): AttachmentErrorCode {
  if (status === 401 || status === 403) return 'forbidden';
  if (status === 404 || status === 410) return 'gone';
  return 'unavailable';
}

/** The member's message for a code (for adapters whose API answers an error in a 200 body). */
export function messageFor(code: AttachmentErrorCode, name: string): string {
  switch (code) {
    case 'gone':
      return `${name} is no longer available from the chat (deleted, or its download link expired): share it again.`;
    case 'forbidden':
      return `The bot is not allowed to read ${name}: the app needs permission to read files (ask the operator).`;
    case 'too_large':
      return `${name} is too large to read.`;
    case 'unsupported':
      return `The bot cannot read files shared here.`;
    case 'no_file':
      return `The message you replied to holds no file: share the file, then reply to it with your question.`;
    case 'unavailable':
      return `${name} could not be downloaded just now; try again.`;
  }
}

export function tooLarge(name: string, maxBytes: number): AttachmentError {
  return new AttachmentError('too_large', `${name} is larger than ${formatSize(maxBytes)}, the most the bot reads.`);
}

/** `4 MiB`, `512 KiB`, `900 bytes`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${Number((bytes / (1024 * 1024)).toFixed(1))} MiB`;
}

/** A file name as shown to members and sent to skills: no path, no control characters, at most 200 characters. */
export function cleanFileName(name: string | undefined, fallback = 'file'): string {
  const base = (name ?? '').split(/[\\/]/u).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const cleaned = base.replace(/[\u0000-\u001f\u007f]/gu, '').trim();
  return cleaned === '' ? fallback : cleaned.slice(0, 200);
}
