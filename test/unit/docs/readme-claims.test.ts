import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ENV, PLATFORM_CREDENTIAL_ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import { requiredCredentialKeys } from '#platforms/manifest';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import { PLATFORMS, type PlatformName } from '#platforms/types';
import { CONTEXT_KEY, parseAppConfig, readAppConfig } from '../../../lib/config';
import { sandboxCredentials } from '../../../sandbox/defaults';
import { handlerEnv } from '../../../sandbox/handler-env';
import type { LocalAws } from '../../../sandbox/local-aws/index';
import { restApiHandlerEnv } from '../../../sandbox/rest-api';
import {
  codeSpans,
  configFlagCommands,
  headingAnchors,
  relativeLinks,
  section,
  tableHeaded,
  upperCaseNames,
} from './doc-scan';
import { ROOT, readRepoFile, sourceFiles } from './repo-files';

/**
 * README.md is what a newcomer reads first, from a fresh clone: its secret keys, its configuration table, its sandbox
 * variables and its folder table are held to the code here (the operator guides have config-keys.test.ts).
 */

const README = readRepoFile('README.md');
const EXAMPLE_MODEL = 's3://example-model-bucket/models/example/';

describe('README ↔ platform secrets', () => {
  const table = () => tableHeaded(README, 'platform');
  const platformOf = (cell: string): PlatformName | undefined =>
    PLATFORMS.find((p) =>
      cell
        .toLowerCase()
        .replace(/[^a-z]/g, '')
        .startsWith(p),
    );
  const column = (name: RegExp) => table().header.findIndex((cell) => name.test(cell));

  test('the secret-keys table has one row per platform', () => {
    expect(table().rows.map((cells) => platformOf(cells[0] ?? ''))).toEqual([...PLATFORMS]);
  });

  test.each(PLATFORMS)('%s: the required and optional keys are exactly those of its credential schema', (platform) => {
    const cells = table().rows.find((row) => platformOf(row[0] ?? '') === platform) ?? [];
    const spec = PLATFORM_MANIFESTS[platform].credentials;
    const required = requiredCredentialKeys(spec);
    const optional = Object.keys(spec.schema.shape).filter((key) => !required.includes(key));
    expect({
      required: codeSpans(cells[column(/^required/i)] ?? ''),
      optional: codeSpans(cells[column(/^optional/i)] ?? ''),
    }).toEqual({ required, optional });
  });
});

