import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

/**
 * Stack traces that name the TypeScript sources, paid for by the first stack that is formatted rather than by every
 * cold start. `--enable-source-maps` reads and decodes a bundle's whole map when the bundle loads: about 30 ms of
 * the webhook's module init (docs/PERFORMANCE.md §3), on every cold start, for traces that most cold starts never
 * print. Here the map is read the first time a stack trace is formatted (`error.stack`, as the logger does), and
 * frames in the bundle are translated with Node's own `SourceMap`; other frames stay as V8 prints them.
 *
 * Installed by each handler entry as its first import, so errors thrown while the handler module initialises are
 * mapped too. It does nothing where the bundle has no map beside it or Node already maps stack traces (jest, tsx in
 * the sandbox and the bench), so it never replaces their own mapping.
 */
export function installStackSourceMap(bundleFile: string): boolean {
  const mapFile = `${bundleFile}.map`;
  if (process.sourceMapsEnabled || !existsSync(mapFile)) return false;
  const previous = Error.prepareStackTrace;
  let map: SourceMap | null | undefined;
  const loadMap = (): SourceMap | null => {
    if (map === undefined) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
      } catch {
        map = null; // an unreadable map leaves traces as V8 prints them
      }
    }
    return map;
  };
  Error.prepareStackTrace = (error, callSites) => {
    try {
      const sourceMap = loadMap();
      if (sourceMap === null && previous) return previous(error, callSites);
      const frames = callSites.map(
        (site, i) => `\n    at ${formatFrame(site, callSites[i + 1], bundleFile, sourceMap)}`,
      );
      return `${headerOf(error)}${frames.join('')}`;
    } catch {
      // A trace must never fail to format: the unmapped one is better than an error about the error.
      return previous ? previous(error, callSites) : `${headerOf(error)}`;
    }
  };
  return true;
}

/** The first line of a stack as V8 writes it: `Error.prototype.toString` of the error. */
function headerOf(error: Error): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return '<error>';
  }
}

/**
 * One frame, translated to the source when it lies in the bundle and the map knows its position. The function's
 * source name is what Node's own mapping uses: the name mapped at the start of the enclosing function, else the
 * name mapped at the caller's call site (the next frame), else V8's (minified) name.
 */
function formatFrame(
  site: NodeJS.CallSite,
  caller: NodeJS.CallSite | undefined,
  bundleFile: string,
  map: SourceMap | null,
): string {
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (map === null || site.getFileName() !== bundleFile || line === null || column === null) return site.toString();
  const origin = map.findOrigin(line, column);
  if (!('fileName' in origin)) return site.toString();
  const name = mappedName(map, site, caller, bundleFile) ?? site.getFunctionName() ?? undefined;
  const where = `${sourcePath(origin.fileName)}:${origin.lineNumber}:${origin.columnNumber}`;
  const prefix = site.isAsync() ? 'async ' : site.isConstructor() ? 'new ' : '';
  return name ? `${prefix}${name} (${where})` : `${prefix}${where}`;
}

function mappedName(
  map: SourceMap,
  site: NodeJS.CallSite,
  caller: NodeJS.CallSite | undefined,
  bundleFile: string,
): string | undefined {
  const line = site.getEnclosingLineNumber();
  const column = site.getEnclosingColumnNumber();
  if (line && column) {
    const enclosing = map.findOrigin(line, column);
    if ('name' in enclosing && enclosing.name) return enclosing.name;
  }
  const callerLine = caller?.getLineNumber();
  const callerColumn = caller?.getColumnNumber();
  if (caller?.getFileName() !== bundleFile || !callerLine || !callerColumn) return undefined;
  const call = map.findOrigin(callerLine, callerColumn);
  return 'name' in call && call.name ? call.name : undefined;
}

/**
 * Sources as the repository names them (`functions/handlers/webhook.ts`, `node_modules/zod/…`): the map's paths are
 * relative to wherever the bundle was built.
 */
export function sourcePath(fileName: string): string {
  const inRepository = /(?:^|\/)((?:functions|node_modules|lib|sandbox|test)\/.*)$/.exec(fileName);
  return inRepository?.[1] ?? fileName.replace(/^(?:\.\.\/)+/, '');
}
