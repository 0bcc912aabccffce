import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { ConfigError, MalformedEventError } from '#core/errors';
import { SKILL_PROTOCOL_VERSION } from '#core/skills/remote-protocol';
import { DataAnalysisError } from '#data-analysis/data-analysis-error';
import {
  createDataSkillHandler,
  DATA_DATASETS_ENV,
  dataSkillFromEnv,
  datasetsFromConfig,
  type ObjectLoader,
  parseDatasetsConfig,
  readCapped,
  type S3Location,
} from '#handlers/data-skill';
import { SAMPLE_SALES_FILE } from '../../../sandbox/skills/data-skill';

/**
 * The Lambda handler of the data skill: `DATA_DATASETS` validation, datasets read through an injected object loader
 * (no S3 stand-in exists; GetObject itself is a few lines), the byte cap while reading, and protocol v1 events.
 */

const salesConfig = { name: 'sales', title: 'Sales 2024', s3: { bucket: 'data-bucket', key: 'sales/2024.csv' } };

function problemsOf(raw: string | undefined): readonly string[] {
  try {
    parseDatasetsConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('DATA_DATASETS', () => {
  it('accepts a list of datasets on S3', () => {
    expect(parseDatasetsConfig(JSON.stringify([{ ...salesConfig, description: '  Orders  ' }]))).toEqual([
      { ...salesConfig, description: 'Orders' },
    ]);
  });

  it.each<[string, string | undefined, RegExp]>([
    ['unset', undefined, /^DATA_DATASETS: required/],
    ['not JSON', '[{', /^DATA_DATASETS: is not valid JSON$/],
    ['an empty list', '[]', /^DATA_DATASETS: Too small/],
    [
      'a name that is not an identifier',
      JSON.stringify([{ ...salesConfig, name: 'Sales-2024' }]),
      /^DATA_DATASETS\.0\.name: must be lower case/,
    ],
    [
      'a missing key',
      JSON.stringify([{ ...salesConfig, s3: { bucket: 'data-bucket' } }]),
      /^DATA_DATASETS\.0\.s3\.key: /,
    ],
    [
      'an unknown field',
      JSON.stringify([{ ...salesConfig, path: '/etc/passwd' }]),
      /^DATA_DATASETS\.0: Unrecognized key/,
    ],
    ['a repeated name', JSON.stringify([salesConfig, salesConfig]), /dataset names must be unique/],
  ])('names the problem when it is %s', (_, raw, problem) => {
    expect(problemsOf(raw)).toEqual([expect.stringMatching(problem)]);
  });

  it('reports the datasets and the model settings together', () => {
    const error = (() => {
      try {
        dataSkillFromEnv({ [DATA_DATASETS_ENV]: '[]', MODEL_INSTANCE_TYPE: 'g4dn.xlarge' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^DATA_DATASETS: /),
      expect.stringMatching(/^MODEL_INSTANCE_TYPE: /),
    ]);
  });

  it('builds datasets and a model client from valid settings without calling AWS', () => {
    const deps = dataSkillFromEnv({ [DATA_DATASETS_ENV]: JSON.stringify([salesConfig]), AWS_REGION: 'eu-west-1' });
    expect(deps.datasets.map((d) => [d.name, d.title])).toEqual([['sales', 'Sales 2024']]);
  });
});

describe('the handler', () => {
  const csv = readFileSync(SAMPLE_SALES_FILE);
  const asked: [S3Location, number][] = [];
  const loader: ObjectLoader = async (location, maxBytes) => {
    asked.push([location, maxBytes]);
    return csv;
  };
  const handler = createDataSkillHandler({
    datasets: datasetsFromConfig(parseDatasetsConfig(JSON.stringify([salesConfig])), loader),
    writeSql: async () => '```sql\nSELECT count(*) AS orders FROM sales\n```',
  });
  const event = (text: string) => ({
    version: SKILL_PROTOCOL_VERSION,
    skill: 'data',
    requestId: 'req-lambda',
    text,
    deadlineMs: 10_000,
    extra: 'fields v1 does not name are ignored',
  });

  it('answers a v1 event from the dataset its loader reads, with the size limit', async () => {
    const response = await handler(event('/data how many orders?'));
    expect(response).toMatchObject({ action: 'answer', reply: expect.stringContaining('| 200 |') });
    expect(asked.at(-1)).toEqual([salesConfig.s3, 50 * 1024 * 1024]);
  });

  it.each([
    ['not an object', 'hello', /must be a JSON object/],
    [
      'another version',
      { ...event('/data'), version: 'groupgate.skill.v0' },
      /unsupported version "groupgate.skill.v0"/,
    ],
    ['a wrong field', { ...event('/data'), deadlineMs: 'soon' }, /deadlineMs/],
    [
      'an origin without chatId',
      { ...event('/data'), origin: { platform: 'slack', memberRef: 'm' } },
      /origin\.chatId/,
    ],
  ])('refuses an event that is %s as malformed', async (_, bad, message) => {
    const error = await handler(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MalformedEventError);
    expect((error as MalformedEventError).message).toMatch(message);
  });
});

describe('readCapped', () => {
  it('reads a body within the cap whole', async () => {
    const bytes = await readCapped(Readable.from([Buffer.from('a,b\n'), Buffer.from('1,2\n')]), 8);
    expect(Buffer.from(bytes).toString()).toBe('a,b\n1,2\n');
  });

  it('stops reading past the cap and closes the stream', async () => {
    let produced = 0;
    const stream = Readable.from(
      (function* () {
        for (;;) {
          produced += 1;
          yield Buffer.alloc(1024);
        }
      })(),
    );
    const error = await readCapped(stream, 4096).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataAnalysisError);
    expect((error as DataAnalysisError).code).toBe('too_large');
    expect(stream.destroyed).toBe(true);
    expect(produced).toBeLessThan(64);
  });
});
