import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';

/**
 * `npm start` in long-connection mode (`SANDBOX_LONG_CONNECTION=all`: Feishu, Slack, DingTalk and WeCom): the page's
 * messages go over the emulated Feishu WebSocket, Slack Socket Mode, DingTalk Stream and WeCom AI-bot sockets to the
 * in-process connector, and are answered as in webhook mode (WeCom's replies back over its socket, through the relay
 * queue), through socket cuts and server-requested reconnects.
 */
interface Delivered {
  readonly platform: string;
  readonly chatId: string;
  readonly text: string;
  readonly stream?: string;
}

interface Connections {
  transports: Record<string, string>;
  connector: {
    healthy: boolean;
    healthUrl: string;
    connections: { platform: string; state: string; reconnects: number }[];
  };
  emulators: Record<string, { openSockets: number; peakOpenSockets: number; socketsOpened: number }>;
}

let sandbox: SandboxProcess;
const SOCKET_PLATFORMS = ['feishu', 'slack', 'dingtalk', 'wecom'];

beforeAll(async () => {
  sandbox = await startSandboxProcess({ SANDBOX_LONG_CONNECTION: 'all', MODEL_ENGINE: 'instant' });
}, 90_000);

afterAll(async () => {
  await sandbox?.stop();
});

async function post(path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

const connections = async () => (await (await fetch(`${sandbox.url}/_sandbox/connections`)).json()) as Connections;

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Posts a message as the page does and returns its replies once the pipeline has gone quiet. */
async function ask(platform: string, label: string): Promise<{ sent: Record<string, unknown>; replies: Delivered[] }> {
  const chatId = `lc-${platform}-${label}-${Date.now()}`;
  const sent = await post('/_sandbox/events', { platform, chatId, userId: 'alice', text: `socket ${label}` });
  const messages = () =>
    fetch(`${sandbox.url}/_sandbox/messages?platform=${platform}&chat=${chatId}`).then(
      async (r) => (await r.json()) as Delivered[],
    );
  await eventually(messages, (list) => list.length >= 1, `a reply in ${chatId}`);
  // Long enough for a duplicate reply to show: the worker answers the instant model in milliseconds.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  return { sent, replies: await messages() };
}

describe('sandbox in long-connection mode', () => {
  it('runs the connector against every emulated socket, healthy', async () => {
    const state = await eventually(
      connections,
      (c) => c.connector?.healthy === true && c.connector.connections.every((x) => x.state === 'connected'),
      'a healthy, connected connector',
    );
    expect(state.transports).toEqual({ feishu: 'socket', slack: 'socket', dingtalk: 'socket', wecom: 'socket' });
    expect(state.connector.connections.map((c) => [c.platform, c.state])).toEqual([
      ['feishu', 'connected'],
      ['slack', 'connected'],
      ['dingtalk', 'connected'],
      ['wecom', 'connected'],
    ]);
    const health = await fetch(state.connector.healthUrl);
    expect(health.status).toBe(200);
  });

  it.each(SOCKET_PLATFORMS)(
    'answers a %s message pushed over its socket exactly once',
    async (platform) => {
      const { sent, replies } = await ask(platform, 'hello');
      expect(sent).toMatchObject({ webhookStatus: 200, transport: 'socket' });
      expect(replies).toHaveLength(1);
      expect(replies[0]?.text).toContain('socket hello');
    },
    40_000,
  );

  it("streams WeCom's reply back over its socket, shown like webhook mode's", async () => {
    const { replies } = await ask('wecom', 'stream');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ platform: 'wecom', stream: 'finished' });
  }, 40_000);

  it('reconnects after every socket is cut, and answers the next messages once', async () => {
    const before = await connections();
    expect(await post('/_sandbox/connections', { action: 'drop' })).toEqual({ action: 'drop', sockets: 4 });
    for (const platform of SOCKET_PLATFORMS) {
      const { sent, replies } = await ask(platform, 'after-drop');
      expect(sent.webhookStatus).toBe(200);
      expect(replies).toHaveLength(1);
    }
    const after = await eventually(connections, (c) => c.connector.healthy, 'reconnected');
    for (const platform of SOCKET_PLATFORMS) {
      expect(after.emulators[platform]?.socketsOpened).toBe((before.emulators[platform]?.socketsOpened ?? 0) + 1);
    }
  }, 60_000);

  it('opens a replacement before the old socket closes where the platform announces a disconnect', async () => {
    const before = await connections();
    expect(await post('/_sandbox/connections', { action: 'disconnect' })).toEqual({ action: 'disconnect', sockets: 4 });
    const state = await eventually(
      connections,
      (c) =>
        ['slack', 'dingtalk'].every(
          (p) => c.emulators[p]?.peakOpenSockets === 2 && c.emulators[p]?.openSockets === 1,
        ) &&
        ['feishu', 'wecom'].every(
          (p) => c.emulators[p]?.socketsOpened === (before.emulators[p]?.socketsOpened ?? 0) + 1,
        ) &&
        c.connector.healthy &&
        c.connector.connections.every((x) => x.state === 'connected'),
      'replacement sockets',
    );
    // Feishu and WeCom announce nothing: the socket is closed first, then reconnected (one socket at a time).
    expect(state.emulators.feishu).toMatchObject({ peakOpenSockets: 1, openSockets: 1 });
    expect(state.emulators.wecom).toMatchObject({ peakOpenSockets: 1, openSockets: 1 });
    for (const platform of SOCKET_PLATFORMS) {
      const { replies } = await ask(platform, 'after-disconnect');
      expect(replies).toHaveLength(1);
    }
  }, 60_000);
});

describe('SANDBOX_LONG_CONNECTION', () => {
  it('refuses an unknown platform, naming it and the choices', async () => {
    await expect(
      startSandboxProcess({ SANDBOX_LONG_CONNECTION: 'wecom,teams', MODEL_ENGINE: 'instant' }, 30_000),
    ).rejects.toThrow(
      /SANDBOX_LONG_CONNECTION: unknown platform 'teams' \(use feishu, slack, dingtalk, wecom or all\)/,
    );
  }, 40_000);
});
