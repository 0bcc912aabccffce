import { zipSync } from 'fflate';
import { LAMBDA_SYNC_PAYLOAD_BYTES, startDataSkill } from '../../sandbox/skills/data-skill';
import type { RunningSkillServer } from '../../sandbox/skills/skill-server';
import { launchBrowser } from '../helpers/browser';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';
import { buildXlsx } from '../unit/data-analysis/build-xlsx';

/**
 * A file shared in a Slack chat, through the whole sandbox: the page's `POST /_sandbox/events` with a file → the
 * Slack emulator's signed `app_mention` carrying `files` → webhook → queue → worker → the Slack adapter downloads
 * `url_private_download` from the emulator with the bot token → the data skill (acceptsFiles) gets it in the request
 * → DuckDB → the reply in the chat holds the engine's numbers. Bad files get one clear reply each, never a crash.
 */

interface Delivered {
  chatId: string;
  text: string;
  stream?: 'streaming' | 'finished' | 'failed';
  /** A chart posted under a reply (a second delivery on platforms that take images). */
  image?: unknown;
}

let sandbox: SandboxProcess;
let skill: RunningSkillServer;

beforeAll(async () => {
  skill = await startDataSkill({ writeSql: async () => 'no model in this test: use /sql' });
  const skills = {
    remote: [
      {
        name: 'data',
        description: 'data',
        url: skill.url,
        commands: ['/data', '/sql'],
        timeoutMs: 10_000,
        acceptsFiles: true,
      },
    ],
    groups: { '*': ['data'] },
  };
  sandbox = await startSandboxProcess({
    MODEL_ENGINE: 'instant',
    FALLBACK_MODEL: 'off',
    SANDBOX_SKILLS: JSON.stringify(skills),
  });
}, 90_000);

afterAll(async () => {
  await sandbox?.stop();
  await skill?.stop();
});

async function share(chatId: string, text: string, files: { name: string; bytes: Uint8Array }[]) {
  const res = await fetch(`${sandbox.url}/_sandbox/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      platform: 'slack',
      chatId,
      userId: 'alice',
      text,
      files: files.map((f) => ({ name: f.name, contentBase64: Buffer.from(f.bytes).toString('base64') })),
    }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function replies(chatId: string, count: number, ms = 30_000): Promise<Delivered[]> {
  const until = Date.now() + ms;
  for (;;) {
    const res = await fetch(`${sandbox.url}/_sandbox/messages?platform=slack&chat=${encodeURIComponent(chatId)}`);
    // Text replies only: a chart the skill draws for a (label, number) result is posted as a delivery of its own.
    const list = ((await res.json()) as Delivered[]).filter((d) => d.image === undefined);
    if ((list.length >= count && list.every((d) => d.stream !== 'streaming')) || Date.now() > until) return list;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitForReply(base: string, chatId: string, match: (text: string) => boolean): Promise<Delivered[]> {
  const until = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${base}/_sandbox/messages?platform=slack&chat=${encodeURIComponent(chatId)}`);
    const list = ((await res.json()) as Delivered[]).filter((d) => match(d.text));
    if (list.length > 0 || Date.now() > until) return list;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const TEAM_CSV = 'member,team,tickets\nAda,core,12\nBo,core,7\nCy,edge,5\nDi,edge,9\nEd,edge,4\n';

describe('a CSV or XLSX shared in a Slack channel, asked about with /sql', () => {
  it('answers with the engine’s numbers from the shared CSV, exactly once', async () => {
    const chatId = `C0FILES${Date.now()}`;
    const sent = await share(
      chatId,
      '/sql SELECT team, sum(tickets) AS tickets FROM team GROUP BY team ORDER BY team',
      [{ name: 'team.csv', bytes: Buffer.from(TEAM_CSV) }],
    );
    expect(sent).toMatchObject({ status: 200, json: { webhookStatus: 200 } });
    const [reply, ...more] = await replies(chatId, 1);
    expect(reply?.text).toMatch(/\|\s*core\s*\|\s*19\s*\|/);
    expect(reply?.text).toMatch(/\|\s*edge\s*\|\s*18\s*\|/);
    await new Promise((r) => setTimeout(r, 2000));
    expect(more).toHaveLength(0);
    expect(await replies(chatId, 1)).toHaveLength(1);
    const call = skill.calls().at(-1);
    expect(call?.request?.files).toEqual([{ name: 'team.csv', mediaType: 'text/csv', data: '' }]);
  }, 60_000);

  it('reads the first sheet of a shared XLSX', async () => {
    const chatId = `C0XLSX${Date.now()}`;
    const xlsx = buildXlsx({
      sharedStrings: ['<t>team</t>', '<t>tickets</t>'],
      sheets: [
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>core</t></is></c><c r="B2"><v>19</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>edge</t></is></c><c r="B3"><v>18</v></c></row>',
      ],
    });
    await share(chatId, '/sql SELECT sum(tickets) AS total FROM q3 ', [{ name: 'Q3.xlsx', bytes: xlsx }]);
    const [reply] = await replies(chatId, 1);
    expect(reply?.text).toMatch(/\|\s*37\s*\|/);
  }, 60_000);

  it.each([
    ['a file over the 4 MiB the bot reads', 'big.csv', Buffer.alloc(4 * 1024 * 1024 + 10, 0x61), '4 MiB'],
    ['junk named .xlsx', 'junk.xlsx', Buffer.from('this is not a workbook'), 'not an XLSX workbook'],
    ['a zip bomb', 'bomb.xlsx', Buffer.from(bombXlsx()), 'zip bomb'],
    ['a file that is not a table', 'notes.pdf', Buffer.from('%PDF-1.7'), 'CSV or XLSX'],
  ])(
    '%s gets one clear reply',
    async (_, name, bytes, expected) => {
      const chatId = `C0BAD${Date.now()}${name.replace(/\W/g, '')}`;
      const sent = await share(chatId, '/sql SELECT 1', [{ name, bytes }]);
      expect(sent.json.webhookStatus).toBe(200);
      const list = await replies(chatId, 1);
      expect(list).toHaveLength(1);
      expect(list[0]?.text).toContain(expected);
    },
    60_000,
  );

  it('the page shares a file chosen next to the message box', async () => {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(sandbox.url);
      await page.getByTestId('platform-tab-slack').click();
      await page.getByTestId('group-select').selectOption('support');
      await page.getByTestId('member-select').selectOption('carol');
      await page.getByTestId('mention-toggle').setChecked(true);
      await page.getByTestId('message-file').setInputFiles({
        name: 'team.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from(TEAM_CSV),
      });
      await expect(page.getByTestId('attached-file').textContent()).resolves.toContain('team.csv');
      const input = page.getByTestId('message-input');
      await input.fill('/sql SELECT sum(tickets) AS all_tickets FROM team');
      await input.press('Enter');
      await page.getByTestId('attached-file').waitFor({ state: 'hidden' });
      const [reply] = await waitForReply(sandbox.url, 'support', (text) => text.includes('all_tickets'));
      expect(reply?.text).toMatch(/\|\s*37\s*\|/);
    } finally {
      await browser.close();
    }
  }, 60_000);

  it('keeps the request within Lambda’s synchronous payload limit', () => {
    expect(Math.ceil((4 * 1024 * 1024) / 3) * 4).toBeLessThan(LAMBDA_SYNC_PAYLOAD_BYTES);
  });
});

