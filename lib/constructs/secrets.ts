import { SecretValue, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { requiredCredentialKeys } from '#platforms/manifest';
import { fromManifests } from '#platforms/manifests';
import type { PlatformName } from '#platforms/types';

/**
 * The JSON fields each platform's secret is created with, as placeholders the operator replaces: the required keys
 * of the platform's credential schema (`<platform>/credentials.ts`). Optional keys are the operator's to add.
 */
export const PLATFORM_SECRET_FIELDS: Readonly<Record<PlatformName, readonly string[]>> = fromManifests((manifest) =>
  requiredCredentialKeys(manifest.credentials),
);

/** Marks a field the operator has not filled in yet; runtime config rejects it. */
export const SECRET_PLACEHOLDER = 'REPLACE_ME';

export interface PlatformSecretsProps {
  readonly platforms: readonly PlatformName[];
  /** Complete ARNs of existing secrets to import instead of creating. @default create every secret */
  readonly importArns?: Partial<Record<PlatformName, string>>;
  /**
   * Placeholder fields added to a created secret beyond the required ones (long-connection mode: Slack's `appToken`).
   * @default none
   */
  readonly extraFields?: Readonly<Partial<Record<PlatformName, readonly string[]>>>;
}

/**
 * One Secrets Manager secret per enabled platform (created with a placeholder structure, or imported by complete
 * ARN), plus the HS256 signing key the REST API's JWTs are verified with (generated).
 */
export class PlatformSecrets extends Construct {
  readonly platformSecrets: Readonly<Partial<Record<PlatformName, ISecret>>>;
  readonly jwtSecret: Secret;

  constructor(scope: Construct, id: string, props: PlatformSecretsProps) {
    super(scope, id);
    const secrets: Partial<Record<PlatformName, ISecret>> = {};
    for (const platform of props.platforms) {
      const arn = props.importArns?.[platform];
      secrets[platform] = arn
        ? Secret.fromSecretCompleteArn(this, `${platform}Imported`, arn)
        : this.placeholderSecret(platform, props.extraFields?.[platform] ?? []);
    }
    this.platformSecrets = secrets;

    this.jwtSecret = new Secret(this, 'JwtSecret', {
      description: 'GroupGate REST API: HS256 key that verifies caller JWTs ({"secret": ...})',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'secret',
        passwordLength: 64,
        excludePunctuation: true,
      },
    });
    Validations.of(this.jwtSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The JWT key is shared with the token issuer; rotating it needs a coordinated re-issue with that party, so it is rotated by a runbook, not a rotation Lambda.',
    });
  }

  private placeholderSecret(platform: PlatformName, extraFields: readonly string[]): Secret {
    const fields = Object.fromEntries(
      [...PLATFORM_SECRET_FIELDS[platform], ...extraFields].map((field) => [
        field,
        SecretValue.unsafePlainText(SECRET_PLACEHOLDER),
      ]),
    );
    const secret = new Secret(this, platform, {
      description: `GroupGate ${platform} app credentials (JSON); replace every ${SECRET_PLACEHOLDER} value`,
      secretObjectValue: fields,
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: `The ${platform} credentials are issued and rotated in the ${platform} developer console; the operator copies the new values here, so Secrets Manager cannot rotate them itself.`,
    });
    return secret;
  }
}
