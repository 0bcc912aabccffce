import { isIPv6 } from 'node:net';
import { ConfigError } from '#core/errors';
import { buildDetectionView, originalSpan } from './detection-view';

/**
 * PII masking for chat messages, logs and audit records.
 *
 * Detectors read a normalised view of the text (`detection-view.ts`: full-width digits, letters and '＠' as ASCII,
 * any white space as ' ', any dash as '-', ideographic and middle dots as '.', zero-width characters dropped), so
 * `１３８　１２３４　５６７８` is found like `138 1234 5678`; each finding is then mapped back and the ORIGINAL span is
 * replaced, leaving the rest of the text exactly as it was.
 *
 * Every detector is a regex whose work per start position is bounded by a constant (fixed-width lookarounds,
 * bounded repetitions and optional separators, or a lookbehind that only lets a run start once), followed by an
 * O(length) validator (GB 11643 checksum, Luhn, `net.isIPv6`). Masking is therefore O(n + m log m) for n characters
 * and m candidates: safe to run on every message and on every log line.
 */

export type PiiKind = 'phone' | 'idCard' | 'passport' | 'bankCard' | 'email' | 'ipv4' | 'ipv6';

/** Detector precedence: when two candidates overlap, the earlier kind wins (an e-mail local part holding a phone
 * number is one e-mail; a valid resident ID is never re-read as a bank card). */
export const PII_KINDS: readonly PiiKind[] = ['email', 'idCard', 'passport', 'phone', 'bankCard', 'ipv6', 'ipv4'];

export type PiiLanguage = 'zh' | 'en';

/** Default placeholder labels; the placeholder is `[label]` or `[label ****1234]` when digits are kept. */
export const PII_LABELS: Readonly<Record<PiiLanguage, Readonly<Record<PiiKind, string>>>> = {
  zh: {
    phone: '手机号',
    idCard: '身份证号',
    passport: '护照/通行证号',
    bankCard: '银行卡号',
    email: '邮箱',
    ipv4: 'IP地址',
    ipv6: 'IP地址',
  },
  en: {
    phone: 'PHONE',
    idCard: 'ID_NUMBER',
    passport: 'PASSPORT',
    bankCard: 'BANK_CARD',
    email: 'EMAIL',
    ipv4: 'IP',
    ipv6: 'IP',
  },
};

/** Kinds whose trailing digits may be kept in the placeholder. */
export type DigitPiiKind = 'phone' | 'idCard' | 'bankCard';

export interface PiiMaskOptions {
  /** Kinds to detect. @default all of `PII_KINDS` */
  readonly kinds?: readonly PiiKind[];
  /** Language of the default labels. @default 'zh' */
  readonly language?: PiiLanguage;
  /** Overrides for individual labels, e.g. `{ phone: 'TEL' }`. */
  readonly labels?: Partial<Record<PiiKind, string>>;
  /**
   * How many trailing digits (0–4) to keep in the placeholder, per kind, e.g. `{ bankCard: 4 }` gives
   * `[银行卡号 ****1234]`. More than 4 is refused: the point is to keep context, not the number. @default none
   */
  readonly keepLastDigits?: Partial<Record<DigitPiiKind, number>>;
}

export interface PiiFinding {
  readonly kind: PiiKind;
  readonly count: number;
}

export interface PiiMaskResult {
  readonly text: string;
  /** One entry per kind found (count > 0), in `PII_KINDS` order. */
  readonly findings: readonly PiiFinding[];
}

interface Detector {
  readonly pattern: RegExp;
  readonly isValid: (match: string) => boolean;
}

const ALWAYS = (): boolean => true;

/** GB 11643-1999 weights for the first 17 characters; the check character is CHECK_CHARS[sum mod 11]. */
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK_CHARS = '10X98765432';

