import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * docs/ARCHITECTURE.md stays true to the code: every section the code cites (`ARCHITECTURE §4.1`) is a heading of
 * it, and every repository path its walk and seams name exists.
 */

const ROOT = resolve(__dirname, '..', '..', '..');
const ARCHITECTURE = readFileSync(join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
const SOURCE_DIRS = ['functions', 'lib', 'sandbox', 'tools', 'bin', 'bench', 'test'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

const headings = new Set([...ARCHITECTURE.matchAll(/^#{2,3} (\d+(?:\.\d+)?)[. ]/gm)].map((m) => m[1]));

describe('docs/ARCHITECTURE.md ↔ the code', () => {
  test('every "ARCHITECTURE §N" the code cites is a section of the document', () => {
    const cited = SOURCE_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir))).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/ARCHITECTURE §(\d+(?:\.\d+)?)/g)].map((m) => ({
        file: file.slice(ROOT.length + 1),
        section: m[1] ?? '',
      })),
    );
    expect(cited.length).toBeGreaterThan(10); // the scan is not vacuous
    expect(cited.filter((c) => !headings.has(c.section))).toEqual([]);
  });

  test('every repository path the document names exists', () => {
    const named = [
      ...new Set(
        [...ARCHITECTURE.matchAll(/`((?:functions|lib|sandbox|tools|docs|test|bench)\/[\w./-]+?)`/g)].map((m) => m[1]),
      ),
    ];
    expect(named.length).toBeGreaterThan(20);
    expect(named.filter((path) => path !== undefined && !existsSync(join(ROOT, path)))).toEqual([]);
  });
});
