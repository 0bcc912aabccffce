import type { Template } from 'aws-cdk-lib/assertions';

/**
 * Deploy-time values of a synthesized template, made concrete so a test can hand a function's environment to the
 * runtime's own parser: `Ref` and `Fn::GetAtt` become plausible values for the referenced resource's type, in
 * `eu-west-1` of account 123456789012, and `Fn::Join` joins them. Any other intrinsic, or a reference to a resource
 * type without a stand-in, throws: the test then fails instead of checking a half-resolved value.
 */

export const FAKE_ACCOUNT = '123456789012';
export const FAKE_REGION = 'eu-west-1';

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': FAKE_REGION,
  'AWS::AccountId': FAKE_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
};

/** The ARN a function with this logical id gets from the stand-in. */
export const fakeFunctionArn = (logicalId: string): string =>
  `arn:aws:lambda:${FAKE_REGION}:${FAKE_ACCOUNT}:function:${logicalId}`;

/** The name a bucket with this logical id gets from the stand-in (a valid bucket name). */
export const fakeBucketName = (logicalId: string): string => `bucket-${logicalId.toLowerCase()}`;

export function resolveIntrinsics(template: Template, value: unknown): string {
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  const typeOf = (id: string): string => {
    const resource = resources[id];
    if (!resource) throw new Error(`no resource ${id}`);
    return resource.Type;
  };
  const ref = (id: string): string => {
    const pseudo = PSEUDO[id];
    if (pseudo !== undefined) return pseudo;
    switch (typeOf(id)) {
      case 'AWS::S3::Bucket':
        return fakeBucketName(id);
      case 'AWS::RDS::DBCluster':
        return id.toLowerCase();
      case 'AWS::SecretsManager::SecretTargetAttachment':
      case 'AWS::SecretsManager::Secret':
        return `arn:aws:secretsmanager:${FAKE_REGION}:${FAKE_ACCOUNT}:secret:${id}-AbC123`;
      default:
        throw new Error(`no stand-in for Ref of ${id} (${typeOf(id)})`);
    }
  };
  const getAtt = (id: string, attribute: string): string => {
    const type = typeOf(id);
    if (type === 'AWS::Lambda::Function' && attribute === 'Arn') return fakeFunctionArn(id);
    if (type === 'AWS::S3::Bucket' && attribute === 'Arn') return `arn:aws:s3:::${fakeBucketName(id)}`;
    throw new Error(`no stand-in for Fn::GetAtt ${id}.${attribute} (${type})`);
  };
  const resolve = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const entries = Object.entries(v);
      const [key, arg] = entries[0] ?? [];
      if (entries.length === 1 && key === 'Ref' && typeof arg === 'string') return ref(arg);
      if (entries.length === 1 && key === 'Fn::GetAtt' && Array.isArray(arg)) {
        const [id, attribute] = arg as unknown[];
        if (typeof id === 'string' && typeof attribute === 'string') return getAtt(id, attribute);
      }
      if (entries.length === 1 && key === 'Fn::Join' && Array.isArray(arg)) {
        const [separator, parts] = arg as unknown[];
        if (typeof separator === 'string' && Array.isArray(parts)) return parts.map(resolve).join(separator);
      }
    }
    throw new Error(`cannot resolve ${JSON.stringify(v)}`);
  };
  return resolve(value);
}

/** A function's environment with every value resolved. */
export function resolvedEnvironment(template: Template, variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, resolveIntrinsics(template, value)]),
  );
}