/** `id` may hold the separators of the grouped form (6-8-4); they are ignored. */
function isValidResidentId(candidate: string): boolean {
  const id = candidate.replace(/[ -]/g, '');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(id[i]) * ID_WEIGHTS[i]!;
  if (ID_CHECK_CHARS[sum % 11] !== id[17]!.toUpperCase()) return false;
  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  if (year < 1900 || year > 2099) return false;
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function isLuhnValid(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** IPv6 candidates must contain a digit, so words such as `dead::beef` or C++ scopes are left alone. */
function isPlausibleIpv6(candidate: string): boolean {
  return /\d/.test(candidate) && isIPv6(candidate);
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';

/** Separator between digit groups of a phone number: one space, or a dash or dot with optional spaces around it. */
const PHONE_SEPARATOR = '(?: ?[-.] ?| )?';

const DETECTORS: Readonly<Record<PiiKind, Detector>> = {
  // The lookbehind lets a local part start only at the beginning of its run, so a long run without '@' is
  // scanned once rather than once per character. ASCII addresses (full-width ones reach here as ASCII).
  email: {
    pattern: /(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,63}(?![\w-])/g,
    isValid: ALWAYS,
  },
  // 18 characters: 17 digits + digit or X, contiguous or in the printed 6-8-4 groups (region, birth date, sequence
  // and check) with one space or dash between groups; not inside a longer run of digits. Checksum and date after.
  idCard: { pattern: /(?<!\d)\d{6}[ -]?\d{8}[ -]?\d{3}[\dXx](?![\dXx])/g, isValid: isValidResidentId },
  // Mainland passport (E/G + 8 digits, E + letter + 7 digits), Mainland Travel Permit for HK/Macau residents
  // (H/M + 8 or 10 digits), Exit-Entry Permit to HK/Macau (C + 8 digits, C + letter + 7 digits). A whole token
  // only: no letter, digit or '_' may touch it. No context keyword is required: a lone token of exactly this shape
  // is rare outside identity documents, and over-masking an order code is the cheaper mistake.
  passport: {
    pattern: /(?<![A-Za-z0-9_])(?:[EGCegc]\d{8}|[ECec][A-Za-z]\d{7}|[HMhm]\d{8}(?:\d{2})?)(?![A-Za-z0-9_])/g,
    isValid: ALWAYS,
  },
  // Mainland mobile: optional (+86 / 0086 / 86) prefix, 3-4-4 digits separated by nothing, a space, or a dash or dot
  // (optionally spaced); not glued to other digits. A dot right before or after is allowed on purpose: `1.13812345678`
  // in a numbered list and `13812345678。2楼` (。 reads '.') must still be masked.
  phone: {
    pattern: new RegExp(
      `(?<![\\d+])(?:\\(?(?:\\+|00)?86\\)?[ -]?)?1[3-9]\\d(?:${PHONE_SEPARATOR}\\d{4}){2}(?!\\d)`,
      'g',
    ),
    isValid: ALWAYS,
  },
  // 13–19 digits, either contiguous or in the printed groupings (4-4-4-4[-1..4] and Amex 4-6-5); Luhn checked after.
  bankCard: {
    pattern: /(?<!\d)(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?|\d{4}[ -]\d{6}[ -]\d{5})(?!\d)/g,
    isValid: isLuhnValid,
  },
  // Colon-hex runs (optionally ending in a dotted IPv4 tail), confirmed by `net.isIPv6`.
  ipv6: {
    pattern:
      /(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![0-9A-Za-z:]|\.\d)/g,
    isValid: isPlausibleIpv6,
  },
  // Valid octets only; not part of a longer dotted run such as a 5-part version number.
  ipv4: { pattern: new RegExp(`(?<!\\d|\\d\\.)(?:${OCTET}\\.){3}${OCTET}(?!\\.?\\d)`, 'g'), isValid: ALWAYS },
};

interface Span {
  readonly start: number;
  readonly end: number;
  readonly kind: PiiKind;
}

/**
 * Adds one detector's spans (ascending, from `matchAll`) to the accepted spans (ascending, non-overlapping) and drops
 * those that overlap an accepted span. A two-pointer merge: O(accepted + spans) per detector.
 */
function mergeDisjoint(accepted: readonly Span[], spans: readonly Span[]): Span[] {
  const merged: Span[] = [];
  let i = 0;
  for (const span of spans) {
    while (i < accepted.length && accepted[i]!.end <= span.start) merged.push(accepted[i++]!);
    const next = accepted[i];
    if (next === undefined || next.start >= span.end) merged.push(span);
  }
  while (i < accepted.length) merged.push(accepted[i++]!);
  return merged;
}

function validateOptions(options: PiiMaskOptions): void {
  const problems: string[] = [];
  for (const kind of options.kinds ?? []) {
    if (!PII_KINDS.includes(kind)) problems.push(`pii.kinds: unknown kind '${kind}'`);
  }
  for (const [kind, n] of Object.entries(options.keepLastDigits ?? {})) {
    if (!Number.isInteger(n) || n < 0 || n > 4) problems.push(`pii.keepLastDigits.${kind} must be an integer 0–4`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/** `detected` is the match in the detection view, so full-width digits are already ASCII. */
function placeholderFor(kind: PiiKind, detected: string, options: PiiMaskOptions): string {
  const label = options.labels?.[kind] ?? PII_LABELS[options.language ?? 'zh'][kind];
  const keep = kind === 'phone' || kind === 'idCard' || kind === 'bankCard' ? (options.keepLastDigits?.[kind] ?? 0) : 0;
  if (keep === 0) return `[${label}]`;
  const digits = detected.replace(/[^\dXx]/g, '').toUpperCase();
  return `[${label} ****${digits.slice(-keep)}]`;
}

/**
 * Builds a masker with validated options; do this once at cold start. Throws `ConfigError` on unknown kinds or a
 * `keepLastDigits` outside 0–4.
 */
export function createPiiMasker(options: PiiMaskOptions = {}): (text: string) => PiiMaskResult {
  validateOptions(options);
  const enabled = new Set(options.kinds ?? PII_KINDS);
  const kinds = PII_KINDS.filter((kind) => enabled.has(kind));
  return (text) => {
    const view = buildDetectionView(text);
    let accepted: Span[] = [];
    for (const kind of kinds) {
      const { pattern, isValid } = DETECTORS[kind];
      const spans: Span[] = [];
      for (const match of view.text.matchAll(pattern)) {
        if (isValid(match[0])) spans.push({ start: match.index, end: match.index + match[0].length, kind });
      }
      if (spans.length > 0) accepted = mergeDisjoint(accepted, spans);
    }
    if (accepted.length === 0) return { text, findings: [] };
    const counts = new Map<PiiKind, number>();
    let masked = '';
    let cursor = 0;
    for (const span of accepted) {
      counts.set(span.kind, (counts.get(span.kind) ?? 0) + 1);
      // Disjoint view spans map to ordered original spans; two can only touch inside one original character that
      // expanded to several view units (e.g. '⑴'), which the earlier placeholder already covers.
      const original = originalSpan(view, span.start, span.end);
      const start = Math.max(original.start, cursor);
      if (original.end <= start) continue;
      const detected = view.text.slice(span.start, span.end);
      masked += text.slice(cursor, start) + placeholderFor(span.kind, detected, options);
      cursor = original.end;
    }
    masked += text.slice(cursor);
    const findings = kinds.flatMap((kind) => {
      const count = counts.get(kind);
      return count === undefined ? [] : [{ kind, count }];
    });
    return { text: masked, findings };
  };
}

/** One-off convenience over `createPiiMasker`; prefer a masker built once when options are fixed. */
export function maskPii(text: string, options: PiiMaskOptions = {}): PiiMaskResult {
  return createPiiMasker(options)(text);
}
