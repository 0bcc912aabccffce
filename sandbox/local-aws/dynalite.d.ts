// dynalite 4 ships no types; this declares only what `dynalite-server.ts` and `dynalite-expression-cache.ts` use.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** LevelDB directory; in memory when absent. */
    path?: string;
    /** How long a table stays CREATING. @default 500 */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
  }

  function dynalite(options?: DynaliteOptions): Server;
  export = dynalite;
}

// dynalite's generated expression parsers, whose `parse` `dynalite-expression-cache.ts` memoizes in place.
declare module 'dynalite/db/conditionParser' {
  const parser: { parse(input: string, options?: { readonly context?: object; readonly startRule?: string }): unknown };
  export = parser;
}
declare module 'dynalite/db/updateParser' {
  const parser: { parse(input: string, options?: { readonly context?: object; readonly startRule?: string }): unknown };
  export = parser;
}
declare module 'dynalite/db/projectionParser' {
  const parser: { parse(input: string, options?: { readonly context?: object; readonly startRule?: string }): unknown };
  export = parser;
}
