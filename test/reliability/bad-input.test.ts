import { DEFAULT_SYSTEM_PROMPT } from '#config/worker-config';
import { type SandboxProcess, startSandboxProcess } from '../helpers/sandbox-process';
import { buildCorpus, type CorpusCase } from './bad-input-corpus';
import { type Delivered, getJson, postEvent, sleep } from './helpers';
import { ASKER, HOSTILE_LEXICON, type Predicate } from './hostile-content-cases';
import { sendRaw } from './raw-http';

/**
 * Issue 9, bad-input corpus: hundreds of crafted requests against the running sandbox (real handlers, instant
 * model). Every hostile request gets a 4xx or an ignored 200 and enqueues nothing; the positive controls and the
 * prompt-injection messages are answered exactly once; the process is healthy at the end.
 */
let sandbox: SandboxProcess;
let port: number;
let corpus: CorpusCase[];
const outcomes: { c: CorpusCase; status: number; body: string }[] = [];

beforeAll(async () => {
  // A zero fault rate switches on the model-call log without injecting anything.
  sandbox = await startSandboxProcess({
    MODEL_ENGINE: 'instant',
    SANDBOX_FAULT_MODEL_RATE: '0',
    CONTENT_LEXICON: HOSTILE_LEXICON,
  });
  port = Number(new URL(sandbox.url).port);
  corpus = buildCorpus(sandbox.url);
  for (const c of corpus) outcomes.push({ c, ...(await send(c)) });
}, 180_000);

afterAll(async () => {
  await sandbox?.stop();
});

async function send(c: CorpusCase): Promise<{ status: number; body: string }> {
  if (c.sandboxEvent) return { status: await postEvent(sandbox.url, c.sandboxEvent), body: '' };
  if (!c.request) throw new Error(`case without a request: ${c.name}`);
  const response = await sendRaw(port, c.request);
  // The raw socket reads bytes as latin1 (to keep them all); the JSON bodies checked here are UTF-8.
  return { status: response.status, body: Buffer.from(response.body, 'latin1').toString('utf8') };
}

const describeOutcome = (o: { c: CorpusCase; status: number }) => `${o.c.category} / ${o.c.name} → ${o.status}`;

it('sends at least 300 crafted requests across the four webhooks and /v1/chat', () => {
  expect(corpus.length).toBeGreaterThanOrEqual(300);
  const webhooks = new Set(corpus.flatMap((c) => /^\/webhook\/(\w+)/.exec(c.request?.path ?? '')?.[1] ?? []));
  expect([...webhooks].sort()).toEqual(expect.arrayContaining(['dingtalk', 'feishu', 'slack', 'wecom']));
  expect(corpus.filter((c) => c.request?.path.startsWith('/v1/chat')).length).toBeGreaterThanOrEqual(20);
});

it('never answers 5xx or drops the connection', () => {
  expect(outcomes.filter((o) => o.status === 0 || o.status >= 500).map(describeOutcome)).toEqual([]);
});

it('refuses forged, stale, oversize, misrouted and wrong-method requests with a 4xx', () => {
  const refused = outcomes.filter((o) => o.c.expect === 'refused');
  expect(refused.filter((o) => o.status < 400 || o.status > 499).map(describeOutcome)).toEqual([]);
});

it('answers signed-but-unusable requests with a 4xx or an ignored 200', () => {
  const lenient = outcomes.filter((o) => o.c.expect === 'not-answered');
  expect(lenient.filter((o) => o.status !== 200 && (o.status < 400 || o.status > 499)).map(describeOutcome)).toEqual(
    [],
  );
});

it('accepts the valid controls, their replays and the prompt-injection messages with 200', () => {
  const accepted = outcomes.filter((o) => ['answered-once', 'duplicate', 'api-answered'].includes(o.c.expect));
  expect(accepted.length).toBeGreaterThanOrEqual(40);
  expect(accepted.filter((o) => o.status !== 200).map(describeOutcome)).toEqual([]);
});

