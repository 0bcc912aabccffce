import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { type Chunk, chunkMarkdown } from '#core/retrieval/chunk-markdown';

/** Markdown → sections, with GitHub anchors, heading paths and pieces of bounded size. */

const sections = (chunks: readonly Chunk[]) => chunks.map((c) => [c.id, c.section]);

describe('chunkMarkdown: sections', () => {
  const doc = {
    path: 'docs/GUIDE.md',
    url: 'https://git.example.com/docs/GUIDE.md',
    text: [
      'Intro before any heading.',
      '',
      '# Guide to GroupGate',
      'What this guide covers.',
      '## 1. Deploy',
      'Run the deploy.',
      '### 1.4 Third-party skills (`groupgate:skills`)',
      'Skills are Lambda functions.',
      '## 2. Operate ##',
      'Watch the dashboard.',
    ].join('\n'),
  };
  const chunks = chunkMarkdown(doc);

  it('makes one chunk per section, text before the first heading without a section or anchor', () => {
    expect(chunks).toEqual([
      {
        id: 'docs/GUIDE.md',
        path: 'docs/GUIDE.md',
        title: 'Guide to GroupGate',
        url: 'https://git.example.com/docs/GUIDE.md',
        text: 'Intro before any heading.',
      },
      {
        id: 'docs/GUIDE.md#guide-to-groupgate',
        path: 'docs/GUIDE.md',
        title: 'Guide to GroupGate',
        section: 'Guide to GroupGate',
        anchor: 'guide-to-groupgate',
        url: 'https://git.example.com/docs/GUIDE.md#guide-to-groupgate',
        text: '# Guide to GroupGate\nWhat this guide covers.',
      },
      {
        id: 'docs/GUIDE.md#1-deploy',
        path: 'docs/GUIDE.md',
        title: 'Guide to GroupGate',
        section: '1. Deploy',
        anchor: '1-deploy',
        url: 'https://git.example.com/docs/GUIDE.md#1-deploy',
        text: '## 1. Deploy\nRun the deploy.',
      },
      {
        id: 'docs/GUIDE.md#14-third-party-skills-groupgateskills',
        path: 'docs/GUIDE.md',
        title: 'Guide to GroupGate',
        section: '1. Deploy > 1.4 Third-party skills (`groupgate:skills`)',
        anchor: '14-third-party-skills-groupgateskills',
        url: 'https://git.example.com/docs/GUIDE.md#14-third-party-skills-groupgateskills',
        text: '### 1.4 Third-party skills (`groupgate:skills`)\nSkills are Lambda functions.',
      },
      {
        id: 'docs/GUIDE.md#2-operate',
        path: 'docs/GUIDE.md',
        title: 'Guide to GroupGate',
        section: '2. Operate',
        anchor: '2-operate',
        url: 'https://git.example.com/docs/GUIDE.md#2-operate',
        text: '## 2. Operate ##\nWatch the dashboard.',
      },
    ]);
  });

  it('has no url without a document url, and the file name as title without an H1', () => {
    const [chunk, ...rest] = chunkMarkdown({ path: 'docs/platforms/slack.md', text: '## Setup\nSteps.' });
    expect(rest).toEqual([]);
    expect(chunk).toEqual({
      id: 'docs/platforms/slack.md#setup',
      path: 'docs/platforms/slack.md',
      title: 'slack.md',
      section: 'Setup',
      anchor: 'setup',
      text: '## Setup\nSteps.',
    });
  });

  it('builds heading paths from the open headings, closing deeper ones', () => {
    const text = '# T\n## A\na\n### B\nb\n#### C\nc\n### D\nd\n## E\ne\n# Appendix\nx\n## F\nf';
    expect(sections(chunkMarkdown({ path: 'x.md', text }))).toEqual([
      ['x.md#a', 'A'],
      ['x.md#b', 'A > B'],
      ['x.md#c', 'A > B > C'],
      ['x.md#d', 'A > D'],
      ['x.md#e', 'E'],
      ['x.md#appendix', 'Appendix'],
      ['x.md#f', 'Appendix > F'],
    ]);
  });

  it('drops empty sections and blank text before the first heading', () => {
    const text = '\n\n  \n# Title\n\n## Empty\n\n   \n## Full\nbody';
    expect(sections(chunkMarkdown({ path: 'x.md', text }))).toEqual([['x.md#full', 'Full']]);
    expect(chunkMarkdown({ path: 'x.md', text: '' })).toEqual([]);
    expect(chunkMarkdown({ path: 'x.md', text: '\n \n' })).toEqual([]);
  });

  it('reads CRLF line ends as LF', () => {
    const [chunk] = chunkMarkdown({ path: 'x.md', text: '## A\r\nline one\r\nline two\r\n' });
    expect(chunk?.text).toBe('## A\nline one\nline two');
  });
});

