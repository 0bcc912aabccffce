import type { InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { SkillRequest } from '#core/skills/remote-protocol';
import { SkillInvokeError, type SkillInvoker } from '#core/skills/remote-skill';
import { decodeSkillPayload } from './skill-payload';

/**
 * Calls remote skills that are Lambda functions: a synchronous `Invoke` (`RequestResponse`) with the request as the
 * JSON payload, bounded by the call's timeout, every outcome mapped to a `SkillInvokeError` reason:
 * - `FunctionError` set (the function threw, timed out or ran out of memory; Lambda still answers 200): `function_error`;
 * - `TooManyRequestsException` and other throttling (HTTP 429): `throttled`;
 * - `ResourceNotFoundException` (no such function, version or alias): `not_found`;
 * - `AccessDeniedException` or HTTP 403 (no `lambda:InvokeFunction` permission, refused credentials): `access_denied`;
 * - the timeout's abort: `timeout`;
 * - a payload over 64 KiB: `too_large`; one that is not JSON: `invalid_json`;
 * - anything else (network errors, Lambda's other 4xx/5xx such as a function that cannot start): `transport`.
 * The SDK is imported on the first call, so a function whose deployment has no Lambda skills never loads it.
 */
export interface LambdaSkillInvokerOptions {
  /** Region of a function named without an ARN; a function ARN is invoked in the ARN's own region. */
  readonly region: string;
  /** Override of the Lambda API endpoint (the sandbox's and tests' stand-in). @default the SDK's regional endpoint */
  readonly endpoint?: string;
  /** Only for non-AWS targets; in Lambda the default provider chain (the execution role) is used. */
  readonly credentials?: AwsCredentialIdentity;
  /** The function (ARN or name, optionally `:qualifier`) of a skill; undefined: no such skill (`not_found`). */
  readonly functionArnOf: (skill: string) => string | undefined;
}

export interface LambdaSkillInvoker extends SkillInvoker {
  /** Closes the clients' keep-alive sockets (tests; in Lambda the clients live as long as the environment). */
  destroy(): void;
}

type LambdaSdk = typeof import('@aws-sdk/client-lambda');

interface RegionalClient {
  readonly client: LambdaClient;
  readonly sdk: LambdaSdk;
}

/** Error names that mean "slow down": Lambda's own, and the generic AWS ones. */
const THROTTLING = new Set(['TooManyRequestsException', 'ThrottlingException', 'Throttling', 'EC2ThrottledException']);
const ACCESS_DENIED = new Set(['AccessDeniedException', 'AccessDenied']);
const MAX_ERROR_TYPE_CHARS = 100;

export function createLambdaSkillInvoker(options: LambdaSkillInvokerOptions): LambdaSkillInvoker {
  /** One client per region, created on its first call; a failed import is retried by the next call. */
  const clients = new Map<string, Promise<RegionalClient>>();

  const clientFor = (region: string): Promise<RegionalClient> => {
    let client = clients.get(region);
    if (client === undefined) {
      client = import('@aws-sdk/client-lambda').then((sdk) => ({
        sdk,
        client: new sdk.LambdaClient({
          region,
          // One attempt: a skill call is bounded by its timeout while the member waits, and a failed skill costs
          // only its grounding (the question goes on to the model). A retry inside that budget would mostly turn
          // a fast failure into a timeout.
          maxAttempts: 1,
          ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
          ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
        }),
      }));
      clients.set(region, client);
      client.catch(() => clients.delete(region));
    }
    return client;
  };

  const invoke = async (request: SkillRequest, timeoutMs: number): Promise<unknown> => {
    const functionName = options.functionArnOf(request.skill);
    if (functionName === undefined) {
      throw new SkillInvokeError('not_found', `no Lambda function configured for skill ${request.skill}`);
    }
    // Started before the SDK is loaded: the import of a cold start counts against the member's wait too.
    const abortSignal = AbortSignal.timeout(timeoutMs);
    let out: InvokeCommandOutput;
    try {
      const { client, sdk } = await clientFor(regionOf(functionName) ?? options.region);
      out = await client.send(
        new sdk.InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(request)),
        }),
        { abortSignal },
      );
    } catch (error) {
      throw classify(error, abortSignal, timeoutMs);
    }
    return payloadOf(out);
  };

  return Object.assign(invoke, {
    destroy() {
      for (const client of clients.values())
        void client.then(
          ({ client: c }) => c.destroy(),
          () => undefined,
        );
      clients.clear();
    },
  });
}

/** The region of a function ARN (`arn:aws:lambda:<region>:…`); undefined for a plain function name. */
function regionOf(functionName: string): string | undefined {
  if (!functionName.startsWith('arn:')) return undefined;
  return functionName.split(':')[3] || undefined;
}

function payloadOf(out: InvokeCommandOutput): unknown {
  const payload = out.Payload ?? new Uint8Array();
  if (out.FunctionError !== undefined) {
    // The payload is the runtime's error object; only its type is kept (its message may quote the request).
    throw new SkillInvokeError('function_error', `function error (${out.FunctionError})${errorTypeOf(payload)}`);
  }
  if (out.StatusCode !== undefined && out.StatusCode !== 200) {
    throw new SkillInvokeError('transport', `unexpected status ${out.StatusCode} for a RequestResponse invocation`);
  }
  return decodeSkillPayload(payload);
}

function errorTypeOf(payload: Uint8Array): string {
  try {
    const error: unknown = JSON.parse(new TextDecoder().decode(payload));
    const type = typeof error === 'object' && error !== null ? (error as { errorType?: unknown }).errorType : undefined;
    return typeof type === 'string' ? `: ${type.slice(0, MAX_ERROR_TYPE_CHARS)}` : '';
  } catch {
    return '';
  }
}

function classify(error: unknown, signal: AbortSignal, timeoutMs: number): SkillInvokeError {
  if (error instanceof SkillInvokeError) return error;
  // Checked first: an abort surfaces as assorted errors (AbortError, a destroyed socket, a cut body).
  if (signal.aborted) return new SkillInvokeError('timeout', `no answer within ${timeoutMs} ms`, { cause: error });
  const name = error instanceof Error ? error.name : 'Error';
  const message = `${name}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300);
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || status === 429) return new SkillInvokeError('throttled', message, { cause: error });
  if (name === 'ResourceNotFoundException') return new SkillInvokeError('not_found', message, { cause: error });
  if (ACCESS_DENIED.has(name) || status === 403) {
    return new SkillInvokeError('access_denied', message, { cause: error });
  }
  return new SkillInvokeError('transport', message, { cause: error });
}