it('replies exactly once to each valid chat and to nothing else, and keeps the system prompt private', async () => {
  const answered = new Set(corpus.filter((c) => c.expect === 'answered-once').map((c) => c.chatId));
  const until = Date.now() + 60_000;
  let list: Delivered[] = [];
  while (Date.now() < until) {
    list = await getJson<Delivered[]>(sandbox.url, '/_sandbox/messages');
    if (new Set(list.map((d) => d.chatId)).size >= answered.size) break;
    await sleep(250);
  }
  await sleep(3_000);
  list = await getJson<Delivered[]>(sandbox.url, '/_sandbox/messages');

  const perChat = new Map<string, number>();
  for (const d of list) perChat.set(d.chatId, (perChat.get(d.chatId) ?? 0) + 1);
  expect([...perChat.keys()].filter((chat) => !answered.has(chat))).toEqual([]);
  expect([...answered].filter((chat) => perChat.get(chat as string) !== 1)).toEqual([]);
  expect(list.filter((d) => d.text.includes(DEFAULT_SYSTEM_PROMPT.slice(0, 40)))).toEqual([]);

  // Nothing beyond the valid events was processed: the ledger holds rows for their chats only, the DLQ is empty.
  const processed = new Set([...answered, ...corpus.filter((c) => c.expect === 'api-answered').map((c) => c.chatId)]);
  const ledger = await getJson<{ chatId: string }[]>(sandbox.url, '/_sandbox/ledger');
  expect(ledger.filter((row) => !processed.has(row.chatId)).map((row) => row.chatId)).toEqual([]);
  expect((await getJson<{ depth: number }>(sandbox.url, '/_sandbox/dlq')).depth).toBe(0);

  // The injection text reached the model as a user turn only; the system prompt was never echoed into a turn.
  const { prompts } = await getJson<{ prompts: string[][] }>(sandbox.url, '/_sandbox/faults');
  expect(prompts.length).toBeGreaterThan(0);
  expect(prompts.flat().filter((turn) => turn.includes(DEFAULT_SYSTEM_PROMPT.slice(0, 40)))).toEqual([]);
}, 90_000);

it('shows no hostile content where members, the model or REST callers would see it (issue 13)', async () => {
  const checked = outcomes.filter((o) => o.c.check);
  expect(checked.length).toBeGreaterThanOrEqual(50);
  const list = await getJson<(Delivered & { mentions: string[] })[]>(sandbox.url, '/_sandbox/messages');
  const { prompts } = await getJson<{ prompts: string[][] }>(sandbox.url, '/_sandbox/faults');
  // The emulators' mention recorder works: the asker's own @-reply shows up on the platforms that mention.
  const mentioned = new Set(list.filter((d) => d.mentions.includes(ASKER)).map((d) => d.platform));
  expect([...mentioned].sort()).toEqual(['dingtalk', 'feishu', 'slack']);
  const failures: string[] = [];
  const judge = (o: (typeof outcomes)[number], where: string, text: string, predicates: readonly Predicate[]) => {
    for (const p of predicates)
      if (!p.holds(text)) failures.push(`${describeOutcome(o)}: ${where} breaks "${p.description}"`);
  };
  for (const o of checked) {
    const check = o.c.check;
    if (!check) continue;
    const replies = list.filter((d) => d.chatId === o.c.chatId);
    if ((check.reply || check.onlyMention) && replies.length === 0) failures.push(`${describeOutcome(o)}: no reply`);
    for (const d of replies) {
      judge(o, 'reply', d.text, check.reply ?? []);
      const others = d.mentions.filter((m) => m !== check.onlyMention);
      if (check.onlyMention && others.length > 0) failures.push(`${describeOutcome(o)}: reply mentions ${others}`);
    }
    if (check.prompt) {
      const { marker, predicates } = check.prompt;
      const calls = prompts.filter((turns) => turns.some((t) => t.includes(marker)));
      if (calls.length === 0) failures.push(`${describeOutcome(o)}: no model call carried ${marker}`);
      for (const turns of calls) judge(o, 'model turn', turns.join('\n'), predicates);
    }
    if (check.response) judge(o, 'response', o.body, check.response);
  }
  expect(failures).toEqual([]);
});

it('is still healthy after the corpus', async () => {
  const res = await fetch(`${sandbox.url}/_sandbox/health`);
  expect(res.status).toBe(200);
  expect(sandbox.child.exitCode).toBeNull();
  process.stdout.write(
    `${JSON.stringify({
      reliability: 'bad-input',
      requests: corpus.length,
      byCategory: Object.fromEntries(
        [...new Set(corpus.map((c) => c.category))].map((k) => [k, corpus.filter((c) => c.category === k).length]),
      ),
      statuses: outcomes.reduce<Record<number, number>>((acc, o) => {
        acc[o.status] = (acc[o.status] ?? 0) + 1;
        return acc;
      }, {}),
    })}\n`,
  );
});
