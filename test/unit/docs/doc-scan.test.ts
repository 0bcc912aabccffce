import {
  codeBlocks,
  configFlagCommands,
  configKeyMentions,
  headingAnchor,
  headingAnchors,
  referenceTableKeys,
  relativeLinks,
  secretCommands,
  upperCaseNames,
} from './doc-scan';

const FENCE = '```';

describe('configKeyMentions', () => {
  test('finds keys in prose, tables and code, once each', () => {
    const md = [
      'Set `groupgate:maxInstances` and groupgate:minInstances.',
      '| `groupgate:maxInstances` | 2 |',
      `${FENCE}bash`,
      'npx cdk deploy -c groupgate:logLevel=DEBUG',
      FENCE,
    ].join('\n');
    expect(configKeyMentions(md)).toEqual(new Set(['maxInstances', 'minInstances', 'logLevel']));
  });

  test('ignores placeholders and the whole-object form', () => {
    expect(configKeyMentions("-c groupgate:<key>=<value> and -c groupgate='{}' and groupgate:…")).toEqual(new Set());
  });
});

describe('referenceTableKeys', () => {
  test('reads one key per table row, keeps duplicates, skips rows in code blocks and non-key rows', () => {
    const md = [
      '| key | default |',
      '|---|---|',
      '| `groupgate:a` | 1 |',
      '| `groupgate:a` | 1 |',
      '| see `groupgate:b` | no |',
      `${FENCE}`,
      '| `groupgate:c` | 3 |',
      FENCE,
    ].join('\n');
    expect(referenceTableKeys(md)).toEqual(['a', 'a']);
  });
});

describe('configFlagCommands', () => {
  test('joins continued lines into one command and unquotes values', () => {
    const md = [
      `${FENCE}bash`,
      'npx cdk deploy \\',
      '  -c groupgate:allowedCidrs=\'["10.0.0.0/8"]\' \\',
      '  -c groupgate:maxInstances=4',
      'npx cdk deploy -c groupgate:logLevel="WARN"',
      FENCE,
    ].join('\n');
    expect(configFlagCommands(md)).toEqual([
      { allowedCidrs: '["10.0.0.0/8"]', maxInstances: '4' },
      { logLevel: 'WARN' },
    ]);
  });

  test('ignores flags outside code blocks and lines without flags', () => {
    const md = ['Use `-c groupgate:maxInstances=4`.', `${FENCE}bash`, 'npx cdk diff', FENCE].join('\n');
    expect(configFlagCommands(md)).toEqual([]);
  });
});

describe('upperCaseNames', () => {
  test('takes upper-case code spans, and assignments and references in code blocks', () => {
    const md = [
      'Set `MODEL_PATH` or `OPTION_DTYPE=fp16`; `x-api-key` and `GroupGate-llm` are not names.',
      `${FENCE}bash`,
      'PORT=3001 MODEL_ENDPOINT_URL=http://h npm start',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell `${NAME}` syntax is the input under test
      'echo "${FEISHU_APP_ID}" $SLACK_BOT_TOKEN',
      FENCE,
    ].join('\n');
    expect(upperCaseNames(md)).toEqual(
      new Set(['MODEL_PATH', 'OPTION_DTYPE', 'PORT', 'MODEL_ENDPOINT_URL', 'FEISHU_APP_ID', 'SLACK_BOT_TOKEN']),
    );
  });

  test('ignores lower-case shell variables, AWS CLI values, JMESPath and awk fields', () => {
    const md = [
      `${FENCE}bash`,
      'queue_url=$(out QueueUrl); echo "$queue_url" $1',
      'aws apigateway create-usage-plan-key --key-type API_KEY',
      `aws cloudformation describe-stacks --query "Stacks[0].Outputs[?OutputKey=='QueueUrl']"`,
      '--dimensions Name=EndpointName,Value=GroupGate-llm',
      FENCE,
      'Plain UPDATE_ROLLBACK_FAILED prose and `OPTION_*` patterns are not scanned.',
    ].join('\n');
    expect(upperCaseNames(md)).toEqual(new Set());
  });
});

describe('secretCommands', () => {
  test('ties the JSON to the platform named by the secret lookup, across continued lines', () => {
    const md = [
      `${FENCE}bash`,
      'aws secretsmanager put-secret-value \\',
      '  --secret-id "$(res AWS::SecretsManager::Secret Secretsslack)" \\',
      `  --secret-string '{"signingSecret":"s","botToken":"xoxb-1","botUserId":"U1"}'`,
      FENCE,
    ].join('\n');
    expect(secretCommands(md)).toEqual([
      { platform: 'slack', json: '{"signingSecret":"s","botToken":"xoxb-1","botUserId":"U1"}' },
    ]);
  });

  test('ignores secrets of other kinds and double-quoted JSON', () => {
    const md = `--secret-id "$(res AWS::SecretsManager::Secret SecretsJwtSecret)" --secret-string "{\\"secret\\":\\"x\\"}"`;
    expect(secretCommands(md)).toEqual([]);
  });
});

describe('links and anchors', () => {
  test('relative links only, from prose only', () => {
    const md = [
      'See [ops](OPERATIONS.md#2-deploy), [here](#top) and [Slack](https://api.slack.com/apps).',
      `${FENCE}`,
      '[not a link](ignored.md)',
      FENCE,
    ].join('\n');
    expect(relativeLinks(md)).toEqual(['OPERATIONS.md#2-deploy', '#top']);
  });

  test('anchors follow GitHub: lower-case, punctuation dropped, spaces to hyphens, non-Latin kept', () => {
    expect(headingAnchor('7. Draining the dead-letter queue (redrive)')).toBe(
      '7-draining-the-dead-letter-queue-redrive',
    );
    expect(headingAnchor('Why vLLM (through LMI) and not `TensorRT-LLM`')).toBe(
      'why-vllm-through-lmi-and-not-tensorrt-llm',
    );
    expect(headingAnchor('WeCom (企业微信): connect')).toBe('wecom-企业微信-connect');
  });

  test('headings inside code blocks are not anchors', () => {
    const md = ['## Real heading', `${FENCE}bash`, '# a shell comment', FENCE].join('\n');
    expect(headingAnchors(md)).toEqual(new Set(['real-heading']));
    expect(codeBlocks(md)).toEqual(['# a shell comment\n']);
  });
});
