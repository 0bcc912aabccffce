/**
 * Reads the conventions the operator guides (docs/) follow, so tests can hold the guides to the code:
 * - configuration keys are written `groupgate:<key>`; the reference table in OPERATIONS.md has one row per key;
 * - `-c groupgate:<key>=<value>` flags inside fenced code blocks are real CDK flags;
 * - shell variables are lower-case, so an upper-case name in a code span or in a command is an environment
 *   variable (or a constant of the code the guide cites);
 * - a secret is written with `--secret-id "$(res AWS::SecretsManager::Secret Secrets<platform>)"` followed by
 *   `--secret-string '<json>'`.
 */

const FENCE = /^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm;
const CONFIG_KEY = /groupgate:([A-Za-z][A-Za-z0-9]*)/g;
const TABLE_ROW_KEY = /^\|\s*`groupgate:([A-Za-z][A-Za-z0-9]*)`\s*\|/gm;
const FLAG = /-c\s+groupgate:([A-Za-z][A-Za-z0-9]*)=('[^']*'|"[^"]*"|\S+)/g;
const UPPER_NAME = /^([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?:=|$)/;
const SHELL_ASSIGNMENT = /(?:^|[\s;(])([A-Z][A-Z0-9_]*)=/gm;
const SHELL_REFERENCE = /\$\{?([A-Z][A-Z0-9_]*)/g;
const SECRET_COMMAND = /Secrets(feishu|slack|dingtalk|wecom)\)"?\s+--secret-string\s+'([^']*)'/g;
const LINK = /\]\(([^)\s]+)\)/g;
const HEADING = /^#{1,6}\s+(.+?)\s*$/gm;

/** The contents of every fenced code block, with shell line continuations joined. */
export function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(FENCE)].map((m) => (m[1] ?? '').replace(/\\\n[ \t]*/g, ' '));
}

/** The markdown outside fenced code blocks. */
export function prose(markdown: string): string {
  return markdown.replace(FENCE, '');
}

/** Every `groupgate:<key>` named anywhere in the text. */
export function configKeyMentions(markdown: string): Set<string> {
  return new Set([...markdown.matchAll(CONFIG_KEY)].map((m) => m[1] ?? ''));
}

/** The keys of the reference table rows (`| \`groupgate:key\` | … |`), in order, duplicates kept. */
export function referenceTableKeys(markdown: string): string[] {
  return [...prose(markdown).matchAll(TABLE_ROW_KEY)].map((m) => m[1] ?? '');
}

/** One entry per command line in code blocks that passes `-c groupgate:<key>=<value>` flags: key → raw value. */
export function configFlagCommands(markdown: string): Record<string, string>[] {
  const commands: Record<string, string>[] = [];
  for (const block of codeBlocks(markdown)) {
    for (const line of block.split('\n')) {
      const flags = [...line.matchAll(FLAG)];
      if (flags.length === 0) continue;
      commands.push(Object.fromEntries(flags.map((m) => [m[1] ?? '', unquote(m[2] ?? '')])));
    }
  }
  return commands;
}

function unquote(value: string): string {
  const first = value[0];
  return (first === "'" || first === '"') && value.endsWith(first) && value.length >= 2 ? value.slice(1, -1) : value;
}

/**
 * Upper-case names used as environment variables: code spans in prose that are such a name (optionally `NAME=…`),
 * and in code blocks every `NAME=` assignment and `$NAME` / `${NAME}` reference.
 */
export function upperCaseNames(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const span of prose(markdown).matchAll(/`([^`\n]+)`/g)) {
    const name = UPPER_NAME.exec(span[1] ?? '')?.[1];
    if (name) names.add(name);
  }
  for (const block of codeBlocks(markdown)) {
    for (const m of block.matchAll(SHELL_ASSIGNMENT)) names.add(m[1] ?? '');
    for (const m of block.matchAll(SHELL_REFERENCE)) names.add(m[1] ?? '');
  }
  return names;
}

export interface SecretCommand {
  readonly platform: string;
  readonly json: string;
}

/** Every `put-secret-value` of a platform secret, with the JSON it writes (prose and code blocks alike). */
export function secretCommands(markdown: string): SecretCommand[] {
  const joined = markdown.replace(/\\\n[ \t]*/g, ' ');
  return [...joined.matchAll(SECRET_COMMAND)].map((m) => ({ platform: m[1] ?? '', json: m[2] ?? '' }));
}

/** Relative link targets (`file.md`, `file.md#anchor`, `#anchor`); absolute URLs are left out. */
export function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(LINK)].map((m) => m[1] ?? '').filter((target) => !/^[a-z]+:/i.test(target));
}

