import { checkPng, type ReplyImage } from '#core/reply-image';
import { stripInvisible } from '#core/safety/sanitise-input';
import * as z from '#shared/zod';

/**
 * Protocol v1: the wire contract between GroupGate and a third-party skill (docs/SKILLS.md). JSON both ways: GroupGate
 * sends a `SkillRequest`, the skill returns a `SkillResponse`. Anything else the skill returns (another version, a
 * shape this module does not accept, more than `MAX_SKILL_RESPONSE_BYTES`) means the skill failed: the message goes
 * on to the model as if the skill had declined, and the failure is reported.
 *
 * Unknown fields of a response are ignored, so a skill may carry extra data; a change of meaning is a new version.
 * An answer's optional `images` came later within v1: a GroupGate from before ignores them (and posts the text), and
 * here each image is checked on its own, a bad one dropped with its reason, never failing the answer.
 * Lengths are JavaScript string lengths (UTF-16 code units).
 */
export const SKILL_PROTOCOL_VERSION = 'groupgate.skill.v1';

/** Largest response body read, bytes; a larger one is a failure (`too_large`), never truncated. */
export const MAX_SKILL_RESPONSE_BYTES = 64 * 1024;
/** Longest `answer` reply: about one chat message. */
export const MAX_SKILL_REPLY_CHARS = 4000;
/** Most passages one `ground` response may carry. */
export const MAX_SKILL_PASSAGES = 8;
export const MAX_PASSAGE_TEXT_CHARS = 4000;
export const MAX_PASSAGE_TITLE_CHARS = 200;
export const MAX_PASSAGE_SECTION_CHARS = 200;
/** Longest passage `url` kept; a longer one is dropped like a non-https one. */
export const MAX_PASSAGE_URL_CHARS = 2048;
/** Most images one `answer` may carry; later ones are dropped (and reported), the answer is kept. */
export const MAX_SKILL_IMAGES = 2;
/**
 * Largest decoded image, bytes. Two at this size (base64: 24 KiB each) beside a 4,000-character reply of 3-byte
 * characters still fit in `MAX_SKILL_RESPONSE_BYTES`.
 */
export const MAX_SKILL_IMAGE_BYTES = 18 * 1024;
export const MAX_SKILL_IMAGE_ALT_CHARS = 200;

/**
 * Most bytes of shared files one request carries, before base64. Lambda's synchronous Invoke takes a request payload
 * of at most 6 MB; base64 makes 4 MiB about 5.6 MB, which leaves room for the rest of the request. A larger file is
 * refused with a message to the member, never cut.
 */
export const MAX_SKILL_FILES_BYTES = 4 * 1024 * 1024;
/** Most files one request carries. */
export const MAX_SKILL_FILES = 4;
/** Longest file name sent. */
export const MAX_SKILL_FILE_NAME_CHARS = 200;

/**
 * A file the member shared with the message. Sent only to skills whose configuration says `acceptsFiles`: a skill
 * never receives files it did not ask for. The member shared it deliberately with the bot; its content is not
 * PII-masked (a table masked cell by cell would no longer add up), so an operator opts a skill in knowing that.
 */
export interface SkillFile {
  /** The name the member sees in the chat, without any path. */
  readonly name: string;
  /** From the name's extension: `text/csv`, the XLSX type, else `application/octet-stream`. */
  readonly mediaType: string;
  /** The file's bytes, base64. */
  readonly data: string;
}

/** Where a message was asked, as a skill learns it: never the platform's own user id. */
export interface SkillRequestOrigin {
  readonly platform: string;
  readonly chatId: string;
  /** An opaque, stable hash of the member in this deployment. */
  readonly memberRef: string;
}

/** What GroupGate sends a skill for one message. */
export interface SkillRequest {
  readonly version: typeof SKILL_PROTOCOL_VERSION;
  /** The skill's configured name. */
  readonly skill: string;
  /** Unique per call; the skill may log it to correlate with GroupGate's reports. */
  readonly requestId: string;
  /** The message as it may leave the deployment: PII-masked unless input masking is off. */
  readonly text: string;
  /** The matched command word (as configured, lower case), when the skill matched by `commands`. */
  readonly command?: string;
  /** With `command`: the rest of `text` after the command word, trimmed (possibly empty). */
  readonly args?: string;
  readonly origin?: SkillRequestOrigin;
  /** The files shared with the message, for a skill configured with `acceptsFiles`; absent when there are none. */
  readonly files?: readonly SkillFile[];
  /** How long the skill has for this call, ms; GroupGate stops waiting after it. */
  readonly deadlineMs: number;
}

