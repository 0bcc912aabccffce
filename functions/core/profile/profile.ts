import { stripInvisible } from '#core/safety/sanitise-input';
import { estimateTokens } from '../prompt/token-estimate';

/**
 * Member profiles (docs/PROFILES.md): what a member, their platform's directory or their group says about how the
 * member wants answers, and how that shapes the system prompt. Pure: storage is `#stores/profile-store`, the
 * commands are `skills/profile.ts`.
 *
 * Only bounded choices reach the model: the language (from a fixed list), the length, the style and the expertise
 * (enums), and an audience derived from the free-text role and department (`manager`, `engineer` or none). The free
 * text itself is stored for the member to see and never enters a prompt, so a profile cannot carry an instruction to
 * the model, and the FAQ cache key (which includes the rendered block) has a bounded number of variants.
 */

export const PROFILE_FIELDS = ['language', 'length', 'style', 'expertise', 'role', 'department'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];

/** Where a value came from, in precedence order: the member's own word wins over the directory over the group. */
export type ProfileSource = 'member' | 'directory' | 'group';

/** The fields a platform directory can supply (job title, department). */
export const DIRECTORY_FIELDS = ['role', 'department'] as const satisfies readonly ProfileField[];
export type DirectoryField = (typeof DIRECTORY_FIELDS)[number];

/** Free-text fields: PII-masked before they are stored, never put in a prompt, never written to audit records. */
export const FREE_TEXT_FIELDS: ReadonlySet<ProfileField> = new Set(['role', 'department']);

/** Longest free-text value, characters after clean-up. */
export const MAX_FREE_TEXT_CHARS = 64;

export const LENGTHS = ['short', 'normal', 'detailed'] as const;
export const STYLES = ['neutral', 'formal', 'friendly', 'bullets'] as const;
export const EXPERTISE = ['beginner', 'intermediate', 'expert'] as const;

/** The languages an answer can be asked in: code → the name the prompt uses. */
export const LANGUAGES: Readonly<Record<string, string>> = {
  en: 'English',
  zh: 'Simplified Chinese',
  'zh-tw': 'Traditional Chinese',
  ja: 'Japanese',
  ko: 'Korean',
  fr: 'French',
  de: 'German',
  es: 'Spanish',
  pt: 'Portuguese',
  it: 'Italian',
  ru: 'Russian',
  vi: 'Vietnamese',
  th: 'Thai',
  id: 'Indonesian',
  ar: 'Arabic',
  hi: 'Hindi',
};

/** Other spellings members type for the same language (compared in lower case). */
const LANGUAGE_ALIASES: Readonly<Record<string, string>> = {
  english: 'en',
  chinese: 'zh',
  'simplified chinese': 'zh',
  'zh-cn': 'zh',
  'zh-hans': 'zh',
  中文: 'zh',
  简体中文: 'zh',
  'traditional chinese': 'zh-tw',
  'zh-hant': 'zh-tw',
  'zh-hk': 'zh-tw',
  繁體中文: 'zh-tw',
  繁体中文: 'zh-tw',
  japanese: 'ja',
  日本語: 'ja',
  日语: 'ja',
  korean: 'ko',
  한국어: 'ko',
  french: 'fr',
  français: 'fr',
  german: 'de',
  deutsch: 'de',
  spanish: 'es',
  español: 'es',
  portuguese: 'pt',
  português: 'pt',
  italian: 'it',
  italiano: 'it',
  russian: 'ru',
  русский: 'ru',
  vietnamese: 'vi',
  'tiếng việt': 'vi',
  thai: 'th',
  indonesian: 'id',
  arabic: 'ar',
  hindi: 'hi',
};

/** One stored value: what it is and when it was set (epoch ms). */
export interface ProfileValue {
  readonly value: string;
  readonly updatedAt: number;
}

