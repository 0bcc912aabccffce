import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { headingAnchor, headingAnchors, repositoryPaths } from './doc-scan';
import { ROOT, readRepoFile } from './repo-files';

/**
 * The repository stands alone: every file path the README, the guides and the sandbox's start-up banner give a reader
 * exists in this repository, none points outside it, and documents are cited by their path in the repository (the
 * banner's "see …" names a file and one of its sections).
 */

/** Guides whose every path is real. ADDING-A-PLATFORM names the files a new platform will add, RELIABILITY and
 * PERFORMANCE name files their runs write; those three are held by their own tests. */
const DOCS = [
  'README.md',
  'docs/README.md',
  'docs/OPERATIONS.md',
  'docs/MODEL.md',
  'docs/ARCHITECTURE.md',
  'docs/platforms/feishu.md',
  'docs/platforms/slack.md',
  'docs/platforms/dingtalk.md',
  'docs/platforms/wecom.md',
] as const;

/** Where `npm start` prints its banner. */
const BANNER_SOURCE = 'bin/sandbox.ts';

/** The text of every string literal in a source file (quoted or template), where a printed message lives. */
function stringLiterals(source: string): string[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/^import\b[^;]*;/gm, '');
  return [...code.matchAll(/'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g)].map((m) => m[1] ?? m[2] ?? '');
}

/** A named path as a repository path: `../x` is relative to the naming file's folder, anything else to the root. */
const inRepository = (source: string, path: string): string =>
  relative(ROOT, path.startsWith('../') ? resolve(ROOT, dirname(source), path) : resolve(ROOT, path));
const insideRepository = ({ source, path }: { source: string; path: string }): boolean =>
  !inRepository(source, path).startsWith('..');
const exists = ({ source, path }: { source: string; path: string }): boolean =>
  existsSync(join(ROOT, inRepository(source, path).replace(/\/\*.*$/, '')));

describe('repository paths in the README, the guides and the start-up banner', () => {
  const named = [
    ...DOCS.flatMap((doc) => repositoryPaths(readRepoFile(doc)).map((path) => ({ source: doc, path }))),
    ...stringLiterals(readRepoFile(BANNER_SOURCE)).flatMap((text) =>
      repositoryPaths(text).map((path) => ({ source: BANNER_SOURCE, path })),
    ),
  ];

  test('the scan finds paths (it is not vacuous)', () => {
    expect(named.length).toBeGreaterThan(50);
    expect(named.map((n) => n.path)).toEqual(expect.arrayContaining(['lib/config.ts', 'docs/platforms/feishu.md']));
  });

  test('none points outside the repository', () => {
    expect(named.filter((n) => !insideRepository(n))).toEqual([]);
  });

  test('every one exists', () => {
    expect(named.filter((n) => insideRepository(n) && !exists(n))).toEqual([]);
  });

  test('no guide cites a design document the repository does not hold', () => {
    const cited = DOCS.flatMap((doc) =>
      [...readRepoFile(doc).matchAll(/\b(?:DESIGN-DOC|design doc(?:ument)?|the design's)\b[^\n]*/gi)].map((m) => ({
        doc,
        text: m[0],
      })),
    );
    expect(cited).toEqual([]);
  });
});

describe('documents the start-up banner cites', () => {
  const literals = stringLiterals(readRepoFile(BANNER_SOURCE));
  /** `<path>.md`, optionally followed by `§<n>` or `, section "<title>"`. */
  const citations = literals.flatMap((text) =>
    [...text.matchAll(/([\w./-]+\.md)(?:\s+§(\d+(?:\.\d+)*)|,\s+section\s+"([^"]+)")?/g)].map((m) => ({
      file: m[1] ?? '',
      number: m[2],
      title: m[3],
    })),
  );

  test('it cites the place where the sandbox variables are listed', () => {
    expect(citations.length).toBeGreaterThan(0);
  });

  test('every cited document and section exists', () => {
    for (const { file, number, title } of citations) {
      expect({ file, exists: existsSync(join(ROOT, file)) }).toEqual({ file, exists: true });
      const anchors = headingAnchors(readRepoFile(file));
      if (title !== undefined)
        expect({ file, title, found: anchors.has(headingAnchor(title)) }).toHaveProperty('found', true);
      if (number !== undefined) {
        const numbered = [...anchors].some((anchor) => anchor.startsWith(`${number.replace(/\./g, '')}-`));
        expect({ file, number, found: numbered }).toHaveProperty('found', true);
      }
    }
  });

  test('no section is cited without the file it is in ("ARCHITECTURE §4.2" leaves the reader guessing)', () => {
    const bare = literals.flatMap((text) =>
      [...text.matchAll(/§/g)]
        .filter((m) => !/[\w./-]+\.md\s+$/.test(text.slice(0, m.index)))
        .map((m) => text.slice(Math.max(0, (m.index ?? 0) - 30), (m.index ?? 0) + 6)),
    );
    expect(bare).toEqual([]);
  });
});
