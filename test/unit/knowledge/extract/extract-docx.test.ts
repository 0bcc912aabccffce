import { randomBytes } from 'node:crypto';
import { zipSync } from 'fflate';
import { chunkMarkdown } from '#core/retrieval/chunk-markdown';
import { extractDocument } from '#knowledge/extract/extract-document';
import { buildDocx, documentXml, withDeclaredSize } from './build-docx';
import { rejectionOf } from './rejection';

const MIB = 1024 * 1024;

const policy = buildDocx({
  coreTitle: 'Travel policy (core properties)',
  paragraphs: [
    { style: 'Heading1', text: 'Travel policy' },
    { text: 'Book through the portal.' },
    { style: 'Heading2', text: 'Flights' },
    { text: 'Economy class under 6 hours & business above.' },
    { text: '# this paragraph starts with a hash' },
    { style: 'Heading2', text: 'Hotels' },
    { text: 'Up to 150 EUR a night.' },
  ],
});

describe('extractDocument: DOCX', () => {
  it('turns Heading 1/2 into # headings and Normal paragraphs into paragraphs', async () => {
    const doc = await extractDocument('policies/travel.docx', policy);
    expect(doc.format).toBe('docx');
    expect(doc.pages).toBeUndefined();
    expect(doc.markdown).toBe(
      [
        '# Travel policy',
        'Book through the portal.',
        '## Flights',
        'Economy class under 6 hours & business above.',
        '\\# this paragraph starts with a hash',
        '## Hotels',
        'Up to 150 EUR a night.',
      ].join('\n\n'),
    );
  });

  it('takes the first Heading 1 as the title, like chunkMarkdown', async () => {
    const doc = await extractDocument('policies/travel.docx', policy);
    expect(doc.title).toBe('Travel policy');
    const chunks = chunkMarkdown({ path: 'policies/travel.docx', text: doc.markdown });
    expect(chunks.map((c) => [c.title, c.section])).toEqual([
      ['Travel policy', 'Travel policy'],
      ['Travel policy', 'Flights'],
      ['Travel policy', 'Hotels'],
    ]);
  });

  it('takes a Title-style paragraph as the title heading', async () => {
    const bytes = buildDocx({ paragraphs: [{ style: 'Title', text: 'Onboarding' }, { text: 'Welcome.' }] });
    const doc = await extractDocument('onboarding.docx', bytes);
    expect(doc.title).toBe('Onboarding');
    expect(doc.markdown).toBe('# Onboarding\n\nWelcome.');
  });

  it('falls back to the core title, written as the H1, when the body has no Heading 1', async () => {
    const bytes = buildDocx({
      coreTitle: 'Security & Privacy',
      paragraphs: [{ style: 'Heading2', text: 'Passwords' }, { text: 'Use a manager.' }],
    });
    const doc = await extractDocument('security.docx', bytes);
    expect(doc.title).toBe('Security & Privacy');
    expect(doc.markdown).toBe('# Security & Privacy\n\n## Passwords\n\nUse a manager.');
    const chunks = chunkMarkdown({ path: 'security.docx', text: doc.markdown });
    expect(chunks.map((c) => [c.title, c.section])).toEqual([['Security & Privacy', 'Passwords']]);
  });

  it('has no title without a Heading 1, Title or core title', async () => {
    const doc = await extractDocument('plain.docx', buildDocx({ paragraphs: [{ text: 'Just text.' }] }));
    expect(doc.title).toBeUndefined();
    expect(doc.markdown).toBe('Just text.');
  });

  it('writes table rows as Markdown table lines', async () => {
    const cell = (text: string) => `<w:tc><w:p><w:r><w:t>${text}</w:t></w:r></w:p></w:tc>`;
    const table = `<w:tbl><w:tr>${cell('Country')}${cell('Per diem')}</w:tr><w:tr>${cell('France')}${cell('60 | 70')}</w:tr></w:tbl>`;
    const bytes = buildDocx({ documentXml: documentXml([{ style: 'Heading1', text: 'Rates' }], table) });
    const doc = await extractDocument('rates.docx', bytes);
    expect(doc.markdown).toBe('# Rates\n\n| Country | Per diem |\n| --- | --- |\n| France | 60 \\| 70 |');
  });

  it('never inflates media: an image entry whose declared size lies is only size-checked', async () => {
    const image = new Uint8Array(256 * 1024).fill(7);
    const honest = buildDocx({
      paragraphs: [{ text: 'With a picture.' }],
      entries: { 'word/media/image1.png': image },
    });
    const lying = withDeclaredSize(honest, 'word/media/image1.png', 10); // inflating it would be a 'zip_bomb'
    expect((await extractDocument('pic.docx', lying)).markdown).toBe('With a picture.');
  });
});

