import { ConfigError } from '#core/errors';
import type { AwsJsonClient } from './aws-json-client';

/**
 * Reads a Secrets Manager secret's `SecretString` as JSON through the hand-signed client: the webhook's
 * `fetchSecret` for its platforms' credentials, in place of Powertools Parameters, which loads the SDK's Secrets
 * Manager client. No cache here: the platform resolver keeps each adapter (and so its credentials) for 5 minutes,
 * as long as Powertools would have cached the value. Errors name neither the secret's id nor its content.
 * `client` is called on the first read only: a function whose credentials all come from env never needs one.
 */
export function secretJsonReader(client: () => AwsJsonClient): (secretId: string) => Promise<unknown> {
  let secretsManager: AwsJsonClient | undefined;
  return async (secretId) => {
    secretsManager ??= client();
    const out = await secretsManager.call('GetSecretValue', { SecretId: secretId });
    if (typeof out.SecretString !== 'string') {
      throw new ConfigError(['platform secret: no SecretString (store the credentials as JSON text)']);
    }
    try {
      return JSON.parse(out.SecretString) as unknown;
    } catch {
      throw new ConfigError(['platform secret: SecretString is not valid JSON']);
    }
  };
}
