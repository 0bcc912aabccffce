import { type ChatApiConfig, loadChatApiConfig } from '#config/chat-api-config';
import type { PipelineConfig } from '#config/pipeline-config';
import { loadWorkerConfig, type WorkerConfig } from '#config/worker-config';

type Env = Readonly<Record<string, string | undefined>>;

/** The table names every test config uses; the env keys each loader requires. */
export const TEST_TABLES_ENV = {
  EVENTS_TABLE: 'events',
  CONVERSATIONS_TABLE: 'conversations',
  ANSWER_CACHE_TABLE: 'answer-cache',
  LEDGER_TABLE: 'ledger',
  AUDIT_TABLE: 'audit',
} as const;

/**
 * The worker's config as its loader builds it from the test tables plus `env` (Slack enabled unless `env` says
 * otherwise), then `overrides` on the loaded object for values with no env form (e.g. a ms lease).
 */
export function workerConfig(env: Env = {}, overrides: Partial<WorkerConfig> = {}): WorkerConfig {
  return { ...loadWorkerConfig({ ENABLED_PLATFORMS: 'slack', ...TEST_TABLES_ENV, ...env }), ...overrides };
}

/** `/v1/chat`'s config from the test tables plus `env`, then `overrides`. */
export function chatApiConfig(env: Env = {}, overrides: Partial<ChatApiConfig> = {}): ChatApiConfig {
  const { EVENTS_TABLE: _workerOnly, ...tables } = TEST_TABLES_ENV;
  return { ...loadChatApiConfig({ ...tables, ...env }), ...overrides };
}

/** The pipeline part both functions share, from the same env keys (`/v1/chat`'s extras stripped). */
export function pipelineConfig(env: Env = {}, overrides: Partial<PipelineConfig> = {}): PipelineConfig {
  const { limits: _limits, modelTimeoutMs: _timeout, ...pipeline } = chatApiConfig(env);
  return { ...pipeline, ...overrides };
}
