import * as z from '#shared/zod';
import type { RunningEndpoint } from './model-endpoints';
import type { ModelSwitch, PrimaryState } from './model-switch';

/**
 * The sandbox routes that show the two models and switch the primary (issue 16), for the page and for tests:
 * - `GET /_sandbox/model` → `ModelsView`
 * - `POST /_sandbox/model/primary` with `{"state":"down"|"up"}` → the new `ModelsView`; 400 with the reason for any
 *   other body.
 */

export interface PrimaryView {
  /** What the handlers call (`MODEL_ENDPOINT_URL`): the switch in front of the primary. */
  readonly url: string;
  /** Where the primary itself runs: the local engine, or the external server the user named. */
  readonly target: string;
  readonly source: 'local' | 'external';
  /** The id its answers are recorded under (`MODEL_ID`). */
  readonly modelId: string;
  readonly state: PrimaryState;
  /** Calls the switch refused (503) while the primary was down. */
  readonly refusedCalls: number;
  /** Why the external primary failed its start-up ping. */
  readonly problem?: string;
}

export type FallbackView =
  | {
      readonly state: 'up';
      /** What the handlers call (`FALLBACK_MODEL_ENDPOINT_URL`). */
      readonly url: string;
      readonly source: 'local' | 'external';
      /** The id its answers are recorded under (`FALLBACK_MODEL_ID`). */
      readonly modelId: string;
      /** Why the external backup failed its start-up ping. */
      readonly problem?: string;
    }
  | { readonly state: 'off' };

export interface ModelsView {
  readonly primary: PrimaryView;
  readonly fallback: FallbackView;
}

export interface RouteAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface ModelControl {
  view(): ModelsView;
  /** The answer of a `/_sandbox/model…` route; undefined for any other path. */
  route(method: string, path: string, body: Buffer): RouteAnswer | undefined;
}

const STATE_BODY = z.strictObject({ state: z.enum(['up', 'down']) });

/** The primary's new state from a route body, or the reason it is not one. */
export function parsePrimaryState(body: Buffer): { state: PrimaryState } | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { problem: 'Body must be JSON: {"state":"down"} or {"state":"up"}.' };
  }
  const parsed = STATE_BODY.safeParse(json);
  if (parsed.success) return { state: parsed.data.state };
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { problem: 'Body must be an object: {"state":"down"} or {"state":"up"}.' };
  const { issues } = parsed.error;
  const unknown = issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
  const given = (json as { state?: unknown }).state;
  const problems = [
    unknown.length > 0 ? `Unknown field(s): ${unknown.join(', ')}.` : '',
    issues.some((issue) => issue.path[0] === 'state')
      ? `state must be "down" or "up", ${given === undefined ? 'and is missing' : `got ${JSON.stringify(given)}`}.`
      : '',
  ];
  return { problem: problems.filter(Boolean).join(' ') };
}

const badRequest = (message: string): RouteAnswer => ({
  status: 400,
  body: { error: { code: 'invalid_request', message } },
});

const methodNotAllowed = (allowed: string): RouteAnswer => ({
  status: 405,
  body: { error: { code: 'method_not_allowed', message: `Use ${allowed}.` } },
});

export function createModelControl(options: {
  readonly switch: ModelSwitch;
  readonly primary: RunningEndpoint & { readonly modelId: string };
  readonly fallback?: RunningEndpoint & { readonly modelId: string };
  readonly log: (line: string) => void;
}): ModelControl {
  const { primary, fallback } = options;
  const gate = options.switch;

  const view = (): ModelsView => ({
    primary: {
      url: gate.url,
      target: primary.url,
      source: primary.source,
      modelId: primary.modelId,
      state: gate.state(),
      refusedCalls: gate.refusedCalls(),
      ...(primary.problem === undefined ? {} : { problem: primary.problem }),
    },
    fallback: fallback
      ? {
          state: 'up',
          url: fallback.url,
          source: fallback.source,
          modelId: fallback.modelId,
          ...(fallback.problem === undefined ? {} : { problem: fallback.problem }),
        }
      : { state: 'off' },
  });

  return {
    view,
    route(method, path, body) {
      if (path === '/_sandbox/model') return method === 'GET' ? { status: 200, body: view() } : methodNotAllowed('GET');
      if (path !== '/_sandbox/model/primary') return undefined;
      if (method !== 'POST') return methodNotAllowed('POST');
      const parsed = parsePrimaryState(body);
      if ('problem' in parsed) return badRequest(parsed.problem);
      if (parsed.state !== gate.state()) {
        gate.set(parsed.state);
        options.log(
          parsed.state === 'down'
            ? `sandbox: primary model switched DOWN: its calls answer 503 ServiceUnavailable${fallback ? `; the backup ${fallback.modelId} answers` : '; no backup model, so replies are apologies'}`
            : 'sandbox: primary model switched UP: its calls reach it again',
        );
      }
      return { status: 200, body: view() };
    },
  };
}