/** A passage of a `ground` response, after parsing: `url` is present only if it is a usable `https:` link. */
export interface SkillPassage {
  readonly text: string;
  readonly title: string;
  readonly section?: string;
  readonly url?: string;
}

/** An image of an `answer` on the wire: a PNG file, base64 (RFC 4648, with padding), and what it shows. */
export interface SkillResponseImage {
  readonly mediaType: 'image/png';
  readonly data: string;
  readonly alt: string;
}

export type SkillResponse =
  | {
      readonly version: typeof SKILL_PROTOCOL_VERSION;
      readonly action: 'answer';
      readonly reply: string;
      /** Optional (a skill that sends none is unchanged); posted after the reply where the platform can. */
      readonly images?: readonly SkillResponseImage[];
    }
  | {
      readonly version: typeof SKILL_PROTOCOL_VERSION;
      readonly action: 'ground';
      readonly passages: readonly SkillPassage[];
    }
  | { readonly version: typeof SKILL_PROTOCOL_VERSION; readonly action: 'decline' };

const hasVisibleText = (s: string): boolean => stripInvisible(s).trim().length > 0;

/**
 * A title or section as one line of plain text: invisible characters stripped (hidden-text smuggling) and every run of
 * white space, line breaks included, made one space, so it cannot start a forged line in the source list.
 */
const oneLine = (s: string): string => stripInvisible(s).replace(/\s+/gu, ' ').trim();

/** A required text: 1..max characters, not only white space. */
const text = (max: number) =>
  z.string().check(z.minLength(1), z.maxLength(max), z.refine(hasVisibleText, { error: 'must not be blank' }));

const version = z.literal(SKILL_PROTOCOL_VERSION);

const passageSchema = z.object({
  text: text(MAX_PASSAGE_TEXT_CHARS),
  title: text(MAX_PASSAGE_TITLE_CHARS),
  section: z.optional(z.string().check(z.maxLength(MAX_PASSAGE_SECTION_CHARS))),
  // Any string is accepted here: a link that is not https (or not a URL at all) is dropped from its passage by
  // `usableUrl`, not treated as a failure, since the passage text still grounds the answer; members are only ever
  // shown https links (GroundingPassage.url).
  url: z.optional(z.string()),
});

/** The response schema, discriminated on `action`; the version is checked first by `parseSkillResponse`. */
export const skillResponseSchema = z.discriminatedUnion('action', [
  // `images` is checked one image at a time by `parseImages`: a bad image is dropped, never the answer.
  z.object({
    version,
    action: z.literal('answer'),
    reply: text(MAX_SKILL_REPLY_CHARS),
    images: z.optional(z.unknown()),
  }),
  z.object({
    version,
    action: z.literal('ground'),
    passages: z.array(passageSchema).check(z.minLength(1), z.maxLength(MAX_SKILL_PASSAGES)),
  }),
  z.object({ version, action: z.literal('decline') }),
]);

export type SkillResponseFailure = 'version_mismatch' | 'invalid_response';

export type ParsedSkillResponse =
  | {
      readonly ok: true;
      /** An answer's `images` are not in it: they are in `images`, decoded and checked. */
      readonly response: SkillResponse;
      /** With an answer that carried `images`: those that passed, decoded, in order. */
      readonly images?: readonly ReplyImage[];
      /** With an answer that carried `images`: one line per image dropped (`images[1]: not_png`), for logs. */
      readonly droppedImages?: readonly string[];
    }
  | { readonly ok: false; readonly reason: SkillResponseFailure; readonly detail: string };

/** How many schema issues a failure's `detail` names, and its longest length: it goes to logs, not to members. */
const MAX_DETAIL_ISSUES = 3;
const MAX_DETAIL_CHARS = 300;

/**
 * Checks a skill's decoded JSON response: the version first (`version_mismatch`, so an operator sees a skill built
 * for another protocol at once), then the shape (`invalid_response`). `detail` names what was wrong (schema paths and
 * zod's messages, never the response's text) for logs.
 */
