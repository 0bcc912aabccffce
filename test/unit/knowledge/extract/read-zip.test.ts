import { zipSync } from 'fflate';
import type { Deadline } from '#knowledge/extract/deadline';
import { DEFAULT_EXTRACT_LIMITS } from '#knowledge/extract/extract-limits';
import { inflateZipEntry, readZipDirectory } from '#knowledge/extract/read-zip';
import { withDeclaredSize } from './build-docx';
import { thrownRejection } from './rejection';

const text = (s: string) => new TextEncoder().encode(s);
const noDeadline: Deadline = { signal: new AbortController().signal, check: () => undefined };

function setU16(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint16(at, value, true);
  return copy;
}

/** Offset of the first central directory header (signature PK\1\2). */
function centralHeaderAt(zip: Uint8Array): number {
  return Buffer.from(zip).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
}

describe('readZipDirectory and inflateZipEntry', () => {
  const zip = zipSync({ 'a.xml': text('<a>hello</a>'), 'b.txt': text('stored') }, { level: 6 });

  it('lists entries with their declared sizes and inflates them', () => {
    const entries = readZipDirectory('k.docx', zip, DEFAULT_EXTRACT_LIMITS);
    expect(entries.map((e) => [e.name, e.uncompressedSize])).toEqual([
      ['a.xml', 12],
      ['b.txt', 6],
    ]);
    const [a] = entries;
    if (a === undefined) throw new Error('no entry');
    expect(new TextDecoder().decode(inflateZipEntry('k.docx', zip, a, noDeadline))).toBe('<a>hello</a>');
  });

  it.each([
    ['too short for an end record', new Uint8Array(10)],
    ['no end record', new Uint8Array(100)],
    [
      'the central directory cut off',
      (() => {
        const at = centralHeaderAt(zip);
        const cut = zip.slice();
        cut.fill(0, at, at + 4);
        return cut;
      })(),
    ],
  ])('rejects %s as corrupt', (_, bytes) => {
    expect(thrownRejection(() => readZipDirectory('k.docx', bytes, DEFAULT_EXTRACT_LIMITS)).code).toBe('corrupt');
  });

  it('rejects an entry whose flags say it is encrypted', () => {
    const encrypted = setU16(zip, centralHeaderAt(zip) + 8, 0x0001);
    const error = thrownRejection(() => readZipDirectory('k.docx', encrypted, DEFAULT_EXTRACT_LIMITS));
    expect([error.code, error.message]).toEqual(['encrypted', 'k.docx: zip entry a.xml is encrypted']);
  });

  it('rejects a duplicate entry name as corrupt', () => {
    const twice = zipSync({ 'a.xml': text('1'), 'b.xml': text('2') });
    const renamed = twice.slice();
    // Rename b.xml to a.xml in the central directory: two entries then claim the same part.
    const second = Buffer.from(renamed).lastIndexOf(Buffer.from('b.xml'));
    renamed.set(text('a.xml'), second);
    const error = thrownRejection(() => readZipDirectory('k.docx', renamed, DEFAULT_EXTRACT_LIMITS));
    expect(error.message).toBe('k.docx: not a readable zip archive: entry a.xml appears twice');
  });

  it('rejects an unsupported compression method as corrupt', () => {
    const bzip2 = setU16(zip, centralHeaderAt(zip) + 10, 12);
    const [entry] = readZipDirectory('k.docx', bzip2, DEFAULT_EXTRACT_LIMITS);
    if (entry === undefined) throw new Error('no entry');
    expect(thrownRejection(() => inflateZipEntry('k.docx', bzip2, entry, noDeadline)).message).toContain(
      'compression method 12',
    );
  });

  it('rejects a stored entry whose sizes disagree as corrupt', () => {
    const stored = zipSync({ 'a.xml': text('<a/>') }, { level: 0 });
    const lying = withDeclaredSize(stored, 'a.xml', 99);
    const [entry] = readZipDirectory('k.docx', lying, DEFAULT_EXTRACT_LIMITS);
    if (entry === undefined) throw new Error('no entry');
    expect(thrownRejection(() => inflateZipEntry('k.docx', lying, entry, noDeadline)).code).toBe('corrupt');
  });

  it('rejects a damaged deflate stream as corrupt', () => {
    const damaged = zip.slice();
    const dataStart = 30 + 'a.xml'.length;
    damaged.fill(0xff, dataStart, dataStart + 4);
    const [entry] = readZipDirectory('k.docx', damaged, DEFAULT_EXTRACT_LIMITS);
    if (entry === undefined) throw new Error('no entry');
    const error = thrownRejection(() => inflateZipEntry('k.docx', damaged, entry, noDeadline));
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/^k\.docx: not a readable zip archive: entry a\.xml (does not inflate|inflates to)/);
  });

  it('checks the deadline while inflating', () => {
    const big = zipSync({ 'big.xml': new Uint8Array(64 * 1024) }, { level: 9 });
    const [entry] = readZipDirectory('k.docx', big, DEFAULT_EXTRACT_LIMITS);
    if (entry === undefined) throw new Error('no entry');
    let checks = 0;
    inflateZipEntry('k.docx', big, entry, { signal: new AbortController().signal, check: () => void checks++ });
    expect(checks).toBeGreaterThan(0);
  });
});
