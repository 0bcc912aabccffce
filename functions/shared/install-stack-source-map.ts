import { installStackSourceMap } from './stack-source-map';

/**
 * Imported first by every handler entry, for its side effect: in a bundle, `__filename` is the bundle itself, whose
 * map esbuild writes beside it (`stack-source-map.ts`).
 */
installStackSourceMap(__filename);