function bombXlsx(): Uint8Array {
  return zipSync({
    'xl/workbook.xml': Buffer.from('<workbook/>'),
    'xl/worksheets/sheet1.xml': new Uint8Array(8 << 20),
  });
}

describe('a WeCom file link that expired before the worker read it', () => {
  let scaled: SandboxProcess;

  beforeAll(async () => {
    const skills = {
      remote: [{ name: 'data', description: 'data', url: skill.url, commands: ['/data', '/sql'], acceptsFiles: true }],
      groups: { '*': ['data'] },
    };
    // WeCom's 5-minute file URL lives 30 ms here: gone by the time the queued event reaches the worker.
    scaled = await startSandboxProcess({
      MODEL_ENGINE: 'instant',
      FALLBACK_MODEL: 'off',
      SANDBOX_SKILLS: JSON.stringify(skills),
      SANDBOX_PLATFORM_CLOCK_SCALE: '10000',
    });
  }, 90_000);

  afterAll(async () => {
    await scaled?.stop();
  });

  it('gets one reply asking to share the file again, and no model answer', async () => {
    const chatId = `wr-expired-${Date.now()}`;
    const res = await fetch(`${scaled.url}/_sandbox/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        platform: 'wecom',
        chatId,
        userId: 'zhangsan',
        text: '/sql SELECT count(*) FROM file',
        files: [{ name: 'team.csv', contentBase64: Buffer.from(TEAM_CSV).toString('base64') }],
      }),
    });
    expect(((await res.json()) as { webhookStatus: number }).webhookStatus).toBe(200);
    const until = Date.now() + 30_000;
    let list: Delivered[] = [];
    while (Date.now() < until) {
      const got = await fetch(`${scaled.url}/_sandbox/messages?platform=wecom&chat=${encodeURIComponent(chatId)}`);
      list = (await got.json()) as Delivered[];
      if (list.length > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1500));
    const final = (await (
      await fetch(`${scaled.url}/_sandbox/messages?platform=wecom&chat=${encodeURIComponent(chatId)}`)
    ).json()) as Delivered[];
    expect(final).toHaveLength(1);
    expect(final[0]?.text).toContain('share it again');
  }, 60_000);
});
