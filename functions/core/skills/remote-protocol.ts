import { stripInvisible } from '#core/safety/sanitise-input';
import * as z from '#shared/zod';

/**
 * Protocol v1: the wire contract between GroupGate and a third-party skill (docs/SKILLS.md). JSON both ways: GroupGate
 * sends a `SkillRequest`, the skill returns a `SkillResponse`. Anything else the skill returns (another version, a
 * shape this module does not accept, more than `MAX_SKILL_RESPONSE_BYTES`) means the skill failed: the message goes
 * on to the model as if the skill had declined, and the failure is reported.
 *
 * Unknown fields of a response are ignored, so a skill may carry extra data; a change of meaning is a new version.
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

export type SkillResponse =
  | { readonly version: typeof SKILL_PROTOCOL_VERSION; readonly action: 'answer'; readonly reply: string }
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
  z.object({ version, action: z.literal('answer'), reply: text(MAX_SKILL_REPLY_CHARS) }),
  z.object({
    version,
    action: z.literal('ground'),
    passages: z.array(passageSchema).check(z.minLength(1), z.maxLength(MAX_SKILL_PASSAGES)),
  }),
  z.object({ version, action: z.literal('decline') }),
]);

export type SkillResponseFailure = 'version_mismatch' | 'invalid_response';

export type ParsedSkillResponse =
  | { readonly ok: true; readonly response: SkillResponse }
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
  if (response.action === 'answer')
    return { ok: true, response: { ...response, reply: stripInvisible(response.reply).trim() } };
  if (response.action !== 'ground') return { ok: true, response };
  return { ok: true, response: { ...response, passages: response.passages.map(cleanPassage) } };
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