describe('chunkMarkdown: what is a heading', () => {
  it('ignores headings inside ``` and ~~~ fences, also indented ones in list items', () => {
    const text = [
      '## Deploy',
      '```bash',
      '# in GroupGate account',
      '## not a heading either',
      '```',
      '1. Step:',
      '   ```sh',
      '# still code',
      '   ```',
      '~~~',
      '# tilde code',
      '```',
      '# still inside the ~~~ fence',
      '~~~',
      '## Real',
      'text',
    ].join('\n');
    const chunks = chunkMarkdown({ path: 'x.md', text });
    expect(sections(chunks)).toEqual([
      ['x.md#deploy', 'Deploy'],
      ['x.md#real', 'Real'],
    ]);
    expect(chunks[0]?.text).toContain('# still inside the ~~~ fence');
  });

  it('closes a fence only with the same character, at least as long', () => {
    const text = '````\n```\n# code\n````\n## After\ntext';
    expect(sections(chunkMarkdown({ path: 'x.md', text }))).toEqual([
      ['x.md', undefined],
      ['x.md#after', 'After'],
    ]);
  });

  it('runs an unclosed fence to the end of the document', () => {
    const text = '## A\ntext\n```\n# code\n## code too';
    expect(sections(chunkMarkdown({ path: 'x.md', text }))).toEqual([['x.md#a', 'A']]);
  });

  it('does not open a fence at inline code that starts a line', () => {
    const text = '```inline``` code\n## B\ntext';
    expect(sections(chunkMarkdown({ path: 'x.md', text }))).toEqual([
      ['x.md', undefined],
      ['x.md#b', 'B'],
    ]);
  });

  it('needs a space after the #s, at most three spaces of indent, and at most six #s', () => {
    const text = '#hashtag\n    # indented code\n####### seven\n   ### ok\ntext';
    expect(sections(chunkMarkdown({ path: 'x.md', text }))).toEqual([
      ['x.md', undefined],
      ['x.md#ok', 'ok'],
    ]);
  });
});

describe('chunkMarkdown: GitHub anchors', () => {
  const anchors = (headings: string[]) =>
    chunkMarkdown({ path: 'x.md', text: headings.map((h) => `## ${h}\ntext`).join('\n') }).map((c) => c.anchor);

  it('lower-cases, drops punctuation except - and _, keeps CJK and digits, one - per space', () => {
    expect(
      anchors([
        '2. Permissions (权限管理)',
        "3. Put the credentials into the stack's secret",
        'What is `snake_case-Name`?',
        'A  B',
        'See [the guide](https://example.com/guide) & <b>more</b>',
        'Ｆｕｌｌ width ✅ émoji',
      ]),
    ).toEqual([
      '2-permissions-权限管理',
      '3-put-the-credentials-into-the-stacks-secret',
      'what-is-snake_case-name',
      'a--b',
      'see-the-guide--more',
      'ｆｕｌｌ-width--émoji',
    ]);
  });

  it('numbers repeated headings -1, -2 like GitHub, also around a heading that looks numbered', () => {
    expect(anchors(['Setup', 'Setup', 'Setup', 'Setup 1', 'Setup-1'])).toEqual([
      'setup',
      'setup-1',
      'setup-2',
      'setup-1-1',
      'setup-1-2',
    ]);
  });

  it('counts headings of dropped sections and the title when numbering', () => {
    const text = '# Notes\n## Notes\n## Notes\nbody';
    expect(chunkMarkdown({ path: 'x.md', text }).map((c) => c.id)).toEqual(['x.md#notes-2']);
  });
});

