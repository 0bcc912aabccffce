import { createDingTalkPlatform } from '#platforms/dingtalk/index';
import { createFeishuPlatform } from '#platforms/feishu/index';
import type { ReplyLimits } from '#platforms/shared/index';
import { createSlackPlatform } from '#platforms/slack/index';
import type { ChatPlatform, PlatformName, ReplyHandle } from '#platforms/types';
import { createWeComPlatform } from '#platforms/wecom/index';
import type { RecordedRequest, TestResponse } from '../../helpers/http-test-server';

/**
 * Minimal fake platform APIs for the outbound-safety tests: every send succeeds, so what is asserted is exactly the
 * request the adapter built. Paths are the real ones; the adapter's base URL / reply URL point at the test server.
 */
export const NOW = 1_714_550_400_000;

export function fakeApi(request: RecordedRequest): TestResponse {
  const ok = (body: object): TestResponse => ({ statusCode: 200, body: JSON.stringify(body) });
  switch (request.path) {
    case '/open-apis/auth/v3/tenant_access_token/internal':
      return ok({ code: 0, tenant_access_token: 't-test', expire: 7200 });
    case '/api/chat.postMessage':
      return ok({ ok: true, ts: `1714550400.${String(request.body.length).padStart(6, '0')}` });
    case '/v1.0/oauth2/accessToken':
      return ok({ accessToken: 'dt-test', expireIn: 7200 });
    case '/v1.0/robot/groupMessages/send':
      return ok({ processQueryKey: 'pqk' });
    case '/robot/sendBySession':
    case '/cgi-bin/aibot/response':
      return ok({ errcode: 0, errmsg: 'ok' });
    default:
      if (/^\/open-apis\/im\/v1\/messages\/[^/]+\/reply$/.test(request.path)) {
        return ok({ code: 0, data: { message_id: `om_${request.body.length}` } });
      }
      return { statusCode: 404, body: '{}' };
  }
}

export interface OutboundCase {
  readonly name: PlatformName;
  /** An adapter whose every URL points at `baseUrl`. */
  readonly create: (baseUrl: string, replyLimits?: Partial<ReplyLimits>) => ChatPlatform;
  readonly handle: (baseUrl: string) => ReplyHandle;
  /** The asker's id in this platform's shape. */
  readonly asker: string;
  /** Path of the message-sending call (not the token call). */
  readonly sendPath: string;
  /** The text of every message the adapter sent, in order, as the platform would render it. */
  readonly sentTexts: (requests: readonly RecordedRequest[]) => string[];
}

const deps = { fetch, now: () => NOW, sleep: async () => {} };
const json = (r: RecordedRequest) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

