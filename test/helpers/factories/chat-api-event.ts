import type { APIGatewayProxyEvent } from 'aws-lambda';
import { buildProxyEvent } from '../../../sandbox/api-gateway';

export interface ChatApiEventOptions {
  /**
   * What the JWT authorizer put on the request context; null = the request did not pass it.
   * @default MEMBER_CONTEXT (alice of tenant acme, a member's token)
   */
  readonly authorizer?: Record<string, unknown> | null;
  /** @default 'eng' */
  readonly groupId?: string;
  /** `X-User-ID`; null leaves the header out. @default 'alice' */
  readonly userId?: string | null;
}

/** The authorizer context of alice's member token in tenant acme, accepted until 2100. */
export const MEMBER_CONTEXT = { sub: 'alice', tenant: 'acme', scope: '', acceptedUntil: '4102444800' } as const;

/** The API Gateway proxy event of a `POST /v1/chat` with this JSON body, as the deployed REST API passes it on. */
export function chatApiEvent(body: unknown, options: ChatApiEventOptions = {}): APIGatewayProxyEvent {
  const event = buildProxyEvent(
    {
      method: 'POST',
      url: '/v1/chat',
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Group-ID', options.groupId ?? 'eng'],
        ...(options.userId === null ? [] : [['X-User-ID', options.userId ?? 'alice'] as const]),
      ],
      body: Buffer.from(JSON.stringify(body)),
    },
    { resource: '/v1/chat' },
  );
  event.requestContext.authorizer = options.authorizer === undefined ? { ...MEMBER_CONTEXT } : options.authorizer;
  return event;
}
