import { Tracer } from '@aws-lambda-powertools/tracer';
import { METRICS_SERVICE } from './metrics';

/**
 * X-Ray tracing (Powertools Tracer), one singleton per cold start, for the worker, `/v1/chat` and its authorizer:
 * the handler segment (`captureLambdaHandler`), the AWS SDK calls (`captureAWSv3Client`) and one subsegment each for
 * the model call and the platform send (`traced`). Active tracing on the function links these to the queue message
 * the webhook sent, so webhook → queue → worker → model → platform reads as one trace.
 *
 * The tracer is a no-op outside Lambda: Powertools turns it off when `AWS_EXECUTION_ENV` is unset (jest, the
 * sandbox), under SAM/Amplify mocks and when `POWERTOOLS_TRACE_ENABLED=false`, and then `traced` only calls `fn`.
 *
 * The webhook is deliberately not instrumented here: this module pulls in aws-xray-sdk-core, which would take the
 * webhook bundle over its 250 KB budget (its cold start is on every member's critical path). Its API Gateway and
 * Lambda segments still come from active tracing, without this library.
 */
export const tracer = new Tracer({ serviceName: METRICS_SERVICE });

/** Low-cardinality values searchable in X-Ray (`annotation.platform = "slack"`); ids go to logs, not here. */
export type Annotations = Readonly<Record<string, string | number | boolean>>;

/**
 * Runs `fn` inside a subsegment named `name` carrying `annotations`; an error is recorded on the subsegment and
 * rethrown. X-Ray's own async capture keeps the subsegment in the call's async context, so concurrent calls (the
 * send alongside the ledger write) are not misparented.
 */
export async function traced<T>(name: string, annotations: Annotations, fn: () => Promise<T>): Promise<T> {
  if (!tracer.isTracingEnabled() || tracer.getSegment() === undefined) return fn();
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
