import { ENV } from '#config/env-names';
import { DEFAULT_FALLBACK_MODEL_ID, pipelineEnvShape } from '#config/pipeline-config';
import { ConfigError } from '#core/errors';
import * as z from '#shared/zod';

/**
 * The sandbox's backup model (issue 16, offline mode): a second local engine the worker falls back to when the
 * primary cannot answer. On by default; the handlers learn where it is from `FALLBACK_MODEL_ENDPOINT_URL` (the same
 * SageMaker runtime contract as `MODEL_ENDPOINT_URL`) and its id from `FALLBACK_MODEL_ID`. The same loading rules as
 * the primary's: a GGUF at `FALLBACK_MODEL_PATH`, else the generated demo model; the instant stand-in when
 * `MODEL_ENGINE=instant`; an external server's URL wins over a path, as `MODEL_ENDPOINT_URL` wins over `MODEL_PATH`.
 *
 * The two handler variables are spelled out here (not taken from `FALLBACK_ENV` of `#config/pipeline-config`) because
 * the README check reads the sandbox's own `*_ENV` names literally; a unit test holds them equal to the worker's.
 */
export const FALLBACK_MODEL_ENV = {
  /** `off`: no backup model is started and the handlers are given none. @default on */
  mode: 'FALLBACK_MODEL',
  /** GGUF file of the local backup model. @default the generated demo model */
  path: 'FALLBACK_MODEL_PATH',
  /** A SageMaker-compatible server to use as the backup instead of starting one; read by the worker too. */
  endpointUrl: 'FALLBACK_MODEL_ENDPOINT_URL',
  /** The backup's model id in ledger and audit rows; read by the worker too. @default fallback-cpu */
  modelId: 'FALLBACK_MODEL_ID',
} as const;

export type FallbackModelConfig =
  | { readonly kind: 'off' }
  | { readonly kind: 'external'; readonly url: string; readonly modelId: string }
  /** `modelPath` absent: the generated demo model. */
  | { readonly kind: 'local'; readonly modelPath?: string; readonly modelId: string };

const httpUrl = z.url({ protocol: /^https?$/ });
const primaryModelId = z.object({ [ENV.modelId]: pipelineEnvShape[ENV.modelId] });

/** The primary's model id as the handlers read it (`MODEL_ID`, with the pipeline's default). */
export function primaryModelIdFromEnv(env: Readonly<Record<string, string | undefined>>): string {
  return primaryModelId.parse({ [ENV.modelId]: env[ENV.modelId] || undefined })[ENV.modelId];
}

/** Reads and validates the backup model's variables; every problem is reported at once (`ConfigError`). */
export function fallbackModelFromEnv(env: Readonly<Record<string, string | undefined>>): FallbackModelConfig {
  const F = FALLBACK_MODEL_ENV;
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const mode = set(F.mode) ?? 'on';
  const url = set(F.endpointUrl);
  const path = set(F.path);
  const modelId = set(F.modelId) ?? DEFAULT_FALLBACK_MODEL_ID;
  const problems: string[] = [];
  if (mode !== 'on' && mode !== 'off') problems.push(`${F.mode} must be on or off, got '${env[F.mode]}'`);
  if (mode === 'off') {
    for (const name of [F.endpointUrl, F.path].filter((n) => set(n) !== undefined))
      problems.push(`${F.mode}=off but ${name} is set: unset one of them`);
  }
  if (url !== undefined && !httpUrl.safeParse(url).success)
    problems.push(`${F.endpointUrl} must be an http(s) URL, got '${url}'`);
  const primaryId = primaryModelIdFromEnv(env);
  // The ledger, the audit and the FAQ cache tell the answering model by its id: two models under one id would
  // make the backup's answers look like the primary's (and be cached as such).
  if (mode !== 'off' && modelId === primaryId)
    problems.push(`${F.modelId} must differ from ${ENV.modelId} ('${primaryId}')`);
  if (problems.length > 0) throw new ConfigError(problems);
  if (mode === 'off') return { kind: 'off' };
  if (url !== undefined) return { kind: 'external', url, modelId };
  return { kind: 'local', modelId, ...(path === undefined ? {} : { modelPath: path }) };
}
