import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Packages a Lambda function ships as installed files next to its bundle, because esbuild cannot inline them (a native
 * addon loaded from computed paths). `cdk synth` must work offline, so nothing is installed at synth time: the
 * packages are copied from this project's node_modules, which `npm ci` filled. Each package's run-time dependency
 * closure is found by Node's own resolution rule (the nearest `node_modules/<name>` walking up from the dependent), and
 * of its optional dependencies only the ones named in `optional` are shipped: node-llama-cpp lists a prebuilt binary
 * package per platform and the function needs exactly one of them.
 */
export interface ShippedModules {
  /** Packages left out of the esbuild bundle and shipped whole, with their dependencies. */
  readonly packages: readonly string[];
  /** Optional dependencies to ship (all others are skipped). A missing one is an error: it is what the function runs. */
  readonly optional: readonly string[];
  /** Paths inside shipped packages that are not needed at run time, relative to node_modules. */
  readonly prune: readonly string[];
}

/** node-llama-cpp on Lambda arm64 (glibc 2.34 on Amazon Linux 2023; the prebuilt binaries need at most 2.34). */
export const LLAMA_ON_LAMBDA_ARM64: ShippedModules = {
  packages: ['node-llama-cpp'],
  optional: ['@node-llama-cpp/linux-arm64'],
  // llama.cpp's source tree, used only to build the addon from source: the function never builds (`build: 'never'`).
  prune: ['node-llama-cpp/llama/gitRelease.bundle'],
};

/**
 * DuckDB (`@duckdb/node-api` over `@duckdb/node-bindings`, which loads `duckdb.node` and `libduckdb.so` from the one
 * binary package of its platform) on Lambda x86_64. x86_64 because npm installed only the linux-x64 binary package in
 * this project: shipping arm64 would need `@duckdb/node-bindings-linux-arm64` installed at synth (npm installs an
 * optional dependency only for the machine it runs on, unless told `--cpu=arm64`), and the function built for arm64.
 */
export const DUCKDB_ON_LAMBDA_X64: ShippedModules = {
  packages: ['@duckdb/node-api'],
  optional: ['@duckdb/node-bindings-linux-x64'],
  prune: [],
};

/** Raised at synth when a package to ship is not installed; says how to get it. */
export class ShippedModuleMissingError extends Error {
  override readonly name = 'ShippedModuleMissingError';
}

interface PackageJson {
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

/** `node_modules/<name>` as Node resolves it from `fromDir` (a package directory), or undefined. */
function resolvePackageDir(rootDir: string, fromDir: string, name: string): string | undefined {
  let dir = fromDir;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.resolve(dir) === path.resolve(rootDir)) return undefined;
    const parent = path.dirname(dir);
    // Leave a scoped package's `@scope` directory and the `node_modules` above it in one step.
    dir = path.basename(parent) === 'node_modules' ? path.dirname(parent) : parent;
    if (path.basename(dir).startsWith('@')) dir = path.dirname(path.dirname(dir));
  }
}

/**
 * The package directories (relative to `rootDir`, e.g. `node_modules/tar`) that `spec.packages` need at run time,
 * sorted. Throws `ShippedModuleMissingError` when a package or a chosen optional dependency is not installed.
 */
export function packageClosure(rootDir: string, spec: ShippedModules): string[] {
  const found = new Set<string>();
  const visit = (fromDir: string, name: string, required: boolean): void => {
    const dir = resolvePackageDir(rootDir, fromDir, name);
    if (!dir) {
      if (!required) return;
      const hint =
        name.startsWith('@node-llama-cpp/linux-') || name.startsWith('@duckdb/node-bindings-linux-')
          ? ' npm installs it only on Linux with glibc (x64 or arm64): synthesize and deploy from Linux (CI, a Linux container).'
          : '';
      throw new ShippedModuleMissingError(`${name} is not installed under ${rootDir}: run npm ci first.${hint}`);
    }
    const relative = path.relative(rootDir, dir);
    if (found.has(relative)) return;
    found.add(relative);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dir, dep, true);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
      if (spec.optional.includes(dep)) visit(dir, dep, true);
    }
  };
  for (const name of spec.packages) visit(rootDir, name, true);
  return [...found].sort();
}

/**
 * Copies the closure into `outputDir` (the function's asset), keeping each package's path, then removes the pruned
 * paths. A package nested inside another (`a/node_modules/b`) is copied with its parent.
 */
export function copyShippedModules(rootDir: string, outputDir: string, spec: ShippedModules): string[] {
  const dirs = packageClosure(rootDir, spec);
  const copied: string[] = [];
  for (const dir of dirs) {
    if (copied.some((parent) => dir.startsWith(`${parent}${path.sep}`))) continue;
    cpSync(path.join(rootDir, dir), path.join(outputDir, dir), { recursive: true, dereference: true });
    copied.push(dir);
  }
  for (const pruned of spec.prune)
    rmSync(path.join(outputDir, 'node_modules', pruned), { recursive: true, force: true });
  return dirs;
}

/** The bundling command that ships `spec` into `outputDir`; the spec travels as base64 JSON, safe in any shell. */
export function shipModulesCommand(outputDir: string, spec: ShippedModules): string {
  const encoded = Buffer.from(JSON.stringify(spec)).toString('base64');
  return `"${process.execPath}" --import tsx "${__filename}" "${outputDir}" ${encoded}`;
}

if (require.main === module) {
  const [outputDir, encoded] = process.argv.slice(2);
  if (!outputDir || !encoded) throw new Error('usage: shipped-modules.ts <outputDir> <base64 JSON ShippedModules>');
  const spec = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as ShippedModules;
  copyShippedModules(path.join(__dirname, '..'), outputDir, spec);
}
