import { escapeLineStart } from './markdown-lines';
import { decodeEntities } from './xml-entities';

/**
 * The HTML mammoth writes for a DOCX, as Markdown for retrieval: h1–h6 → '#' headings, p → paragraphs, ul/ol/li →
 * '-' / 'n.' items (nested lists indented), table rows → '| a | b |' lines (a header rule after the first row).
 * Inline markup (strong, em, links, sup) is reduced to its text: the text is what gets searched and quoted.
 * Images and footnote back-links (↑) are dropped. A paragraph line starting with '#' or a fence marker is escaped.
 *
 * Not a general HTML parser: it relies on mammoth's output being well-formed, attribute values quoted, and text
 * escaped (&amp; &lt; &gt; &quot;). Unknown tags are ignored, their text kept.
 */

type HolderKind = 'heading' | 'paragraph' | 'item' | 'cell';

/** An open element whose text is being collected. */
interface Holder {
  readonly kind: HolderKind;
  text: string;
  /** heading: 1..6 */
  readonly level?: number;
  /** item: the line prefix ('  - ', '1. ') */
  readonly marker?: string;
  /** item: its first line was written already (a nested list followed it) */
  flushed?: boolean;
}

interface OpenList {
  readonly ordered: boolean;
  next: number;
}

interface OpenTable {
  /** Rows written so far; the first is followed by the header rule. */
  rows: number;
  row: string[] | undefined;
  /** Set when the table sits inside a cell, item or paragraph: its rows become that holder's text. */
  readonly inside: Holder | undefined;
}

const TOKEN = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)\b((?:[^>"']|"[^"]*"|'[^']*')*)>|([^<]+)/g;
const HREF = /\bhref\s*=\s*"([^"]*)"/;
const BACK_LINK = /^#(?:footnote|endnote|comment)-ref-/;
/** Whitespace runs → one space, trimmed: for text that must stay on one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

class MarkdownWriter {
  private readonly lines: string[] = [];

  /** Ends the current block: one blank line before whatever comes next. */
  blank(): void {
    if (this.lines.length > 0 && this.lines.at(-1) !== '') this.lines.push('');
  }

  line(text: string): void {
    this.lines.push(text);
  }

  toString(): string {
    return this.lines.join('\n').trim();
  }
}

export function htmlToMarkdown(html: string): string {
  const out = new MarkdownWriter();
  const holders: Holder[] = [];
  const lists: OpenList[] = [];
  const tables: OpenTable[] = [];
  let skipping = 0; // depth inside elements whose text is dropped (footnote back-links)

  const top = () => holders.at(-1);
  const append = (text: string) => {
    const holder = top();
    if (holder !== undefined) holder.text += text;
    else if (text.trim() !== '') writeBlock({ kind: 'paragraph', text }); // stray text: a paragraph of its own
  };

  const writeItemLine = (item: Holder) => {
    const text = oneLine(item.text);
    const marker = item.marker ?? '- ';
    if (text !== '') out.line(item.flushed === true ? `${' '.repeat(marker.length)}${text}` : `${marker}${text}`);
    item.text = '';
    item.flushed = true;
  };

  function writeBlock(holder: Holder): void {
    switch (holder.kind) {
      case 'heading': {
        const text = oneLine(holder.text);
        if (text === '') return;
        out.blank();
        out.line(`${'#'.repeat(holder.level ?? 1)} ${text}`);
        out.blank();
        return;
      }
      case 'paragraph': {
        const lines = holder.text
          .split('\n')
          .map((line) => escapeLineStart(line.replace(/[^\S\n]+/g, ' ').trim()))
          .filter((line) => line !== '');
        if (lines.length === 0) return;
        out.blank();
        for (const line of lines) out.line(line);
        out.blank();
        return;
      }
      case 'item':
        writeItemLine(holder);
        return;
      case 'cell':
        return; // cells are written by their row
    }
  }

  const open = (holder: Holder) => holders.push(holder);
  const close = (kind: HolderKind) => {
    if (top()?.kind !== kind) return; // a stray closing tag
    const holder = holders.pop();
    if (holder === undefined || kind === 'cell') return;
    const parent = top();
    // Text inside an item or cell joins it; a nested list's items are lines of their own.
    if (parent !== undefined && !(kind === 'item' && parent.kind === 'item')) {
      parent.text += ` ${holder.text}`;
    } else {
      writeBlock(holder);
    }
  };

  for (const match of html.matchAll(TOKEN)) {
    const [, slash, rawTag, attributes = '', text] = match;
    if (text !== undefined) {
      if (skipping === 0) append(decodeEntities(text));
      continue;
    }
    const tag = (rawTag ?? '').toLowerCase();
    const closing = slash === '/';
    if (skipping > 0 && tag === 'a') {
      skipping += closing ? -1 : 1;
      continue;
    }
    switch (tag) {
      case 'h1':
      case 'h2':
      case 'h3':
      case 'h4':
      case 'h5':
      case 'h6':
        if (closing) close('heading');
        else open({ kind: 'heading', text: '', level: Number(tag[1]) });
        break;
      case 'p':
        if (closing) close('paragraph');
        else open({ kind: 'paragraph', text: '' });
        break;
      case 'br':
        append('\n');
        break;
      case 'ul':
      case 'ol':
        if (closing) {
          lists.pop();
          if (lists.length === 0 && top() === undefined) out.blank();
        } else {
          const item = top();
          if (item?.kind === 'item') writeItemLine(item);
          else if (lists.length === 0 && item === undefined) out.blank();
          lists.push({ ordered: tag === 'ol', next: 1 });
        }
        break;
      case 'li':
        if (closing) close('item');
        else {
          const list = lists.at(-1);
          const indent = '  '.repeat(Math.max(lists.length - 1, 0));
          const marker = list?.ordered === true ? `${list.next++}. ` : '- ';
          open({ kind: 'item', text: '', marker: `${indent}${marker}` });
        }
        break;
      case 'table':
        if (closing) {
          const table = tables.pop();
          if (table?.inside === undefined) out.blank();
        } else {
          const inside = top();
          if (inside === undefined) out.blank();
          tables.push({ rows: 0, row: undefined, inside });
        }
        break;
      case 'tr': {
        const table = tables.at(-1);
        if (table === undefined) break;
        if (!closing) {
          table.row = [];
          break;
        }
        const cells = table.row ?? [];
        table.row = undefined;
        if (cells.every((cell) => cell === '')) break;
        if (table.inside !== undefined) {
          table.inside.text += ` ${cells.join(' ')}`;
          break;
        }
        out.line(`| ${cells.join(' | ')} |`);
        if (table.rows === 0) out.line(`|${' --- |'.repeat(cells.length)}`);
        table.rows++;
        break;
      }
      case 'td':
      case 'th':
        if (!closing) open({ kind: 'cell', text: '' });
        else {
          const cell = top();
          close('cell');
          if (cell?.kind === 'cell') tables.at(-1)?.row?.push(oneLine(cell.text).replace(/\|/g, '\\|'));
        }
        break;
      case 'a':
        if (!closing && BACK_LINK.test(HREF.exec(attributes)?.[1] ?? '')) skipping = 1;
        break;
      default:
        break; // inline or unknown markup: its text is kept, the tag dropped
    }
  }
  return out.toString().replace(/\n{3,}/g, '\n\n');
}