export const CASES: readonly OutboundCase[] = [
  {
    name: 'feishu',
    create: (apiBaseUrl, replyLimits) =>
      createFeishuPlatform(
        { appId: 'cli_x', appSecret: 's', encryptKey: 'e', botOpenId: 'ou_bot', apiBaseUrl, replyLimits },
        deps,
      ),
    handle: () => ({ platform: 'feishu', chatId: 'oc_g', messageId: 'om_q', inThread: false }),
    asker: 'ou_asker',
    sendPath: '/open-apis/im/v1/messages/om_q/reply',
    sentTexts: (requests) =>
      requests
        .filter((r) => r.path.endsWith('/reply'))
        .map((r) => {
          const body = json(r);
          const content = JSON.parse(String(body.content)) as {
            text?: string;
            zh_cn?: { content: { text: string }[][] };
          };
          return (
            content.text ??
            content.zh_cn?.content
              .flat()
              .map((e) => e.text)
              .join('') ??
            ''
          );
        }),
  },
  {
    name: 'slack',
    create: (apiBaseUrl, replyLimits) =>
      createSlackPlatform(
        { signingSecret: 's', botToken: 'xoxb-t', botUserId: 'U0BOT', apiBaseUrl, replyLimits },
        deps,
      ),
    handle: () => ({ platform: 'slack', channel: 'C0G', threadTs: '1.1' }),
    asker: 'U0ASKER',
    sendPath: '/api/chat.postMessage',
    sentTexts: (requests) =>
      requests.filter((r) => r.path === '/api/chat.postMessage').map((r) => String(json(r).text)),
  },
  {
    name: 'dingtalk',
    create: (apiBaseUrl, replyLimits) =>
      createDingTalkPlatform(
        {
          appKey: 'dingkey',
          appSecret: 'secret',
          apiBaseUrl,
          replyUrls: { origins: [], insecureOrigins: [apiBaseUrl] },
          replyLimits,
        },
        deps,
      ),
    handle: (baseUrl) => ({
      platform: 'dingtalk',
      conversationId: 'cid1',
      sessionWebhook: `${baseUrl}/robot/sendBySession?session=s1`,
      sessionWebhookExpiresAt: NOW + 3_600_000,
    }),
    asker: 'zhangsan',
    sendPath: '/robot/sendBySession',
    sentTexts: (requests) =>
      requests
        .filter((r) => r.path === '/robot/sendBySession')
        .map((r) => {
          const body = json(r) as { text?: { content: string }; markdown?: { text: string } };
          return body.text?.content ?? body.markdown?.text ?? '';
        }),
  },
  {
    name: 'wecom',
    create: (baseUrl, replyLimits) =>
      createWeComPlatform(
        {
          token: 'QDG6eK',
          encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
          replyUrls: { origins: [], insecureOrigins: [baseUrl] },
          replyLimits,
        },
        deps,
      ),
    handle: (baseUrl) => ({
      platform: 'wecom',
      chatId: 'wr1',
      responseUrl: `${baseUrl}/cgi-bin/aibot/response?response_code=c1`,
      responseUrlExpiresAt: NOW + 3_600_000,
    }),
    asker: 'zhangsan',
    sendPath: '/cgi-bin/aibot/response',
    sentTexts: (requests) =>
      requests
        .filter((r) => r.path === '/cgi-bin/aibot/response')
        .map((r) => {
          const body = json(r) as { text?: { content: string }; markdown?: { content: string } };
          return body.text?.content ?? body.markdown?.content ?? '';
        }),
  },
];

/** Characters that render as nothing (invisible formatting and control characters) a lenient parser may drop. */
const RENDERS_AS_NOTHING =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: dropping control characters is the point
  /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u00AD\u180E\u200B-\u200F\u2060-\u206F\uFEFF]/g;

/** Drops what renders as nothing and decodes `<` `>` entities: what a lenient platform parser might see. */
function asParserSees(text: string): string {
  return text
    .replace(RENDERS_AS_NOTHING, '')
    .replace(/&lt;|&#0*60;|&#x0*3c;/gi, '<')
    .replace(/&gt;|&#0*62;|&#x0*3e;/gi, '>');
}

/**
 * Every live mention in a sent text, judged independently of the adapter's own code: after invisible characters
 * are dropped and `<` entities decoded (Slack excepted: its `&lt;` is the escape that keeps text literal).
 */
export function liveMentions(platform: PlatformName, text: string): string[] {
  const broadcast = /@\s*(?:all|everyone|here|channel)(?![A-Za-z0-9_])|@\s*(?:所有人|全体成员|全员)/gi;
  switch (platform) {
    case 'feishu': {
      const seen = asParserSees(text);
      return [...(seen.match(/<\s*\/?\s*at(?![A-Za-z0-9_])[^>]*>/gi) ?? []), ...(seen.match(broadcast) ?? [])];
    }
    case 'slack':
      return [...(text.match(/<[!@#][^>]*>/g) ?? []), ...(text.replace(RENDERS_AS_NOTHING, '').match(broadcast) ?? [])];
    case 'dingtalk':
      return asParserSees(text).match(broadcast) ?? [];
    case 'wecom': {
      const seen = asParserSees(text);
      return [...(seen.match(/<\s*[@＠][^>]*>/g) ?? []), ...(seen.match(broadcast) ?? [])];
    }
  }
}

/** The mention each adapter itself puts in front of the first message for `asker`. */
export function askerPrefix(platform: PlatformName, asker: string): string {
  if (platform === 'feishu') return `<at user_id="${asker}"></at> `;
  if (platform === 'slack') return `<@${asker}> `;
  return '';
}
