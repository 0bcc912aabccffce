import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One static file of the sandbox chat page, ready to send. */
export interface WebAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

/** URL path → file beside this module. The page references its assets by these exact paths. */
const FILES: ReadonlyArray<readonly [urlPath: string, file: string, contentType: string]> = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/assets/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/assets/dom.js', 'dom.js', 'text/javascript; charset=utf-8'],
  ['/assets/format.js', 'format.js', 'text/javascript; charset=utf-8'],
  ['/assets/model-switch.js', 'model-switch.js', 'text/javascript; charset=utf-8'],
  ['/assets/pairing.js', 'pairing.js', 'text/javascript; charset=utf-8'],
  ['/assets/recorder.js', 'recorder.js', 'text/javascript; charset=utf-8'],
  ['/assets/recorder-worklet.js', 'recorder-worklet.js', 'text/javascript; charset=utf-8'],
  ['/assets/reply-meta.js', 'reply-meta.js', 'text/javascript; charset=utf-8'],
  ['/assets/sandbox-client.js', 'sandbox-client.js', 'text/javascript; charset=utf-8'],
  ['/assets/style.css', 'style.css', 'text/css; charset=utf-8'],
];

/**
 * Reads the sandbox web chat page (plain HTML/CSS and JS modules, no build step) from disk, keyed by the URL path the
 * sandbox server serves it at: `/`, `/assets/<file>`. Paths resolve relative to this module, so it
 * works from any working directory; a missing file throws at start-up rather than 404-ing later.
 */
export function loadWebAssets(): Map<string, WebAsset> {
  return new Map(
    FILES.map(([urlPath, file, contentType]) => [urlPath, { contentType, body: readFileSync(join(__dirname, file)) }]),
  );
}
