/**
 * How every GroupGate function is bundled and started, in one place for the stack (`HouseFunction`) and for the
 * benchmark that times the bundles' module init (`bench/bundling.ts`), so the figures are those of what is deployed.
 * Plain values: importing this module loads no CDK code.
 */
export const LAMBDA_BUNDLING = {
  minify: true,
  sourceMap: true,
  /**
   * The map keeps names and positions but not the sources' text: `--enable-source-maps` reads and parses the whole
   * map at cold start, and the text made it 3.6× larger (webhook: 1.3 MB → 0.36 MB) for nothing a stack trace uses.
   */
  sourcesContent: false,
  target: 'node22',
  /** The runtime provides `@aws-sdk/*` (NodejsFunction's default for nodejs22.x). */
  externalModules: ['@aws-sdk/*'],
} as const;

/** Stack traces in the logs point at the TypeScript sources. */
export const LAMBDA_NODE_OPTIONS = '--enable-source-maps';