describe('README ↔ configuration', () => {
  const table = tableHeaded(README, 'key');
  const rows = table.rows.map((cells) => ({ keys: codeSpans(cells[0] ?? ''), defaults: cells[1] ?? '' }));
  const defaults = parseAppConfig({ modelS3Uri: EXAMPLE_MODEL }) as Readonly<Record<string, unknown>>;

  test('every key in the table is a key the configuration accepts', () => {
    const keys = rows.flatMap((row) => row.keys);
    expect(keys.length).toBeGreaterThan(15);
    const unknown = keys.filter((key) =>
      problems(() => parseAppConfig({ modelS3Uri: EXAMPLE_MODEL, [key]: undefined })).some((p) =>
        p.includes(': unknown key'),
      ),
    );
    expect(unknown).toEqual([]);
  });

  /** A default cell's literal values (`8`, `[]`, `` `groupgate` ``, `none`), one per key; undefined when it is prose. */
  function literalDefaults(cell: string, count: number): unknown[] | undefined {
    const parts = cell.split(/\s*\/\s*|,\s*/);
    if (parts.length !== count) return undefined;
    const values = parts.map((part): { value: unknown } | undefined => {
      if (part === 'none') return { value: undefined };
      const literal = /^`([^`]+)`$/.exec(part)?.[1] ?? (/^-?\d+(?:\.\d+)?$/.test(part) ? part : undefined);
      if (literal === undefined) return undefined;
      try {
        return { value: JSON.parse(literal) };
      } catch {
        return { value: literal };
      }
    });
    return values.every((v) => v !== undefined) ? values.map((v) => v?.value) : undefined;
  }

  test('every literal default in the table is the default the configuration applies', () => {
    const checked = rows.flatMap(({ keys, defaults: cell }) => {
      const values = literalDefaults(cell, keys.length);
      return values ? keys.map((key, i) => ({ key, documented: values[i], actual: defaults[key] })) : [];
    });
    expect(checked.length).toBeGreaterThan(10);
    expect(checked.filter(({ documented, actual }) => JSON.stringify(documented) !== JSON.stringify(actual))).toEqual(
      [],
    );
  });

  test('the required key is marked required, and is', () => {
    const required = rows.filter((row) => /required/.test(row.defaults)).flatMap((row) => row.keys);
    expect(required).toEqual(['modelS3Uri']);
    expect(problems(() => parseAppConfig({})).some((p) => p.startsWith('modelS3Uri'))).toBe(true);
  });

  test('every `-c groupgate:<key>=<value>` command in the README passes validation', () => {
    const commands = configFlagCommands(README);
    expect(commands.length).toBeGreaterThan(0);
    for (const flags of commands) {
      const context: Record<string, unknown> = { [CONTEXT_KEY]: { modelS3Uri: EXAMPLE_MODEL } };
      for (const [key, value] of Object.entries(flags)) context[`${CONTEXT_KEY}:${key}`] = value;
      expect({ flags, problems: problems(() => readAppConfig(new App({ context }).node)) }).toEqual({
        flags,
        problems: [],
      });
    }
  });
});

function problems(run: () => unknown): readonly string[] {
  try {
    run();
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/** An environment that records every variable read from it. */
function recordingEnv(): { env: Record<string, string | undefined>; read: Set<string> } {
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => {
      if (typeof name === 'string') read.add(name);
      return undefined;
    },
  });
  return { env, read };
}

/** The stand-ins `handlerEnv` points the handlers at; only their addresses and names are read. */
const LOCAL_AWS = {
  region: 'us-east-1',
  endpoints: { dynamo: 'http://127.0.0.1:1', sqs: 'http://127.0.0.1:2' },
  tables: { events: 'e', conversations: 'c', answerCache: 'a', ledger: 'l', audit: 'u' },
  queues: { queueUrl: 'http://127.0.0.1:2/q', deadLetterQueueUrl: 'http://127.0.0.1:2/dlq' },
} as unknown as LocalAws;

/**
 * The variables `npm start` itself reads: the ones bin/sandbox.ts reads from `process.env`, every `*_ENV` name the
 * sandbox modules export, and what the sandbox reads to build the handlers' environment (credentials, JWT settings,
 * the model endpoint's name, ...).
 */
function sandboxVariables(): Set<string> {
  const names = new Set<string>();
  const bin = readRepoFile('bin/sandbox.ts');
  for (const m of bin.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)|process\.env\[ENV\.(\w+)\]/g)) {
    names.add(m[1] ?? (ENV as Record<string, string>)[m[2] ?? ''] ?? '');
  }
  const childEntryPoints = ['sandbox/model/server-main.ts'];
  for (const file of sourceFiles('sandbox').filter((f) => !childEntryPoints.includes(f))) {
    for (const m of readRepoFile(file).matchAll(/^export const \w+_ENV\s*=\s*('[^']*'|\{[^}]*\})/gm)) {
      for (const value of (m[1] ?? '').matchAll(/'([A-Z][A-Z0-9_]*)'/g)) names.add(value[1] ?? '');
    }
  }
  const credentials = recordingEnv();
  sandboxCredentials(credentials.env);
  const rest = recordingEnv();
  restApiHandlerEnv(rest.env);
  const outer = recordingEnv();
  handlerEnv(LOCAL_AWS, 'http://127.0.0.1:3000', 'http://127.0.0.1:4', sandboxCredentials({}), outer.env);
  for (const name of [...credentials.read, ...rest.read, ...outer.read]) names.add(name);
  names.delete('');
  return names;
}

describe('README ↔ the sandbox variables', () => {
  const own = sandboxVariables();
  const handlers = new Set<string>([
    ...Object.values(ENV),
    ...Object.values(PLATFORM_CREDENTIAL_ENV).flatMap((names) => Object.values(names)),
  ]);
  const sandboxSection = section(README, 'Sandbox configuration');
  // Names with an underscore are variables by the guides' convention; a single word (`PORT`, not `WARN`) only when the
  // code reads a variable of that name.
  const documented = new Set([
    ...upperCaseNames(sandboxSection),
    ...codeSpans(sandboxSection).flatMap((span) => {
      const name = /^([A-Z][A-Z0-9]+)(?:=|$)/.exec(span)?.[1];
      return name && (own.has(name) || handlers.has(name)) ? [name] : [];
    }),
  ]);

  test('the scans see variables (they are not vacuous)', () => {
    expect([...own]).toEqual(expect.arrayContaining(['PORT', 'MODEL_PATH', 'API_KEYS', 'FEISHU_APP_ID', 'JWT_ISSUER']));
  });

  test('"Sandbox configuration" lists every variable the sandbox reads', () => {
    expect([...own].filter((name) => !documented.has(name)).sort()).toEqual([]);
  });

  test('every variable it lists is read by the sandbox or by the handlers it runs', () => {
    expect([...documented].filter((name) => !own.has(name) && !handlers.has(name)).sort()).toEqual([]);
  });

  test('it offers no handler variable the sandbox overwrites', () => {
    const overwritten = Object.keys(
      handlerEnv(LOCAL_AWS, 'http://127.0.0.1:3000', 'http://127.0.0.1:4', sandboxCredentials({}), {}),
    );
    expect([...documented].filter((name) => overwritten.includes(name) && !own.has(name)).sort()).toEqual([]);
  });
});

describe('README ↔ files', () => {
  test('every relative link and its anchor resolves', () => {
    const links = relativeLinks(README);
    expect(links.length).toBeGreaterThan(5);
    const broken = links.filter((link) => {
      const [file = '', anchor] = link.split('#');
      const target = file === '' ? 'README.md' : file;
      if (!existsSync(join(ROOT, target))) return true;
      return anchor !== undefined && target.endsWith('.md') && !headingAnchors(readRepoFile(target)).has(anchor);
    });
    expect(broken).toEqual([]);
  });

  test('the folder table names every Lambda entry point', () => {
    const row = tableHeaded(README, 'directory').rows.find((cells) => cells[0] === '`functions/handlers/`') ?? [];
    const handlers = readdirSync(join(ROOT, 'functions/handlers')).map((f) => f.replace(/\.ts$/, ''));
    expect(handlers.length).toBeGreaterThan(3);
    expect(handlers.filter((h) => !codeSpans(row.join(' ')).includes(h))).toEqual([]);
  });
});
