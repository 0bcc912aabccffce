import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository's files as the docs tests read them: paths are relative to the repository root. */

export const ROOT = resolve(__dirname, '..', '..', '..');
export const readRepoFile = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** README.md and every guide under docs/, platform guides included. */
export function allDocs(): string[] {
  const docs = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
  const platforms = readdirSync(join(ROOT, 'docs/platforms')).filter((name) => name.endsWith('.md'));
  return ['README.md', ...docs.map((d) => `docs/${d}`), ...platforms.map((p) => `docs/platforms/${p}`)];
}

/** Every `.ts` file under a repository folder. */
export function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}
