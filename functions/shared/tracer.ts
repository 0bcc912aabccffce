import type { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import { METRICS_SERVICE } from './metrics';

/**
 * X-Ray tracing (Powertools Tracer) for the worker, `/v1/chat`, its authorizer and the stream sweeper: the handler
 * segment (`handlerTracing`) and one subsegment each for every DynamoDB call (`json-document-client.ts`), the model
 * call and the platform send (`traced`). Active tracing on the function links these to the queue message the webhook sent, so
 * webhook → queue → worker → model → platform reads as one trace.
 *
 * The Tracer is created, and aws-xray-sdk-core loaded, only where Powertools would record anything
 * (`tracingEnabled`). Loading it is not free: the X-Ray SDK's automatic mode enables an async hook with destroy
 * tracking on every promise of the process, about 7% of the worker's CPU per message against dynalite
 * (docs/PERFORMANCE.md §6). Outside Lambda (jest, the sandbox, the bench), under the SAM CLI or Amplify mock and with
 * `POWERTOOLS_TRACE_ENABLED=false` it is never loaded and `traced` only calls `fn`.
 *
 * The webhook is deliberately not instrumented here: its cold start is on every member's critical path, and its API
 * Gateway and Lambda segments still come from active tracing, without this library.
 */
export function tracingEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  // Powertools' own rule (Tracer.setTracingEnabled), read from the same variables.
  if ((env.POWERTOOLS_TRACE_ENABLED ?? '').toLowerCase() === 'false') return false;
  const executionEnv = env.AWS_EXECUTION_ENV ?? '';
  return executionEnv !== '' && executionEnv !== 'AWS_Lambda_amplify-mock' && (env.AWS_SAM_LOCAL ?? '') === '';
}

function createTracer(): Tracer {
  // A require at first use, not an import: the module is what costs (see above). esbuild still bundles it.
  const { Tracer: PowertoolsTracer } =
    require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
  return new PowertoolsTracer({ serviceName: METRICS_SERVICE });
}

/** One Tracer per cold start where tracing records; `undefined` everywhere else. */
export const tracer: Tracer | undefined = tracingEnabled(process.env) ? createTracer() : undefined;

/** The handler's segment as middleware (the response stays out of it: it carries members' answers), or none. */
export function handlerTracing<E, R>(): MiddlewareObj<E, R>[] {
  return tracer ? [captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj<E, R>] : [];
}

/** Low-cardinality values searchable in X-Ray (`annotation.platform = "slack"`); ids go to logs, not here. */
export type Annotations = Readonly<Record<string, string | number | boolean>>;

/**
 * Runs `fn` inside a subsegment named `name` carrying `annotations`; an error is recorded on the subsegment and
 * rethrown. X-Ray's own async capture keeps the subsegment in the call's async context, so concurrent calls (the
 * send alongside the ledger write) are not misparented.
 */
export async function traced<T>(name: string, annotations: Annotations, fn: () => Promise<T>): Promise<T> {
  if (tracer === undefined || tracer.getSegment() === undefined) return fn();
  return tracer.provider.captureAsyncFunc(`### ${name}`, async (subsegment) => {
    for (const [key, value] of Object.entries(annotations)) subsegment?.addAnnotation(key, value);
    try {
      return await fn();
    } catch (err) {
      subsegment?.addError(err as Error);
      throw err;
    } finally {
      subsegment?.close();
    }
  }) as Promise<T>;
}
