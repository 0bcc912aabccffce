import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { CfnModel } from 'aws-cdk-lib/aws-sagemaker';
import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import { FALLBACK_FUNCTION_ENV } from '#config/fallback-function-config';
import { KNOWLEDGE_FUNCTION_ENV } from '#config/knowledge-function-config';
import { ConfigError } from '#core/errors';
import { DATA_DATASETS_ENV } from '#handlers/data-skill';
import * as dingtalk from '#platforms/dingtalk/index';
import * as feishuConfig from '#platforms/feishu/config';
import { PLATFORM_DESCRIPTORS } from '#platforms/registry';
import * as slackConfig from '#platforms/slack/config';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import * as wecom from '#platforms/wecom/index';
import { CONTEXT_KEY, parseAppConfig, readAppConfig } from '../../../lib/config';
import { ModelEndpoint } from '../../../lib/constructs/model-endpoint';
import { PLATFORM_SECRET_FIELDS, SECRET_PLACEHOLDER } from '../../../lib/constructs/secrets';
import {
  configFlagCommands,
  configKeyMentions,
  headingAnchors,
  referenceTableKeys,
  relativeLinks,
  secretCommands,
  upperCaseNames,
} from './doc-scan';

const ROOT = resolve(__dirname, '..', '..', '..');
const GUIDES = [
  'docs/README.md',
  'docs/OPERATIONS.md',
  'docs/MODEL.md',
  'docs/ARCHITECTURE.md',
  ...PLATFORMS.map((p) => `docs/platforms/${p}.md`),
] as const;
const text = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const allGuides = (): string => GUIDES.map(text).join('\n');

const EXAMPLE_MODEL = 's3://example-model-bucket/models/example/';

/** The keys the schema accepts: `readAppConfig` asks the CDK context for `groupgate:<key>` once per schema key. */
function acceptedConfigKeys(): Set<string> {
  const app = new App({ context: { [CONTEXT_KEY]: { modelS3Uri: EXAMPLE_MODEL } } });
  const asked = jest.spyOn(app.node, 'tryGetContext');
  readAppConfig(app.node);
  const prefix = `${CONTEXT_KEY}:`;
  return new Set(
    asked.mock.calls
      .map(([key]) => String(key))
      .flatMap((key) => (key.startsWith(prefix) ? [key.slice(prefix.length)] : [])),
  );
}

/** ARCHITECTURE §4.2: the sandbox's environment variables (copied here: tests never read ../shared). */
const SANDBOX_ENV = [
  'FEISHU_APP_ID',
  'FEISHU_APP_SECRET',
  'FEISHU_VERIFICATION_TOKEN',
  'FEISHU_ENCRYPT_KEY',
  'FEISHU_BOT_OPEN_ID',
  'SLACK_SIGNING_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_BOT_USER_ID',
  'DINGTALK_APP_KEY',
  'DINGTALK_APP_SECRET',
  'WECOM_TOKEN',
  'WECOM_ENCODING_AES_KEY',
  'API_KEYS',
  'JWT_SECRET',
  'JWT_JWKS_URL',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'MODEL_ENDPOINT_URL',
  'MODEL_ENDPOINT_NAME',
  'MODEL_PATH',
  'PORT',
  'MODEL_STREAM_PACE_MS',
  'SANDBOX_PLATFORM_CLOCK_SCALE',
  'SANDBOX_SWEEP_INTERVAL_MS',
];

/** The environment the stack gives the model container, read from the ModelEndpoint's CfnModel. */
function modelContainerEnv(): string[] {
  const endpoint = new ModelEndpoint(new Stack(new App(), 'Docs'), 'Model', {
    modelS3Uri: EXAMPLE_MODEL,
    quantization: 'compressed-tensors',
    maxModelLen: 4096,
    instanceType: 'ml.g4dn.xlarge',
    minInstances: 1,
    maxInstances: 2,
    maxConcurrentRequestsPerInstance: 8,
    invocationsPerInstanceTarget: 336,
  });
  const models = endpoint.node.children.filter((child): child is CfnModel => child instanceof CfnModel);
  return models.flatMap((model) => {
    const container = model.primaryContainer as CfnModel.ContainerDefinitionProperty;
    return Object.keys((container.environment ?? {}) as Record<string, string>);
  });
}

/** Upper-case exports of the adapter modules the platform guides cite for their limits. */
const adapterConstants = [feishuConfig, slackConfig, dingtalk, wecom].flatMap((module) =>
  Object.keys(module).filter((name) => /^[A-Z][A-Z0-9_]+$/.test(name)),
);