export function parseSkillResponse(raw: unknown): ParsedSkillResponse {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: 'invalid_response', detail: `expected a JSON object, got ${jsonType(raw)}` };
  }
  const got = (raw as { version?: unknown }).version;
  if (got !== SKILL_PROTOCOL_VERSION) {
    const named = got === undefined ? 'no version' : `version ${clip(JSON.stringify(got) ?? String(got), 64)}`;
    return { ok: false, reason: 'version_mismatch', detail: `${named}; expected ${SKILL_PROTOCOL_VERSION}` };
  }
  const parsed = skillResponseSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, MAX_DETAIL_ISSUES).map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
      return `${path.replace(/^\./, '') || '(response)'}: ${issue.message}`;
    });
    return { ok: false, reason: 'invalid_response', detail: clip(issues.join('; '), MAX_DETAIL_CHARS) };
  }
  const response = parsed.data;
  if (response.action === 'answer') {
    const answer = { version: response.version, action: response.action, reply: stripInvisible(response.reply).trim() };
    if (response.images === undefined) return { ok: true, response: answer };
    return { ok: true, response: answer, ...parseImages(response.images) };
  }
  if (response.action !== 'ground') return { ok: true, response };
  return { ok: true, response: { ...response, passages: response.passages.map(cleanPassage) } };
}

/** Why an image was dropped: the answer itself is kept whatever its images are. */
type SkillImageProblem =
  | 'not_a_list'
  | 'too_many'
  | 'not_an_object'
  | 'media_type'
  | 'bad_base64'
  | 'too_large'
  | 'not_png'
  | 'dimensions'
  | 'bad_alt';

/** Longest base64 text of an image within `MAX_SKILL_IMAGE_BYTES`; checked before decoding, so nothing larger is. */
const MAX_IMAGE_BASE64_CHARS = Math.ceil(MAX_SKILL_IMAGE_BYTES / 3) * 4;
/** Strict base64: the standard alphabet, padded, no white space (Buffer's decoder skips what it does not know). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An answer's `images`: each of the first `MAX_SKILL_IMAGES` checked on its own; any after them is `too_many`. */
function parseImages(raw: unknown): { images: ReplyImage[]; droppedImages: string[] } {
  const images: ReplyImage[] = [];
  const droppedImages: string[] = [];
  if (!Array.isArray(raw)) return { images, droppedImages: [`images: not_a_list`] };
  raw.forEach((item: unknown, index) => {
    const checked = index < MAX_SKILL_IMAGES ? parseImage(item) : 'too_many';
    if (typeof checked === 'string') droppedImages.push(`images[${index}]: ${checked}`);
    else images.push(checked);
  });
  return { images, droppedImages };
}

function parseImage(raw: unknown): ReplyImage | SkillImageProblem {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'not_an_object';
  const { mediaType, data, alt } = raw as { mediaType?: unknown; data?: unknown; alt?: unknown };
  if (mediaType !== 'image/png') return 'media_type';
  if (typeof alt !== 'string' || alt.length > MAX_SKILL_IMAGE_ALT_CHARS || oneLine(alt) === '') return 'bad_alt';
  if (typeof data !== 'string') return 'bad_base64';
  if (data.length > MAX_IMAGE_BASE64_CHARS) return 'too_large';
  if (data.length === 0 || !BASE64.test(data)) return 'bad_base64';
  // At most MAX_IMAGE_BASE64_CHARS of strict base64: at most MAX_SKILL_IMAGE_BYTES decoded.
  const bytes = new Uint8Array(Buffer.from(data, 'base64'));
  const png = checkPng(bytes);
  if (!png.ok) return png.reason;
  return { mediaType, data: bytes, alt: oneLine(alt), width: png.width, height: png.height };
}

/** Invisible characters go before anything reads a passage, as for members' messages (`sanitise-input.ts`). */
function cleanPassage(passage: z.output<typeof passageSchema>): SkillPassage {
  const section = passage.section === undefined ? undefined : oneLine(passage.section) || undefined;
  const url = usableUrl(passage.url);
  return {
    text: stripInvisible(passage.text).trim(),
    title: oneLine(passage.title),
    ...(section === undefined ? {} : { section }),
    ...(url === undefined ? {} : { url }),
  };
}

/**
 * The link in its normalised form if it is an `https:` URL of at most `MAX_PASSAGE_URL_CHARS` without user info;
 * else undefined. User info is refused because `https://docs.example.com@evil.example/` reads as the wrong host.
 */
function usableUrl(url: string | undefined): string | undefined {
  if (url === undefined || url.length > MAX_PASSAGE_URL_CHARS || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' || parsed.username !== '' || parsed.password !== '') return undefined;
  return parsed.href.length > MAX_PASSAGE_URL_CHARS ? undefined : parsed.href;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'an array' : typeof value;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
