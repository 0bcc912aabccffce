import { Template } from 'aws-cdk-lib/assertions';
import { requiredCredentialKeys } from '#platforms/manifest';
import { PLATFORM_MANIFESTS } from '#platforms/manifests';
import { PLATFORMS } from '#platforms/types';
import { parseAppConfig } from '../../lib/config';
import { SECRET_PLACEHOLDER } from '../../lib/constructs/secrets';
import { buildStack, EXAMPLE_MODEL_URI } from './build-stack';

/** The stack's per-platform resources come from the platforms' manifests, not from lists kept in lib/. */
const { stack } = buildStack();
const template = Template.fromStack(stack);

interface Resource {
  readonly Properties: Record<string, unknown>;
}
const resourcesOf = (type: string) => Object.values(template.findResources(type)) as Resource[];

test.each(PLATFORMS)('the %s secret is created with its schema’s required keys as placeholders', (platform) => {
  const secret = resourcesOf('AWS::SecretsManager::Secret').find((s) =>
    String(s.Properties.Description).startsWith(`GroupGate ${platform} app credentials`),
  );
  const keys = requiredCredentialKeys(PLATFORM_MANIFESTS[platform].credentials);
  expect(JSON.parse(String(secret?.Properties.SecretString))).toEqual(
    Object.fromEntries(keys.map((key) => [key, SECRET_PLACEHOLDER])),
  );
});

test.each(['webhook', 'worker'])('the %s function gets every platform’s secret id variable', (service) => {
  const variables = resourcesOf('AWS::Lambda::Function')
    .map((f) => (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables)
    .find((v) => v.POWERTOOLS_SERVICE_NAME === service);
  expect(Object.keys(variables ?? {})).toEqual(
    expect.arrayContaining(PLATFORMS.map((p) => PLATFORM_MANIFESTS[p].credentials.secretIdEnv)),
  );
});

test('each webhook route answers exactly its manifest’s methods', () => {
  const pathParts = template.findResources('AWS::ApiGateway::Resource');
  const methodsByPlatform: Record<string, string[]> = {};
  for (const method of resourcesOf('AWS::ApiGateway::Method')) {
    const ref = (method.Properties.ResourceId as { Ref?: string }).Ref ?? '';
    const part = (pathParts[ref] as Resource | undefined)?.Properties.PathPart;
    if (typeof part === 'string' && part in PLATFORM_MANIFESTS) {
      methodsByPlatform[part] = [...(methodsByPlatform[part] ?? []), String(method.Properties.HttpMethod)];
    }
  }
  for (const list of Object.values(methodsByPlatform)) list.sort();
  expect(methodsByPlatform).toEqual(
    Object.fromEntries(PLATFORMS.map((p) => [p, [...PLATFORM_MANIFESTS[p].webhook.methods].sort()])),
  );
});

test('platformSecretArns takes one key per platform', () => {
  const arn = (p: string) => `arn:aws:secretsmanager:us-east-1:123456789012:secret:groupgate/${p}-AbC123`;
  const platformSecretArns = Object.fromEntries(PLATFORMS.map((p) => [p, arn(p)]));
  expect(parseAppConfig({ modelS3Uri: EXAMPLE_MODEL_URI, platformSecretArns }).platformSecretArns).toEqual(
    platformSecretArns,
  );
});
