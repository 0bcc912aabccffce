import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PLATFORMS } from '#platforms/types';
import { type SandboxProcess, startSandboxProcess } from '../test/helpers/sandbox-process';
import { type LatencySummary, summarise } from './stats';

/**
 * Load (issue 9): the sandbox with the instant model stand-in receives platform events at a fixed rate for a fixed
 * time, open loop (each event is sent at its scheduled instant whether or not earlier ones were answered, and its
 * latency counts from that instant, so a stall cannot hide itself). End to end = scheduled send → the bot's reply
 * recorded by the platform emulator (what GET /_sandbox/messages shows). A rate passes with zero loss and p99 ≤ 100 ms.
 * Each rate gets a fresh sandbox. Loopback only.
 *
 *   npx tsx bench/load.ts                      # the default ladder, 60 s per rate
 *   LOAD_RATES=20,40 LOAD_SECONDS=10 npx tsx bench/load.ts
 */
const P99_TARGET_MS = 100;
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const RATES = (process.env.LOAD_RATES ?? '2,5,10,15,20,30')
  .split(',')
  .map(Number)
  .filter((r) => r > 0);
const DRAIN_MS = 20_000;
const GROUPS = 50;
const MEMBERS_PER_GROUP = 4;
const RESULTS_FILE = path.join(__dirname, 'results-load.json');

export interface LoadRow {
  readonly rate: number;
  readonly seconds: number;
  readonly sent: number;
  readonly accepted: number;
  readonly replied: number;
  readonly lost: number;
  /** Scheduled send → webhook answered (what the platform sees). */
  readonly ingress: LatencySummary;
  /** Scheduled send → reply recorded. */
  readonly endToEnd: LatencySummary;
  /** Largest lag of a send behind its schedule: the generator's own health. */
  readonly maxSendLagMs: number;
  /** 1-minute load average when the rate ended: other work on the machine shows up in the tail. */
  readonly loadAverage: number;
  readonly pass: boolean;
}

const progress = (line: string) => process.stderr.write(`[load] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runRate(rate: number, seconds: number): Promise<LoadRow> {
  const sandbox = await startSandboxProcess({ MODEL_ENGINE: 'instant' });
  try {
    await warmUp(sandbox);
    return await drive(sandbox, rate, seconds);
  } finally {
    await sandbox.stop();
  }
}

/** One answered event per platform first, so cold starts (module init, token fetches) stay out of the figures. */
async function warmUp(sandbox: SandboxProcess): Promise<void> {
  await Promise.all(
    PLATFORMS.map((platform) =>
      fetch(`${sandbox.url}/_sandbox/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ platform, chatId: `warm-${platform}`, userId: 'warm', text: `warm up ${platform}` }),
      }).then((res) => res.arrayBuffer()),
    ),
  );
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const list = (await (await fetch(`${sandbox.url}/_sandbox/messages`)).json()) as unknown[];
    if (list.length >= PLATFORMS.length) return;
    await sleep(100);
  }
  throw new Error('the sandbox did not answer the warm-up events within 20 s');
}

