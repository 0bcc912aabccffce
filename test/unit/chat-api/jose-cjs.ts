import { buildSync } from 'esbuild';

/**
 * jose 6 ships ES modules only, and jest 30 cannot `require` ES modules on Node < 24.9. Test files that touch jose
 * (directly or through the authorizer) map it to this CommonJS build, bundled once per file by the installed esbuild:
 *
 *   jest.mock('jose', () => jest.requireActual('./jose-cjs').joseAsCommonJs());
 *
 * Production bundles (esbuild) and the sandbox (tsx) load jose as it is.
 */
export function joseAsCommonJs(): typeof import('jose') {
  const out = buildSync({
    entryPoints: [require.resolve('jose')],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    write: false,
  });
  const code = out.outputFiles[0]?.text;
  if (!code) throw new Error('esbuild produced no jose bundle');
  const mod = { exports: {} as Record<string, unknown> };
  new Function('module', 'exports', 'require', code)(mod, mod.exports, require);
  return mod.exports as unknown as typeof import('jose');
}
