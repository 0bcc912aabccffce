import { ENV } from '#config/env-names';
import type { AppConfigInput } from '../../../lib/config';
import { codeBlocks, codeSpans, configKeyMentions, proseUnits, section, tableHeaded } from './doc-scan';
import { allDocs, readRepoFile } from './repo-files';
import { ENV_NAME, EVERY_OPTION, type StackFacts, stackFacts } from './stack-facts';

/**
 * The guides' statements about what the CDK stack does, held to the stack itself (`stackFacts`): which environment
 * variables it sets (and from which key), its outputs, the resources the runbook commands look up, the alarms and
 * the dashboard widgets the guides name.
 */

const DOCS = allDocs();
const everything = stackFacts(EVERY_OPTION);

/** A claim that the stack leaves something unset: "does not set", "not derived from", "has no key for", … */
const NOT_SET_CLAIM =
  /\b(?:does not|doesn't|do not|don't|never|cannot)\s+(?:yet\s+)?(?:sets?|derives?|pass(?:es)?|exposes?|wires?|hands?)\b|\bnot\s+(?:yet\s+)?(?:set|derived|taken|passed|exposed|wired)\b|\bhas no (?:configuration )?key\b/i;

/** Variables the code reads or the stack sets; single words (`STREAMING`) count only when they are such a name. */
const KNOWN_ENV = new Set<string>([...Object.values(ENV), ...everything.env.keys()]);
const envNamesIn = (text: string): string[] =>
  codeSpans(text).filter((span) => ENV_NAME.test(span) || KNOWN_ENV.has(span));

describe('docs ↔ the environment the stack sets', () => {
  test('the synthesis sees the variables (the scan is not vacuous)', () => {
    expect([...everything.env.keys()]).toEqual(
      expect.arrayContaining(['JWT_ISSUER', 'MODEL_INSTANCE_TYPE', 'MODEL_CONTEXT_WINDOW', 'OPTION_MAX_MODEL_LEN']),
    );
  });

  test('no guide says the stack leaves unset a variable it sets', () => {
    const contradictions = DOCS.flatMap((doc) =>
      proseUnits(readRepoFile(doc))
        .filter((unit) => NOT_SET_CLAIM.test(unit))
        .flatMap((unit) => {
          const set = envNamesIn(unit).filter((name) => everything.env.has(name));
          return set.length > 0 ? [{ doc, set, claim: unit.slice(0, 160) }] : [];
        }),
    );
    expect(contradictions).toEqual([]);
  });

  test('the not-set check recognises such a claim', () => {
    const claim = 'The authorizer requires `JWT_ISSUER`. The stack does not set it yet.';
    expect(NOT_SET_CLAIM.test(claim) && envNamesIn(claim).some((n) => everything.env.has(n))).toBe(true);
  });

  /** A value per key that differs from its default, to see which variables the key changes. */
  const PROBES: Readonly<Partial<Record<keyof AppConfigInput, unknown>>> = {
    instanceType: 'ml.g4dn.2xlarge',
    maxModelLen: 8192,
    modelMaxTokens: 300,
    maxConcurrentRequestsPerInstance: 4,
    modelQuantization: 'bitsandbytes',
    jwtIssuer: 'docs-issuer',
    jwtAudience: 'docs-audience',
    jwtJwksUrl: 'https://other.example.com/jwks.json',
    systemPromptOverrides: { 'feishu:oc_docs': 'Another prompt.' },
    streaming: { enabled: false, optOutChats: ['feishu:oc_docs'] },
    dingtalkCardTemplateId: 'another-template.schema',
    dingtalkCardContentKey: 'anotherKey',
    contextTtlMinutes: 10,
    answerCacheTtlMinutes: 10,
    ledgerRetentionDays: 100,
    auditRetentionDays: 100,
    profileRetentionDays: 30,
    profileGroupDefaults: { '*': { language: 'en' } },
    profileDirectory: ['slack'],
    profileDirectoryTtlHours: 6,
    profileDirectoryRetryMinutes: 5,
    workerTimeoutSeconds: 120,
    maxReceiveCount: 3,
    feishuApiBaseUrl: 'https://open.larksuite.com',
    voice: {
      asr: 'sagemaker-whisper',
      asrEndpointName: 'docs-whisper',
      languages: ['en-US'],
      maxSeconds: 30,
      tts: 'polly',
      pollyEngine: 'standard',
      maxSpeechChars: 500,
      replyChats: ['feishu:oc_docs'],
      groupChats: ['feishu:oc_voice'],
    },
    skills: {
      remote: [
        {
          name: 'glossary',
          description: 'Company terms',
          functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:glossary',
        },
      ],
    },
  };

  const CONFIG_TABLES = [
    { doc: 'docs/OPERATIONS.md', rows: tableHeaded(readRepoFile('docs/OPERATIONS.md'), 'key').rows },
    { doc: 'docs/MODEL.md', rows: tableHeaded(section(readRepoFile('docs/MODEL.md'), '4.'), 'key').rows },
  ];
  /** Key → the variables the tables say it sets (a key in both tables gets the union). */
  const derivations = new Map<string, Set<string>>();
  for (const { rows } of CONFIG_TABLES) {
    for (const cells of rows) {
      const keys = [...configKeyMentions(cells[0] ?? '')];
      const names = envNamesIn(cells.slice(1).join(' | '));
      if (keys.length !== 1 || names.length === 0) continue;
      const key = keys[0] ?? '';
      derivations.set(key, new Set([...(derivations.get(key) ?? []), ...names]));
    }
  }

  test('the configuration tables name variables for the keys that set them', () => {
    expect([...derivations.keys()]).toEqual(expect.arrayContaining(['instanceType', 'maxModelLen', 'jwtIssuer']));
  });

  let baselineFacts: StackFacts | undefined;
  const baseline = (): StackFacts => {
    baselineFacts ??= stackFacts();
    return baselineFacts;
  };

  test.each([...derivations].map(([key, names]) => [key, [...names]] as const))(
    'groupgate:%s sets %j',
    (key, names) => {
      const probe = PROBES[key as keyof AppConfigInput];
      if (probe === undefined) throw new Error(`add a probe value for groupgate:${key} to PROBES`);
      const probed = stackFacts({ [key]: probe });
      const unchanged = names.filter((name) => sameValue(baseline(), probed, name));
      expect({ key, unchanged }).toEqual({ key, unchanged: [] });
    },
  );
});

