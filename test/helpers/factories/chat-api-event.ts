import type { APIGatewayProxyEvent } from 'aws-lambda';
import { buildProxyEvent } from '../../../sandbox/api-gateway';

export interface ChatApiEventOptions {
  /** What the JWT authorizer put on the request context; null = the request did not pass it. @default { sub: 'svc' } */
  readonly authorizer?: Record<string, unknown> | null;
  /** @default 'eng' */
  readonly groupId?: string;
  /** @default 'alice' */
  readonly userId?: string;
}

/** The API Gateway proxy event of a `POST /v1/chat` with this JSON body, as the deployed REST API passes it on. */
export function chatApiEvent(body: unknown, options: ChatApiEventOptions = {}): APIGatewayProxyEvent {
  const event = buildProxyEvent(
    {
      method: 'POST',
      url: '/v1/chat',
      headers: [
        ['Content-Type', 'application/json'],
        ['X-Group-ID', options.groupId ?? 'eng'],
        ['X-User-ID', options.userId ?? 'alice'],
      ],
      body: Buffer.from(JSON.stringify(body)),
    },
    { resource: '/v1/chat' },
  );
  event.requestContext.authorizer = options.authorizer === undefined ? { sub: 'svc' } : options.authorizer;
  return event;
}