/** GitHub's anchor for a heading: lower-case, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading outside code blocks. */
export function headingAnchors(markdown: string): Set<string> {
  return new Set([...prose(markdown).matchAll(HEADING)].map((m) => headingAnchor(m[1] ?? '')));
}

/** One markdown table: its header cells and its body rows' cells, trimmed (the delimiter row left out). */
export interface MarkdownTable {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

const TABLE_LINE = /^\s*\|.*\|\s*$/;
const DELIMITER_ROW = /^\s*\|(?:\s*:?-+:?\s*\|)+\s*$/;

function tableCells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split('|')
    .map((cell) => cell.trim());
}

/** Every table outside code blocks, in document order. */
export function markdownTables(markdown: string): MarkdownTable[] {
  const tables: MarkdownTable[] = [];
  const lines = prose(markdown).split('\n');
  for (let i = 0; i + 1 < lines.length; i += 1) {
    const head = lines[i] ?? '';
    if (!TABLE_LINE.test(head) || !DELIMITER_ROW.test(lines[i + 1] ?? '')) continue;
    const rows: string[][] = [];
    let j = i + 2;
    for (; j < lines.length && TABLE_LINE.test(lines[j] ?? ''); j += 1) rows.push(tableCells(lines[j] ?? ''));
    tables.push({ header: tableCells(head), rows });
    i = j - 1;
  }
  return tables;
}

/** The first table whose header's first cell is `firstHeaderCell` (case-insensitive); throws when there is none. */
export function tableHeaded(markdown: string, firstHeaderCell: string): MarkdownTable {
  const table = markdownTables(markdown).find((t) => t.header[0]?.toLowerCase() === firstHeaderCell.toLowerCase());
  if (!table) throw new Error(`no table headed "${firstHeaderCell}"`);
  return table;
}

/** The contents of the inline code spans of a piece of prose. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '');
}

/**
 * The text under the first heading (outside code blocks) whose title starts with `title`, up to the next heading of
 * the same or a higher level; throws when there is no such heading, so a renamed section fails loudly.
 */
export function section(markdown: string, title: string): string {
  const lines = markdown.split('\n');
  let inFence = false;
  let level = 0;
  const body: string[] = [];
  for (const line of lines) {
    if (/^```/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^(#{1,6})\s+(.+?)\s*$/.exec(line);
    if (level > 0) {
      if (heading && (heading[1] ?? '').length <= level) break;
      body.push(line);
    } else if (heading?.[2]?.startsWith(title)) {
      level = (heading[1] ?? '').length;
    }
  }
  if (level === 0) throw new Error(`no heading starting with "${title}"`);
  return body.join('\n');
}

/**
 * The prose units outside code blocks: paragraphs, list items and table rows, each with its lines joined by spaces.
 * A claim and the names it is about sit in one unit (a sentence may say "them" for names its paragraph gave).
 */
export function proseUnits(markdown: string): string[] {
  const units: string[] = [];
  let current: string[] = [];
  const flush = () => {
    if (current.length > 0) units.push(current.join(' '));
    current = [];
  };
  for (const line of prose(markdown).split('\n')) {
    if (line.trim() === '' || /^#{1,6}\s/.test(line)) {
      flush();
      continue;
    }
    if (/^\s*(?:[-*]|\d+\.)\s/.test(line) || TABLE_LINE.test(line)) flush();
    current.push(line.trim());
    if (TABLE_LINE.test(line)) flush();
  }
  flush();
  return units;
}

const REPOSITORY_ROOTS = ['docs', 'functions', 'lib', 'sandbox', 'bin', 'tools', 'test', 'bench'];
const REPOSITORY_PATH = new RegExp(
  `(?<![\\w./-])((?:\\.\\./)+[\\w.-]+(?:/[\\w.*-]+)*/?|(?:${REPOSITORY_ROOTS.join('|')})/(?:[\\w.*-]+(?:/[\\w.*-]+)*/?)?)`,
  'g',
);

/**
 * Repository paths a text names, anywhere (prose, code spans, commands): those starting with a top-level source folder
 * (`lib/config.ts`, `docs/`) and every path that climbs out of its folder (`../shared/…`). Trailing dots are dropped.
 */
export function repositoryPaths(text: string): string[] {
  return [...new Set([...text.matchAll(REPOSITORY_PATH)].map((m) => (m[1] ?? '').replace(/\.+$/, '')))];
}
