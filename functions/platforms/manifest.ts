import type * as z from 'zod';
import type { CredentialSpec } from './credentials';
import type { PlatformName } from './types';

/** An HTTP method a webhook route may accept. */
export type WebhookMethod = 'GET' | 'POST';

/** How a platform calls its webhook route, as API Gateway needs to know it. */
export interface WebhookRouteSpec {
  /** Methods the route accepts: POST for events, plus GET only for a URL check made with a GET (WeCom's `echostr`). */
  readonly methods: readonly WebhookMethod[];
  /**
   * Headers the platform sends on EVERY request, handshakes included, so API Gateway may refuse a request without
   * them before a Lambda runs. Leave out any header some genuine request lacks (Feishu's unsigned URL check).
   */
  readonly requiredHeaders?: readonly string[];
  /** Query string parameters the platform sends on every request; same rule as `requiredHeaders`. */
  readonly requiredQueryParameters?: readonly string[];
}

/**
 * The deployment-time facts of one chat platform: its credentials and its webhook route. Declared in the platform's
 * own folder (`<platform>/manifest.ts`) and importable without the adapter's parse/send code, so the CDK app
 * (`lib/`) derives its per-platform secrets, secret-id variables, routes and config keys from it. The platform's
 * runtime descriptor (`descriptor.ts`) extends its manifest, so both read one declaration.
 */
export interface PlatformManifest<
  P extends PlatformName = PlatformName,
  Credentials extends z.ZodObject = z.ZodObject,
> {
  readonly name: P;
  readonly credentials: CredentialSpec<Credentials>;
  readonly webhook: WebhookRouteSpec;
}

/**
 * The credential keys a usable secret must hold (those whose schema refuses `undefined`), in schema order. The CDK
 * app creates each platform's secret with exactly these keys as placeholders; optional keys are left for the
 * operator to add.
 */
export function requiredCredentialKeys(spec: CredentialSpec): string[] {
  return Object.entries(spec.schema.shape)
    .filter(([, field]: [string, z.ZodType]) => !field.safeParse(undefined).success)
    .map(([key]) => key);
}