async function drive(sandbox: SandboxProcess, rate: number, seconds: number): Promise<LoadRow> {
  const total = Math.round(rate * seconds);
  const scheduled = new Map<string, number>();
  const ingress: number[] = [];
  let accepted = 0;
  let maxLag = 0;
  const inFlight: Promise<void>[] = [];
  const start = Date.now() + 200;

  for (let i = 0; i < total; i++) {
    const at = start + (i * 1000) / rate;
    const wait = at - Date.now();
    if (wait > 0) await sleep(wait);
    maxLag = Math.max(maxLag, Date.now() - at);
    const group = i % GROUPS;
    const chatId = `load-${rate}-g${group}`;
    const token = `q${i}x${rate}`;
    scheduled.set(token, at);
    inFlight.push(
      fetch(`${sandbox.url}/_sandbox/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          platform: PLATFORMS[group % PLATFORMS.length],
          chatId,
          userId: `u${group}m${Math.floor(i / GROUPS) % MEMBERS_PER_GROUP}`,
          text: `load question ${token} please`,
        }),
      })
        .then(async (res) => {
          const body = (await res.json()) as { webhookStatus?: number };
          if (res.status === 200 && body.webhookStatus === 200) accepted++;
          ingress.push(Date.now() - at);
        })
        .catch(() => undefined),
    );
  }
  await Promise.all(inFlight);

  // Replies carry the question token (the instant model echoes it); match each to its scheduled instant.
  const endToEnd = new Map<string, number>();
  const until = Date.now() + DRAIN_MS;
  while (Date.now() < until) {
    const res = await fetch(`${sandbox.url}/_sandbox/messages`);
    const list = (await res.json()) as { text: string; at: string }[];
    for (const reply of list) {
      const token = /q\d+x\d+/.exec(reply.text)?.[0];
      const at = token === undefined ? undefined : scheduled.get(token);
      if (token && at !== undefined && !endToEnd.has(token)) endToEnd.set(token, Date.parse(reply.at) - at);
    }
    if (endToEnd.size >= total) break;
    await sleep(500);
  }
  const e2e = rounded(summarise([...endToEnd.values()]));
  const lost = total - endToEnd.size;
  return {
    rate,
    seconds,
    sent: total,
    accepted,
    replied: endToEnd.size,
    lost,
    ingress: rounded(summarise(ingress)),
    endToEnd: e2e,
    maxSendLagMs: Math.round(maxLag),
    loadAverage: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    pass: lost === 0 && accepted === total && e2e.p99Ms <= P99_TARGET_MS,
  };
}

function rounded(s: LatencySummary): LatencySummary {
  const r = (v: number) => Math.round(v * 10) / 10;
  return {
    ...s,
    medianMs: r(s.medianMs),
    p90Ms: r(s.p90Ms),
    p99Ms: r(s.p99Ms),
    maxMs: r(s.maxMs),
    meanMs: r(s.meanMs),
    reqPerSec: r(s.reqPerSec),
  };
}

function table(rows: readonly LoadRow[]): string {
  const head = 'rate/s  sent   replied lost  ingress p50/p99 ms   e2e p50/p90/p99/max ms      load  verdict';
  const lines = rows.map((r) =>
    [
      String(r.rate).padEnd(7),
      String(r.sent).padEnd(6),
      String(r.replied).padEnd(7),
      String(r.lost).padEnd(5),
      `${r.ingress.medianMs}/${r.ingress.p99Ms}`.padEnd(20),
      `${r.endToEnd.medianMs}/${r.endToEnd.p90Ms}/${r.endToEnd.p99Ms}/${r.endToEnd.maxMs}`.padEnd(27),
      String(r.loadAverage).padEnd(5),
      r.pass ? 'pass' : 'FAIL',
    ].join(' '),
  );
  return [head, ...lines].join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadBefore = os.loadavg();
  const rows: LoadRow[] = [];
  for (const rate of RATES) {
    progress(`${rate} events/s for ${SECONDS} s`);
    const row = await runRate(rate, SECONDS);
    rows.push(row);
    progress(
      `${rate}/s: ${row.replied}/${row.sent} replied, e2e p99 ${row.endToEnd.p99Ms} ms → ${row.pass ? 'pass' : 'FAIL'}`,
    );
    // Once events are lost the machine is saturated; higher rates only take longer to fail.
    if (row.lost > 0) break;
  }
  const best = rows.filter((r) => r.pass).at(-1);
  console.log(
    `\nLoad: sandbox + instant model, open loop, ${SECONDS} s per rate (target: zero loss, e2e p99 ≤ ${P99_TARGET_MS} ms)`,
  );
  console.log(table(rows));
  console.log(
    best
      ? `highest passing rate: ${best.rate} events/s (e2e p99 ${best.endToEnd.p99Ms} ms)`
      : 'no rate passed: see the table',
  );
  console.log(`${os.cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(2)).join('/')}`);
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        at: new Date(started).toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        loadAverageBefore: loadBefore,
        targetP99Ms: P99_TARGET_MS,
        highestPassingRate: best?.rate ?? null,
        rows,
      },
      null,
      2,
    )}\n`,
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error('[load] failed:', err);
      process.exit(1);
    },
  );
}
