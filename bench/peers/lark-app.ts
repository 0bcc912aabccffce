import { EventDispatcher, LoggerLevel } from '@larksuiteoapi/node-sdk';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

/**
 * The smallest Lambda a team would write around `@larksuiteoapi/node-sdk` instead of GroupGate's Feishu webhook.
 * The SDK ships adapters for Node's http, Express and Koa but none for Lambda, so this does what `adaptDefault`
 * does: headers keyed lower-case on the data object's prototype (so the SDK's `JSON.stringify(data)` leaves them
 * out), the body parsed as JSON, `EventDispatcher.invoke`, and 200 with the handler's result — the SDK's adapters
 * answer 200 even when `invoke` refuses a request (it returns `undefined` then). No URL-check (`autoChallenge`)
 * branch: that would decrypt every event a second time. Bench-only.
 */
export interface LarkLambdaOptions {
  readonly encryptKey: string;
  readonly verificationToken: string;
}

export type LarkAwsHandler = (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

export interface LarkLambda {
  readonly handler: LarkAwsHandler;
  /** How many `im.message.receive_v1` events reached the registered handle. */
  readonly received: () => number;
}

/** What the registered handle returns, so a caller can tell a dispatched event from a refused one. */
export const LARK_HANDLED = 'handled';

export function createLarkLambda(options: LarkLambdaOptions): LarkLambda {
  let received = 0;
  const dispatcher = new EventDispatcher({
    encryptKey: options.encryptKey,
    verificationToken: options.verificationToken,
    loggerLevel: LoggerLevel.error,
  }).register({
    'im.message.receive_v1': async () => {
      received++;
      return LARK_HANDLED;
    },
  });
  const handler: LarkAwsHandler = async (event) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(event.headers ?? {})) {
      if (value !== undefined) headers[name.toLowerCase()] = value;
    }
    const raw = event.body ?? '';
    const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    const data: unknown = Object.assign(Object.create({ headers }), JSON.parse(text));
    const result: unknown = await dispatcher.invoke(data);
    return { statusCode: 200, body: JSON.stringify(result ?? null) };
  };
  return { handler, received: () => received };
}
