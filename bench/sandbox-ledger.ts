/**
 * Fills a running sandbox's ledger with real invocations for the cost report (issue 8's "≥ 1,000 invocations across
 * 20 groups"): every event goes through the emulator, the signed webhook, SQS, the worker and the model.
 *   MODEL_ENGINE=instant PORT=3190 npm start    # in another terminal
 *   npx tsx bench/sandbox-ledger.ts http://127.0.0.1:3190 1000
 * Loopback only; bounded by the event count and a 10-minute stop.
 */
const base = (process.argv[2] ?? 'http://127.0.0.1:3000').replace(/\/$/, '');
const total = Number(process.argv[3] ?? 1000);
const PLATFORMS = ['feishu', 'slack', 'dingtalk', 'wecom'] as const;
const GROUPS = 20;
const MEMBERS = 60;
const CONCURRENCY = 6;
const QUESTIONS = [
  '值班表在哪里？',
  'How do I reset my VPN token?',
  '报销流程是什么',
  'Where is the Q3 roadmap?',
  '会议室怎么预订',
];

if (!/^http:\/\/(127\.\d+\.\d+\.\d+|localhost)(:\d+)?$/.test(base)) throw new Error(`loopback URLs only, got ${base}`);
setTimeout(() => {
  console.error('stopped after 10 minutes');
  process.exit(2);
}, 600_000).unref();

async function main(): Promise<void> {
  const started = Date.now();
  let next = 0;
  let accepted = 0;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const group = i % GROUPS;
      const platform = PLATFORMS[group % PLATFORMS.length] ?? 'slack';
      const body = {
        platform,
        chatId: `finance-demo-group-${String(group).padStart(2, '0')}`,
        userId: `member-${(i * 7) % MEMBERS}`,
        text: `${QUESTIONS[i % QUESTIONS.length]} (#${i})`,
      };
      const res = await fetch(`${base}/_sandbox/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as { webhookStatus?: number };
      if (json.webhookStatus === 200) accepted++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (;;) {
    const rows = (await (await fetch(`${base}/_sandbox/ledger`)).json()) as unknown[];
    const mine = rows.length;
    if (mine >= accepted || Date.now() - started > 540_000) {
      console.log(
        `${accepted}/${total} events accepted, ${mine} ledger rows, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