describe('operator guides ↔ configuration schema', () => {
  const accepted = acceptedConfigKeys();

  test('the schema enumeration is real: it holds the known keys and the schema rejects a key outside it', () => {
    expect(accepted).toContain('modelS3Uri');
    expect(accepted).toContain('alarmEmail');
    expect(accepted.size).toBeGreaterThanOrEqual(20);
    expect(() => parseAppConfig({ modelS3Uri: EXAMPLE_MODEL, notAKey: 1 })).toThrow(ConfigError);
  });

  test('the OPERATIONS.md reference table has exactly one row per key the schema accepts', () => {
    const rows = referenceTableKeys(text('docs/OPERATIONS.md'));
    expect(new Set(rows).size).toBe(rows.length);
    expect(new Set(rows)).toEqual(accepted);
  });

  test('the keys named across all guides are the keys the schema accepts, no more and no fewer', () => {
    expect(configKeyMentions(allGuides())).toEqual(accepted);
  });

  test('every key named is accepted by parseAppConfig itself (not only by the enumeration)', () => {
    for (const key of configKeyMentions(allGuides())) {
      const problems = unknownKeyProblems({ modelS3Uri: EXAMPLE_MODEL, [key]: undefined });
      expect({ key, problems }).toEqual({ key, problems: [] });
    }
  });

  test('every `-c groupgate:<key>=<value>` command in the guides passes validation', () => {
    const commands = GUIDES.flatMap((path) => configFlagCommands(text(path)).map((flags) => ({ path, flags })));
    expect(commands.length).toBeGreaterThanOrEqual(2);
    for (const { path, flags } of commands) {
      const context: Record<string, unknown> = { [CONTEXT_KEY]: { modelS3Uri: EXAMPLE_MODEL } };
      for (const [key, value] of Object.entries(flags)) context[`${CONTEXT_KEY}:${key}`] = value;
      expect({ path, flags, problems: configProblems(() => readAppConfig(new App({ context }).node)) }).toEqual({
        path,
        flags,
        problems: [],
      });
    }
  });
});

describe('operator guides ↔ platform secrets', () => {
  test.each(PLATFORMS)('the %s guide writes its secret with the fields the code reads', (platform) => {
    const commands = secretCommands(text(`docs/platforms/${platform}.md`));
    expect(commands.map((c) => c.platform)).toContain(platform);
    for (const command of commands) {
      expectValidSecret(command.platform as PlatformName, command.json);
    }
  });

  test.each(PLATFORMS)('the %s guide sends readers to its own webhook output and secret, no other', (platform) => {
    const guide = text(`docs/platforms/${platform}.md`);
    const outputs = new Set([...guide.matchAll(/WebhookUrl([a-z]+)/g)].map((m) => m[1]));
    const secrets = new Set([...guide.matchAll(/Secrets(feishu|slack|dingtalk|wecom)\b/g)].map((m) => m[1]));
    expect({ outputs, secrets }).toEqual({ outputs: new Set([platform]), secrets: new Set([platform]) });
  });

  test('every secret command elsewhere in the guides is valid too', () => {
    const commands = ['docs/OPERATIONS.md', 'docs/MODEL.md', 'docs/README.md'].flatMap((p) => secretCommands(text(p)));
    for (const command of commands) expectValidSecret(command.platform as PlatformName, command.json);
  });
});

describe('operator guides ↔ environment variables', () => {
  test('every upper-case name is an env var the code reads or sets, the secret placeholder, or a cited constant', () => {
    const known = new Set<string>([
      ...Object.values(ENV),
      ...Object.values(PLATFORM_CREDENTIAL_ENV).flatMap((names) => Object.values(names)),
      ...SANDBOX_ENV,
      ...modelContainerEnv(),
      ...Object.values(FALLBACK_FUNCTION_ENV),
      ...Object.values(KNOWLEDGE_FUNCTION_ENV),
      DATA_DATASETS_ENV,
      SECRET_PLACEHOLDER,
      ...adapterConstants,
    ]);
    const unknown = [...upperCaseNames(allGuides())].filter((name) => !known.has(name)).sort();
    expect(unknown).toEqual([]);
  });

  test('the guides do name environment variables (the scan is not vacuous)', () => {
    const names = upperCaseNames(allGuides());
    expect(names).toContain('MODEL_PATH');
    expect(names).toContain('OPTION_MAX_MODEL_LEN');
    expect(modelContainerEnv()).toEqual(expect.arrayContaining(['OPTION_MAX_MODEL_LEN', 'OPTION_QUANTIZE']));
  });
});

describe('operator guides ↔ each other', () => {
  test('README links every guide, and every relative link and anchor resolves', () => {
    const readme = relativeLinks(text('docs/README.md')).map((l) => l.split('#')[0]);
    for (const guide of GUIDES.filter((g) => g !== 'docs/README.md')) {
      expect(readme).toContain(guide.slice('docs/'.length));
    }
    for (const guide of GUIDES) {
      for (const link of relativeLinks(text(guide))) {
        const [file = '', anchor] = link.split('#');
        const target = file === '' ? guide : join(dirname(guide), file);
        expect({ guide, link, exists: existsSync(join(ROOT, target)) }).toEqual({ guide, link, exists: true });
        if (anchor !== undefined && target.endsWith('.md')) {
          expect({ guide, link, anchor: headingAnchors(text(target)).has(anchor) }).toEqual({
            guide,
            link,
            anchor: true,
          });
        }
      }
    }
  });
});

function expectValidSecret(platform: PlatformName, json: string): void {
  const value: unknown = JSON.parse(json);
  const keys = Object.keys(value as object);
  const { schema } = PLATFORM_DESCRIPTORS[platform].credentials;
  const readable = Object.keys(schema.shape);
  expect({ platform, missing: PLATFORM_SECRET_FIELDS[platform].filter((f) => !keys.includes(f)) }).toEqual({
    platform,
    missing: [],
  });
  expect({ platform, unread: keys.filter((k) => !readable.includes(k)) }).toEqual({ platform, unread: [] });
  expect(schema.safeParse(value).success).toBe(true);
}

function configProblems(run: () => unknown): readonly string[] {
  try {
    run();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

function unknownKeyProblems(raw: Record<string, unknown>): readonly string[] {
  return configProblems(() => parseAppConfig(raw)).filter((p) => p.includes(': unknown key'));
}