describe('chunkMarkdown: long sections', () => {
  /** Pieces are trimmed consecutive slices: found in order in the text, and nothing but whitespace between. */
  const expectCover = (text: string, pieces: readonly string[]) => {
    let at = 0;
    for (const piece of pieces) {
      const found = text.indexOf(piece, at);
      expect(found).toBeGreaterThanOrEqual(at);
      expect(text.slice(at, found).trim()).toBe('');
      at = found + piece.length;
    }
    expect(text.slice(at).trim()).toBe('');
  };

  const paragraphs = Array.from({ length: 12 }, (_, i) =>
    `Paragraph ${i} talks about the answer cache and how long entries live. `.repeat(3).trim(),
  );
  const section = `## Answer cache\n\n${paragraphs.join('\n\n')}`;

  it('splits at paragraph boundaries into pieces ≤ maxChars that cover the text in order', () => {
    const chunks = chunkMarkdown({ path: 'x.md', text: section }, { maxChars: 500 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(500);
      expect(chunk.text).toMatch(/(^|\n)Paragraph \d+[^\n]*$/); // ends at a paragraph's end
      expect(chunk.section).toBe('Answer cache');
      expect(chunk.anchor).toBe('answer-cache');
    }
    expect(chunks.map((c) => c.id)).toEqual(
      chunks.map((_, i) => (i === 0 ? 'x.md#answer-cache' : `x.md#answer-cache~${i + 1}`)),
    );
    expect(chunks[0]?.text.startsWith('## Answer cache\n\nParagraph 0')).toBe(true);
    expectCover(
      section,
      chunks.map((c) => c.text),
    );
  });

  it('splits a long table at line breaks, keeping the heading with its start', () => {
    const rows = Array.from({ length: 40 }, (_, i) => `| row ${i} | value ${i}. More text here. |`);
    const text = `## Limits\n\n${rows.join('\n')}`;
    const chunks = chunkMarkdown({ path: 'x.md', text }, { maxChars: 300 });
    expect(chunks[0]?.text.startsWith('## Limits\n\n| row 0 |')).toBe(true);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(300);
      expect(chunk.text).toMatch(/\|$/);
    }
    expectCover(
      text,
      chunks.map((c) => c.text),
    );
  });

  it('splits a long paragraph at sentence ends, Chinese 。！？ included', () => {
    const zh = '飞书机器人需要先创建应用。然后配置权限！最后发布版本？'.repeat(10);
    const en = 'The cache keeps answers. It expires after a while! Does it? Yes. '.repeat(10).trim();
    for (const text of [zh, en]) {
      const chunks = chunkMarkdown({ path: 'x.md', text: `## S\n${text}` }, { maxChars: 100 });
      for (const chunk of chunks) {
        expect(chunk.text.length).toBeLessThanOrEqual(100);
        expect(chunk.text).toMatch(/[。！？.!?]$/);
      }
      expectCover(
        `## S\n${text}`,
        chunks.map((c) => c.text),
      );
    }
  });

  it('cuts hard when there is no boundary, never inside a surrogate pair', () => {
    const text = `## S\n${'x'.repeat(45)}${'𠮷'.repeat(40)}`;
    const chunks = chunkMarkdown({ path: 'x.md', text }, { maxChars: 16 });
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(16);
      expect(chunk.text).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
    }
    expectCover(
      text,
      chunks.map((c) => c.text),
    );
  });

  it('cuts hard at the last space when a run of words has no sentence end', () => {
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkMarkdown({ path: 'x.md', text: words }, { maxChars: 50 });
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(50);
      expect(chunk.text).toMatch(/^word\d+( word\d+)*$/); // whole words only
    }
    expectCover(
      words,
      chunks.map((c) => c.text),
    );
  });

  it('refuses a maxChars that is not an integer of at least 2', () => {
    for (const maxChars of [0, 1, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => chunkMarkdown({ path: 'x.md', text: 'x' }, { maxChars })).toThrow(RangeError);
    }
  });
});

describe("chunkMarkdown: this repository's docs", () => {
  const root = resolve(__dirname, '../../../..');
  const files = ['docs', 'docs/platforms'].flatMap((dir) =>
    readdirSync(join(root, dir))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `${dir}/${f}`),
  );
  const chunksByPath = new Map(
    files.map((p) => [p, chunkMarkdown({ path: p, text: readFileSync(join(root, p), 'utf8') })]),
  );

  it('keeps every chunk within the default 1200 characters', () => {
    const all = [...chunksByPath.values()].flat();
    expect(all.length).toBeGreaterThan(100);
    for (const chunk of all) expect(chunk.text.length).toBeLessThanOrEqual(1200);
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
  });

  it('resolves every anchor link between the docs to a chunk anchor (GitHub slugs)', () => {
    let checked = 0;
    for (const path of chunksByPath.keys()) {
      const text = readFileSync(join(root, path), 'utf8');
      for (const [, file, anchor] of text.matchAll(/\]\(([\w./-]*\.md)?#([^)\s]+)\)/g)) {
        const target = file === undefined ? path : posix.normalize(posix.join(dirname(path), file));
        const targetChunks = chunksByPath.get(target);
        if (targetChunks === undefined) continue; // outside docs/ (the root README)
        expect({ link: `${path} → ${target}#${anchor}`, found: targetChunks.some((c) => c.anchor === anchor) }).toEqual(
          { link: `${path} → ${target}#${anchor}`, found: true },
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
