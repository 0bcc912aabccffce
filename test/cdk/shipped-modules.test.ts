import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  copyShippedModules,
  LLAMA_ON_LAMBDA_ARM64,
  packageClosure,
  ShippedModuleMissingError,
} from '../../lib/shipped-modules';

const ROOT = path.join(__dirname, '..', '..');
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true });
});
const tempDir = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'groupgate-ship-'));
  scratch.push(dir);
  return dir;
};

/** A fake project: `node_modules` laid out by hand, with one nested copy (two versions of `shared`). */
function fakeProject(): string {
  const root = tempDir();
  const pkg = (dir: string, json: object): void => {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.writeFileSync(path.join(root, dir, 'package.json'), JSON.stringify(json));
  };
  pkg('node_modules/engine', {
    dependencies: { shared: '^2', '@scope/util': '1' },
    optionalDependencies: { '@bins/linux-arm64': '1', '@bins/win-x64': '1', '@bins/absent': '1' },
  });
  pkg('node_modules/engine/node_modules/shared', { version: '2.0.0', dependencies: { leaf: '1' } });
  pkg('node_modules/shared', { version: '1.0.0' });
  pkg('node_modules/@scope/util', { dependencies: { leaf: '1' } });
  pkg('node_modules/leaf', {});
  pkg('node_modules/@bins/linux-arm64', {});
  pkg('node_modules/@bins/win-x64', {});
  pkg('node_modules/unrelated', {});
  return root;
}

describe('packageClosure', () => {
  test('follows Node resolution (nested copies first, then up), keeps only the chosen optional packages', () => {
    const root = fakeProject();
    expect(packageClosure(root, { packages: ['engine'], optional: ['@bins/linux-arm64'], prune: [] })).toEqual([
      'node_modules/@bins/linux-arm64',
      'node_modules/@scope/util',
      'node_modules/engine',
      'node_modules/engine/node_modules/shared',
      'node_modules/leaf',
    ]);
  });

  test('a chosen optional package that is not installed is a named error saying how to get it', () => {
    const root = fakeProject();
    expect(() => packageClosure(root, { packages: ['engine'], optional: ['@bins/absent'], prune: [] })).toThrow(
      ShippedModuleMissingError,
    );
    expect(() => packageClosure(root, { packages: ['missing'], optional: [], prune: [] })).toThrow(
      /missing is not installed under .*: run npm ci first/,
    );
  });

  test("node-llama-cpp's closure here holds its linux-arm64 binaries and no other platform's", () => {
    const dirs = packageClosure(ROOT, LLAMA_ON_LAMBDA_ARM64);
    expect(dirs).toContain('node_modules/node-llama-cpp');
    expect(dirs).toContain('node_modules/@node-llama-cpp/linux-arm64');
    expect(dirs.filter((d) => d.includes('@node-llama-cpp/'))).toEqual(['node_modules/@node-llama-cpp/linux-arm64']);
  });
});

describe('copyShippedModules', () => {
  test('copies the closure once (nested packages with their parent) and removes the pruned paths', () => {
    const root = fakeProject();
    fs.mkdirSync(path.join(root, 'node_modules/engine/llama'), { recursive: true });
    fs.writeFileSync(path.join(root, 'node_modules/engine/llama/source.bundle'), 'x');
    const out = tempDir();
    copyShippedModules(root, out, { packages: ['engine'], optional: ['@bins/linux-arm64'], prune: ['engine/llama'] });
    expect(fs.existsSync(path.join(out, 'node_modules/engine/node_modules/shared/package.json'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'node_modules/@bins/linux-arm64/package.json'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'node_modules/engine/llama'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'node_modules/@bins/win-x64'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'node_modules/unrelated'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'node_modules/shared'))).toBe(false);
  });

  test('the shipped node-llama-cpp loads from the asset alone, without its source tree', () => {
    const out = tempDir();
    copyShippedModules(ROOT, out, LLAMA_ON_LAMBDA_ARM64);
    expect(fs.existsSync(path.join(out, 'node_modules/node-llama-cpp/llama/gitRelease.bundle'))).toBe(false);
    // Resolved from the asset directory only (no NODE_PATH, no node_modules above a temp dir): every import of
    // node-llama-cpp's entry must be inside the closure. The native addon loads only in getLlama(), not here.
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "const m = await import('node-llama-cpp'); console.log(typeof m.getLlama);"],
      { cwd: out, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 60_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  });
});