function sameValue(a: StackFacts, b: StackFacts, name: string): boolean {
  return JSON.stringify(a.env.get(name) ?? null) === JSON.stringify(b.env.get(name) ?? null);
}

describe('docs ↔ the stack outputs and resources', () => {
  const operations = readRepoFile('docs/OPERATIONS.md');

  test('the OPERATIONS outputs table lists exactly the outputs of a stack with every platform enabled', () => {
    const named = tableHeaded(operations, 'output').rows.flatMap((cells) => codeSpans(cells[0] ?? ''));
    // CDK's own outputs carry a hash suffix; the table writes them as a prefix ending in "…".
    const matched = everything.outputs.map((output) => ({
      output,
      by: named.filter((name) =>
        name.endsWith('…') ? new RegExp(`^${name.slice(0, -1)}[0-9A-F]{8}$`).test(output) : name === output,
      ),
    }));
    expect(matched.filter((m) => m.by.length !== 1)).toEqual([]);
    expect(named.filter((name) => !matched.some((m) => m.by.includes(name)))).toEqual([]);
  });

  test('every `out <Output>` in a command names an output of the stack', () => {
    const used = DOCS.flatMap((doc) =>
      [...readRepoFile(doc).matchAll(/\$\(out\s+([A-Za-z0-9]+)\)/g)].map((m) => ({ doc, output: m[1] ?? '' })),
    );
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((u) => !everything.outputs.includes(u.output))).toEqual([]);
  });

  test('every `res <Type> <LogicalIdPrefix>` finds a resource of that type', () => {
    const lookups = DOCS.flatMap((doc) =>
      [...readRepoFile(doc).matchAll(/\bres\s+(AWS::[A-Za-z0-9:]+)\s+([A-Za-z0-9]+)/g)].map((m) => ({
        doc,
        type: m[1] ?? '',
        prefix: m[2] ?? '',
      })),
    );
    expect(lookups.length).toBeGreaterThan(5);
    const missing = lookups.filter(
      ({ type, prefix }) => !everything.resources.some((r) => r.type === type && r.id.startsWith(prefix)),
    );
    expect(missing).toEqual([]);
  });
});

describe('docs ↔ alarms and dashboard', () => {
  const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];

  test('OPERATIONS §6 describes exactly the alarms the stack creates, and counts them right', () => {
    const alarms = section(readRepoFile('docs/OPERATIONS.md'), '6.');
    const described = proseUnits(alarms).flatMap((unit) => /^\*\*(\w+)\*\* —/.exec(unit)?.[1] ?? []);
    const ids = everything.alarms;
    expect(ids.length).toBeGreaterThan(3);
    expect(new Set(described)).toEqual(new Set(ids));
    const count = /\b(\w+) alarms \(`lib\/constructs\/alarms\.ts`\)/i.exec(alarms)?.[1]?.toLowerCase() ?? '';
    expect(NUMBER_WORDS.indexOf(count)).toBe(ids.length);
  });

  test('every widget or row the guides quote by title is a widget of the dashboard', () => {
    const quoted = DOCS.flatMap((doc) =>
      proseUnits(readRepoFile(doc)).flatMap((unit) =>
        [...unit.matchAll(/"([^"]+)"(?:\s+and\s+"([^"]+)")?\s+(?:widgets?|rows?)\b/g)].flatMap((m) =>
          [m[1], m[2]].flatMap((title) => (title ? [{ doc, title }] : [])),
        ),
      ),
    );
    expect(quoted.length).toBeGreaterThan(1);
    const titles = everything.widgetTitles.map((t) => t.toLowerCase());
    expect(quoted.filter(({ title }) => !titles.some((t) => t.startsWith(title.toLowerCase())))).toEqual([]);
  });

  test('every `--alarm-name-prefix` in a command matches the names CloudFormation gives the alarms', () => {
    const prefixes = DOCS.flatMap((doc) =>
      codeBlocks(readRepoFile(doc)).flatMap((block) =>
        [...block.matchAll(/--alarm-name-prefix\s+(\S+)/g)].map((m) => m[1] ?? ''),
      ),
    );
    expect(prefixes.length).toBeGreaterThan(0);
    // CloudFormation names an alarm without a name of its own `<stack name>-<logical id>-<random suffix>`.
    const names = everything.resources
      .filter((r) => r.type === 'AWS::CloudWatch::Alarm')
      .map((r) => `GroupGate-${r.id}-`);
    expect(prefixes.filter((prefix) => !names.every((name) => name.startsWith(prefix)))).toEqual([]);
  });
});
