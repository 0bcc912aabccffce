import { DEFAULT_FALLBACK_MODEL_ID, FALLBACK_ENV } from '#config/pipeline-config';
import { loadWorkerConfig } from '#config/worker-config';
import { ConfigError } from '#core/errors';
import { sandboxCredentials } from '../../../sandbox/defaults';
import { FALLBACK_MODEL_ENV, fallbackModelFromEnv, primaryModelIdFromEnv } from '../../../sandbox/fallback-model';
import { handlerEnv } from '../../../sandbox/handler-env';
import type { LocalAws } from '../../../sandbox/local-aws/index';

/** The sandbox's backup model settings (issue 16) and how they reach the handlers. */

/** The stand-ins `handlerEnv` points the handlers at; only their addresses and names are read. */
const LOCAL_AWS = {
  region: 'us-east-1',
  endpoints: { dynamo: 'http://127.0.0.1:1', sqs: 'http://127.0.0.1:2' },
  tables: { events: 'events', conversations: 'conversations', answerCache: 'cache', ledger: 'ledger', audit: 'audit' },
  queues: { queueUrl: 'http://127.0.0.1:2/q', dlqUrl: 'http://127.0.0.1:2/dlq' },
} as unknown as LocalAws;

const problemsOf = (env: Record<string, string>): readonly string[] => {
  try {
    fallbackModelFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('fallbackModelFromEnv', () => {
  it('starts the generated demo model under the worker default id when nothing is set', () => {
    expect(fallbackModelFromEnv({})).toEqual({ kind: 'local', modelId: 'fallback-cpu' });
  });

  it('loads the GGUF at FALLBACK_MODEL_PATH, as MODEL_PATH does for the primary', () => {
    expect(fallbackModelFromEnv({ FALLBACK_MODEL_PATH: '/models/small.gguf', FALLBACK_MODEL_ID: 'small-q4' })).toEqual({
      kind: 'local',
      modelPath: '/models/small.gguf',
      modelId: 'small-q4',
    });
  });

  it('uses an external server instead of starting one; its URL wins over a path', () => {
    expect(
      fallbackModelFromEnv({
        FALLBACK_MODEL_ENDPOINT_URL: 'http://127.0.0.1:9100',
        FALLBACK_MODEL_PATH: '/models/ignored.gguf',
        FALLBACK_MODEL: 'on',
      }),
    ).toEqual({ kind: 'external', url: 'http://127.0.0.1:9100', modelId: 'fallback-cpu' });
  });

  it('is off with FALLBACK_MODEL=off; empty values count as unset', () => {
    expect(
      fallbackModelFromEnv({ FALLBACK_MODEL: 'off', FALLBACK_MODEL_ENDPOINT_URL: '', FALLBACK_MODEL_PATH: ' ' }),
    ).toEqual({ kind: 'off' });
    expect(fallbackModelFromEnv({ FALLBACK_MODEL: '', FALLBACK_MODEL_ID: '' })).toEqual({
      kind: 'local',
      modelId: 'fallback-cpu',
    });
  });

  it('refuses a mode other than on/off, a URL that is not http(s), and settings that off would ignore', () => {
    expect(problemsOf({ FALLBACK_MODEL: 'maybe' })).toEqual(["FALLBACK_MODEL must be on or off, got 'maybe'"]);
    expect(problemsOf({ FALLBACK_MODEL_ENDPOINT_URL: 'ftp://host/model' })).toEqual([
      "FALLBACK_MODEL_ENDPOINT_URL must be an http(s) URL, got 'ftp://host/model'",
    ]);
    expect(problemsOf({ FALLBACK_MODEL_ENDPOINT_URL: 'localhost:9100 ' })).toHaveLength(1);
    expect(
      problemsOf({
        FALLBACK_MODEL: 'off',
        FALLBACK_MODEL_ENDPOINT_URL: 'http://127.0.0.1:9100',
        FALLBACK_MODEL_PATH: '/m.gguf',
      }),
    ).toEqual([
      'FALLBACK_MODEL=off but FALLBACK_MODEL_ENDPOINT_URL is set: unset one of them',
      'FALLBACK_MODEL=off but FALLBACK_MODEL_PATH is set: unset one of them',
    ]);
  });

  it("refuses the primary's id, which would make the backup's answers look like the primary's", () => {
    expect(problemsOf({ FALLBACK_MODEL_ID: 'private-llm-int8' })).toEqual([
      "FALLBACK_MODEL_ID must differ from MODEL_ID ('private-llm-int8')",
    ]);
    expect(problemsOf({ MODEL_ID: 'fallback-cpu' })).toEqual([
      "FALLBACK_MODEL_ID must differ from MODEL_ID ('fallback-cpu')",
    ]);
    // Off, the id is never used.
    expect(fallbackModelFromEnv({ FALLBACK_MODEL: 'off', MODEL_ID: 'fallback-cpu' })).toEqual({ kind: 'off' });
  });

  it('reports every problem at once', () => {
    expect(
      problemsOf({ FALLBACK_MODEL: 'yes', FALLBACK_MODEL_ENDPOINT_URL: 'nope', MODEL_ID: 'fallback-cpu' }),
    ).toHaveLength(3);
  });
});

describe('the names the sandbox and the worker share', () => {
  it("spells the handler variables and the default id as the worker's configuration does", () => {
    expect(FALLBACK_MODEL_ENV.endpointUrl).toBe(FALLBACK_ENV.endpointUrl);
    expect(FALLBACK_MODEL_ENV.modelId).toBe(FALLBACK_ENV.modelId);
    expect(fallbackModelFromEnv({})).toMatchObject({ modelId: DEFAULT_FALLBACK_MODEL_ID });
  });

  it("reads the primary's id as the handlers do (MODEL_ID, with the pipeline's default)", () => {
    expect(primaryModelIdFromEnv({})).toBe('private-llm-int8');
    expect(primaryModelIdFromEnv({ MODEL_ID: 'qwen-7b-int8' })).toBe('qwen-7b-int8');
  });
});

describe('handlerEnv with a backup model', () => {
  const credentials = sandboxCredentials({});
  const base = 'http://127.0.0.1:3000';

  it('hands the backup URL and id to the handlers, and the worker composes its fallback from them', () => {
    const env = handlerEnv(
      LOCAL_AWS,
      base,
      'http://127.0.0.1:4',
      credentials,
      {},
      {
        url: 'http://127.0.0.1:5',
        modelId: 'fallback-cpu',
      },
    );
    expect(env).toMatchObject({
      MODEL_ENDPOINT_URL: 'http://127.0.0.1:4',
      FALLBACK_MODEL_ENDPOINT_URL: 'http://127.0.0.1:5',
      FALLBACK_MODEL_ID: 'fallback-cpu',
    });
    expect(loadWorkerConfig(env).model.fallback).toMatchObject({
      endpointUrl: 'http://127.0.0.1:5',
      modelId: 'fallback-cpu',
    });
  });

  it('sets no fallback variable at all without one (never an empty placeholder)', () => {
    const env = handlerEnv(LOCAL_AWS, base, 'http://127.0.0.1:4', credentials, {});
    expect(Object.keys(env)).not.toContain('FALLBACK_MODEL_ENDPOINT_URL');
    expect(Object.keys(env)).not.toContain('FALLBACK_MODEL_ID');
    expect(loadWorkerConfig(env).model.fallback).toBeUndefined();
  });
});
