import { codeSpans, markdownTables, proseUnits, repositoryPaths, section, tableHeaded } from './doc-scan';

const FENCE = '```';

describe('markdownTables / tableHeaded', () => {
  const md = [
    'Intro.',
    '',
    '| key | default |',
    '| --- | :-----: |',
    '| `a` | 1 |',
    '| `b` | none |',
    '',
    `${FENCE}text`,
    '| output | what |',
    '| --- | --- |',
    '| `InCode` | skipped |',
    FENCE,
    '',
    '| output | what |',
    '|---|---|',
    '| `QueueUrl` | the queue |',
  ].join('\n');

  test('reads header and body cells, trimmed, and skips tables inside code blocks', () => {
    expect(markdownTables(md)).toEqual([
      {
        header: ['key', 'default'],
        rows: [
          ['`a`', '1'],
          ['`b`', 'none'],
        ],
      },
      { header: ['output', 'what'], rows: [['`QueueUrl`', 'the queue']] },
    ]);
  });

  test('finds a table by its first header cell, case-insensitively', () => {
    expect(tableHeaded(md, 'Output').rows).toEqual([['`QueueUrl`', 'the queue']]);
  });

  test('throws when no table has that header, so a renamed table fails loudly', () => {
    expect(() => tableHeaded(md, 'metric')).toThrow('no table headed "metric"');
  });

  test('a pipe line without a delimiter row is not a table', () => {
    expect(markdownTables('| a | b |\n| c | d |')).toEqual([]);
  });
});

describe('codeSpans', () => {
  test('returns the contents of each inline code span', () => {
    expect(codeSpans('Set `JWT_ISSUER` and `x = 1`, not ``.')).toEqual(['JWT_ISSUER', 'x = 1']);
  });
});

describe('section', () => {
  const md = [
    '# Title',
    '## 1. One',
    'one',
    '### 1.1 Sub',
    'sub',
    `${FENCE}bash`,
    '# not a heading',
    FENCE,
    '## 2. Two',
    'two',
  ].join('\n');

  test('runs to the next heading of the same or a higher level, sub-sections included', () => {
    expect(section(md, '1.')).toBe(['one', '### 1.1 Sub', 'sub', `${FENCE}bash`, '# not a heading', FENCE].join('\n'));
    expect(section(md, '2.')).toBe('two');
  });

  test('throws for a missing heading', () => {
    expect(() => section(md, '3.')).toThrow('no heading starting with "3."');
  });
});

describe('proseUnits', () => {
  test('splits paragraphs, list items and table rows, joining wrapped lines, and leaves code blocks out', () => {
    const md = [
      'A claim that',
      'wraps.',
      '',
      '- item one',
      '  continued',
      '- item two',
      '| a | b |',
      `${FENCE}`,
      'code line',
      FENCE,
      '## Heading',
      'After.',
    ].join('\n');
    expect(proseUnits(md)).toEqual([
      'A claim that wraps.',
      '- item one continued',
      '- item two',
      '| a | b |',
      'After.',
    ]);
  });
});

describe('repositoryPaths', () => {
  test('finds rooted paths in prose, code spans and commands', () => {
    const text = 'See `lib/config.ts`, docs/OPERATIONS.md and `npx tsx sandbox/mint-token.ts --sub a`.';
    expect(repositoryPaths(text)).toEqual(['lib/config.ts', 'docs/OPERATIONS.md', 'sandbox/mint-token.ts']);
  });

  test('finds paths that climb out of their folder', () => {
    expect(repositoryPaths('the model is `../shared/models/tiny.gguf`; see [ops](../OPERATIONS.md)')).toEqual([
      '../shared/models/tiny.gguf',
      '../OPERATIONS.md',
    ]);
  });

  test('ignores URLs and folders that are not top-level source folders', () => {
    expect(
      repositoryPaths('https://github.com/x/docs/a.md and s3://bucket/models/x/ and llama.cpp/convert.py'),
    ).toEqual([]);
  });
});
