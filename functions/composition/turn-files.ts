import { MAX_SKILL_FILES, MAX_SKILL_FILES_BYTES } from '#core/skills/remote-protocol';
import type { SharedFile, SharedFiles } from '#core/skills/skill';
import { AttachmentError, formatSize } from '#platforms/shared/download';
import type { ChatPlatform, MessageAttachment } from '#platforms/types';

/** What a file's name says its type is; the skill still checks the bytes. */
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  txt: 'text/plain',
  json: 'application/json',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  xls: 'application/vnd.ms-excel',
  pdf: 'application/pdf',
};

export function mediaTypeOf(name: string): string {
  const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  return (extension === undefined ? undefined : MEDIA_TYPES[extension]) ?? 'application/octet-stream';
}

export interface TurnFilesOptions {
  /** Absolute ms by which the turn must be answered: downloads stop before it. */
  readonly deadline: number;
  readonly now: () => number;
  /** @default MAX_SKILL_FILES_BYTES: what one skill request can carry (Lambda's 6 MB payload, base64). */
  readonly maxTotalBytes?: number;
}

/**
 * The files of one queued message for the skill stage (`SharedFiles`): nothing is downloaded until a skill that
 * accepts files asks, then each is fetched through its platform's adapter, one after another, within what is left of
 * `maxTotalBytes` (a declared size over it is refused before any download) and of the turn's deadline. The first
 * failure ends the fetch: the member is told which file and why, and the question is never answered without it.
 * Undefined when the message has no file attachments.
 */
export function turnFiles(
  platform: Pick<ChatPlatform, 'downloadAttachment'>,
  attachments: readonly MessageAttachment[] | undefined,
  options: TurnFilesOptions,
): SharedFiles | undefined {
  // A voice message's audio is the question itself (the worker's voice step), never a file for a skill.
  const shared = attachments?.filter((attachment) => attachment.kind === 'file') ?? [];
  if (shared.length === 0) return undefined;
  const chosen = shared.slice(0, MAX_SKILL_FILES);
  const maxTotal = options.maxTotalBytes ?? MAX_SKILL_FILES_BYTES;
  let fetching: ReturnType<SharedFiles['fetch']> | undefined;

  async function fetchAll(): ReturnType<SharedFiles['fetch']> {
    const download = platform.downloadAttachment?.bind(platform);
    if (download === undefined) {
      return { ok: false, reason: 'unsupported', message: 'The bot cannot read files shared on this platform yet.' };
    }
    const files: SharedFile[] = [];
    let used = 0;
    for (const attachment of chosen) {
      const left = maxTotal - used;
      if (attachment.size !== undefined && attachment.size > left) {
        return { ok: false, reason: 'too_large', message: overCap(attachment.name, attachment.size, maxTotal) };
      }
      const signal = AbortSignal.timeout(Math.max(1, options.deadline - options.now()));
      try {
        const { name, bytes } = await download(attachment, { maxBytes: left, signal });
        used += bytes.byteLength;
        files.push({ name, mediaType: mediaTypeOf(name), bytes });
      } catch (error) {
        if (!(error instanceof AttachmentError)) throw error;
        // A replied-to message without a file: the question is about something else, and goes on without it.
        if (error.code === 'no_file' && attachment.quoted === true) continue;
        const message = error.code === 'too_large' ? overCap(attachment.name, undefined, maxTotal) : error.message;
        return { ok: false, reason: error.code, message };
      }
    }
    return { ok: true, files };
  }

  return {
    count: chosen.length,
    fetch() {
      fetching ??= fetchAll();
      return fetching;
    },
  };
}

function overCap(name: string, size: number | undefined, maxTotal: number): string {
  const actual = size === undefined ? 'larger than' : `${formatSize(size)}, over`;
  return `${name} is ${actual} ${formatSize(maxTotal)}, the most the bot reads from shared files: share a smaller file (fewer rows or columns), or ask the operator to register it as a dataset.`;
}
