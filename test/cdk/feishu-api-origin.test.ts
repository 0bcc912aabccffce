import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ENV } from '#config/env-names';
import { ConfigError } from '#core/errors';
import { parseAppConfig, readAppConfig } from '../../lib/config';
import { buildStack, EXAMPLE_MODEL_URI } from './build-stack';

const LARK = 'https://open.larksuite.com';
const WORKER = 'Answers queued chat events with the private model';
const SWEEPER = 'Finishes streamed replies no delivery finished';

/** Every function's FEISHU_API_BASE_URL (undefined when unset), keyed by its description. */
function feishuOrigins(template: Template): Record<string, string | undefined> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function'));
  return Object.fromEntries(
    functions.map((fn) => [fn.Properties.Description, fn.Properties.Environment?.Variables?.[ENV.feishuApiBaseUrl]]),
  );
}

describe('groupgate:feishuApiBaseUrl (Lark international tenants)', () => {
  test('reaches the worker and the stream sweeper, the functions that call Feishu back, and no other', () => {
    const origins = feishuOrigins(Template.fromStack(buildStack({ feishuApiBaseUrl: LARK }).stack));
    expect(Object.keys(origins).length).toBeGreaterThanOrEqual(5);
    expect(Object.entries(origins).filter(([, origin]) => origin !== undefined)).toEqual([
      [WORKER, LARK],
      [SWEEPER, LARK],
    ]);
  });

  test('defaults to Feishu (China), the runtime default', () => {
    const origins = feishuOrigins(Template.fromStack(buildStack().stack));
    expect(origins[WORKER]).toBe('https://open.feishu.cn');
    expect(origins[SWEEPER]).toBe('https://open.feishu.cn');
  });

  test('is left out when Feishu is not enabled', () => {
    const origins = feishuOrigins(Template.fromStack(buildStack({ enabledPlatforms: ['slack'] }).stack));
    expect(Object.values(origins).filter((origin) => origin !== undefined)).toEqual([]);
  });

  test('is read from the flag the Feishu guide gives', () => {
    const app = new App({
      context: { groupgate: { modelS3Uri: EXAMPLE_MODEL_URI }, 'groupgate:feishuApiBaseUrl': LARK },
    });
    expect(readAppConfig(app.node).feishuApiBaseUrl).toBe(LARK);
  });

  test.each([LARK, `${LARK}/`, 'https://open.feishu.cn', 'https://feishu.example-corp.com:8443'])(
    'accepts %s',
    (url) => {
      expect(parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, feishuApiBaseUrl: url }).feishuApiBaseUrl).toBe(url);
    },
  );

  test.each<[string, unknown, RegExp]>([
    ['plain http', 'http://open.larksuite.com', /must be an https URL/],
    ['no scheme', 'open.larksuite.com', /must be an https URL/],
    ['an empty string', '', /must be an https URL/],
    ['an IP address', 'https://10.0.0.1', /must be an https URL with a DNS host name/],
    ['a path', `${LARK}/open-apis`, /must be an origin only/],
    ['a query', `${LARK}?region=sg`, /must be an origin only/],
    ['a fragment', `${LARK}#x`, /must be an origin only/],
    ['credentials', 'https://user:secret@open.larksuite.com', /must be an origin only/],
    ['a non-string', true, /must be an https URL/],
  ])('refuses %s at synth', (_label, url, message) => {
    let problems: readonly string[] = [];
    try {
      parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, feishuApiBaseUrl: url });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^feishuApiBaseUrl: ${message.source}`))]);
  });
});