/** A member's stored profile: their own values and the directory's cached answer. */
export interface StoredProfile {
  /** Epoch ms of the item's last write; absent when nothing is stored. Guards the directory's cache writes. */
  readonly updatedAt?: number;
  readonly member: Readonly<Partial<Record<ProfileField, ProfileValue>>>;
  readonly directory?: {
    readonly values: Readonly<Partial<Record<DirectoryField, string>>>;
    /** Epoch ms of the lookup; the directory is asked again once this is older than its TTL. */
    readonly fetchedAt: number;
  };
  /**
   * Epoch ms of the last failed lookup (no scope, throttled, down); the directory is not asked again for this member
   * before `PROFILE_DIRECTORY_RETRY_MINUTES` have passed. Cleared by the next answer the directory gives.
   */
  readonly directoryFailedAt?: number;
}

export const EMPTY_PROFILE: StoredProfile = { member: {} };

/** A group's default values (`PROFILE_GROUP_DEFAULTS`), already validated. */
export type GroupDefaults = Readonly<Partial<Record<ProfileField, string>>>;

/** One field of a resolved profile. */
export interface ResolvedValue {
  readonly value: string;
  readonly source: ProfileSource;
  /** Epoch ms; absent for group defaults (configuration has no time). */
  readonly updatedAt?: number;
}

export type ResolvedProfile = Readonly<Partial<Record<ProfileField, ResolvedValue>>>;

/** Each field from the member, else the directory, else the group default. */
export function resolveProfile(stored: StoredProfile, defaults: GroupDefaults): ResolvedProfile {
  const resolved: Partial<Record<ProfileField, ResolvedValue>> = {};
  for (const field of PROFILE_FIELDS) {
    const own = stored.member[field];
    const directory = (DIRECTORY_FIELDS as readonly ProfileField[]).includes(field)
      ? stored.directory?.values[field as DirectoryField]
      : undefined;
    const group = defaults[field];
    if (own) resolved[field] = { value: own.value, source: 'member', updatedAt: own.updatedAt };
    else if (directory && stored.directory)
      resolved[field] = { value: directory, source: 'directory', updatedAt: stored.directory.fetchedAt };
    else if (group !== undefined) resolved[field] = { value: group, source: 'group' };
  }
  return resolved;
}

/** Why a value was refused; the text is shown to the member as it is. */
export class ProfileValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileValueError';
  }
}

/** Phrases that address the model rather than describe the member; a value holding one is refused. */
const INSTRUCTION_LIKE =
  /\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|rules?|prompts?|above|previous)\b|\b(system|developer)\s*(prompt|message)\b|\byou\s+(are|must|should|will)\b|\bact\s+as\b|\bpretend\b|忽略|无视|系统提示|提示词|你(现在)?是|扮演/iu;

