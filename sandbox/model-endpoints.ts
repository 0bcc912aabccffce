import { pingEndpoint, unreachableWarnings } from './endpoint-health';

/**
 * Brings up the sandbox's two model endpoints (issue 16): the primary and, when configured, the backup the worker
 * falls back to. Each is an external SageMaker-compatible server the user named, or a local engine started here;
 * local ones start side by side, external ones are pinged (`endpoint-health.ts`) and warned about when silent.
 */

/** A model server the sandbox started; `close` stops it. */
export interface StartedModel {
  readonly url: string;
  close(): Promise<void>;
}

/** Where a model comes from: an external server's URL, or a start function for a local engine. */
export type ModelSource = { readonly endpointUrl: string } | { readonly start: () => Promise<StartedModel> };

/** The backup model: its source and the id its answers are recorded under (`FALLBACK_MODEL_ID`). */
export type FallbackSource = ModelSource & { readonly modelId: string };

export interface RunningEndpoint {
  readonly url: string;
  readonly source: 'local' | 'external';
  /** Why an external endpoint failed its start-up ping. */
  readonly problem?: string;
}

export interface RunningModels {
  readonly primary: RunningEndpoint;
  readonly fallback?: RunningEndpoint & { readonly modelId: string };
  /** Start-up warnings about silent external endpoints, one sentence each. */
  readonly warnings: readonly string[];
  /** Stops the local engines (external servers are not ours to stop). */
  close(): Promise<void>;
}

export async function startModels(primary: ModelSource, fallback?: FallbackSource): Promise<RunningModels> {
  const sources = fallback ? [primary, fallback] : [primary];
  const settled = await Promise.allSettled(sources.map(bringUp));
  const started = settled.flatMap((s) => (s.status === 'fulfilled' && s.value.model ? [s.value.model] : []));
  const close = async (): Promise<void> => {
    await Promise.all(started.map((m) => m.close().catch(() => undefined)));
  };
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await close();
    throw failed.reason;
  }
  const up = settled.map((s) => (s as PromiseFulfilledResult<BroughtUp>).value.endpoint);
  const primaryUp = up[0] as RunningEndpoint;
  const fallbackUp = fallback && up[1] ? { ...up[1], modelId: fallback.modelId } : undefined;
  const warnings = unreachableWarnings({
    ...(primaryUp.problem === undefined ? {} : { primary: { url: primaryUp.url, problem: primaryUp.problem } }),
    ...(fallbackUp ? { fallback: fallbackUp } : {}),
  });
  return {
    primary: primaryUp,
    ...(fallbackUp ? { fallback: fallbackUp } : {}),
    warnings,
    close,
  };
}

interface BroughtUp {
  readonly endpoint: RunningEndpoint;
  /** Set for a local engine, which the sandbox must stop. */
  readonly model?: StartedModel;
}

async function bringUp(source: ModelSource): Promise<BroughtUp> {
  if ('endpointUrl' in source) {
    const ping = await pingEndpoint(source.endpointUrl);
    return {
      endpoint: { url: source.endpointUrl, source: 'external', ...(ping.ok ? {} : { problem: ping.problem }) },
    };
  }
  const model = await source.start();
  return { endpoint: { url: model.url, source: 'local' }, model };
}
