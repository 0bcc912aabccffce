import { withOneShotReplies } from '#platforms/shared/reply-session';
import type { ChatPlatform, OutgoingReply, PlatformName, SendResult } from '#platforms/types';

export type SendResponder = (reply: OutgoingReply) => SendResult | Promise<SendResult>;

export interface FakePlatform extends ChatPlatform {
  /** Every reply `send` was asked to deliver, in order, including those that then failed. */
  readonly sent: OutgoingReply[];
  /** Answers every send no failure is queued for; replace it to script the platform between cases. */
  respond: SendResponder;
  /** The next sends throw these errors, one per send, before `respond` takes over again. */
  failNext(...errors: unknown[]): FakePlatform;
}

export interface FakePlatformOptions {
  /** @default one message id per send, `<name>-msg-<n>` */
  readonly respond?: SendResponder;
  /** @default false */
  readonly idempotentSend?: boolean;
}

/**
 * A chat platform for worker tests: `parse` is not expected to be called (it ignores everything), `send` records
 * the reply and answers from the script, and `openReply` is the one-shot session every real adapter uses.
 */
export function fakePlatform(name: PlatformName = 'slack', options: FakePlatformOptions = {}): FakePlatform {
  const failures: unknown[] = [];
  const sent: OutgoingReply[] = [];
  const adapter = withOneShotReplies({
    name,
    ...(options.idempotentSend === undefined ? {} : { idempotentSend: options.idempotentSend }),
    parse: () => ({ kind: 'ignored', reason: 'the fake platform parses nothing' }),
    send: async (reply) => {
      sent.push(reply);
      if (failures.length > 0) throw failures.shift();
      return fake.respond(reply);
    },
  });
  const fake: FakePlatform = {
    ...adapter,
    sent,
    respond: options.respond ?? (() => ({ messageIds: [`${name}-msg-${sent.length}`] })),
    failNext(...errors) {
      failures.push(...errors);
      return fake;
    },
  };
  return fake;
}