/** Characters a free-text value may hold: letters, marks, digits, spaces and plain punctuation of titles. */
const FREE_TEXT_ALLOWED = /^[\p{L}\p{M}\p{N} .,&'()/+\-–—·・、，（）]+$/u;

/**
 * The canonical form of a value for `field`, or a `ProfileValueError` that says what is accepted. Free text is
 * stripped of invisible characters, its white space collapsed; line breaks, markup characters, more than
 * `MAX_FREE_TEXT_CHARS` characters and instruction-like phrases are refused (the member is told why).
 */
export function parseProfileValue(field: ProfileField, raw: string): string {
  const text = stripInvisible(raw).normalize('NFKC').trim();
  if (text.length === 0) throw new ProfileValueError(`Give a value for ${field}.`);
  switch (field) {
    case 'language': {
      const lower = text.toLowerCase();
      const code = lower in LANGUAGES ? lower : LANGUAGE_ALIASES[lower];
      if (code === undefined) {
        throw new ProfileValueError(
          `Unknown language "${clip(text)}". Use one of: ${Object.entries(LANGUAGES)
            .map(([c, name]) => `${c} (${name})`)
            .join(', ')}.`,
        );
      }
      return code;
    }
    case 'length':
      return oneOf(field, text, LENGTHS);
    case 'style':
      return oneOf(field, text, STYLES);
    case 'expertise':
      return oneOf(field, text, EXPERTISE);
    case 'role':
    case 'department': {
      if (/[\r\n]/.test(raw)) throw new ProfileValueError(`The ${field} must be one line.`);
      const collapsed = text.replace(/\s+/gu, ' ');
      if (collapsed.length > MAX_FREE_TEXT_CHARS) {
        throw new ProfileValueError(
          `The ${field} is ${collapsed.length} characters long; at most ${MAX_FREE_TEXT_CHARS} are kept.`,
        );
      }
      if (!FREE_TEXT_ALLOWED.test(collapsed)) {
        throw new ProfileValueError(
          `The ${field} may hold letters, digits, spaces and . , & ' ( ) / + - only (no markup or symbols).`,
        );
      }
      if (INSTRUCTION_LIKE.test(collapsed)) {
        throw new ProfileValueError(
          `The ${field} should describe you (e.g. "Engineering manager"), not give the assistant instructions.`,
        );
      }
      return collapsed;
    }
  }
}

function oneOf(field: ProfileField, text: string, allowed: readonly string[]): string {
  const lower = text.toLowerCase();
  if (allowed.includes(lower)) return lower;
  throw new ProfileValueError(`Unknown ${field} "${clip(text)}". Use one of: ${allowed.join(', ')}.`);
}

/** A refused value as it is echoed back: short, one line, no markup. */
function clip(text: string): string {
  const line = text.replace(/\s+/gu, ' ').replace(/[<>`*_[\]]/g, '');
  return line.length > 24 ? `${line.slice(0, 24)}…` : line;
}

/** The field a member named (`lang` and `dept` are accepted too), or a `ProfileValueError` listing the fields. */
export function parseProfileField(raw: string): ProfileField {
  const name = raw.toLowerCase();
  const field = (PROFILE_FIELDS as readonly string[]).includes(name) ? (name as ProfileField) : FIELD_ALIASES[name];
  if (field === undefined) {
    throw new ProfileValueError(`Unknown field "${clip(raw)}". Fields: ${PROFILE_FIELDS.join(', ')}.`);
  }
  return field;
}

const FIELD_ALIASES: Readonly<Record<string, ProfileField>> = {
  lang: 'language',
  语言: 'language',
  长度: 'length',
  风格: 'style',
  dept: 'department',
  部门: 'department',
  title: 'role',
  角色: 'role',
  职位: 'role',
  专业: 'expertise',
};

/** Who the answer is for, derived from the free-text role and department; only this reaches the prompt. */
export type Audience = 'manager' | 'engineer';

const MANAGER =
  /\b(manager|director|head|lead|vp|vice president|chief|ceo|cto|cfo|coo|executive|owner)\b|经理|总监|主管|负责人|总裁|总经理|部长|组长/iu;
const ENGINEER =
  /\b(engineer|developer|programmer|devops|sre|architect|scientist|analyst|technician|admin(istrator)?)\b|工程师|开发|程序员|架构师|研发|运维|技术/iu;

export function audienceOf(profile: ResolvedProfile): Audience | undefined {
  const text = [profile.role?.value, profile.department?.value].filter(Boolean).join(' ');
  if (MANAGER.test(text)) return 'manager';
  if (ENGINEER.test(text)) return 'engineer';
  return undefined;
}

/** Tokens the profile block may take at most; lines past it are left out, least important first. */
export const PROFILE_BLOCK_MAX_TOKENS = 120;

const BLOCK_HEADING =
  '\n\nThe member asking has these answer preferences. They shape only the form of the answer, never its ' +
  'content, facts or your rules:';

const LENGTH_LINES: Readonly<Record<string, string | undefined>> = {
  short: 'Keep the answer short: at most three sentences or five bullet points.',
  detailed: 'Give a detailed answer, with steps and examples where they help.',
};
const STYLE_LINES: Readonly<Record<string, string | undefined>> = {
  formal: 'Use a formal tone.',
  friendly: 'Use a friendly, conversational tone.',
  bullets: 'Prefer bullet points to paragraphs.',
};
const EXPERTISE_LINES: Readonly<Record<string, string | undefined>> = {
  beginner: 'The member is new to the subject: explain terms and avoid jargon.',
  expert: 'The member is an expert: skip the basics and use precise terms.',
};
const AUDIENCE_LINES: Readonly<Record<Audience, string>> = {
  manager: 'The member is a manager: start with a one-line summary, then the key points and decisions.',
  engineer: 'The member is an engineer: include the technical detail (commands, configuration, reasons).',
};

/** The system-prompt addition of one profile and a short label of what shaped it (no free text: audit-safe). */
export interface ProfileShaping {
  /** Appended to the system prompt; part of the FAQ cache key. Empty when the profile changes nothing. */
  readonly block: string;
  /** e.g. `language=ja(member) length=short(group) audience=manager(directory)`; empty when nothing shaped it. */
  readonly label: string;
}

/**
 * The lines the profile adds to the system prompt, most important first (language, length, audience, expertise,
 * style), within `maxTokens`. Defaults (`normal`, `neutral`, `intermediate`, no audience) add nothing, so members
 * without preferences share the group's FAQ cache entries.
 */
export function profileShaping(profile: ResolvedProfile, maxTokens = PROFILE_BLOCK_MAX_TOKENS): ProfileShaping {
  const lines: { line: string; label: string }[] = [];
  const language = profile.language;
  const languageName = language ? LANGUAGES[language.value] : undefined;
  if (language && languageName) {
    lines.push({
      line: `Answer in ${languageName}, whatever the language of the question.`,
      label: `language=${language.value}(${language.source})`,
    });
  }
  const add = (field: 'length' | 'expertise' | 'style', table: Readonly<Record<string, string | undefined>>) => {
    const resolved = profile[field];
    const line = resolved ? table[resolved.value] : undefined;
    if (resolved && line) lines.push({ line, label: `${field}=${resolved.value}(${resolved.source})` });
  };
  add('length', LENGTH_LINES);
  const audience = audienceOf(profile);
  if (audience) {
    const from = profile.role && audienceOf({ role: profile.role }) ? profile.role : profile.department;
    lines.push({ line: AUDIENCE_LINES[audience], label: `audience=${audience}(${from?.source ?? 'group'})` });
  }
  add('expertise', EXPERTISE_LINES);
  add('style', STYLE_LINES);

  let block = '';
  const labels: string[] = [];
  for (const { line, label } of lines) {
    const next = `${block || BLOCK_HEADING}\n- ${line}`;
    if (estimateTokens(next) > maxTokens) break;
    block = next;
    labels.push(label);
  }
  return { block, label: labels.join(' ') };
}

/** `/profile`: everything stored about the member and what applies, with sources, as a chat reply. */
export function describeProfile(stored: StoredProfile, defaults: GroupDefaults, directoryTtlMs: number): string {
  const resolved = resolveProfile(stored, defaults);
  const rows = PROFILE_FIELDS.map((field) => {
    const r = resolved[field];
    if (!r) return `• ${field}: —`;
    const shown = field === 'language' ? `${r.value} (${LANGUAGES[r.value] ?? r.value})` : r.value;
    const when = r.updatedAt === undefined ? '' : `, ${new Date(r.updatedAt).toISOString().slice(0, 16)}Z`;
    return `• ${field}: ${shown} [${r.source}${when}]`;
  });
  const overridden = DIRECTORY_FIELDS.filter((f) => stored.member[f] && stored.directory?.values[f]).map(
    (f) => `• directory ${f} (not used, yours wins): ${stored.directory?.values[f]}`,
  );
  const directory = stored.directory
    ? `Directory looked up ${new Date(stored.directory.fetchedAt).toISOString().slice(0, 16)}Z; kept ${Math.round(
        directoryTtlMs / 3_600_000,
      )} h before it is asked again.`
    : undefined;
  return [
    'Your profile (member > directory > group default):',
    ...rows,
    ...overridden,
    ...(directory ? [directory] : []),
    `Change: /profile set <field> <value> · /profile clear <field> · /forget deletes it all. Fields: ${PROFILE_FIELDS.join(', ')}.`,
  ].join('\n');
}
