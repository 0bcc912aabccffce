import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * What `npm install` pulls: node-llama-cpp's GPU builds (CUDA, Vulkan, other CPUs: about 650 MB) are never loaded
 * (the sandbox runs llama.cpp on the CPU, `gpu: false`), so package.json overrides each with a package npm skips on
 * every supported machine, and every dependency install script is decided in `allowScripts` (no npm warning).
 * Read from the lock file, so the test holds whatever node_modules this machine has.
 */
interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly cpu?: readonly string[];
  readonly os?: readonly string[];
  readonly optional?: boolean;
  readonly hasInstallScript?: boolean;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

const root = resolve(__dirname, '../../..');
const manifest = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  readonly overrides?: Readonly<Record<string, string>>;
  readonly allowScripts?: Readonly<Record<string, boolean>>;
};
const lock = JSON.parse(readFileSync(resolve(root, 'package-lock.json'), 'utf8')) as {
  readonly packages: Readonly<Record<string, LockEntry>>;
};

/** The machines the project supports: Linux, macOS and Windows on x64 or arm64 (Graviton, Apple silicon). */
const SUPPORTED_CPUS = ['x64', 'arm64'];

const llamaBuilds = Object.keys(lock.packages['node_modules/node-llama-cpp']?.optionalDependencies ?? {});
const gpuBuilds = llamaBuilds.filter((name) => /cuda|vulkan|armv7l/.test(name));

describe('install footprint', () => {
  it('knows the GPU builds node-llama-cpp asks for', () => {
    expect(gpuBuilds).toEqual(
      expect.arrayContaining([
        '@node-llama-cpp/linux-x64-cuda',
        '@node-llama-cpp/linux-x64-cuda-ext',
        '@node-llama-cpp/linux-x64-vulkan',
        '@node-llama-cpp/win-x64-cuda',
        '@node-llama-cpp/win-x64-vulkan',
      ]),
    );
  });

  it.each(gpuBuilds)('%s is replaced by a package no supported CPU installs', (name) => {
    expect(manifest.overrides?.[name]).toMatch(/^npm:@node-llama-cpp\//);
    const locked = lock.packages[`node_modules/${name}`];
    expect(locked?.optional).toBe(true);
    expect(locked?.cpu).toBeDefined();
    for (const cpu of SUPPORTED_CPUS) expect(locked?.cpu).not.toContain(cpu);
  });

  it('keeps the CPU builds the sandbox loads (Linux x64 and arm64, macOS, Windows x64)', () => {
    for (const name of ['linux-x64', 'linux-arm64', 'mac-arm64-metal', 'mac-x64', 'win-x64']) {
      const full = `@node-llama-cpp/${name}`;
      expect(manifest.overrides?.[full]).toBeUndefined();
      expect(lock.packages[`node_modules/${full}`]?.name ?? full).toBe(full);
    }
  });

  it('decides every dependency install script in allowScripts', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript === true)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    expect(Object.keys(manifest.allowScripts ?? {}).sort()).toEqual([...new Set(withScripts)].sort());
  });
});
