/**
 * How every GroupGate function is bundled and started, in one place for the stack (`HouseFunction`) and for the
 * benchmark that times the bundles' module init (`bench/bundling.ts`), so the figures are those of what is deployed.
 * Plain values: importing this module loads no CDK code.
 */
export const LAMBDA_BUNDLING = {
  minify: true,
  sourceMap: true,
  /**
   * The map keeps names and positions but not the sources' text, which made it 3.6× larger (webhook: 1.3 MB →
   * 0.36 MB) for nothing a stack trace uses. It is read when the first stack trace is formatted
   * (`functions/shared/stack-source-map.ts`).
   */
  sourcesContent: false,
  target: 'node22',
  /** The runtime provides `@aws-sdk/*` (NodejsFunction's default for nodejs22.x). */
  externalModules: ['@aws-sdk/*'],
} as const;

/**
 * No Node options. Not `--enable-source-maps`: it decodes the whole map at every cold start (about 30 ms of the
 * webhook's init); each handler maps its stack traces itself, on the first one formatted
 * (`functions/shared/stack-source-map.ts`), so the logs still point at the TypeScript sources.
 */
export const LAMBDA_NODE_OPTIONS = '';