describe('extractDocument: DOCX that is not one', () => {
  it('rejects bytes that are not a zip as corrupt', async () => {
    const error = await rejectionOf(extractDocument('fake.docx', new TextEncoder().encode('hello, world')));
    expect(error.code).toBe('corrupt');
    expect(error.message).toBe('fake.docx: not a DOCX (not a zip archive)');
  });

  it('rejects a zip without word/document.xml as corrupt', async () => {
    const error = await rejectionOf(
      extractDocument('other.docx', buildDocx({ entries: { 'word/document.xml': null, 'xl/workbook.xml': '<x/>' } })),
    );
    expect(error.code).toBe('corrupt');
    expect(error.message).toBe('other.docx: not a Word document (no word/document.xml in the archive)');
  });

  it('rejects a document.xml that is not XML as corrupt, with mammoth reason', async () => {
    const error = await rejectionOf(extractDocument('broken.docx', buildDocx({ documentXml: '<w:document><oops' })));
    expect(error.code).toBe('corrupt');
    expect(error.message).toMatch(/^broken\.docx: not a readable Word document: ./);
  });

  it('rejects a zip cut short as corrupt', async () => {
    const error = await rejectionOf(extractDocument('cut.docx', policy.subarray(0, policy.length - 30)));
    expect(error.code).toBe('corrupt');
  });

  it('rejects XML declaring a DTD (entity expansion) as corrupt before mammoth parses it', async () => {
    const billionLaughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>${documentXml([{ text: '&lol2;' }]).replace(/^<\?xml[^>]*>/, '')}`;
    const error = await rejectionOf(extractDocument('lol.docx', buildDocx({ documentXml: billionLaughs })));
    expect(error.code).toBe('corrupt');
    expect(error.message).toBe('lol.docx: word/document.xml declares a DTD, which OOXML never does');
  });

  it('rejects a password-protected DOCX (an OLE file with an EncryptedPackage stream) as encrypted', async () => {
    const ole = new Uint8Array(1024);
    ole.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
    ole.set(new Uint8Array(Buffer.from('EncryptedPackage', 'utf16le')), 512);
    const error = await rejectionOf(extractDocument('locked.docx', ole));
    expect(error.code).toBe('encrypted');
    expect(error.message).toContain('password');
  });

  it('rejects a legacy .doc renamed .docx as corrupt, saying so', async () => {
    const ole = new Uint8Array(1024);
    ole.set([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
    const error = await rejectionOf(extractDocument('old.docx', ole));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('legacy .doc');
  });

  it('rejects a document with no text as empty', async () => {
    const error = await rejectionOf(extractDocument('blank.docx', buildDocx({ paragraphs: [{ text: '   ' }] })));
    expect(error.code).toBe('empty');
  });

  it('rejects more text than maxTextChars', async () => {
    const error = await rejectionOf(extractDocument('policies/travel.docx', policy, { maxTextChars: 50 }));
    expect(error.code).toBe('too_large');
    expect(error.message).toMatch(/characters of text, more than the limit of 50$/);
  });
});

describe('extractDocument: zip bombs', () => {
  const zeros = (bytes: number) => new Uint8Array(bytes);
  /** Bytes deflate cannot shrink. */
  const noise = (bytes: number) => new Uint8Array(randomBytes(bytes));

  it('rejects an entry declaring 200 MiB from a few bytes under the default limits, before inflating', async () => {
    const honest = buildDocx({ paragraphs: [{ text: 'hi' }], entries: { 'word/bomb.xml': zeros(64 * 1024) } });
    const bomb = withDeclaredSize(honest, 'word/bomb.xml', 200 * MIB);
    const error = await rejectionOf(extractDocument('bomb.docx', bomb));
    expect(error.code).toBe('zip_bomb');
    expect(error.message).toMatch(
      /^bomb\.docx: zip entry word\/bomb\.xml declares 200\.0 MiB from \d+ bytes, a compression ratio of \d+, more than the limit of 100$/,
    );
  });

  it('rejects entries declaring more than 64 MiB in all under the default limits, at a plausible ratio', async () => {
    const honest = buildDocx({ paragraphs: [{ text: 'hi' }], entries: { 'word/media/big.bin': noise(MIB) } });
    const bomb = withDeclaredSize(honest, 'word/media/big.bin', 70 * MIB); // a ratio of ~70: under 100
    const error = await rejectionOf(extractDocument('big.docx', bomb));
    expect(error.code).toBe('zip_bomb');
    expect(error.message).toMatch(
      /^big\.docx: zip entries declare more than 70\.0 MiB uncompressed, more than the limit of 64\.0 MiB$/,
    );
  });

  it('rejects declared sizes summing over maxUncompressedBytes', async () => {
    const entries = { 'word/a.xml': zeros(600 * 1024), 'word/b.xml': zeros(600 * 1024) };
    const bytes = buildDocx({ paragraphs: [{ text: 'hi' }], entries });
    const error = await rejectionOf(extractDocument('sum.docx', bytes, { maxUncompressedBytes: MIB }));
    expect(error.code).toBe('zip_bomb');
    expect(error.message).toMatch(/uncompressed, more than the limit of 1\.0 MiB$/);
  });

  it('rejects an entry over 1 MiB compressed beyond maxCompressionRatio, and accepts it under the ratio', async () => {
    // One random letter in four bytes: compresses a few times, far from 100×.
    const noisy = noise(1.5 * MIB).map((byte, i) => (i % 4 === 0 ? 0x41 + (byte % 26) : 0x20));
    const bytes = buildDocx({ paragraphs: [{ text: 'hi' }], entries: { 'word/media/noise.bin': noisy } });
    await expect(extractDocument('ok.docx', bytes)).resolves.toMatchObject({ markdown: 'hi' });
    const error = await rejectionOf(extractDocument('ratio.docx', bytes, { maxCompressionRatio: 1.5 }));
    expect(error.code).toBe('zip_bomb');
    expect(error.message).toContain('word/media/noise.bin');
  });

  it('rejects more entries than maxZipEntries, from the end record alone', async () => {
    const entries = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`word/part${i}.xml`, '<x/>']));
    const bytes = buildDocx({ paragraphs: [{ text: 'hi' }], entries });
    const error = await rejectionOf(extractDocument('many.docx', bytes, { maxZipEntries: 12 }));
    expect(error.code).toBe('zip_bomb');
    expect(error.message).toBe('many.docx: 13 zip entries, more than the limit of 12');
  });

  it('rejects 2001 entries under the default limits', async () => {
    const entries = Object.fromEntries(Array.from({ length: 1998 }, (_, i) => [`word/p${i}.xml`, '']));
    const bytes = buildDocx({ paragraphs: [{ text: 'hi' }], entries });
    expect((await rejectionOf(extractDocument('many.docx', bytes))).message).toBe(
      'many.docx: 2001 zip entries, more than the limit of 2000',
    );
  });

  it('rejects an entry that inflates to more than its declared size (the directory lied)', async () => {
    const honest = buildDocx({ paragraphs: [{ text: 'hi' }], entries: { 'word/liar.xml': zeros(4 * MIB) } });
    const lying = withDeclaredSize(honest, 'word/liar.xml', 1000);
    const error = await rejectionOf(extractDocument('liar.docx', lying));
    expect(error.code).toBe('zip_bomb');
    expect(error.message).toBe('liar.docx: zip entry word/liar.xml inflates to more than the 1000 bytes it declares');
  });

  it('rejects an entry that inflates to less than its declared size as corrupt', async () => {
    const honest = buildDocx({ paragraphs: [{ text: 'hi' }], entries: { 'word/short.xml': '<x/>' } });
    const error = await rejectionOf(extractDocument('short.docx', withDeclaredSize(honest, 'word/short.xml', 5000)));
    expect(error.code).toBe('corrupt');
    expect(error.message).toContain('word/short.xml inflates to 4 bytes, not the 4.9 KiB it declares');
  });

  it('rejects with timeout when extraction takes longer than timeoutMs', async () => {
    const paragraphs = Array.from({ length: 3000 }, (_, i) => ({ text: `Paragraph ${i} `.repeat(10) }));
    const error = await rejectionOf(extractDocument('slow.docx', buildDocx({ paragraphs }), { timeoutMs: 1 }));
    expect(error.code).toBe('timeout');
    expect(error.message).toBe('slow.docx: extraction took longer than the limit of 1 ms');
  });

  it('accepts the same archive re-zipped without compression (stored entries)', async () => {
    const stored = buildDocx({ paragraphs: [{ text: 'Stored.' }], options: { level: 0 } });
    expect((await extractDocument('stored.docx', stored)).markdown).toBe('Stored.');
  });

  it('reads an archive written by another zipper with a comment', async () => {
    const bytes = zipSync(
      {
        '[Content_Types].xml': new TextEncoder().encode('<Types/>'),
        'word/document.xml': new TextEncoder().encode(documentXml([{ text: 'Hi.' }])),
      },
      { level: 9 },
    );
    const withComment = new Uint8Array(bytes.length + 5);
    withComment.set(bytes);
    withComment.set(new TextEncoder().encode('hello'), bytes.length);
    new DataView(withComment.buffer).setUint16(bytes.length - 2, 5, true);
    expect((await extractDocument('comment.docx', withComment)).markdown).toBe('Hi.');
  });
});
