import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';

/** A Lambda handler as our handlers write them: async, `(event, context)`. */
export type AsyncHandler<E, R> = (event: E, context: Context) => Promise<R>;

/**
 * `middy(fn).use(middlewares)`, with @middy/core loaded on the first call through `import()`.
 *
 * Why not a static import: @middy/core 7 is ESM-only (its package exports offer only an `import` condition), and
 * this project's TypeScript runs as CommonJS under tsx (sandbox, bench), where a static import becomes `require()`
 * and cannot resolve it. `import()` stays a real import under tsx, esbuild inlines it into the Lambda bundle
 * (so the first call pays one microtask, not a load), and under jest it becomes `require()`, which
 * jest.config.ts maps to the package's entry file.
 */
export function withMiddlewares<E, R>(
  fn: AsyncHandler<E, R>,
  middlewares: readonly MiddlewareObj<E, R>[],
): AsyncHandler<E, R> {
  let wrapped: Promise<AsyncHandler<E, R>> | undefined;
  return async (event, context) => {
    wrapped ??= import('@middy/core')
      .then(({ default: middy }) => middy(fn).use([...middlewares]))
      .catch((err: unknown) => {
        wrapped = undefined; // a failed load is retried by the next invocation, not cached for the container's life
        throw err;
      });
    const run = await wrapped;
    return run(event, context);
  };
}
